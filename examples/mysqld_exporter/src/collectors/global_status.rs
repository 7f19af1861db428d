//! mysqld_exporter's `global_status`: `SHOW GLOBAL STATUS`.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{Family, MetricKind, Sample};

use super::{numeric_rows, Assembly};

/// `SHOW GLOBAL STATUS` families gathered under one name with a label: (name prefix, family, label, help).
const STATUS_GROUPS: [(&str, &str, &str, &str); 5] = [
    ("com_", "mysql_global_status_commands_total", "command", "Statements of each kind run (Com_*)"),
    ("handler_", "mysql_global_status_handlers_total", "handler", "Storage engine handler calls of each kind (Handler_*)"),
    ("connection_errors_", "mysql_global_status_connection_errors_total", "error", "Connections refused, by reason (Connection_errors_*)"),
    ("innodb_rows_", "mysql_global_status_innodb_row_ops_total", "operation", "InnoDB row operations of each kind (Innodb_rows_*)"),
    ("performance_schema_", "mysql_global_status_performance_schema_lost_total", "instrumentation", "Performance schema instruments that could not be created or loaded for lack of memory (Performance_schema_*_lost)"),
];
const POOL_PAGES: &str = "mysql_global_status_buffer_pool_pages";
const POOL_PAGES_HELP: &str = "InnoDB buffer pool pages by state";
const POOL_DIRTY: &str = "mysql_global_status_buffer_pool_dirty_pages";
const POOL_DIRTY_HELP: &str = "InnoDB buffer pool pages changed in memory and not yet written";
const POOL_CHANGES: &str = "mysql_global_status_buffer_pool_page_changes_total";
const POOL_CHANGES_HELP: &str = "InnoDB buffer pool page changes by operation";
const GENERIC_STATUS_HELP: &str = "A value from SHOW GLOBAL STATUS";

fn status_descriptors() -> Vec<Family> {
    let mut d: Vec<Family> = STATUS_GROUPS
        .iter()
        .map(|(_, family, label, help)| Family::new(*family, *help, MetricKind::Counter, [*label]))
        .collect();
    d.push(Family::new(
        POOL_PAGES,
        POOL_PAGES_HELP,
        MetricKind::Gauge,
        ["state"],
    ));
    d.push(Family::new(
        POOL_DIRTY,
        POOL_DIRTY_HELP,
        MetricKind::Gauge,
        Vec::<&str>::new(),
    ));
    d.push(Family::new(
        POOL_CHANGES,
        POOL_CHANGES_HELP,
        MetricKind::Counter,
        ["operation"],
    ));
    d
}

/// `SHOW GLOBAL STATUS`: the grouped families above, the buffer pool's pages, and every other numeric row as
/// `mysql_global_status_<name>` (untyped: the server does not say which are counters).
pub fn global_status(answer: &TextRows) -> Vec<Sample> {
    let mut out = Vec::with_capacity(answer.rows.len());
    for (name, _, v) in numeric_rows(answer) {
        if let Some(pages) = name.strip_prefix("innodb_buffer_pool_pages_") {
            out.push(match pages {
                "data" | "free" | "misc" | "old" => {
                    Sample::gauge(POOL_PAGES, POOL_PAGES_HELP, v).label("state", pages.to_owned())
                }
                "dirty" => Sample::gauge(POOL_DIRTY, POOL_DIRTY_HELP, v),
                "total" => continue,
                _ => Sample::counter(POOL_CHANGES, POOL_CHANGES_HELP, v)
                    .label("operation", pages.to_owned()),
            });
            continue;
        }
        if let Some((rest, family, label, help)) = STATUS_GROUPS
            .iter()
            .find_map(|(p, f, l, h)| Some((name.strip_prefix(p)?, *f, *l, *h)))
        {
            out.push(Sample::counter(family, help, v).label(label, rest.to_owned()));
            continue;
        }
        out.push(Sample::new(
            format!("mysql_global_status_{name}"),
            GENERIC_STATUS_HELP,
            MetricKind::Untyped,
            v,
        ));
    }
    out
}

/// `--collect.global_status`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "global_status",
    "Server status counters and gauges (SHOW GLOBAL STATUS)",
    |a| {
        a.rows(
            "global_status",
            &["SHOW GLOBAL STATUS"],
            status_descriptors,
            global_status,
        );
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn status_rows_grouped_or_generic() {
        let answer = rows(
            &["Variable_name", "Value"],
            &[
                &["Com_select", "7"],
                &["Handler_read_rnd", "2"],
                &["Innodb_buffer_pool_pages_free", "100"],
                &["Innodb_buffer_pool_pages_dirty", "3"],
                &["Innodb_buffer_pool_pages_total", "200"],
                &["Innodb_buffer_pool_pages_flushed", "9"],
                &["Uptime", "60"],
                &["Slave_running", "OFF"],
                &["Ssl_cipher", ""],
                &["Rpl_status", "AUTH_MASTER"],
            ],
        );
        assert_eq!(
            lines(&global_status(&answer)),
            [
                "counter mysql_global_status_buffer_pool_page_changes_total{operation=\"flushed\"} 9",
                "counter mysql_global_status_commands_total{command=\"select\"} 7",
                "counter mysql_global_status_handlers_total{handler=\"read_rnd\"} 2",
                "gauge mysql_global_status_buffer_pool_dirty_pages{} 3",
                "gauge mysql_global_status_buffer_pool_pages{state=\"free\"} 100",
                "untyped mysql_global_status_slave_running{} 0",
                "untyped mysql_global_status_uptime{} 60",
            ]
        );
    }
}
