//! postgres_exporter's `database_wraparound`.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// How close each database is to transaction ID wraparound, postgres_exporter's `database_wraparound`.
/// The ages count transactions (the `_seconds` in the names is upstream's).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT datname, age(datfrozenxid)::float8 AS age_datfrozenxid_seconds,
                    mxid_age(datminmxid)::float8 AS age_datminmxid_seconds
             FROM pg_catalog.pg_database WHERE datallowconn",
    prefix = "pg_database_wraparound"
)]
pub struct PgDatabaseWraparound {
    #[metric(label)]
    datname: String,
    /// Age of the oldest transaction ID that has not been frozen.
    #[metric(gauge)]
    age_datfrozenxid_seconds: Option<f64>,
    /// Age of the oldest multi-transaction ID that has been replaced with a transaction ID.
    #[metric(gauge)]
    age_datminmxid_seconds: Option<f64>,
}

/// `--collector.database_wraparound`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "database_wraparound",
    "Age of each database's oldest transaction and multixact ID",
    |a: &mut Assembly| {
        a.group::<PgDatabaseWraparound>();
    },
)
.every(Duration::from_secs(300));
