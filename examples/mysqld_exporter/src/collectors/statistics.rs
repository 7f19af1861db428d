//! What the `userstat` statistics of MariaDB and Percona Server (`information_schema.user_statistics`,
//! `client_statistics`, `table_statistics`) share: they are there only while `userstat` is on, and the user
//! and client tables have one row per key with a column per counter.

use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::columns::{families, samples, Column};
use super::{rows, Server};
use crate::value::number;

/// The user and client tables' known columns: (column, family suffix, kind, help). Upstream knows the last
/// one for clients only: for users it is untyped, under the column's name.
const KNOWN: [(&str, &str, MetricKind, &str); 26] = [
    (
        "TOTAL_CONNECTIONS",
        "total_connections",
        MetricKind::Counter,
        "Connections created",
    ),
    (
        "CONCURRENT_CONNECTIONS",
        "concurrent_connections",
        MetricKind::Gauge,
        "Concurrent connections",
    ),
    (
        "CONNECTED_TIME",
        "connected_time_seconds_total",
        MetricKind::Counter,
        "Seconds with connections open",
    ),
    (
        "BUSY_TIME",
        "busy_seconds_total",
        MetricKind::Counter,
        "Seconds with activity on the connections",
    ),
    (
        "CPU_TIME",
        "cpu_time_seconds_total",
        MetricKind::Counter,
        "CPU seconds spent serving the connections",
    ),
    (
        "BYTES_RECEIVED",
        "bytes_received_total",
        MetricKind::Counter,
        "Bytes received",
    ),
    (
        "BYTES_SENT",
        "bytes_sent_total",
        MetricKind::Counter,
        "Bytes sent",
    ),
    (
        "BINLOG_BYTES_WRITTEN",
        "binlog_bytes_written_total",
        MetricKind::Counter,
        "Bytes written to the binary log",
    ),
    (
        "ROWS_READ",
        "rows_read_total",
        MetricKind::Counter,
        "Rows read",
    ),
    (
        "ROWS_SENT",
        "rows_sent_total",
        MetricKind::Counter,
        "Rows sent",
    ),
    (
        "ROWS_DELETED",
        "rows_deleted_total",
        MetricKind::Counter,
        "Rows deleted",
    ),
    (
        "ROWS_INSERTED",
        "rows_inserted_total",
        MetricKind::Counter,
        "Rows inserted",
    ),
    (
        "ROWS_FETCHED",
        "rows_fetched_total",
        MetricKind::Counter,
        "Rows fetched",
    ),
    (
        "ROWS_UPDATED",
        "rows_updated_total",
        MetricKind::Counter,
        "Rows updated",
    ),
    (
        "TABLE_ROWS_READ",
        "table_rows_read_total",
        MetricKind::Counter,
        "Rows read from tables",
    ),
    (
        "SELECT_COMMANDS",
        "select_commands_total",
        MetricKind::Counter,
        "SELECT statements run",
    ),
    (
        "UPDATE_COMMANDS",
        "update_commands_total",
        MetricKind::Counter,
        "UPDATE statements run",
    ),
    (
        "OTHER_COMMANDS",
        "other_commands_total",
        MetricKind::Counter,
        "Other statements run",
    ),
    (
        "COMMIT_TRANSACTIONS",
        "commit_transactions_total",
        MetricKind::Counter,
        "Transactions committed",
    ),
    (
        "ROLLBACK_TRANSACTIONS",
        "rollback_transactions_total",
        MetricKind::Counter,
        "Transactions rolled back",
    ),
    (
        "DENIED_CONNECTIONS",
        "denied_connections_total",
        MetricKind::Counter,
        "Connections denied",
    ),
    (
        "LOST_CONNECTIONS",
        "lost_connections_total",
        MetricKind::Counter,
        "Connections ended abnormally",
    ),
    (
        "ACCESS_DENIED",
        "access_denied_total",
        MetricKind::Counter,
        "Access denied errors",
    ),
    (
        "EMPTY_QUERIES",
        "empty_queries_total",
        MetricKind::Counter,
        "Queries that returned no rows",
    ),
    (
        "TOTAL_SSL_CONNECTIONS",
        "total_ssl_connections_total",
        MetricKind::Counter,
        "TLS connections created",
    ),
    (
        "MAX_STATEMENT_TIME_EXCEEDED",
        "max_statement_time_exceeded_total",
        MetricKind::Counter,
        "Statements over max_statement_time",
    ),
];

/// What one of the four collectors reads.
pub(crate) enum Read {
    /// `SELECT *` from a table with a row per key: `<prefix>_<column>{<label>}` for every column but the first.
    PerKey {
        table: &'static str,
        prefix: &'static str,
        label: &'static str,
        /// How many of the known columns upstream types for this table.
        known: usize,
    },
    /// A query mapped by its columns.
    Columns {
        sql: &'static str,
        columns: &'static [Column],
    },
}

/// A `userstat` collector: not applicable while `userstat` is off, with the way to turn it on.
pub(crate) struct Statistics {
    pub name: &'static str,
    pub read: Read,
    pub server: Server,
}

impl Collector for Statistics {
    fn name(&self) -> &str {
        self.name
    }

    fn families(&self) -> Vec<Family> {
        match &self.read {
            Read::PerKey {
                prefix,
                label,
                known,
                ..
            } => KNOWN[..*known]
                .iter()
                .map(|(_, suffix, kind, help)| {
                    Family::new(format!("{prefix}_{suffix}"), *help, *kind, [*label])
                })
                .collect(),
            Read::Columns { columns, .. } => families(columns),
        }
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let on = rows(
            &self.server,
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('userstat', 'userstat_running')",
        )
        .await?;
        let enabled = on
            .rows
            .iter()
            .any(|r| r.get(1).cloned().flatten().as_deref().and_then(number) == Some(1.0));
        if !enabled {
            return Err(CollectError::NotApplicable(
                "userstat is off or missing (MariaDB and Percona Server: SET GLOBAL userstat = ON)"
                    .into(),
            ));
        }
        Ok(match &self.read {
            Read::PerKey {
                table,
                prefix,
                label,
                known,
            } => per_key(
                &rows(
                    &self.server,
                    &format!("SELECT * FROM information_schema.{table}"),
                )
                .await?,
                prefix,
                label,
                *known,
            ),
            Read::Columns { sql, columns } => samples(&rows(&self.server, sql).await?, columns),
        })
    }
}

/// One sample per counter column of each row, keyed by the first column; a column not in upstream's list is
/// untyped, named after it.
pub(crate) fn per_key(
    answer: &TextRows,
    prefix: &str,
    label: &'static str,
    known: usize,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let key = row.first().cloned().flatten().unwrap_or_default();
        for (column, cell) in answer.columns.iter().zip(row).skip(1) {
            let Some(value) = cell.as_deref().and_then(number) else {
                continue;
            };
            let sample = match KNOWN[..known]
                .iter()
                .find(|k| k.0.eq_ignore_ascii_case(column))
            {
                Some((_, suffix, kind, help)) => {
                    Sample::new(format!("{prefix}_{suffix}"), *help, *kind, value)
                }
                None => Sample::new(
                    format!("{prefix}_{}", column.to_ascii_lowercase()),
                    "A column of the statistics table this exporter does not know",
                    MetricKind::Untyped,
                    value,
                ),
            };
            out.push(sample.label(label, key.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn known_columns_are_typed_and_others_untyped() {
        let answer = rows(
            &["USER", "TOTAL_CONNECTIONS", "BUSY_TIME", "NEW_COLUMN"],
            &[&["app", "3", "0.5", "7"]],
        );
        assert_eq!(
            lines(&per_key(
                &answer,
                "mysql_info_schema_user_statistics",
                "user",
                25
            )),
            [
                "counter mysql_info_schema_user_statistics_busy_seconds_total{user=\"app\"} 0.5",
                "counter mysql_info_schema_user_statistics_total_connections{user=\"app\"} 3",
                "untyped mysql_info_schema_user_statistics_new_column{user=\"app\"} 7",
            ]
        );
    }
}
