//! postgres_exporter's `stat_replication`, with the `pid` label of upstream's next release behind
//! `--collector.stat_replication.pid`.

use hubble::catalogue::Entry;

use super::Assembly;

/// `stat_replication` declared twice over one query: the WAL sender's `pid` a `label` or `skip`ped.
macro_rules! stat_replication {
    ($(#[$doc:meta])* $name:ident, pid: $pid:ident) => {
        $(#[$doc])*
        #[derive(sqlx::FromRow, hubble::MetricGroup)]
        #[hubble(
            query = "SELECT application_name, client_addr::text AS client_addr, state, s.slot_name,
                            pg_stat_replication.pid::text AS pid,
                            (CASE WHEN pg_is_in_recovery()
                                  THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')
                                  ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END)::float8
                              AS pg_current_wal_lsn_bytes,
                            (CASE WHEN pg_is_in_recovery()
                                  THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), replay_lsn)
                                  ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END)::float8
                              AS pg_wal_lsn_diff,
                            EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_seconds
                     FROM pg_stat_replication
                     LEFT JOIN pg_replication_slots s ON s.active_pid = pg_stat_replication.pid",
            prefix = "pg_stat_replication",
            name = "stat_replication"
        )]
        pub struct $name {
            #[metric(label)]
            application_name: Option<String>,
            #[metric(label)]
            client_addr: Option<String>,
            #[metric(label)]
            state: Option<String>,
            #[metric(label)]
            slot_name: Option<String>,
            // Read where it is a label.
            #[allow(dead_code)]
            #[metric($pid)]
            pid: String,
            /// WAL position in bytes
            #[metric(gauge)]
            pg_current_wal_lsn_bytes: Option<f64>,
            /// Lag in bytes between master and slave
            #[metric(gauge)]
            pg_wal_lsn_diff: Option<f64>,
            /// Time elapsed between flushing recent WAL locally and receiving notification that this standby server has written, flushed and applied it
            #[metric(gauge)]
            replay_lag_seconds: Option<f64>,
        }
    };
}

stat_replication! {
    /// Standbys streaming from this server (or from this standby, cascading), from `pg_stat_replication`, with
    /// the slot each streams through: postgres_exporter 0.20.1's `stat_replication`.
    PgStatReplication, pid: skip
}

stat_replication! {
    /// [`PgStatReplication`] with the WAL sender's `pid` as a label, as upstream has it after 0.20.1
    /// (`--collector.stat_replication.pid`).
    PgStatReplicationPid, pid: label
}

/// `--collector.stat_replication`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_replication",
    "Standbys streaming from this server, with their lag (pg_stat_replication)",
    |a| {
        if a.stat_replication_pid {
            a.group::<PgStatReplicationPid>();
        } else {
            a.group::<PgStatReplication>();
        }
    },
);
