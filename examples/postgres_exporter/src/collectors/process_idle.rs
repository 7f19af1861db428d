//! postgres_exporter's `process_idle`.

use hubble::catalogue::Entry;

use super::Assembly;

/// How long idle server processes have been idle, per state and application, postgres_exporter's
/// `process_idle`: a histogram with its bucket bounds. Upstream reads only the first row of its query (one
/// state and application); here every pair is a series, and buckets count idle processes only.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "WITH idle AS (
                 SELECT COALESCE(state, 'unknown') AS state,
                        COALESCE(application_name, 'unknown') AS application_name,
                        EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - state_change)::float8 AS s
                 FROM pg_stat_activity WHERE state ~ '^idle' AND pid <> pg_backend_pid())
             SELECT state, application_name,
                    '{1,2,5,15,30,60,90,120,300}'::float8[] AS seconds,
                    ARRAY[count(*) FILTER (WHERE s <= 1), count(*) FILTER (WHERE s <= 2),
                          count(*) FILTER (WHERE s <= 5), count(*) FILTER (WHERE s <= 15),
                          count(*) FILTER (WHERE s <= 30), count(*) FILTER (WHERE s <= 60),
                          count(*) FILTER (WHERE s <= 90), count(*) FILTER (WHERE s <= 120),
                          count(*) FILTER (WHERE s <= 300)] AS seconds_bucket,
                    COALESCE(SUM(s), 0)::float8 AS seconds_sum, count(*) AS seconds_count
             FROM idle GROUP BY state, application_name",
    prefix = "pg_process_idle"
)]
pub struct PgProcessIdle {
    #[metric(label)]
    state: String,
    #[metric(label)]
    application_name: String,
    /// Idle time of server processes
    #[metric(histogram)]
    seconds: Vec<f64>,
    seconds_bucket: Vec<i64>,
    seconds_sum: f64,
    seconds_count: i64,
}

/// `--collector.process_idle`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "process_idle",
    "How long idle server processes have been idle, as a histogram",
    |a| {
        a.group::<PgProcessIdle>();
    },
);
