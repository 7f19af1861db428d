//! postgres_exporter's `stat_bgwriter`: one query before PostgreSQL 17, another from 17 on (the view lost columns).

use hubble::catalogue::Entry;

use super::Assembly;

/// Background writer statistics. The view lost its checkpoint columns in PostgreSQL 17 (they moved to
/// `pg_stat_checkpointer`) and `buffers_backend*` (to `pg_stat_io`): columns are read by name from the row
/// as JSON, so one query fits every version, and a column the server lacks gives no sample.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `pg_stat_bgwriter` on PostgreSQL 17 and later: what is left in the view, and the families 17 moved out
/// of it under their old names: from `pg_stat_checkpointer`, and the backends' own writes and fsyncs from `pg_stat_io` (shared-buffer relation
/// I/O of every process but the background writer and checkpointer, which is what `buffers_backend` counted).
/// postgres_exporter stops exporting them on 17; dashboards and alerts written for older servers (the
/// postgres mixin's checkpoint alert and bgwriter panels among them) keep working here. The `pg_stat_bgwriter`
/// collector reads this on 17 and later, [`PgStatBgwriter`] before.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.stat_bgwriter`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_bgwriter",
    "Background writer and, under their old names, checkpoint statistics (pg_stat_bgwriter)",
    |a| {
        let c = crate::up::VersionSplit::new(
            a.connections().clone(),
            170_000,
            a.sql::<PgStatBgwriter>(),
            a.sql::<PgStatBgwriterSince17>(),
        );
        a.add(c);
    },
);
