//! postgres_exporter's `buffercache_summary`: not applicable, with the reason, where the extension is missing.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// Shared buffers in use, postgres_exporter's `buffercache_summary` (PostgreSQL 16 and later, with the
/// `pg_buffercache` extension in the connected database).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.buffercache_summary`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "buffercache_summary",
    "Shared buffers in use, PostgreSQL 16 and later (needs the pg_buffercache extension)",
    |a: &mut Assembly| {
        let c = a.needs(
            crate::extension!("pg_buffercache"),
            a.sql::<PgBuffercacheSummary>(),
        );
        a.add(c);
    },
)
.every(Duration::from_secs(60));
