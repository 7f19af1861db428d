//! postgres_exporter's `stat_checkpointer` (on here: from PostgreSQL 17 there is no other source of checkpoint series).

use hubble::catalogue::Entry;

use super::Assembly;

/// Checkpoints and restartpoints (PostgreSQL 17 and later), postgres_exporter's `stat_checkpointer`, plus
/// what 18 added: checkpoints completed (`num_done`, not only started) and the SLRU buffers they wrote. Read
/// by name from the row as JSON, as `pg_stat_bgwriter`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.stat_checkpointer`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_checkpointer",
    "Checkpoints and restartpoints, PostgreSQL 17 and later (pg_stat_checkpointer)",
    |a| {
        a.group::<PgStatCheckpointer>();
    },
);
