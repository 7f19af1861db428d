//! postgres_exporter's `stat_user_tables` (run in every database with `--auto-discover-databases`).

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// Per-table statistics of the connected database, from `pg_stat_user_tables`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.stat_user_tables`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_user_tables",
    "Per-table scans, tuples, vacuums and analyzes (pg_stat_user_tables)",
    |a: &mut Assembly| {
        a.standard::<PgStatUserTables>();
    },
)
.every(Duration::from_secs(60));
