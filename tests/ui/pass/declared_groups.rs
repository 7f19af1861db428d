use hubble::MetricGroup as _;

/// Per-database activity, as in the design notes.
#[derive(sqlx::FromRow, hubble::MetricCollector)]
#[hubble(
    query = "SELECT datname, numbackends, xact_commit FROM pg_stat_database WHERE datname IS NOT NULL",
    prefix = "pg_stat_database",
    interval = "1m30s",
    timeout = "10s"
)]
struct PgStatDatabase {
    #[metric(label)]
    datname: String,
    /// Number of backends currently connected to this database.
    #[metric(gauge)]
    numbackends: i32,
    /// Transactions committed.
    #[metric(counter, rename = "xact_commit_total")]
    xact_commit: i64,
}

/// Generic groups work too.
#[derive(hubble::MetricCollector)]
struct Wrapped<T: hubble::MetricValue + Send + Sync + 'static> {
    /// A value.
    #[metric(gauge)]
    value: T,
}

fn sql(pool: sqlx::PgPool) -> impl hubble::Collector {
    hubble::SqlCollector::<PgStatDatabase, sqlx::Postgres>::new(pool)
}

fn main() {
    let _ = sql;
    assert_eq!(PgStatDatabase::NAME, "pg_stat_database");
    assert_eq!(Wrapped { value: 2.5f32 }.to_metrics().unwrap()[0].value, 2.5);
}
