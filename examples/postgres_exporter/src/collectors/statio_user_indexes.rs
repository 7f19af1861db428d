//! postgres_exporter's `statio_user_indexes` (run in every database with `--auto-discover-databases`).

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// Block I/O per index of the connected database's user tables, postgres_exporter's `statio_user_indexes`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.statio_user_indexes`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "statio_user_indexes",
    "Per-index block I/O (pg_statio_user_indexes)",
    |a: &mut Assembly| {
        a.standard::<PgStatioUserIndexes>();
    },
)
.every(Duration::from_secs(60));
