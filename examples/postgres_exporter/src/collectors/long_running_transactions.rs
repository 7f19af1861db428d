//! postgres_exporter's `long_running_transactions`.

use hubble::catalogue::Entry;

use super::Assembly;

/// Transactions open now, postgres_exporter's `long_running_transactions`: how many, and the oldest's age.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT COUNT(*) AS transactions,
                    COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)), 0)::float8 AS oldest
             FROM pg_catalog.pg_stat_activity
             WHERE state IS DISTINCT FROM 'idle' AND query NOT LIKE 'autovacuum:%'
               AND xact_start IS NOT NULL AND pid <> pg_backend_pid()",
    prefix = "pg",
    name = "pg_long_running_transactions"
)]
pub struct PgLongRunningTransactions {
    /// Current number of long running transactions
    #[metric(gauge, rename = "long_running_transactions")]
    transactions: i64,
    /// The current maximum transaction age in seconds
    #[metric(gauge, rename = "long_running_transactions_oldest_timestamp_seconds")]
    oldest: f64,
}

/// `--collector.long_running_transactions`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "long_running_transactions",
    "Open transactions and the oldest's age",
    |a| {
        a.group::<PgLongRunningTransactions>();
    },
);
