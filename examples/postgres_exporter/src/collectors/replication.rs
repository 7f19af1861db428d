//! postgres_exporter's `replication`.

use hubble::catalogue::Entry;

use super::Assembly;

/// Replication state of this server.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
                         ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END::float8 AS lag,
                    CASE WHEN NOT pg_is_in_recovery() THEN 0
                         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                         ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END::float8
                      AS lag_seconds,
                    pg_is_in_recovery() AS is_replica,
                    GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))::float8
                      AS last_replay_seconds",
    prefix = "pg_replication"
)]
pub struct PgReplication {
    /// Replication lag behind master in seconds (the name of postgres_exporter before 0.13)
    #[metric(gauge)]
    lag: Option<f64>,
    /// Replication lag behind master in seconds; 0 on a primary, and on a standby that has replayed all it received
    #[metric(gauge)]
    lag_seconds: Option<f64>,
    /// Indicates if the server is a replica
    #[metric(gauge)]
    is_replica: bool,
    /// Age of last replay in seconds (absent before a standby's first replay, and on a primary)
    #[metric(gauge)]
    last_replay_seconds: Option<f64>,
}

/// `--collector.replication`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "replication",
    "Whether the server is a replica, and its replay lag",
    |a| {
        a.group::<PgReplication>();
    },
);
