//! postgres_exporter's `wal`.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// WAL segment files in the server's WAL directory, postgres_exporter's `wal` (needs `pg_monitor`, or
/// `GRANT EXECUTE ON FUNCTION pg_ls_waldir() TO ...`).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.wal`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "wal",
    "WAL segment files and their size (pg_ls_waldir)",
    |a: &mut Assembly| {
        a.group::<PgWal>();
    },
)
.every(Duration::from_secs(60));
