//! postgres_exporter's `postmaster`.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// When the server started.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT EXTRACT(EPOCH FROM pg_postmaster_start_time())::float8 AS start_time_seconds",
    prefix = "pg_postmaster"
)]
pub struct PgPostmaster {
    /// Time at which postmaster started
    #[metric(gauge)]
    start_time_seconds: f64,
}

/// `--collector.postmaster`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "postmaster",
    "When the server started",
    |a: &mut Assembly| {
        a.group::<PgPostmaster>();
    },
)
.every(Duration::from_secs(60));
