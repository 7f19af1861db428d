//! mysqld_exporter's `info_schema.innodb_metrics`: every enabled InnoDB counter of
//! `information_schema.innodb_metrics` as `mysql_info_schema_innodb_metrics_<subsystem>_<name>[_total]`,
//! the buffer pool's pages and page I/O gathered under labels as upstream does.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{rows, Assembly, Server};
use crate::value::number;

const READ: &str = "mysql_info_schema_innodb_metrics_buffer_page_read_total";
const WRITTEN: &str = "mysql_info_schema_innodb_metrics_buffer_page_written_total";
const PAGES: &str = "mysql_info_schema_innodb_metrics_buffer_pool_pages";
const DIRTY: &str = "mysql_info_schema_innodb_metrics_buffer_pool_dirty_pages";

/// The collector.
pub struct InnodbMetrics {
    server: Server,
}

impl Collector for InnodbMetrics {
    fn name(&self) -> &str {
        "info_schema.innodb_metrics"
    }

    fn families(&self) -> Vec<Family> {
        vec![
            Family::new(
                READ,
                "Buffer pages read, by page type",
                MetricKind::Counter,
                ["type"],
            ),
            Family::new(
                WRITTEN,
                "Buffer pages written, by page type",
                MetricKind::Counter,
                ["type"],
            ),
            Family::new(
                PAGES,
                "Buffer pool pages by state",
                MetricKind::Gauge,
                ["state"],
            ),
            Family::new(
                DIRTY,
                "Dirty pages in the buffer pool",
                MetricKind::Gauge,
                Vec::<&str>::new(),
            ),
        ]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        // MySQL 5.6 and MariaDB have a STATUS column ('enabled'), MySQL 8 an ENABLED one (1).
        let column = rows(
            &self.server,
            "SELECT UPPER(column_name) FROM information_schema.columns \
             WHERE table_schema = 'information_schema' AND table_name = 'INNODB_METRICS' \
               AND column_name IN ('status', 'enabled') LIMIT 1",
        )
        .await?;
        let filter =
            match column
                .rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .as_deref()
            {
                Some("STATUS") => "status = 'enabled'",
                Some("ENABLED") => "enabled = 1",
                _ => return Err(CollectError::NotApplicable(
                    "information_schema.innodb_metrics has neither a STATUS nor an ENABLED column"
                        .into(),
                )),
            };
        let sql = format!(
            "SELECT name, subsystem, type, comment, count FROM information_schema.innodb_metrics WHERE {filter}"
        );
        Ok(metrics(&rows(&self.server, &sql).await?))
    }
}

/// The rows as upstream names them: `buffer_page_io` counters by page type, `buffer_pool_pages_*` by state,
/// every other one under its subsystem and name; counters (`counter`, `status_counter`) end in `_total`
/// unless negative (a MySQL bug), then they are gauges.
pub fn metrics(answer: &TextRows) -> Vec<Sample> {
    let mut out = Vec::with_capacity(answer.rows.len());
    for row in &answer.rows {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let (name, subsystem, kind, comment) = (cell(0), cell(1), cell(2), cell(3));
        let Some(value) = number(&cell(4)) else {
            continue;
        };
        if subsystem == "buffer_page_io" {
            if let Some(page) = name.strip_prefix("buffer_page_read_") {
                out.push(
                    Sample::counter(READ, "Buffer pages read, by page type", value)
                        .label("type", page.to_owned()),
                );
            } else if let Some(page) = name.strip_prefix("buffer_page_written_") {
                out.push(
                    Sample::counter(WRITTEN, "Buffer pages written, by page type", value)
                        .label("type", page.to_owned()),
                );
            }
            continue;
        }
        if subsystem == "buffer" {
            if let Some(state) = name.strip_prefix("buffer_pool_pages_") {
                match state {
                    "total" => {}
                    "dirty" => out.push(Sample::gauge(
                        DIRTY,
                        "Dirty pages in the buffer pool",
                        value,
                    )),
                    _ => out.push(
                        Sample::gauge(PAGES, "Buffer pool pages by state", value)
                            .label("state", state.to_owned()),
                    ),
                }
                continue;
            }
        }
        // Names keep the server's case (`buffer_LRU_...`), as upstream's do.
        let family = format!(
            "mysql_info_schema_innodb_metrics_{}_{}",
            name_part(&subsystem),
            name_part(&name)
        );
        let help = if comment.is_empty() {
            "An InnoDB metric".to_owned()
        } else {
            comment
        };
        out.push(
            if (kind == "counter" || kind == "status_counter") && value >= 0.0 {
                Sample::counter(format!("{family}_total"), help, value)
            } else {
                Sample::gauge(family, help, value)
            },
        );
    }
    out
}

/// `s` with every character a metric name cannot hold replaced by `_`.
fn name_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `--collect.info_schema.innodb_metrics`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.innodb_metrics",
    "InnoDB's enabled counters (information_schema.innodb_metrics)",
    |a| {
        let server = a.server.clone();
        a.add(InnodbMetrics { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn named_as_upstream() {
        let answer = rows(
            &["name", "subsystem", "type", "comment", "count"],
            &[
                &[
                    "buffer_page_read_index_leaf",
                    "buffer_page_io",
                    "counter",
                    "x",
                    "7",
                ],
                &["buffer_pool_pages_free", "buffer", "value", "x", "100"],
                &["buffer_pool_pages_dirty", "buffer", "value", "x", "3"],
                &["buffer_pool_pages_total", "buffer", "value", "x", "200"],
                &[
                    "lock_timeouts",
                    "lock",
                    "counter",
                    "Number of lock timeouts",
                    "2",
                ],
                &["trx_active", "transaction", "counter", "x", "-1"],
                &[
                    "buffer_LRU_batch_scanned",
                    "buffer",
                    "status_counter",
                    "x",
                    "5",
                ],
                &[
                    "buffer_pool_size",
                    "server",
                    "value",
                    "Server buffer pool size",
                    "134217728",
                ],
            ],
        );
        assert_eq!(
            lines(&metrics(&answer)),
            [
                "counter mysql_info_schema_innodb_metrics_buffer_buffer_LRU_batch_scanned_total{} 5",
                "counter mysql_info_schema_innodb_metrics_buffer_page_read_total{type=\"index_leaf\"} 7",
                "counter mysql_info_schema_innodb_metrics_lock_lock_timeouts_total{} 2",
                "gauge mysql_info_schema_innodb_metrics_buffer_pool_dirty_pages{} 3",
                "gauge mysql_info_schema_innodb_metrics_buffer_pool_pages{state=\"free\"} 100",
                "gauge mysql_info_schema_innodb_metrics_server_buffer_pool_size{} 134217728",
                "gauge mysql_info_schema_innodb_metrics_transaction_trx_active{} -1",
            ]
        );
    }
}
