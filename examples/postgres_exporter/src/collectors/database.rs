//! postgres_exporter's `database`.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// Size of each database.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT datname, pg_database_size(datname) AS size_bytes, datconnlimit FROM pg_database",
    prefix = "pg_database"
)]
pub struct PgDatabaseSize {
    #[metric(label)]
    datname: String,
    /// Disk space used by the database
    #[metric(gauge)]
    size_bytes: i64,
    /// Connection limit set for the database (-1: none)
    #[metric(gauge, rename = "connection_limit")]
    datconnlimit: i32,
}

/// `--collector.database`.
pub(crate) const COLLECTOR: Entry<Assembly> =
    Entry::on("database", "Size of each database", |a: &mut Assembly| {
        a.group::<PgDatabaseSize>();
    })
    .every(Duration::from_secs(60));
