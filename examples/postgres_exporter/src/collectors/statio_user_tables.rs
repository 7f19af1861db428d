//! postgres_exporter's `statio_user_tables` (run in every database with `--auto-discover-databases`).

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// Block I/O per user table of the connected database, postgres_exporter's `statio_user_tables`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.statio_user_tables`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "statio_user_tables",
    "Per-table block I/O (pg_statio_user_tables)",
    |a: &mut Assembly| {
        a.standard::<PgStatioUserTables>();
    },
)
.every(Duration::from_secs(60));
