//! hubble's `stat_io` (postgres_exporter has none): a few hundred series per server, so off by default.

use hubble::catalogue::Entry;

use super::Assembly;

/// I/O per backend type, object and context, from `pg_stat_io` (PostgreSQL 16 and later): hubble's
/// `stat_io` collector, which postgres_exporter lacks. Times are in seconds (with track_io_timing). Bytes
/// are PostgreSQL 18's columns, or operations times `op_bytes` before it. An operation a backend type never
/// performs is NULL in the view and gives no sample.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.stat_io`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "stat_io",
    "I/O per backend type, object and context, PostgreSQL 16 and later (pg_stat_io; hubble's own)",
    |a| {
        a.group::<PgStatIo>();
    },
);
