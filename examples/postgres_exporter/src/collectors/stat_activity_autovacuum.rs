//! postgres_exporter's `stat_activity_autovacuum`.

use hubble::catalogue::Entry;

use super::Assembly;

/// When each running autovacuum worker started, postgres_exporter's `stat_activity_autovacuum`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// `--collector.stat_activity_autovacuum`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "stat_activity_autovacuum",
    "When each running autovacuum worker started",
    |a| {
        a.group::<PgStatActivityAutovacuum>();
    },
);
