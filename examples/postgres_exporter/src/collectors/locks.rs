//! postgres_exporter's `locks`.

use hubble::catalogue::Entry;

use super::Assembly;

/// Locks per database and mode.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    names_as_declared,
    query = "SELECT pg_database.datname, tmp.mode, COALESCE(count, 0) AS count
             FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
                          ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
                          ('sireadlock')) AS tmp(mode)
             CROSS JOIN pg_database
             LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count
                        FROM pg_locks WHERE database IS NOT NULL GROUP BY database, lower(mode)) AS tmp2
               ON tmp.mode = tmp2.mode AND pg_database.oid = tmp2.database",
    prefix = "pg_locks"
)]
pub struct PgLocks {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    mode: String,
    /// Number of locks
    #[metric(gauge)]
    count: i64,
}

/// `--collector.locks`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "locks",
    "Locks held per database and mode (pg_locks)",
    |a| {
        a.group::<PgLocks>();
    },
);
