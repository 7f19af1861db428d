//! mysqld_exporter's `perf_schema.replication_applier_status_by_worker`: when each applier worker's last and
//! current transactions were committed and applied (MySQL 8), from
//! `performance_schema.replication_applier_status_by_worker`. Columns are read by name: a server whose table
//! lacks the timestamps (MariaDB) gives no samples.

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell};
use super::Assembly;

const LABELS: &[(&str, From)] = &[
    ("channel_name", Cell("CHANNEL_NAME")),
    ("member_id", Cell("WORKER_ID")),
];

const COLUMNS: &[Column] = &[
    Column::gauge(
        "mysql_perf_schema_last_applied_transaction_original_commit_timestamp_seconds",
        "When the last transaction this worker applied was committed on the original source, in Unix seconds",
        "LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_last_applied_transaction_immediate_commit_timestamp_seconds",
        "When the last transaction this worker applied was committed on the immediate source, in Unix seconds",
        "LAST_APPLIED_TRANSACTION_IMMEDIATE_COMMIT_TIMESTAMP",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_last_applied_transaction_start_apply_timestamp_seconds",
        "When this worker started applying its last applied transaction, in Unix seconds",
        "LAST_APPLIED_TRANSACTION_START_APPLY_TIMESTAMP",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_last_applied_transaction_end_apply_timestamp_seconds",
        "When this worker finished applying its last applied transaction, in Unix seconds",
        "LAST_APPLIED_TRANSACTION_END_APPLY_TIMESTAMP",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_applying_transaction_original_commit_timestamp_seconds",
        "When the transaction this worker is applying was committed on the original source, in Unix seconds",
        "APPLYING_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_applying_transaction_immediate_commit_timestamp_seconds",
        "When the transaction this worker is applying was committed on the immediate source, in Unix seconds",
        "APPLYING_TRANSACTION_IMMEDIATE_COMMIT_TIMESTAMP",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_applying_transaction_start_apply_timestamp_seconds",
        "When this worker first started applying its current transaction, in Unix seconds",
        "APPLYING_TRANSACTION_START_APPLY_TIMESTAMP",
        LABELS,
    ),
];

/// `--collect.perf_schema.replication_applier_status_by_worker`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.replication_applier_status_by_worker",
    "Replication applier workers' transaction timestamps (performance_schema.replication_applier_status_by_worker)",
    |a| {
        a.columns(
            "perf_schema.replication_applier_status_by_worker",
            "SELECT * FROM performance_schema.replication_applier_status_by_worker".to_owned(),
            COLUMNS,
            "performance_schema.replication_applier_status_by_worker",
        )
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::columns::samples;
    use crate::collectors::testing::{lines, rows};

    /// A MySQL 8.0 worker's row: timestamps with microseconds, the zero date (nothing being applied) 0 as
    /// upstream has it.
    #[test]
    fn timestamps_in_seconds() {
        let answer = rows(
            &[
                "CHANNEL_NAME",
                "WORKER_ID",
                "LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP",
                "APPLYING_TRANSACTION_START_APPLY_TIMESTAMP",
            ],
            &[&[
                "",
                "1",
                "1970-01-02 00:00:01.250000",
                "0000-00-00 00:00:00.000000",
            ]],
        );
        assert_eq!(
            lines(&samples(&answer, COLUMNS)),
            [
                "gauge mysql_perf_schema_applying_transaction_start_apply_timestamp_seconds{channel_name=\"\",member_id=\"1\"} 0",
                "gauge mysql_perf_schema_last_applied_transaction_original_commit_timestamp_seconds{channel_name=\"\",member_id=\"1\"} 86401.25",
            ]
        );
    }
}
