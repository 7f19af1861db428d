//! mysqld_exporter's `info_schema.replica_host`: Amazon Aurora's replicas from
//! `information_schema.replica_host_status`, with their role, CPU, lag and replay latency. Not applicable
//! elsewhere (the table is Aurora's).

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell};
use super::Assembly;

const LABELS: &[(&str, From)] = &[("server_id", Cell("SERVER_ID")), ("role", Cell("ROLE"))];

const COLUMNS: &[Column] = &[
    Column::gauge(
        "mysql_info_schema_replica_host_cpu_percent",
        "The replica's CPU use, in percent",
        "CPU",
        LABELS,
    ),
    Column::gauge(
        "mysql_info_schema_replica_host_replica_latency_seconds",
        "The source-replica latency in seconds",
        "MASTER_SLAVE_LATENCY_IN_MICROSECONDS",
        LABELS,
    )
    .scaled(1e-6),
    Column::gauge(
        "mysql_info_schema_replica_host_lag_seconds",
        "The replica's lag in seconds",
        "REPLICA_LAG_IN_MILLISECONDS",
        LABELS,
    )
    .scaled(1e-3),
    Column::gauge(
        "mysql_info_schema_replica_host_log_stream_speed",
        "The log stream speed in KiB per second",
        "LOG_STREAM_SPEED_IN_KiB_PER_SECOND",
        LABELS,
    ),
    Column::gauge(
        "mysql_info_schema_replica_host_replay_latency_seconds",
        "The current replay latency in seconds",
        "CURRENT_REPLAY_LATENCY_IN_MICROSECONDS",
        LABELS,
    )
    .scaled(1e-6),
];

const SQL: &str = "SELECT SERVER_ID, IF(SESSION_ID = 'MASTER_SESSION_ID', 'writer', 'reader') AS ROLE, CPU, \
                          MASTER_SLAVE_LATENCY_IN_MICROSECONDS, REPLICA_LAG_IN_MILLISECONDS, \
                          LOG_STREAM_SPEED_IN_KiB_PER_SECOND, CURRENT_REPLAY_LATENCY_IN_MICROSECONDS \
                   FROM information_schema.replica_host_status";

/// `--collect.info_schema.replica_host`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.replica_host",
    "Aurora replicas' lag and load (information_schema.replica_host_status)",
    |a| {
        a.columns(
            "info_schema.replica_host",
            SQL.to_owned(),
            COLUMNS,
            "information_schema.replica_host_status (Amazon Aurora)",
        )
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::columns::samples;
    use crate::collectors::testing::{lines, rows};

    /// An Aurora reader's row.
    #[test]
    fn units_in_seconds() {
        let answer = rows(
            &[
                "SERVER_ID",
                "ROLE",
                "CPU",
                "MASTER_SLAVE_LATENCY_IN_MICROSECONDS",
                "REPLICA_LAG_IN_MILLISECONDS",
            ],
            &[&["db-2", "reader", "12.5", "1500000", "250"]],
        );
        assert_eq!(
            lines(&samples(&answer, COLUMNS)),
            [
                "gauge mysql_info_schema_replica_host_cpu_percent{role=\"reader\",server_id=\"db-2\"} 12.5",
                "gauge mysql_info_schema_replica_host_lag_seconds{role=\"reader\",server_id=\"db-2\"} 0.25",
                "gauge mysql_info_schema_replica_host_replica_latency_seconds{role=\"reader\",server_id=\"db-2\"} 1.5",
            ]
        );
    }
}
