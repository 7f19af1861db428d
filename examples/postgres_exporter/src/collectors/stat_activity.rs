//! postgres_exporter's `stat_activity`.

use hubble::catalogue::Entry;

use super::Assembly;

/// Connections per database and state, by user, application, backend type and wait event, and the longest
/// transaction: postgres_exporter 0.20's `stat_activity` (the exporter's own connection left out). Every
/// database and state has a row, 0 where nobody is.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    names_as_declared,
    query = "SELECT pg_database.datname, tmp.state, tmp2.usename, tmp2.application_name, tmp2.backend_type,
                    tmp2.wait_event_type, tmp2.wait_event, COALESCE(count, 0) AS count,
                    COALESCE(max_tx_duration, 0) AS max_tx_duration
             FROM (VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'),
                          ('fastpath function call'), ('disabled')) AS tmp(state)
             CROSS JOIN pg_database
             LEFT JOIN (SELECT datname, state, usename, application_name, backend_type, wait_event_type,
                               wait_event, count(*) AS count,
                               MAX(EXTRACT(EPOCH FROM now() - xact_start))::float8 AS max_tx_duration
                        FROM pg_stat_activity WHERE pid <> pg_backend_pid()
                        GROUP BY datname, state, usename, application_name, backend_type, wait_event_type,
                                 wait_event) AS tmp2
               ON tmp.state = tmp2.state AND pg_database.datname = tmp2.datname",
    prefix = "pg_stat_activity"
)]
pub struct PgStatActivity {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    state: String,
    #[metric(label)]
    usename: Option<String>,
    #[metric(label)]
    application_name: Option<String>,
    #[metric(label)]
    backend_type: Option<String>,
    #[metric(label)]
    wait_event_type: Option<String>,
    #[metric(label)]
    wait_event: Option<String>,
    /// number of connections in this state
    #[metric(gauge)]
    count: i64,
    /// max duration in seconds any active transaction has been running
    #[metric(gauge)]
    max_tx_duration: f64,
}

/// `--collector.stat_activity`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_activity",
    "Connections by database, state, user, application and wait event; longest transaction",
    |a| {
        a.group::<PgStatActivity>();
    },
);
