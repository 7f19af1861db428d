use hubble::MetricGroup as _;

/// Per-database activity, as in the design notes.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
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

/// WAL receiver statistics: standbys of PostgreSQL 13 to 17 only (a condition checked per target).
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "wal_receiver", min_version = 130000, max_version = 180000, role = "replica")]
struct WalReceiver {
    /// Last flushed position.
    #[metric(gauge)]
    flushed_lsn: f64,
}

/// One database's tables: run in each database by an exporter that visits them all.
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "tables", per_database)]
struct Tables {
    #[metric(label)]
    relname: String,
    /// Live rows.
    #[metric(gauge)]
    live_rows: i64,
}

/// A server that refuses prepared statements (PgBouncer's admin console) gets the simple query protocol.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SHOW LISTS", prefix = "pgbouncer", simple_query)]
struct Lists {
    #[metric(label)]
    list: String,
    /// Items in the list.
    #[metric(gauge)]
    items: i64,
}

/// Server settings, one family per row, each with its own help (as `pg_settings`).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SELECT name, short_desc, setting::float8 AS value FROM pg_settings WHERE vartype = 'integer'", prefix = "pg_settings")]
struct Settings {
    #[metric(family_name)]
    name: String,
    #[metric(family_help)]
    short_desc: String,
    #[metric(gauge)]
    value: f64,
}

/// Generic groups work too.
#[derive(hubble::MetricGroup)]
struct Wrapped<T: hubble::MetricValue + Send + Sync + 'static> {
    /// A value.
    #[metric(gauge)]
    value: T,
}

/// A histogram: bucket bounds, cumulative counts, sum and count, as postgres_exporter's columns.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SELECT 'idle' AS state", prefix = "pg_process_idle")]
struct Idle {
    #[metric(label)]
    state: String,
    /// Idle time of server processes.
    #[metric(histogram)]
    seconds: Vec<i32>,
    seconds_bucket: Vec<i64>,
    seconds_sum: Option<f64>,
    seconds_count: i64,
}

fn sql(pool: sqlx::PgPool) -> impl hubble::Collector {
    hubble::SqlCollector::<PgStatDatabase, sqlx::Postgres>::new(pool)
}

fn main() {
    let _ = sql;
    assert_eq!(PgStatDatabase::NAME, "pg_stat_database");
    assert_eq!(PgStatDatabase::OPTIONS.condition, None);
    assert_eq!(
        WalReceiver::OPTIONS.condition,
        Some(hubble::Condition {
            min_version: Some(130_000),
            max_version: Some(180_000),
            role: Some(hubble::Role::Replica),
        })
    );
    let _ = WalReceiver { flushed_lsn: 0.0 };
    assert!(Tables::PER_DATABASE && !PgStatDatabase::PER_DATABASE);
    use hubble::SqlQuery as _;
    assert!(Lists::SIMPLE_QUERY && !PgStatDatabase::SIMPLE_QUERY);
    let _ = Lists { list: String::new(), items: 0 };
    let _ = Settings { name: String::new(), short_desc: String::new(), value: 0.0 };
    let _ = Tables { relname: String::new(), live_rows: 0 };
    let idle = Idle {
        state: "idle".into(),
        seconds: vec![1, 5],
        seconds_bucket: vec![2, 3],
        seconds_sum: Some(9.5),
        seconds_count: 4,
    };
    let sample = &idle.to_metrics().unwrap()[0];
    assert_eq!(sample.name, "pg_process_idle_seconds");
    assert_eq!(sample.kind, hubble::MetricKind::Histogram);
    assert_eq!(sample.histogram.as_ref().unwrap().buckets(), [(1.0, 2), (5.0, 3)]);
    assert_eq!(sample.labels.get("state"), Some("idle"));
    assert_eq!(Wrapped { value: 2.5f32 }.to_metrics().unwrap()[0].value, 2.5);
}
