//! postgres_exporter's `stat_archiver`.

use hubble::catalogue::Entry;

use super::Assembly;

/// WAL archiver statistics.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    names_as_declared,
    query = "SELECT archived_count, failed_count,
                    EXTRACT(EPOCH FROM now() - last_archived_time)::float8 AS last_archive_age
             FROM pg_stat_archiver",
    prefix = "pg_stat_archiver"
)]
pub struct PgStatArchiver {
    /// Number of WAL files that have been successfully archived
    #[metric(counter)]
    archived_count: i64,
    /// Number of failed attempts for archiving WAL files
    #[metric(counter)]
    failed_count: i64,
    /// Time in seconds since last WAL segment was successfully archived (absent before the first)
    #[metric(gauge)]
    last_archive_age: Option<f64>,
}

/// `--collector.stat_archiver`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_archiver",
    "WAL archiver statistics (pg_stat_archiver)",
    |a| {
        a.group::<PgStatArchiver>();
    },
);
