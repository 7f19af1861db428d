//! The metric groups of the Postgres exporter, declared with `#[derive(MetricCollector)]`, named as
//! prometheus-community's postgres_exporter names them so dashboards and alerts keep working.
//!
//! Timestamps are cast to Unix seconds in SQL; NULL gives no sample (postgres_exporter exports NaN).

/// Per-database statistics from `pg_stat_database`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
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
#[derive(sqlx::FromRow, hubble::MetricCollector)]
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
#[derive(sqlx::FromRow, hubble::MetricCollector)]
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
#[derive(sqlx::FromRow, hubble::MetricCollector)]
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

/// Background writer statistics. The view lost its checkpoint columns in PostgreSQL 17 (they moved to
/// `pg_stat_checkpointer`) and `buffers_backend*` (to `pg_stat_io`): columns are read by name from the row
/// as JSON, so one query fits every version, and a column the server lacks gives no sample.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT (j->>'checkpoints_timed')::int8 AS checkpoints_timed,
                    (j->>'checkpoints_req')::int8 AS checkpoints_req,
                    (j->>'checkpoint_write_time')::float8 AS checkpoint_write_time,
                    (j->>'checkpoint_sync_time')::float8 AS checkpoint_sync_time,
                    (j->>'buffers_checkpoint')::int8 AS buffers_checkpoint,
                    (j->>'buffers_clean')::int8 AS buffers_clean,
                    (j->>'maxwritten_clean')::int8 AS maxwritten_clean,
                    (j->>'buffers_backend')::int8 AS buffers_backend,
                    (j->>'buffers_backend_fsync')::int8 AS buffers_backend_fsync,
                    (j->>'buffers_alloc')::int8 AS buffers_alloc,
                    EXTRACT(EPOCH FROM stats_reset)::float8 AS stats_reset
             FROM pg_stat_bgwriter b, to_jsonb(b) j",
    prefix = "pg_stat_bgwriter"
)]
pub struct PgStatBgwriter {
    /// Number of scheduled checkpoints that have been performed (before PostgreSQL 17).
    #[metric(counter, rename = "checkpoints_timed_total")]
    checkpoints_timed: Option<i64>,
    /// Number of requested checkpoints that have been performed (before PostgreSQL 17).
    #[metric(counter, rename = "checkpoints_req_total")]
    checkpoints_req: Option<i64>,
    /// Total amount of time spent writing files to disk during checkpoints, in milliseconds (before PostgreSQL 17).
    #[metric(counter, rename = "checkpoint_write_time_total")]
    checkpoint_write_time: Option<f64>,
    /// Total amount of time spent synchronizing files to disk during checkpoints, in milliseconds (before PostgreSQL 17).
    #[metric(counter, rename = "checkpoint_sync_time_total")]
    checkpoint_sync_time: Option<f64>,
    /// Number of buffers written during checkpoints (before PostgreSQL 17).
    #[metric(counter, rename = "buffers_checkpoint_total")]
    buffers_checkpoint: Option<i64>,
    /// Number of buffers written by the background writer.
    #[metric(counter, rename = "buffers_clean_total")]
    buffers_clean: Option<i64>,
    /// Number of times the background writer stopped a cleaning scan because it had written too many buffers.
    #[metric(counter, rename = "maxwritten_clean_total")]
    maxwritten_clean: Option<i64>,
    /// Number of buffers written directly by a backend (before PostgreSQL 17).
    #[metric(counter, rename = "buffers_backend_total")]
    buffers_backend: Option<i64>,
    /// Number of times a backend had to execute its own fsync call (before PostgreSQL 17).
    #[metric(counter, rename = "buffers_backend_fsync_total")]
    buffers_backend_fsync: Option<i64>,
    /// Number of buffers allocated.
    #[metric(counter, rename = "buffers_alloc_total")]
    buffers_alloc: Option<i64>,
    /// Time at which these statistics were last reset.
    #[metric(counter, rename = "stats_reset_total")]
    stats_reset: Option<f64>,
}

/// Checkpoints and restartpoints (PostgreSQL 17 and later), postgres_exporter's `stat_checkpointer`, plus
/// what 18 added: checkpoints completed (`num_done`, not only started) and the SLRU buffers they wrote. Read
/// by name from the row as JSON, as `pg_stat_bgwriter`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT (j->>'num_timed')::int8 AS num_timed, (j->>'num_requested')::int8 AS num_requested,
                    (j->>'num_done')::int8 AS num_done,
                    (j->>'restartpoints_timed')::int8 AS restartpoints_timed,
                    (j->>'restartpoints_req')::int8 AS restartpoints_req,
                    (j->>'restartpoints_done')::int8 AS restartpoints_done,
                    (j->>'write_time')::float8 AS write_time, (j->>'sync_time')::float8 AS sync_time,
                    (j->>'buffers_written')::int8 AS buffers_written,
                    (j->>'slru_written')::int8 AS slru_written,
                    EXTRACT(EPOCH FROM stats_reset)::float8 AS stats_reset
             FROM pg_stat_checkpointer c, to_jsonb(c) j",
    prefix = "pg_stat_checkpointer",
    min_version = 170000
)]
pub struct PgStatCheckpointer {
    /// Number of scheduled checkpoints due to timeout.
    #[metric(counter, rename = "num_timed_total")]
    num_timed: Option<i64>,
    /// Number of requested checkpoints that have been performed.
    #[metric(counter, rename = "num_requested_total")]
    num_requested: Option<i64>,
    /// Number of checkpoints that have been completed (PostgreSQL 18 and later).
    #[metric(counter, rename = "num_done_total")]
    num_done: Option<i64>,
    /// Number of scheduled restartpoints due to timeout or after a failed attempt to perform it.
    #[metric(counter, rename = "restartpoints_timed_total")]
    restartpoints_timed: Option<i64>,
    /// Number of requested restartpoints.
    #[metric(counter, rename = "restartpoints_req_total")]
    restartpoints_req: Option<i64>,
    /// Number of restartpoints that have been performed.
    #[metric(counter, rename = "restartpoints_done_total")]
    restartpoints_done: Option<i64>,
    /// Total amount of time that has been spent in the portion of processing checkpoints and restartpoints where files are written to disk, in milliseconds.
    #[metric(counter, rename = "write_time_total")]
    write_time: Option<f64>,
    /// Total amount of time that has been spent in the portion of processing checkpoints and restartpoints where files are synchronized to disk, in milliseconds.
    #[metric(counter, rename = "sync_time_total")]
    sync_time: Option<f64>,
    /// Number of buffers written during checkpoints and restartpoints.
    #[metric(counter, rename = "buffers_written_total")]
    buffers_written: Option<i64>,
    /// Number of SLRU buffers written during checkpoints and restartpoints (PostgreSQL 18 and later).
    #[metric(counter, rename = "slru_written_total")]
    slru_written: Option<i64>,
    /// Time at which these statistics were last reset.
    #[metric(counter, rename = "stats_reset_total")]
    stats_reset: Option<f64>,
}

/// `pg_stat_bgwriter` on PostgreSQL 17 and later: what is left in the view, and the families 17 moved out
/// of it under their old names: from `pg_stat_checkpointer`, and the backends' own writes and fsyncs from `pg_stat_io` (shared-buffer relation
/// I/O of every process but the background writer and checkpointer, which is what `buffers_backend` counted).
/// postgres_exporter stops exporting them on 17; dashboards and alerts written for older servers (the
/// postgres mixin's checkpoint alert and bgwriter panels among them) keep working here. The `pg_stat_bgwriter`
/// collector reads this on 17 and later, [`PgStatBgwriter`] before.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT c.num_timed AS checkpoints_timed, c.num_requested AS checkpoints_req,
                    c.write_time AS checkpoint_write_time, c.sync_time AS checkpoint_sync_time,
                    c.buffers_written AS buffers_checkpoint, io.writes AS buffers_backend,
                    io.fsyncs AS buffers_backend_fsync, b.buffers_clean, b.maxwritten_clean, b.buffers_alloc,
                    EXTRACT(EPOCH FROM b.stats_reset)::float8 AS stats_reset
             FROM pg_stat_bgwriter b, pg_stat_checkpointer c,
                  (SELECT COALESCE(sum(writes), 0)::int8 AS writes, COALESCE(sum(fsyncs), 0)::int8 AS fsyncs
                   FROM pg_stat_io
                   WHERE object = 'relation' AND backend_type NOT IN ('background writer', 'checkpointer')) io",
    prefix = "pg_stat_bgwriter"
)]
pub struct PgStatBgwriterSince17 {
    /// Number of scheduled checkpoints (pg_stat_checkpointer.num_timed on PostgreSQL 17 and later).
    #[metric(counter, rename = "checkpoints_timed_total")]
    checkpoints_timed: i64,
    /// Number of requested checkpoints (pg_stat_checkpointer.num_requested on PostgreSQL 17 and later).
    #[metric(counter, rename = "checkpoints_req_total")]
    checkpoints_req: i64,
    /// Total amount of time spent writing files to disk during checkpoints, in milliseconds.
    #[metric(counter, rename = "checkpoint_write_time_total")]
    checkpoint_write_time: f64,
    /// Total amount of time spent synchronizing files to disk during checkpoints, in milliseconds.
    #[metric(counter, rename = "checkpoint_sync_time_total")]
    checkpoint_sync_time: f64,
    /// Number of buffers written during checkpoints.
    #[metric(counter, rename = "buffers_checkpoint_total")]
    buffers_checkpoint: i64,
    /// Number of buffers written directly by a backend (from pg_stat_io on PostgreSQL 17 and later).
    #[metric(counter, rename = "buffers_backend_total")]
    buffers_backend: i64,
    /// Number of times a backend had to execute its own fsync call (from pg_stat_io on PostgreSQL 17 and later).
    #[metric(counter, rename = "buffers_backend_fsync_total")]
    buffers_backend_fsync: i64,
    /// Number of buffers written by the background writer.
    #[metric(counter, rename = "buffers_clean_total")]
    buffers_clean: i64,
    /// Number of times the background writer stopped a cleaning scan because it had written too many buffers.
    #[metric(counter, rename = "maxwritten_clean_total")]
    maxwritten_clean: i64,
    /// Number of buffers allocated.
    #[metric(counter, rename = "buffers_alloc_total")]
    buffers_alloc: i64,
    /// Time at which these statistics were last reset.
    #[metric(counter, rename = "stats_reset_total")]
    stats_reset: Option<f64>,
}

/// Connections per database and state, by user, application, backend type and wait event, and the longest
/// transaction: postgres_exporter 0.20's `stat_activity` (the exporter's own connection left out). Every
/// database and state has a row, 0 where nobody is.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    names_as_declared,
    query = "SELECT pg_database.datname, tmp.state, tmp2.usename, tmp2.application_name, tmp2.backend_type,
                    tmp2.wait_event_type, tmp2.wait_event, COALESCE(count, 0) AS count,
                    COALESCE(max_tx_duration, 0) AS max_tx_duration
             FROM (VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'),
                          ('fastpath function call'), ('disabled')) AS tmp(state)
             CROSS JOIN pg_database
             LEFT JOIN (SELECT datname, state, usename, application_name, backend_type, wait_event_type,
                               wait_event, count(*) AS count,
                               MAX(EXTRACT(EPOCH FROM now() - xact_start))::float8 AS max_tx_duration
                        FROM pg_stat_activity WHERE pid <> pg_backend_pid()
                        GROUP BY datname, state, usename, application_name, backend_type, wait_event_type,
                                 wait_event) AS tmp2
               ON tmp.state = tmp2.state AND pg_database.datname = tmp2.datname",
    prefix = "pg_stat_activity"
)]
pub struct PgStatActivity {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    state: String,
    #[metric(label)]
    usename: Option<String>,
    #[metric(label)]
    application_name: Option<String>,
    #[metric(label)]
    backend_type: Option<String>,
    #[metric(label)]
    wait_event_type: Option<String>,
    #[metric(label)]
    wait_event: Option<String>,
    /// number of connections in this state
    #[metric(gauge)]
    count: i64,
    /// max duration in seconds any active transaction has been running
    #[metric(gauge)]
    max_tx_duration: f64,
}

/// Locks per database and mode.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    names_as_declared,
    query = "SELECT pg_database.datname, tmp.mode, COALESCE(count, 0) AS count
             FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
                          ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
                          ('sireadlock')) AS tmp(mode)
             CROSS JOIN pg_database
             LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count
                        FROM pg_locks WHERE database IS NOT NULL GROUP BY database, lower(mode)) AS tmp2
               ON tmp.mode = tmp2.mode AND pg_database.oid = tmp2.database",
    prefix = "pg_locks"
)]
pub struct PgLocks {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    mode: String,
    /// Number of locks
    #[metric(gauge)]
    count: i64,
}

/// Size of each database.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT datname, pg_database_size(datname) AS size_bytes, datconnlimit FROM pg_database",
    prefix = "pg_database"
)]
pub struct PgDatabaseSize {
    #[metric(label)]
    datname: String,
    /// Disk space used by the database
    #[metric(gauge)]
    size_bytes: i64,
    /// Connection limit set for the database (-1: none)
    #[metric(gauge, rename = "connection_limit")]
    datconnlimit: i32,
}

/// When the server started.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT EXTRACT(EPOCH FROM pg_postmaster_start_time())::float8 AS start_time_seconds",
    prefix = "pg_postmaster"
)]
pub struct PgPostmaster {
    /// Time at which postmaster started
    #[metric(gauge)]
    start_time_seconds: f64,
}

/// WAL archiver statistics.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    names_as_declared,
    query = "SELECT archived_count, failed_count,
                    EXTRACT(EPOCH FROM now() - last_archived_time)::float8 AS last_archive_age
             FROM pg_stat_archiver",
    prefix = "pg_stat_archiver"
)]
pub struct PgStatArchiver {
    /// Number of WAL files that have been successfully archived
    #[metric(counter)]
    archived_count: i64,
    /// Number of failed attempts for archiving WAL files
    #[metric(counter)]
    failed_count: i64,
    /// Time in seconds since last WAL segment was successfully archived (absent before the first)
    #[metric(gauge)]
    last_archive_age: Option<f64>,
}

/// Replication state of this server.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
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

/// `stat_replication` declared twice over one query: the WAL sender's `pid` a `label` or `skip`ped.
macro_rules! stat_replication {
    ($(#[$doc:meta])* $name:ident, pid: $pid:ident) => {
        $(#[$doc])*
        #[derive(sqlx::FromRow, hubble::MetricCollector)]
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

/// Replication slots.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT slot_name, COALESCE(database, '') AS database, active,
                    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn)::float8 AS pg_wal_lsn_diff
             FROM pg_replication_slots",
    prefix = "pg_replication_slots"
)]
pub struct PgReplicationSlots {
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    database: String,
    /// Flag indicating if the slot is active
    #[metric(gauge)]
    active: bool,
    /// Replication lag in bytes
    #[metric(gauge)]
    pg_wal_lsn_diff: Option<f64>,
}

/// Each replication slot's WAL positions, postgres_exporter's slot series of `replication_slots`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT slot_name, slot_type,
                    (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END
                     - '0/0')::float8 AS slot_current_wal_lsn,
                    CASE WHEN active THEN (COALESCE(confirmed_flush_lsn, '0/0') - '0/0')::float8 END
                      AS slot_confirmed_flush_lsn,
                    active AS slot_is_active, safe_wal_size AS safe_wal_size_bytes
             FROM pg_replication_slots",
    prefix = "pg_replication_slots",
    name = "pg_replication_slots_slot"
)]
pub struct PgReplicationSlotsSlot {
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    slot_type: String,
    /// current wal lsn value
    #[metric(gauge)]
    slot_current_wal_lsn: Option<f64>,
    /// last lsn confirmed flushed to the replication slot (active slots)
    #[metric(gauge)]
    slot_confirmed_flush_lsn: Option<f64>,
    /// whether the replication slot is active or not
    #[metric(gauge)]
    slot_is_active: bool,
    /// number of bytes that can be written to WAL such that this slot is not in danger of getting in state lost
    #[metric(gauge)]
    safe_wal_size_bytes: Option<i64>,
}

/// The availability of the WAL each replication slot claims: one series per slot, labelled with it.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT slot_name, slot_type, wal_status, 1 AS present
             FROM pg_replication_slots WHERE wal_status IS NOT NULL",
    prefix = "pg_replication_slots",
    name = "pg_replication_slots_wal_status",
    min_version = 130000
)]
pub struct PgReplicationSlotsWalStatus {
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    slot_type: String,
    #[metric(label)]
    wal_status: String,
    /// availability of WAL files claimed by this slot
    #[metric(gauge, rename = "wal_status")]
    present: i32,
}

/// Per-table statistics of the connected database, from `pg_stat_user_tables`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    names_as_declared,
    query = "SELECT current_database() AS datname, schemaname, relname, seq_scan, seq_tup_read,
                    COALESCE(idx_scan, 0) AS idx_scan, COALESCE(idx_tup_fetch, 0) AS idx_tup_fetch,
                    n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze,
                    COALESCE(EXTRACT(EPOCH FROM last_vacuum), 0)::float8 AS last_vacuum,
                    COALESCE(EXTRACT(EPOCH FROM last_autovacuum), 0)::float8 AS last_autovacuum,
                    COALESCE(EXTRACT(EPOCH FROM last_analyze), 0)::float8 AS last_analyze,
                    COALESCE(EXTRACT(EPOCH FROM last_autoanalyze), 0)::float8 AS last_autoanalyze,
                    vacuum_count, autovacuum_count, analyze_count, autoanalyze_count,
                    pg_indexes_size(relid) AS index_size_bytes, pg_table_size(relid) AS table_size_bytes
             FROM pg_stat_user_tables ORDER BY relname, schemaname",
    prefix = "pg_stat_user_tables",
    per_database,
    // Visits open a connection per database and round: a prepared statement would be used once. Rows come
    // in label order, so the exporter's sort of a round's series is a linear pass.
    simple_query
)]
pub struct PgStatUserTables {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    schemaname: String,
    #[metric(label)]
    relname: String,
    /// Number of sequential scans initiated on this table
    #[metric(counter)]
    seq_scan: i64,
    /// Number of live rows fetched by sequential scans
    #[metric(counter)]
    seq_tup_read: i64,
    /// Number of index scans initiated on this table
    #[metric(counter)]
    idx_scan: i64,
    /// Number of live rows fetched by index scans
    #[metric(counter)]
    idx_tup_fetch: i64,
    /// Number of rows inserted
    #[metric(counter)]
    n_tup_ins: i64,
    /// Number of rows updated
    #[metric(counter)]
    n_tup_upd: i64,
    /// Number of rows deleted
    #[metric(counter)]
    n_tup_del: i64,
    /// Number of rows HOT updated (i.e., with no separate index update required)
    #[metric(counter)]
    n_tup_hot_upd: i64,
    /// Estimated number of live rows
    #[metric(gauge)]
    n_live_tup: i64,
    /// Estimated number of dead rows
    #[metric(gauge)]
    n_dead_tup: i64,
    /// Estimated number of rows changed since last analyze
    #[metric(gauge)]
    n_mod_since_analyze: i64,
    /// Last time at which this table was manually vacuumed (not counting VACUUM FULL)
    #[metric(gauge)]
    last_vacuum: f64,
    /// Last time at which this table was vacuumed by the autovacuum daemon
    #[metric(gauge)]
    last_autovacuum: f64,
    /// Last time at which this table was manually analyzed
    #[metric(gauge)]
    last_analyze: f64,
    /// Last time at which this table was analyzed by the autovacuum daemon
    #[metric(gauge)]
    last_autoanalyze: f64,
    /// Number of times this table has been manually vacuumed (not counting VACUUM FULL)
    #[metric(counter)]
    vacuum_count: i64,
    /// Number of times this table has been vacuumed by the autovacuum daemon
    #[metric(counter)]
    autovacuum_count: i64,
    /// Number of times this table has been manually analyzed
    #[metric(counter)]
    analyze_count: i64,
    /// Number of times this table has been analyzed by the autovacuum daemon
    #[metric(counter)]
    autoanalyze_count: i64,
    /// Total disk space used by the indexes of this table, in bytes
    #[metric(gauge)]
    index_size_bytes: i64,
    /// Disk space used by this table (with its TOAST data, without indexes), in bytes
    #[metric(gauge)]
    table_size_bytes: i64,
}

/// Block I/O per user table of the connected database, postgres_exporter's `statio_user_tables`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    names_as_declared,
    query = "SELECT current_database() AS datname, schemaname, relname,
                    heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit,
                    COALESCE(toast_blks_read, 0) AS toast_blks_read, COALESCE(toast_blks_hit, 0) AS toast_blks_hit,
                    COALESCE(tidx_blks_read, 0) AS tidx_blks_read, COALESCE(tidx_blks_hit, 0) AS tidx_blks_hit
             FROM pg_statio_user_tables ORDER BY relname, schemaname",
    prefix = "pg_statio_user_tables",
    per_database,
    simple_query
)]
pub struct PgStatioUserTables {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    schemaname: String,
    #[metric(label)]
    relname: String,
    /// Disk blocks read from this table.
    #[metric(counter, rename = "heap_blocks_read")]
    heap_blks_read: i64,
    /// Buffer hits in this table.
    #[metric(counter, rename = "heap_blocks_hit")]
    heap_blks_hit: i64,
    /// Disk blocks read from all indexes on this table.
    #[metric(counter, rename = "idx_blocks_read")]
    idx_blks_read: Option<i64>,
    /// Buffer hits in all indexes on this table.
    #[metric(counter, rename = "idx_blocks_hit")]
    idx_blks_hit: Option<i64>,
    /// Disk blocks read from this table's TOAST table (0 without one, as upstream).
    #[metric(counter, rename = "toast_blocks_read")]
    toast_blks_read: Option<i64>,
    /// Buffer hits in this table's TOAST table (if any).
    #[metric(counter, rename = "toast_blocks_hit")]
    toast_blks_hit: Option<i64>,
    /// Disk blocks read from this table's TOAST table indexes (if any).
    #[metric(counter, rename = "tidx_blocks_read")]
    tidx_blks_read: Option<i64>,
    /// Buffer hits in this table's TOAST table indexes (if any).
    #[metric(counter, rename = "tidx_blocks_hit")]
    tidx_blks_hit: Option<i64>,
}

/// Connection limits per role, postgres_exporter's `roles`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT rolname, rolconnlimit FROM pg_roles",
    prefix = "pg_roles"
)]
pub struct PgRoles {
    #[metric(label)]
    rolname: String,
    /// Connection limit set for the role (-1: none).
    #[metric(gauge, rename = "connection_limit")]
    rolconnlimit: i32,
}

/// WAL segment files in the server's WAL directory, postgres_exporter's `wal` (needs `pg_monitor`, or
/// `GRANT EXECUTE ON FUNCTION pg_ls_waldir() TO ...`).
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT COUNT(*) AS segments, SUM(size)::int8 AS size
             FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'",
    prefix = "pg_wal"
)]
pub struct PgWal {
    /// Number of WAL segments.
    #[metric(gauge)]
    segments: i64,
    /// Total size of WAL segments, in bytes.
    #[metric(gauge, rename = "size_bytes")]
    size: Option<i64>,
}

/// VACUUMs in progress, postgres_exporter's `stat_progress_vacuum`: one row per running vacuum, from
/// `pg_stat_get_progress_info('VACUUM')` as upstream reads it (the view's columns changed names in 17).
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT COALESCE(d.datname, 'unknown') AS datname,
                    COALESCE(CASE WHEN d.datname = current_database() THEN s.relid::regclass::text END,
                             s.relid::text) AS relname,
                    s.param2 AS heap_blks, s.param3 AS heap_blks_scanned, s.param4 AS heap_blks_vacuumed,
                    s.param5 AS index_vacuums, s.param6 AS max_dead_tuples, s.param7 AS num_dead_tuples
             FROM pg_stat_get_progress_info('VACUUM') s
             LEFT JOIN pg_database d ON s.datid = d.oid",
    prefix = "pg_stat_progress_vacuum"
)]
pub struct PgStatProgressVacuum {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    relname: String,
    /// Total number of heap blocks in the table being vacuumed.
    #[metric(gauge)]
    heap_blks: i64,
    /// Number of heap blocks scanned so far.
    #[metric(gauge)]
    heap_blks_scanned: i64,
    /// Number of heap blocks vacuumed so far.
    #[metric(gauge)]
    heap_blks_vacuumed: i64,
    /// Number of completed index vacuum cycles.
    #[metric(gauge)]
    index_vacuums: i64,
    /// Maximum number of dead tuples (bytes of dead item storage from PostgreSQL 17) before cleanup.
    #[metric(gauge)]
    max_dead_tuples: i64,
    /// Number of dead tuples (dead item identifiers from PostgreSQL 17) collected so far.
    #[metric(gauge)]
    num_dead_tuples: i64,
}

/// The phase of each VACUUM in progress: one series per phase, 1 for the current one.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT COALESCE(d.datname, 'unknown') AS datname,
                    COALESCE(CASE WHEN d.datname = current_database() THEN s.relid::regclass::text END,
                             s.relid::text) AS relname,
                    p.phase, (s.param1 = p.n)::int4 AS active
             FROM pg_stat_get_progress_info('VACUUM') s
             LEFT JOIN pg_database d ON s.datid = d.oid
             CROSS JOIN (VALUES (0, 'initializing'), (1, 'scanning heap'), (2, 'vacuuming indexes'),
                                (3, 'vacuuming heap'), (4, 'cleaning up indexes'), (5, 'truncating heap'),
                                (6, 'performing final cleanup')) AS p(n, phase)",
    prefix = "pg_stat_progress_vacuum",
    name = "pg_stat_progress_vacuum_phase"
)]
pub struct PgStatProgressVacuumPhase {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    relname: String,
    #[metric(label)]
    phase: String,
    /// Current vacuum phase (1 = active, 0 = inactive). Label 'phase' is human-readable.
    #[metric(gauge, rename = "phase")]
    active: i32,
}

/// Shared buffers in use, postgres_exporter's `buffercache_summary` (PostgreSQL 16 and later, with the
/// `pg_buffercache` extension in the connected database).
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT buffers_used, buffers_unused, buffers_dirty, buffers_pinned,
                    COALESCE(usagecount_avg, 0)::float8 AS usagecount_avg
             FROM pg_buffercache_summary()",
    prefix = "pg_buffercache_summary",
    min_version = 160000
)]
pub struct PgBuffercacheSummary {
    /// Number of used shared buffers
    #[metric(gauge)]
    buffers_used: Option<i32>,
    /// Number of unused shared buffers
    #[metric(gauge)]
    buffers_unused: Option<i32>,
    /// Number of dirty shared buffers
    #[metric(gauge)]
    buffers_dirty: Option<i32>,
    /// Number of pinned shared buffers
    #[metric(gauge)]
    buffers_pinned: Option<i32>,
    /// Average usage count of used shared buffers
    #[metric(gauge)]
    usagecount_avg: f64,
}

/// How close each database is to transaction ID wraparound, postgres_exporter's `database_wraparound`.
/// The ages count transactions (the `_seconds` in the names is upstream's).
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT datname, age(datfrozenxid)::float8 AS age_datfrozenxid_seconds,
                    mxid_age(datminmxid)::float8 AS age_datminmxid_seconds
             FROM pg_catalog.pg_database WHERE datallowconn",
    prefix = "pg_database_wraparound"
)]
pub struct PgDatabaseWraparound {
    #[metric(label)]
    datname: String,
    /// Age of the oldest transaction ID that has not been frozen.
    #[metric(gauge)]
    age_datfrozenxid_seconds: Option<f64>,
    /// Age of the oldest multi-transaction ID that has been replaced with a transaction ID.
    #[metric(gauge)]
    age_datminmxid_seconds: Option<f64>,
}

/// Transactions open now, postgres_exporter's `long_running_transactions`: how many, and the oldest's age.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT COUNT(*) AS transactions,
                    COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)), 0)::float8 AS oldest
             FROM pg_catalog.pg_stat_activity
             WHERE state IS DISTINCT FROM 'idle' AND query NOT LIKE 'autovacuum:%'
               AND xact_start IS NOT NULL AND pid <> pg_backend_pid()",
    prefix = "pg",
    name = "pg_long_running_transactions"
)]
pub struct PgLongRunningTransactions {
    /// Current number of long running transactions
    #[metric(gauge, rename = "long_running_transactions")]
    transactions: i64,
    /// The current maximum transaction age in seconds
    #[metric(gauge, rename = "long_running_transactions_oldest_timestamp_seconds")]
    oldest: f64,
}

/// How long idle server processes have been idle, per state and application, postgres_exporter's
/// `process_idle`: a histogram with its bucket bounds. Upstream reads only the first row of its query (one
/// state and application); here every pair is a series, and buckets count idle processes only.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "WITH idle AS (
                 SELECT COALESCE(state, 'unknown') AS state,
                        COALESCE(application_name, 'unknown') AS application_name,
                        EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - state_change)::float8 AS s
                 FROM pg_stat_activity WHERE state ~ '^idle' AND pid <> pg_backend_pid())
             SELECT state, application_name,
                    '{1,2,5,15,30,60,90,120,300}'::float8[] AS seconds,
                    ARRAY[count(*) FILTER (WHERE s <= 1), count(*) FILTER (WHERE s <= 2),
                          count(*) FILTER (WHERE s <= 5), count(*) FILTER (WHERE s <= 15),
                          count(*) FILTER (WHERE s <= 30), count(*) FILTER (WHERE s <= 60),
                          count(*) FILTER (WHERE s <= 90), count(*) FILTER (WHERE s <= 120),
                          count(*) FILTER (WHERE s <= 300)] AS seconds_bucket,
                    COALESCE(SUM(s), 0)::float8 AS seconds_sum, count(*) AS seconds_count
             FROM idle GROUP BY state, application_name",
    prefix = "pg_process_idle"
)]
pub struct PgProcessIdle {
    #[metric(label)]
    state: String,
    #[metric(label)]
    application_name: String,
    /// Idle time of server processes
    #[metric(histogram)]
    seconds: Vec<f64>,
    seconds_bucket: Vec<i64>,
    seconds_sum: f64,
    seconds_count: i64,
}

/// When each running autovacuum worker started, postgres_exporter's `stat_activity_autovacuum`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT SPLIT_PART(query, '.', 2) AS relname,
                    EXTRACT(EPOCH FROM xact_start)::float8 AS timestamp_seconds
             FROM pg_catalog.pg_stat_activity WHERE query LIKE 'autovacuum:%'",
    prefix = "pg_stat_activity_autovacuum"
)]
pub struct PgStatActivityAutovacuum {
    #[metric(label)]
    relname: String,
    /// Start timestamp of the vacuum process in seconds
    #[metric(gauge)]
    timestamp_seconds: Option<f64>,
}

/// The WAL receiver of a standby, postgres_exporter's `stat_wal_receiver`. LSNs are bytes from `0/0`,
/// truncated to their low 52 bits (exact in a float), as upstream.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    names_as_declared,
    query = "SELECT COALESCE(trim(both '''' from substring(conninfo from 'host=([^ ]*)')), '') AS upstream_host,
                    COALESCE(slot_name, '') AS slot_name, COALESCE(status, '') AS status,
                    ((receive_start_lsn - '0/0') % (2^52)::bigint)::float8 AS receive_start_lsn,
                    ((flushed_lsn - '0/0') % (2^52)::bigint)::float8 AS flushed_lsn,
                    receive_start_tli::int8 AS receive_start_tli, received_tli::int8 AS received_tli,
                    EXTRACT(EPOCH FROM last_msg_send_time)::float8 AS last_msg_send_time,
                    EXTRACT(EPOCH FROM last_msg_receipt_time)::float8 AS last_msg_receipt_time,
                    ((latest_end_lsn - '0/0') % (2^52)::bigint)::float8 AS latest_end_lsn,
                    EXTRACT(EPOCH FROM latest_end_time)::float8 AS latest_end_time,
                    substring(slot_name from 'repmgr_slot_([0-9]*)')::int8 AS upstream_node
             FROM pg_catalog.pg_stat_wal_receiver",
    prefix = "pg_stat_wal_receiver",
    role = "replica"
)]
pub struct PgStatWalReceiver {
    #[metric(label)]
    upstream_host: String,
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    status: String,
    /// First write-ahead log location used when WAL receiver is started represented as a decimal
    #[metric(counter)]
    receive_start_lsn: Option<f64>,
    /// Last write-ahead log location already received and flushed to disk, the initial value of this field being the first log location used when WAL receiver is started represented as a decimal
    #[metric(counter)]
    flushed_lsn: Option<f64>,
    /// First timeline number used when WAL receiver is started
    #[metric(gauge)]
    receive_start_tli: Option<i64>,
    /// Timeline number of last write-ahead log location received and flushed to disk
    #[metric(gauge)]
    received_tli: Option<i64>,
    /// Send time of last message received from origin WAL sender
    #[metric(counter)]
    last_msg_send_time: Option<f64>,
    /// Receipt time of last message received from origin WAL sender
    #[metric(counter)]
    last_msg_receipt_time: Option<f64>,
    /// Last write-ahead log location reported to origin WAL sender as integer
    #[metric(counter)]
    latest_end_lsn: Option<f64>,
    /// Time of last write-ahead log location reported to origin WAL sender
    #[metric(counter)]
    latest_end_time: Option<f64>,
    /// Node ID of the upstream node (repmgr slots)
    #[metric(gauge)]
    upstream_node: Option<i64>,
}

/// Block I/O per index of the connected database's user tables, postgres_exporter's `statio_user_indexes`.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT schemaname, relname, indexrelname, idx_blks_read, idx_blks_hit
             FROM pg_statio_user_indexes ORDER BY indexrelname, relname, schemaname",
    prefix = "pg_statio_user_indexes",
    per_database,
    simple_query
)]
pub struct PgStatioUserIndexes {
    #[metric(label)]
    schemaname: String,
    #[metric(label)]
    relname: String,
    #[metric(label)]
    indexrelname: String,
    /// Number of disk blocks read from this index
    #[metric(counter, rename = "idx_blks_read_total")]
    idx_blks_read: Option<i64>,
    /// Number of buffer hits in this index
    #[metric(counter, rename = "idx_blks_hit_total")]
    idx_blks_hit: Option<i64>,
}

/// The WAL position being written (primary) or replayed (standby), postgres_exporter's `xlog_location`.
/// Upstream reads it only before PostgreSQL 10 (with the `xlog` functions) and exports nothing since; the
/// same figure comes from the `wal` functions here, on every version.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
                      - '0/0') % (2^52)::bigint)::float8 AS bytes",
    prefix = "pg_xlog_location"
)]
pub struct PgXlogLocation {
    /// Postgres LSN (log sequence number) being generated on primary or replayed on replica (truncated to low 52 bits)
    #[metric(gauge)]
    bytes: Option<f64>,
}

/// WAL generation, from `pg_stat_wal` (PostgreSQL 14 and later): hubble's `stat_wal` collector, which
/// postgres_exporter lacks. PostgreSQL 18 moved the write and sync columns to `pg_stat_io`; columns are read
/// by name from the row as JSON, and one the server lacks gives no sample.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT (j->>'wal_records')::float8 AS records, (j->>'wal_fpi')::float8 AS fpi,
                    (j->>'wal_bytes')::float8 AS bytes, (j->>'wal_buffers_full')::float8 AS buffers_full,
                    (j->>'wal_write')::float8 AS writes, (j->>'wal_sync')::float8 AS syncs,
                    (j->>'wal_write_time')::float8 / 1000 AS write_time,
                    (j->>'wal_sync_time')::float8 / 1000 AS sync_time,
                    EXTRACT(EPOCH FROM stats_reset)::float8 AS stats_reset
             FROM pg_stat_wal w, to_jsonb(w) j",
    prefix = "pg_stat_wal",
    min_version = 140000
)]
pub struct PgStatWal {
    /// Total number of WAL records generated.
    #[metric(counter, rename = "records_total")]
    records: Option<f64>,
    /// Total number of WAL full page images generated.
    #[metric(counter, rename = "fpi_total")]
    fpi: Option<f64>,
    /// Total amount of WAL generated, in bytes.
    #[metric(counter, rename = "bytes_total")]
    bytes: Option<f64>,
    /// Number of times WAL data was written to disk because WAL buffers became full.
    #[metric(counter, rename = "buffers_full_total")]
    buffers_full: Option<f64>,
    /// Number of times WAL buffers were written out to disk (before PostgreSQL 18).
    #[metric(counter, rename = "write_total")]
    writes: Option<f64>,
    /// Number of times WAL files were synced to disk (before PostgreSQL 18).
    #[metric(counter, rename = "sync_total")]
    syncs: Option<f64>,
    /// Time spent writing WAL buffers to disk, in seconds (with track_wal_io_timing; before PostgreSQL 18).
    #[metric(counter, rename = "write_time_seconds_total")]
    write_time: Option<f64>,
    /// Time spent syncing WAL files to disk, in seconds (with track_wal_io_timing; before PostgreSQL 18).
    #[metric(counter, rename = "sync_time_seconds_total")]
    sync_time: Option<f64>,
    /// Time at which these statistics were last reset, in Unix seconds.
    #[metric(gauge, rename = "stats_reset_timestamp_seconds")]
    stats_reset: Option<f64>,
}

/// I/O per backend type, object and context, from `pg_stat_io` (PostgreSQL 16 and later): hubble's
/// `stat_io` collector, which postgres_exporter lacks. Times are in seconds (with track_io_timing). Bytes
/// are PostgreSQL 18's columns, or operations times `op_bytes` before it. An operation a backend type never
/// performs is NULL in the view and gives no sample.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT backend_type, object, context,
                    reads::float8 AS reads, read_time / 1000 AS read_time,
                    writes::float8 AS writes, write_time / 1000 AS write_time,
                    writebacks::float8 AS writebacks, writeback_time / 1000 AS writeback_time,
                    extends::float8 AS extends, extend_time / 1000 AS extend_time,
                    hits::float8 AS hits, evictions::float8 AS evictions, reuses::float8 AS reuses,
                    fsyncs::float8 AS fsyncs, fsync_time / 1000 AS fsync_time,
                    COALESCE((j->>'read_bytes')::float8, reads * (j->>'op_bytes')::float8) AS read_bytes,
                    COALESCE((j->>'write_bytes')::float8, writes * (j->>'op_bytes')::float8) AS write_bytes,
                    COALESCE((j->>'extend_bytes')::float8, extends * (j->>'op_bytes')::float8) AS extend_bytes
             FROM pg_stat_io i, to_jsonb(i) j",
    prefix = "pg_stat_io",
    min_version = 160000
)]
pub struct PgStatIo {
    #[metric(label)]
    backend_type: String,
    #[metric(label)]
    object: String,
    #[metric(label)]
    context: String,
    /// Number of read operations.
    #[metric(counter, rename = "reads_total")]
    reads: Option<f64>,
    /// Time spent in read operations, in seconds.
    #[metric(counter, rename = "read_time_seconds_total")]
    read_time: Option<f64>,
    /// Number of write operations.
    #[metric(counter, rename = "writes_total")]
    writes: Option<f64>,
    /// Time spent in write operations, in seconds.
    #[metric(counter, rename = "write_time_seconds_total")]
    write_time: Option<f64>,
    /// Number of units of size BLCKSZ which the process requested the kernel write out to permanent storage.
    #[metric(counter, rename = "writebacks_total")]
    writebacks: Option<f64>,
    /// Time spent in writeback operations, in seconds.
    #[metric(counter, rename = "writeback_time_seconds_total")]
    writeback_time: Option<f64>,
    /// Number of relation extend operations.
    #[metric(counter, rename = "extends_total")]
    extends: Option<f64>,
    /// Time spent in extend operations, in seconds.
    #[metric(counter, rename = "extend_time_seconds_total")]
    extend_time: Option<f64>,
    /// The number of times a desired block was found in a shared buffer.
    #[metric(counter, rename = "hits_total")]
    hits: Option<f64>,
    /// Number of times a block has been written out from a shared or local buffer to make it available for another use.
    #[metric(counter, rename = "evictions_total")]
    evictions: Option<f64>,
    /// The number of times an existing buffer in a size-limited ring buffer outside of shared buffers was reused.
    #[metric(counter, rename = "reuses_total")]
    reuses: Option<f64>,
    /// Number of fsync calls.
    #[metric(counter, rename = "fsyncs_total")]
    fsyncs: Option<f64>,
    /// Time spent in fsync operations, in seconds.
    #[metric(counter, rename = "fsync_time_seconds_total")]
    fsync_time: Option<f64>,
    /// Bytes read.
    #[metric(counter, rename = "read_bytes_total")]
    read_bytes: Option<f64>,
    /// Bytes written.
    #[metric(counter, rename = "write_bytes_total")]
    write_bytes: Option<f64>,
    /// Bytes added by relation extend operations.
    #[metric(counter, rename = "extend_bytes_total")]
    extend_bytes: Option<f64>,
}
