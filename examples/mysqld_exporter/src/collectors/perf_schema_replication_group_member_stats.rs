//! mysqld_exporter's `perf_schema.replication_group_member_stats`: this member's certification and applier
//! queues in a MySQL group replication group, from `performance_schema.replication_group_member_stats`.
//! Not applicable where the table does not exist (MariaDB).

use hubble::catalogue::Entry;

use super::columns::Column;
use super::Assembly;

const COLUMNS: &[Column] = &[
    Column::gauge(
        "mysql_perf_schema_transactions_in_queue",
        "Transactions waiting for conflict detection",
        "COUNT_TRANSACTIONS_IN_QUEUE",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_transactions_checked_total",
        "Transactions checked for conflicts",
        "COUNT_TRANSACTIONS_CHECKED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_conflicts_detected_total",
        "Transactions that failed conflict detection",
        "COUNT_CONFLICTS_DETECTED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_transactions_rows_validating_total",
        "Transaction rows usable for certification, not yet garbage collected",
        "COUNT_TRANSACTIONS_ROWS_VALIDATING",
        &[],
    ),
    Column::gauge(
        "mysql_perf_schema_transactions_remote_in_applier_queue",
        "Transactions received from the group waiting to be applied",
        "COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_transactions_remote_applied_total",
        "Transactions received from the group and applied",
        "COUNT_TRANSACTIONS_REMOTE_APPLIED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_transactions_local_proposed_total",
        "Transactions from this member sent to the group",
        "COUNT_TRANSACTIONS_LOCAL_PROPOSED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_transactions_local_rollback_total",
        "Transactions from this member rolled back by the group",
        "COUNT_TRANSACTIONS_LOCAL_ROLLBACK",
        &[],
    ),
];

const SQL: &str =
    "SELECT * FROM performance_schema.replication_group_member_stats WHERE MEMBER_ID = @@server_uuid";

/// `--collect.perf_schema.replication_group_member_stats`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.replication_group_member_stats",
    "This member's group replication queues (performance_schema.replication_group_member_stats)",
    |a| {
        a.columns(
            "perf_schema.replication_group_member_stats",
            SQL.to_owned(),
            COLUMNS,
            "performance_schema.replication_group_member_stats (MySQL group replication)",
        )
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::columns::samples;
    use crate::collectors::testing::{lines, rows};

    /// A MySQL 8.0 member's row.
    #[test]
    fn queues_and_counters() {
        let answer = rows(
            &[
                "CHANNEL_NAME",
                "MEMBER_ID",
                "COUNT_TRANSACTIONS_IN_QUEUE",
                "COUNT_TRANSACTIONS_CHECKED",
                "COUNT_CONFLICTS_DETECTED",
            ],
            &[&["group_replication_applier", "uuid-1", "2", "40", "1"]],
        );
        assert_eq!(
            lines(&samples(&answer, COLUMNS)),
            [
                "counter mysql_perf_schema_conflicts_detected_total{} 1",
                "counter mysql_perf_schema_transactions_checked_total{} 40",
                "gauge mysql_perf_schema_transactions_in_queue{} 2",
            ]
        );
    }
}
