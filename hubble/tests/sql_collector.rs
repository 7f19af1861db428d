//! SQL collectors over real databases: SQLite in a temp file, PostgreSQL in a throwaway cluster.

use hubble_test_support as support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hubble::{BaseExporter, CollectError, Collector, Format, Registry, SqlCollector};
use rust_decimal::Decimal;
use sqlx::{MySql, Postgres, Sqlite};
use support::mariadb::MariaDb;
use support::pg::PgCluster;
use support::wait_for;

/// Per-table row counts.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT schema, name, rows, ratio, fresh, size_text, owner FROM tables ORDER BY name",
    prefix = "t"
)]
struct Tables {
    #[metric(label)]
    schema: String,
    #[metric(label, rename = "table")]
    name: String,
    #[metric(label)]
    owner: Option<String>,
    /// Rows in the table.
    #[metric(gauge)]
    rows: Option<i64>,
    /// A ratio.
    #[metric(gauge)]
    ratio: f64,
    /// Whether the table is fresh.
    #[metric(gauge)]
    fresh: bool,
    /// Size, stored as text.
    #[metric(gauge, rename = "size_bytes")]
    size_text: String,
}

/// Selects from a table that does not exist.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SELECT 1 AS v FROM no_such_table", prefix = "missing")]
struct Missing {
    /// V.
    #[metric(gauge)]
    v: i64,
}

/// Decodes a text column into an integer field.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SELECT 'many' AS v", prefix = "mistyped")]
struct Mistyped {
    /// V.
    #[metric(gauge)]
    v: i64,
}

async fn sqlite_pool(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE tables (schema TEXT, name TEXT, rows INTEGER, ratio REAL, fresh BOOLEAN, size_text TEXT, owner TEXT);
         INSERT INTO tables VALUES
            ('public', 'a', 10, 0.5, 1, '8192', 'alice'),
            ('public', 'b', NULL, 1.25, 0, '16384', NULL),
            ('audit', 'c', 3, 2, 1, '1e3', 'bob');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

/// Every line of `expected` is in `lines`.
fn assert_has(lines: &[String], expected: &[&str]) {
    for e in expected {
        assert!(lines.iter().any(|l| l == e), "missing {e:?} in {lines:#?}");
    }
}

/// The runtime of a test that starts a server first (a blocking step).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One run of the group `$group` over `$source`, rendered.
macro_rules! collected {
    ($group:ty, $db:ty, $source:expr) => {
        render(
            &SqlCollector::<$group, $db>::new($source)
                .collect()
                .await
                .unwrap(),
        )
    };
}

fn render(c: &[hubble::Sample]) -> Vec<String> {
    let value = |v: f64| {
        if v.fract() == 0.0 && v.abs() < 9e18 {
            format!("{}", v as i64)
        } else {
            format!("{v:?}")
        }
    };
    let mut lines: Vec<String> = c
        .iter()
        .map(|m| format!("{}{} {}", m.name, m.labels, value(m.value)))
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn sqlite_rows_labels_nulls_and_conversions() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite_pool(&dir).await;
    let collector = SqlCollector::<Tables, Sqlite>::new(pool.clone());
    assert_eq!(collector.name(), "t");
    let metrics = collector.collect().await.unwrap();
    let lines = render(&metrics);
    let expected = [
        r#"t_fresh{owner="",schema="public",table="b"} 0"#,
        r#"t_fresh{owner="alice",schema="public",table="a"} 1"#,
        r#"t_fresh{owner="bob",schema="audit",table="c"} 1"#,
        r#"t_ratio{owner="",schema="public",table="b"} 1.25"#,
        r#"t_ratio{owner="alice",schema="public",table="a"} 0.5"#,
        r#"t_ratio{owner="bob",schema="audit",table="c"} 2"#,
        r#"t_rows{owner="alice",schema="public",table="a"} 10"#,
        r#"t_rows{owner="bob",schema="audit",table="c"} 3"#,
        r#"t_size_bytes{owner="",schema="public",table="b"} 16384"#,
        r#"t_size_bytes{owner="alice",schema="public",table="a"} 8192"#,
        r#"t_size_bytes{owner="bob",schema="audit",table="c"} 1000"#,
    ];
    assert_eq!(
        lines, expected,
        "NULL rows give no sample; NULL labels are empty"
    );

    // An unparseable numeric string fails the run, naming the column.
    sqlx::query("UPDATE tables SET size_text = 'big' WHERE name = 'c'")
        .execute(&pool)
        .await
        .unwrap();
    let err = collector.collect().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `size_text`: \"big\" is not a number"
    );
}

#[tokio::test]
async fn sqlite_query_and_decode_errors_name_the_group_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite_pool(&dir).await;
    let err = SqlCollector::<Missing, Sqlite>::new(pool.clone())
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(err, CollectError::Source(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("group `missing`: ") && msg.contains("no_such_table"),
        "{msg}"
    );

    let err = SqlCollector::<Mistyped, Sqlite>::new(pool)
        .collect()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CollectError::Decode(_)), "{err:?}");
    assert!(
        msg.contains("group `mistyped`") && msg.contains("\"v\""),
        "{msg}"
    );
}

#[tokio::test]
async fn sqlite_groups_over_kept_connections_give_the_same_rows_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite_pool(&dir).await;
    let connections = hubble::connections::Connections::new(pool.clone());
    let over_pool = SqlCollector::<Tables, Sqlite>::new(pool.clone());
    let kept = SqlCollector::<Tables, Sqlite>::new(connections.clone());
    let expected = render(&over_pool.collect().await.unwrap());
    assert_eq!(expected.len(), 11);
    assert_eq!(render(&kept.collect().await.unwrap()), expected);

    let err = SqlCollector::<Missing, Sqlite>::new(connections.clone())
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(err, CollectError::Source(_)), "{err:?}");
    assert!(err.to_string().starts_with("group `missing`: "), "{err}");
    let err = SqlCollector::<Mistyped, Sqlite>::new(connections.clone())
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(err, CollectError::Decode(_)), "{err:?}");
    assert!(
        err.to_string().contains("group `mistyped`") && err.to_string().contains("\"v\""),
        "{err}"
    );
    // Failed queries gave their connection back to the pool; the next run gets one and works.
    assert_eq!(render(&kept.collect().await.unwrap()), expected);
    connections.close().await;
    assert!(pool.is_closed());
}

#[tokio::test]
async fn sqlite_groups_export_every_row_through_an_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let pool = sqlite_pool(&dir).await;
    let registry = Registry::new();
    let exporter = BaseExporter::builder("sqlite")
        .const_label("instance", "test")
        .interval(Duration::from_millis(100))
        .max_jitter(Duration::ZERO)
        .collector(SqlCollector::<Tables, Sqlite>::new(pool.clone()))
        .collector(SqlCollector::<Missing, Sqlite>::new(pool))
        .build()
        .unwrap();
    let exporter = registry.register(exporter).await.unwrap();
    let body = tokio::task::spawn_blocking({
        let registry = registry.clone();
        move || {
            wait_for(Duration::from_secs(10), "both collectors to run", || {
                let b = String::from_utf8(registry.render(Format::Text).bytes().to_vec()).unwrap();
                (b.contains("t_rows{") && b.contains("collector=\"missing\"")).then_some(b)
            })
        }
    })
    .await
    .unwrap();
    assert_eq!(body.matches("t_ratio{").count(), 3, "{body}");
    assert!(
        body.contains(r#"t_rows{instance="test",owner="alice",schema="public",table="a"} 10"#),
        "{body}"
    );
    // The failing group fails alone.
    assert!(
        body.contains(r#"hubble_collector_up{instance="test",collector="missing"} 0"#),
        "{body}"
    );
    assert!(
        body.contains(r#"hubble_collector_up{instance="test",collector="t"} 1"#),
        "{body}"
    );
    assert!(!body.contains("missing_v"), "{body}");
    registry.unregister(&*exporter).await;
}

// ---- PostgreSQL ----

/// Type conversions from PostgreSQL column types, declared twice: over the extended protocol (binary values)
/// and, with `simple_query`, over the simple one (the same values, read from text).
macro_rules! pg_conversions {
    ($name:ident $(, $protocol:ident)?) => {
        #[derive(sqlx::FromRow, hubble::MetricGroup)]
        #[hubble(
            query = "SELECT k, small, big, real4, dbl, num, flag, ts, maybe, txt FROM conv ORDER BY k",
            prefix = "pgconv"
            $(, $protocol)?
        )]
        struct $name {
    #[metric(label)]
    k: String,
    /// int2.
    #[metric(gauge)]
    small: i16,
    /// int8.
    #[metric(counter, rename = "big_total")]
    big: i64,
    /// float4.
    #[metric(gauge)]
    real4: f32,
    /// float8.
    #[metric(gauge)]
    dbl: f64,
    /// numeric.
    #[metric(gauge)]
    num: Decimal,
    /// bool.
    #[metric(gauge)]
    flag: bool,
    /// timestamptz as Unix seconds.
    #[metric(gauge, rename = "ts_seconds")]
    ts: DateTime<Utc>,
    /// Nullable int4.
    #[metric(gauge)]
    maybe: Option<i32>,
    /// Numeric text.
    #[metric(untyped)]
    txt: String,
}
    };
}
pg_conversions!(Conversions);
pg_conversions!(SimpleConversions, simple_query);

/// Statements the session has prepared, counted by a query that is prepared itself unless it goes over the
/// simple query protocol.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT count(*) AS prepared FROM pg_prepared_statements",
    prefix = "session",
    simple_query
)]
struct SimplePrepared {
    /// Prepared statements.
    #[metric(gauge)]
    prepared: i64,
}

/// [`SimplePrepared`] over the extended protocol.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT count(*) AS prepared FROM pg_prepared_statements",
    prefix = "session"
)]
struct ExtendedPrepared {
    /// Prepared statements.
    #[metric(gauge)]
    prepared: i64,
}

/// Per-table statistics, one series per table.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT schemaname, relname, n_live_tup FROM pg_stat_user_tables",
    prefix = "pg_stat_user_tables"
)]
struct UserTables {
    #[metric(label)]
    schemaname: String,
    #[metric(label)]
    relname: String,
    /// Estimated live rows.
    #[metric(gauge)]
    n_live_tup: i64,
}

/// Sleeps past its timeout on its first run only.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT CASE WHEN nextval('runs') = 1 THEN pg_sleep(5)::text END AS slept, 1::int8 AS v",
    prefix = "sleepy",
    timeout = "1s"
)]
struct Sleepy {
    #[metric(skip)]
    #[allow(dead_code)]
    slept: Option<String>,
    /// Always 1.
    #[metric(gauge)]
    v: i64,
}

#[test]
fn postgres_rows_types_and_timeouts() {
    let pg = PgCluster::start(&[]);
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "CREATE SCHEMA billing;
         CREATE TABLE public.users (id int); CREATE TABLE public.orders (id int);
         CREATE TABLE billing.invoices (id int);
         INSERT INTO public.users SELECT generate_series(1, 50);
         INSERT INTO billing.invoices SELECT generate_series(1, 7);
         ANALYZE;
         CREATE SEQUENCE runs;
         CREATE TABLE conv (k text, small int2, big int8, real4 float4, dbl float8, num numeric, flag bool,
                            ts timestamptz, maybe int4, txt text);
         INSERT INTO conv VALUES
           ('a', -3, 9007199254740993, 1.5, 0.1, 123.45, true, '2023-11-14 22:13:20.5+00', 7, '42'),
           ('b', 0, 0, -0.25, 1e300, -0.001, false, '1970-01-01 00:00:00+00', NULL, '+Inf');",
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&pg.url("app"))
            .await
            .unwrap();

        let lines = collected!(Conversions, Postgres, pool.clone());
        assert_has(
            &lines,
            &[
                r#"pgconv_small{k="a"} -3"#,
                r#"pgconv_big_total{k="a"} 9007199254740992"#,
                r#"pgconv_real4{k="b"} -0.25"#,
                r#"pgconv_dbl{k="b"} 1e300"#,
                r#"pgconv_num{k="a"} 123.45"#,
                r#"pgconv_num{k="b"} -0.001"#,
                r#"pgconv_flag{k="a"} 1"#,
                r#"pgconv_flag{k="b"} 0"#,
                r#"pgconv_ts_seconds{k="a"} 1700000000.5"#,
                r#"pgconv_ts_seconds{k="b"} 0"#,
                r#"pgconv_maybe{k="a"} 7"#,
                r#"pgconv_txt{k="a"} 42"#,
                r#"pgconv_txt{k="b"} inf"#,
            ],
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("pgconv_maybe{k=\"b\"}")),
            "NULL gave a sample"
        );
        // Over the simple query protocol every value is read from text, to the same samples.
        let simple = collected!(SimpleConversions, Postgres, pool.clone());
        assert_eq!(simple, lines);
        // ...and nothing is prepared: on one connection, the simple query sees no statement of its own, the
        // extended one sees itself.
        let one = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&pg.url("app"))
            .await
            .unwrap();
        let session = hubble::connections::Connections::new(one.clone());
        let prepared = |m: Vec<hubble::Sample>| render(&m).join("");
        let simple = SqlCollector::<SimplePrepared, Postgres>::new(session.clone());
        assert_eq!(
            prepared(simple.collect().await.unwrap()),
            "session_prepared{} 0"
        );
        let extended = SqlCollector::<ExtendedPrepared, Postgres>::new(session.clone());
        assert_eq!(
            prepared(extended.collect().await.unwrap()),
            "session_prepared{} 1"
        );
        assert_eq!(
            prepared(simple.collect().await.unwrap()),
            "session_prepared{} 1"
        );
        session.close().await;
        one.close().await;

        let tables = collected!(UserTables, Postgres, pool.clone());
        assert_has(
            &tables,
            &[
                r#"pg_stat_user_tables_n_live_tup{relname="users",schemaname="public"} 50"#,
                r#"pg_stat_user_tables_n_live_tup{relname="orders",schemaname="public"} 0"#,
                r#"pg_stat_user_tables_n_live_tup{relname="invoices",schemaname="billing"} 7"#,
            ],
        );

        // A query beyond its timeout fails that run, and only that run; other groups are unaffected.
        // The interval is more than twice the timeout: the next run comes at least half an interval after
        // the failed one began, so the failure shows for half a second before a success replaces it.
        let registry = Registry::new();
        let exporter = BaseExporter::builder("pg")
            .interval(Duration::from_secs(3))
            .max_jitter(Duration::ZERO)
            .collector(SqlCollector::<Sleepy, Postgres>::new(pool.clone()))
            .collector(SqlCollector::<UserTables, Postgres>::new(pool.clone()))
            .build()
            .unwrap();
        let exporter = registry.register(exporter).await.unwrap();
        let sleepy = |e: &BaseExporter| {
            e.status()
                .collectors
                .into_iter()
                .find(|c| c.name == "sleepy")
                .unwrap()
        };
        let first = {
            let e = exporter.clone();
            tokio::task::spawn_blocking(move || {
                wait_for(Duration::from_secs(10), "the first sleepy run", || {
                    let c = sleepy(&e);
                    (c.health.runs >= 1).then_some(c.health)
                })
            })
            .await
            .unwrap()
        };
        assert!(!first.up);
        assert_eq!(first.last_error.as_deref(), Some("timed out after 1s"));
        let tables_ok = exporter
            .status()
            .collectors
            .iter()
            .any(|c| c.name == "pg_stat_user_tables" && c.health.up);
        assert!(tables_ok, "{:?}", exporter.status());
        let later = {
            let e = exporter.clone();
            tokio::task::spawn_blocking(move || {
                wait_for(
                    Duration::from_secs(15),
                    "a later sleepy run to succeed",
                    || {
                        let c = sleepy(&e);
                        c.health.up.then_some(c.health)
                    },
                )
            })
            .await
            .unwrap()
        };
        assert_eq!(later.errors_total, 1);
        registry.unregister(&*exporter).await;
        pool.close().await;
    });
}

/// MySQL/MariaDB column types, as the derive reads them: over the binary protocol and, with `simple_query`,
/// over the text one.
macro_rules! my_conversions {
    ($name:ident $(, $protocol:ident)?) => {
        #[derive(sqlx::FromRow, hubble::MetricGroup)]
        #[hubble(
            query = "SELECT k, small, big, dbl, num, flag, maybe, txt FROM conv ORDER BY k",
            prefix = "myconv"
            $(, $protocol)?
        )]
        struct $name {
    #[metric(label)]
    k: String,
    /// SMALLINT.
    #[metric(gauge)]
    small: i16,
    /// BIGINT UNSIGNED.
    #[metric(counter, rename = "big_total")]
    big: u64,
    /// DOUBLE.
    #[metric(gauge)]
    dbl: f64,
    /// DECIMAL.
    #[metric(gauge)]
    num: rust_decimal::Decimal,
    /// BOOLEAN (TINYINT(1)).
    #[metric(gauge)]
    flag: bool,
    /// INT NULL: NULL gives no sample.
    #[metric(gauge)]
    maybe: Option<i32>,
    /// VARCHAR holding a number.
    #[metric(gauge)]
    txt: String,
}
    };
}
my_conversions!(MyConversions);
my_conversions!(MySimpleConversions, simple_query);

/// Server status variables, one row each (text values, as MariaDB keeps them).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT LOWER(VARIABLE_NAME) AS name, VARIABLE_VALUE AS value FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME IN ('UPTIME', 'THREADS_CONNECTED') ORDER BY name",
    prefix = "mysql_global_status"
)]
struct GlobalStatus {
    #[metric(label)]
    name: String,
    /// The variable's value.
    #[metric(untyped)]
    value: String,
}

#[test]
fn mariadb_rows_and_types() {
    let db = MariaDb::start();
    db.sql(
        "CREATE DATABASE app; USE app;
         CREATE TABLE conv (k VARCHAR(8), small SMALLINT, big BIGINT UNSIGNED, dbl DOUBLE, num DECIMAL(10,3),
                            flag BOOLEAN, maybe INT NULL, txt VARCHAR(16));
         INSERT INTO conv VALUES ('a', -3, 18446744073709551615, 0.1, 123.45, TRUE, 7, '42'),
                                 ('b', 0, 0, 1e300, -0.001, FALSE, NULL, '-1.5');",
    );
    runtime().block_on(async {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&db.url("app"))
            .await
            .unwrap();
        let lines = collected!(MyConversions, MySql, pool.clone());
        assert_has(
            &lines,
            &[
                r#"myconv_small{k="a"} -3"#,
                r#"myconv_big_total{k="a"} 1.8446744073709552e19"#,
                r#"myconv_dbl{k="b"} 1e300"#,
                r#"myconv_num{k="a"} 123.45"#,
                r#"myconv_num{k="b"} -0.001"#,
                r#"myconv_flag{k="a"} 1"#,
                r#"myconv_flag{k="b"} 0"#,
                r#"myconv_maybe{k="a"} 7"#,
                r#"myconv_txt{k="b"} -1.5"#,
            ],
        );
        assert!(!lines.iter().any(|l| l.starts_with("myconv_maybe{k=\"b\"}")));
        // The text protocol (COM_QUERY) reads the same values.
        let simple = collected!(MySimpleConversions, MySql, pool.clone());
        assert_eq!(simple, lines);

        let status = collected!(
            GlobalStatus,
            MySql,
            hubble::connections::Connections::new(pool.clone())
        );
        assert!(
            status
                .iter()
                .any(|l| l.starts_with(r#"mysql_global_status_value{name="uptime"} "#)),
            "{status:#?}"
        );
        // Any answer as text by column name, whatever the column types: numbers, NULL, a SHOW command.
        let kept = hubble::connections::Connections::new(pool.clone());
        let text = hubble::text_rows::TextRows::fetch(
            &kept,
            "SELECT k, big, dbl, maybe, flag FROM conv ORDER BY k",
        )
        .await
        .unwrap();
        assert_eq!(text.columns, ["k", "big", "dbl", "maybe", "flag"]);
        let cell = |row: usize, column: &str| text.rows[row][text.column(column).unwrap()].clone();
        assert_eq!(cell(0, "big").as_deref(), Some("18446744073709551615"));
        assert_eq!(cell(1, "dbl").as_deref(), Some("1e300"));
        assert_eq!(cell(1, "maybe"), None);
        assert_eq!(cell(0, "flag").as_deref(), Some("1"));
        let status = hubble::text_rows::TextRows::fetch(&kept, "SHOW GLOBAL STATUS LIKE 'Uptime'")
            .await
            .unwrap();
        assert_eq!(status.columns, ["Variable_name", "Value"]);
        assert_eq!(status.rows[0][0].as_deref(), Some("Uptime"));
        // Its kept connection goes back, or closing the pool would wait for it.
        kept.close().await;
        // A query the server refuses is the group's error, naming it.
        let bad = SqlCollector::<MyConversions, MySql>::new(
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .connect(&db.url("mysql"))
                .await
                .unwrap(),
        )
        .collect()
        .await
        .unwrap_err()
        .to_string();
        assert!(bad.contains("myconv") && bad.contains("conv"), "{bad}");
        pool.close().await;
    });
}

/// Three statements of one target for the batch test.
macro_rules! batch_group {
    ($name:ident, $query:tt, $prefix:tt) => {
        #[derive(sqlx::FromRow, hubble::MetricGroup)]
        #[hubble(query = $query, prefix = $prefix)]
        struct $name {
            /// A value.
            #[metric(gauge)]
            v: i64,
        }
    };
}
batch_group!(BatchFirst, "SELECT 1::int8 AS v", "first");
batch_group!(BatchBroken, "SELECT v FROM no_such_table", "broken");
batch_group!(BatchSlow, "SELECT 2::int8 AS v FROM pg_sleep(5)", "slow");
batch_group!(
    BatchLast,
    "SELECT 3::int8 AS v -- a comment at the end",
    "last"
);

/// Batched connections to `pg` (at most `max`), whose sessions time statements out after 4 s and whose
/// messages after 1 s each; over hubble's own connection with `wire`, else over the driver's.
async fn batched_connections(
    pg: &PgCluster,
    max: u32,
    prepared: bool,
    wire: bool,
) -> hubble::connections::Connections<Postgres> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(max)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(conn, "SET statement_timeout = 4000").await?;
                Ok(())
            })
        })
        .connect_lazy(&pg.url("postgres"))
        .unwrap();
    let batching = hubble::connections::Batching {
        prefix: Some("SET statement_timeout = 1000".into()),
        suffix: Some("SET statement_timeout = 4000".into()),
        timeout: Some(Duration::from_secs(4)),
        prepared,
    };
    let connections = hubble::connections::Connections::new(pool);
    if !wire {
        return connections.batched(batching);
    }
    connections.over_wire(
        batching,
        hubble::connections::WireTarget {
            dsn: pg.url("postgres").parse().unwrap(),
            params: vec![("application_name".into(), "batch test".into())],
            setup: Some("SET statement_timeout = 4000".into()),
            connect_timeout: Duration::from_secs(5),
            max_lifetime: None,
        },
    )
}

/// The server's log, and the batch messages in it (one `statement:` entry each, starting with the prefix
/// that `batched_connections` sets).
fn batch_messages(pg: &PgCluster) -> (String, usize) {
    let log = std::fs::read_to_string(pg.dir().join("server.log")).unwrap();
    let messages = log
        .matches("statement: SET statement_timeout = 1000")
        .count();
    (log, messages)
}

/// Groups due together go out in one message; a failing group fails alone and a slow one is cut by the
/// server at the batch's timeout, while the groups after it are sent again and answer; the session's
/// timeout is restored after each message.
#[test]
fn postgres_batches_fail_and_time_out_per_group() {
    for wire in [false, true] {
        batches_fail_and_time_out_per_group(wire);
    }
}

fn batches_fail_and_time_out_per_group(wire: bool) {
    let pg = PgCluster::start(&["log_statement=all"]);
    // One thread, as the exporters collect: the three collectors queue before the flush task runs.
    runtime().block_on(async {
        let connections = batched_connections(&pg, 2, false, wire).await;
        let first = SqlCollector::<BatchFirst, Postgres>::new(connections.clone());
        let broken = SqlCollector::<BatchBroken, Postgres>::new(connections.clone());
        let slow = SqlCollector::<BatchSlow, Postgres>::new(connections.clone());
        let last = SqlCollector::<BatchLast, Postgres>::new(connections.clone());

        let (a, b, c) = tokio::join!(first.collect(), broken.collect(), last.collect());
        assert_eq!(render(&a.unwrap()), ["first_v{} 1"]);
        let b = b.unwrap_err().to_string();
        assert!(b.contains("no_such_table"), "{b}");
        assert_eq!(render(&c.unwrap()), ["last_v{} 3"]);

        let started = std::time::Instant::now();
        let (a, s, c) = tokio::join!(first.collect(), slow.collect(), last.collect());
        let took = started.elapsed();
        assert_eq!(render(&a.unwrap()), ["first_v{} 1"]);
        let s = s.unwrap_err().to_string();
        assert!(s.contains("statement timeout"), "{s}");
        assert_eq!(render(&c.unwrap()), ["last_v{} 3"]);
        assert!(took < Duration::from_secs(3), "the batch took {took:?}");

        let (a, c) = tokio::join!(first.collect(), last.collect());
        assert!(a.is_ok() && c.is_ok());
        if wire {
            // The driver's pool opened nothing: every statement went over hubble's own connection.
            assert_eq!(connections.pool().size(), 0);
        } else {
            let timeout = connections
                .fetch_one(sqlx::raw_sql("SHOW statement_timeout"))
                .await
                .unwrap();
            assert_eq!(sqlx::Row::get::<String, _>(&timeout, 0), "4s");
        }
        connections.close().await;
    });
    // In the server's log: each message is one `statement:` entry. The three runs sent three batches, and
    // after the broken and the slow statement the one statement left went again in a message of its own.
    let (log, messages) = batch_messages(&pg);
    assert_eq!(messages, 5, "wire {wire}: {log}");
    assert_eq!(log.matches("statement: SELECT").count(), 0, "{log}");
    // hubble's own session: set up once, and every message in it.
    if wire {
        let setup = log
            .matches("statement: SET statement_timeout = 4000")
            .count();
        assert_eq!(setup, 1, "{log}");
        let sessions: std::collections::BTreeSet<&str> = log
            .lines()
            .filter(|l| l.contains("LOG:  statement:"))
            .filter_map(|l| l.split(['[', ']']).nth(1))
            .collect();
        assert_eq!(sessions.len(), 1, "{log}");
    }
}

/// With `prepared`, each statement is prepared once per connection and executed by name: a new connection
/// costs one more message to prepare them, and later ticks are one message each; a statement that cannot be
/// prepared fails alone.
#[test]
fn postgres_batches_execute_statements_prepared_once_per_connection() {
    for wire in [false, true] {
        batches_execute_statements_prepared_once_per_connection(wire);
    }
}

fn batches_execute_statements_prepared_once_per_connection(wire: bool) {
    let pg = PgCluster::start(&["log_statement=all"]);
    runtime().block_on(async {
        let connections = batched_connections(&pg, 1, true, wire).await;
        let first = SqlCollector::<BatchFirst, Postgres>::new(connections.clone());
        let broken = SqlCollector::<BatchBroken, Postgres>::new(connections.clone());
        let last = SqlCollector::<BatchLast, Postgres>::new(connections.clone());
        for tick in 0..3 {
            let (a, c) = tokio::join!(first.collect(), last.collect());
            assert_eq!(render(&a.unwrap()), ["first_v{} 1"], "tick {tick}");
            assert_eq!(render(&c.unwrap()), ["last_v{} 3"], "tick {tick}");
        }
        let (a, b, c) = tokio::join!(first.collect(), broken.collect(), last.collect());
        assert_eq!(render(&a.unwrap()), ["first_v{} 1"]);
        let b = b.unwrap_err().to_string();
        assert!(b.contains("no_such_table"), "{b}");
        assert_eq!(render(&c.unwrap()), ["last_v{} 3"]);
        // In the batch's session (prepared itself, and not counted).
        let prepared = connections
            .fetch_text(
                "SELECT count(*) FROM pg_prepared_statements \
                 WHERE name LIKE 'hubble_%' AND statement NOT LIKE '%pg_prepared_statements%'",
            )
            .await
            .unwrap()
            .to_text_rows()
            .unwrap();
        assert_eq!(prepared.rows, [[Some("2".to_owned())]], "wire {wire}");
        connections.close().await;
    });
    let (log, messages) = batch_messages(&pg);
    // Ticks: the first finds neither statement prepared and prepares each as it finds it missing (three
    // messages); the next two are one message each (a statement prepared again would fail as existing and
    // cost more); the fourth finds the broken one missing, fails to prepare it, and sends the last again:
    // three. Two statements stay prepared (above), whose count took two messages more (it was not prepared).
    assert_eq!(messages, 10, "wire {wire}: {log}");
}

/// A kept connection the server ended while it waited (a restart, `idle_session_timeout`, a DBA's
/// `pg_terminate_backend`) is replaced before the next batch: no tick is lost on it.
#[test]
fn postgres_own_connection_ended_by_the_server_costs_no_tick() {
    let pg = PgCluster::start(&[]);
    runtime().block_on(async {
        let connections = batched_connections(&pg, 1, false, true).await;
        let first = SqlCollector::<BatchFirst, Postgres>::new(connections.clone());
        for round in 0..3 {
            assert_eq!(render(&first.collect().await.unwrap()), ["first_v{} 1"], "round {round}");
            pg.psql(
                "postgres",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'batch test'",
            );
            // Its backend gone: the server's goodbye (an error, then the end of the stream) was sent.
            support::wait_for_async(Duration::from_secs(10), "the backend to end", || {
                let left = pg.count(
                    "postgres",
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'batch test'",
                );
                (left == 0).then_some(())
            })
            .await;
        }
        assert_eq!(render(&first.collect().await.unwrap()), ["first_v{} 1"]);
        connections.close().await;
    });
}

/// Type conversions from text over hubble's own connection: every value arrives as text and is read by the
/// field's type, whatever the column's (a `numeric` into an `f64`).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT k, small, big, real4, dbl, num, flag, maybe, txt, ARRAY[0.5, 1, 2.5]::float8[] AS bounds, \
             ARRAY[1, 3, 4]::int8[] AS bounds_bucket, 10.5::float8 AS bounds_sum, 4::int8 AS bounds_count \
             FROM conv ORDER BY k",
    prefix = "pgtext"
)]
struct TextConversions {
    #[metric(label)]
    k: String,
    /// int2.
    #[metric(gauge)]
    small: i16,
    /// int8.
    #[metric(counter, rename = "big_total")]
    big: i64,
    /// float4.
    #[metric(gauge)]
    real4: f32,
    /// float8.
    #[metric(gauge)]
    dbl: f64,
    /// numeric, read as a float.
    #[metric(gauge)]
    num: f64,
    /// bool.
    #[metric(gauge)]
    flag: bool,
    /// Nullable int4.
    #[metric(gauge)]
    maybe: Option<i32>,
    /// Numeric text.
    #[metric(untyped)]
    txt: String,
    /// A histogram from arrays.
    #[metric(histogram)]
    bounds: Vec<f64>,
    bounds_bucket: Vec<i64>,
    bounds_sum: f64,
    bounds_count: i64,
}

/// A group whose column is not there.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SELECT 1::int8 AS v", prefix = "missing")]
struct MissingColumn {
    /// Not in the query.
    #[metric(gauge)]
    w: i64,
}

/// The same without rows: as sqlx's `FromRow`, nothing to read, no error.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(query = "SELECT 1::int8 AS v WHERE false", prefix = "missing")]
struct MissingColumnNoRows {
    /// Not in the query.
    #[metric(gauge)]
    w: i64,
}

#[test]
fn postgres_groups_read_from_text_over_its_own_connection() {
    let pg = PgCluster::start(&[]);
    pg.psql(
        "postgres",
        "CREATE TABLE conv (k text, small int2, big int8, real4 float4, dbl float8, num numeric, flag bool,
                            maybe int4, txt text);
         INSERT INTO conv VALUES ('a', -3, 9007199254740993, 1.5, 0.1, 123.45, true, 7, '42'),
                                 ('b', 0, 0, -0.25, 1e300, -0.001, false, NULL, '+Inf');",
    );
    assert!(<TextConversions as hubble::SqlQuery>::TEXT_COLUMNS.is_some());
    // Types the derive does not read from text leave the group to sqlx.
    assert!(<Conversions as hubble::SqlQuery>::TEXT_COLUMNS.is_none());
    runtime().block_on(async {
        let connections = batched_connections(&pg, 1, true, true).await;
        let group = SqlCollector::<TextConversions, Postgres>::new(connections.clone());
        let lines = render(&group.collect().await.unwrap());
        assert_has(
            &lines,
            &[
                r#"pgtext_small{k="a"} -3"#,
                r#"pgtext_big_total{k="a"} 9007199254740992"#,
                r#"pgtext_real4{k="b"} -0.25"#,
                r#"pgtext_dbl{k="a"} 0.1"#,
                r#"pgtext_dbl{k="b"} 1e300"#,
                r#"pgtext_num{k="a"} 123.45"#,
                r#"pgtext_num{k="b"} -0.001"#,
                r#"pgtext_flag{k="a"} 1"#,
                r#"pgtext_flag{k="b"} 0"#,
                r#"pgtext_maybe{k="a"} 7"#,
                r#"pgtext_txt{k="a"} 42"#,
                r#"pgtext_txt{k="b"} inf"#,
            ],
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("pgtext_maybe{k=\"b\"}")),
            "NULL gave a sample: {lines:?}"
        );
        let histogram = group.collect().await.unwrap();
        let bounds = histogram
            .iter()
            .find(|s| s.name == "pgtext_bounds")
            .and_then(|s| s.histogram.as_ref())
            .expect("the histogram sample");
        assert_eq!((bounds.count(), bounds.sum()), (4, 10.5));
        // A column the query lacks is the group's error, naming it, as sqlx's `FromRow` says it.
        let missing = SqlCollector::<MissingColumn, Postgres>::new(connections.clone())
            .collect()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("missing") && missing.contains("`w`"),
            "{missing}"
        );
        let none = SqlCollector::<MissingColumnNoRows, Postgres>::new(connections.clone());
        assert!(none.collect().await.unwrap().is_empty());
        connections.close().await;
    });
}
