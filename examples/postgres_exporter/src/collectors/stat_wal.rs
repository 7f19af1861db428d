//! hubble's `stat_wal` (postgres_exporter has none).

use hubble::catalogue::Entry;

use super::Assembly;

/// WAL generation, from `pg_stat_wal` (PostgreSQL 14 and later): hubble's `stat_wal` collector, which
/// postgres_exporter lacks. PostgreSQL 18 moved the write and sync columns to `pg_stat_io`; columns are read
/// by name from the row as JSON, and one the server lacks gives no sample.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.stat_wal`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_wal",
    "WAL generation, PostgreSQL 14 and later (pg_stat_wal; hubble's own)",
    |a| {
        a.group::<PgStatWal>();
    },
);
