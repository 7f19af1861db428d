//! postgres_exporter's `stat_database`: `pg_stat_database`, with the checksum (12+) and session (14+) columns and
//! `pg_stat_database_conflicts` as their own groups, so a server without them loses only those.

use hubble::catalogue::Entry;

use super::Assembly;

/// Per-database statistics from `pg_stat_database`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    names_as_declared,
    query = "SELECT datid::text AS datid, COALESCE(datname, '') AS datname, numbackends, xact_commit, xact_rollback,
                    blks_read, blks_hit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,
                    conflicts, temp_files, temp_bytes, deadlocks, blk_read_time, blk_write_time,
                    EXTRACT(EPOCH FROM stats_reset)::float8 AS stats_reset
             FROM pg_stat_database",
    prefix = "pg_stat_database"
)]
pub struct PgStatDatabase {
    #[metric(label)]
    datid: String,
    #[metric(label)]
    datname: String,
    /// Number of backends currently connected to this database.
    #[metric(gauge)]
    numbackends: Option<i32>,
    /// Number of transactions in this database that have been committed.
    #[metric(counter)]
    xact_commit: Option<i64>,
    /// Number of transactions in this database that have been rolled back.
    #[metric(counter)]
    xact_rollback: Option<i64>,
    /// Number of disk blocks read in this database.
    #[metric(counter)]
    blks_read: Option<i64>,
    /// Number of times disk blocks were found already in the buffer cache.
    #[metric(counter)]
    blks_hit: Option<i64>,
    /// Number of rows returned by queries in this database.
    #[metric(counter)]
    tup_returned: Option<i64>,
    /// Number of rows fetched by queries in this database.
    #[metric(counter)]
    tup_fetched: Option<i64>,
    /// Number of rows inserted by queries in this database.
    #[metric(counter)]
    tup_inserted: Option<i64>,
    /// Number of rows updated by queries in this database.
    #[metric(counter)]
    tup_updated: Option<i64>,
    /// Number of rows deleted by queries in this database.
    #[metric(counter)]
    tup_deleted: Option<i64>,
    /// Number of queries canceled due to conflicts with recovery in this database.
    #[metric(counter)]
    conflicts: Option<i64>,
    /// Number of temporary files created by queries in this database.
    #[metric(counter)]
    temp_files: Option<i64>,
    /// Total amount of data written to temporary files by queries in this database.
    #[metric(counter)]
    temp_bytes: Option<i64>,
    /// Number of deadlocks detected in this database.
    #[metric(counter)]
    deadlocks: Option<i64>,
    /// Time spent reading data file blocks by backends in this database, in milliseconds.
    #[metric(counter)]
    blk_read_time: Option<f64>,
    /// Time spent writing data file blocks by backends in this database, in milliseconds.
    #[metric(counter)]
    blk_write_time: Option<f64>,
    /// Time at which these statistics were last reset.
    #[metric(counter)]
    stats_reset: Option<f64>,
}

/// Data page checksum failures per database, PostgreSQL 12 and later.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT datid::text AS datid, COALESCE(datname, '') AS datname, checksum_failures,
                    EXTRACT(EPOCH FROM checksum_last_failure)::float8 AS checksum_last_failure
             FROM pg_stat_database",
    prefix = "pg_stat_database",
    name = "pg_stat_database_checksums",
    min_version = 120000
)]
pub struct PgStatDatabaseChecksums {
    #[metric(label)]
    datid: String,
    #[metric(label)]
    datname: String,
    /// Number of data page checksum failures detected in this database (absent when checksums are off).
    #[metric(untyped)]
    checksum_failures: Option<i64>,
    /// Time at which the last data page checksum failure was detected in this database.
    #[metric(untyped)]
    checksum_last_failure: Option<f64>,
}

/// Session statistics of `pg_stat_database`, PostgreSQL 14 and later.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT datid::text AS datid, COALESCE(datname, '') AS datname, session_time, active_time,
                    idle_in_transaction_time, sessions, sessions_abandoned, sessions_fatal, sessions_killed,
                    active_time / 1000.0 AS active_time_seconds
             FROM pg_stat_database",
    prefix = "pg_stat_database",
    name = "pg_stat_database_sessions",
    min_version = 140000
)]
pub struct PgStatDatabaseSessions {
    #[metric(label)]
    datid: String,
    #[metric(label)]
    datname: String,
    /// Time spent by database sessions in this database, in milliseconds.
    #[metric(untyped)]
    session_time: Option<f64>,
    /// Time spent executing SQL statements in this database, in milliseconds.
    #[metric(untyped)]
    active_time: Option<f64>,
    /// Time spent idling while in a transaction in this database, in milliseconds.
    #[metric(untyped)]
    idle_in_transaction_time: Option<f64>,
    /// Total number of sessions established to this database.
    #[metric(untyped)]
    sessions: Option<i64>,
    /// Number of database sessions to this database that were terminated because connection to the client was lost.
    #[metric(untyped)]
    sessions_abandoned: Option<i64>,
    /// Number of database sessions to this database that were terminated by fatal errors.
    #[metric(untyped)]
    sessions_fatal: Option<i64>,
    /// Number of database sessions to this database that were terminated by operator intervention.
    #[metric(untyped)]
    sessions_killed: Option<i64>,
    /// Time spent executing SQL statements in this database, in seconds
    #[metric(counter, rename = "active_time_seconds_total")]
    active_time_seconds: Option<f64>,
}

/// Queries canceled due to conflicts with recovery, per database.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    names_as_declared,
    query = "SELECT datid::text AS datid, datname, confl_tablespace, confl_lock, confl_snapshot, confl_bufferpin,
                    confl_deadlock
             FROM pg_stat_database_conflicts",
    prefix = "pg_stat_database_conflicts"
)]
pub struct PgStatDatabaseConflicts {
    #[metric(label)]
    datid: String,
    #[metric(label)]
    datname: String,
    /// Number of queries in this database that have been canceled due to dropped tablespaces.
    #[metric(counter)]
    confl_tablespace: i64,
    /// Number of queries in this database that have been canceled due to lock timeouts.
    #[metric(counter)]
    confl_lock: i64,
    /// Number of queries in this database that have been canceled due to old snapshots.
    #[metric(counter)]
    confl_snapshot: i64,
    /// Number of queries in this database that have been canceled due to pinned buffers.
    #[metric(counter)]
    confl_bufferpin: i64,
    /// Number of queries in this database that have been canceled due to deadlocks.
    #[metric(counter)]
    confl_deadlock: i64,
}

/// `--collector.stat_database`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_database",
    "Per-database activity, I/O, conflicts, checksums and sessions (pg_stat_database)",
    |a| {
        a.group::<PgStatDatabase>();
        a.group::<PgStatDatabaseChecksums>();
        a.group::<PgStatDatabaseSessions>();
        a.group::<PgStatDatabaseConflicts>();
    },
);
