//! The Postgres exporter against a throwaway PostgreSQL cluster: single target, a target down at start and
//! restarted, and file_sd discovery adding and removing a target (its pool closes).

mod running;

use hubble_test_support as support;

use std::time::Duration;

use postgres_exporter::app::Targets;
use postgres_exporter::connection::{Dsn, APPLICATION_NAME};
use postgres_exporter::custom;
use postgres_exporter::naming::Naming;
use postgres_exporter::{Collection, Schedule};
use running::{dsn, our_connections, Running};
use support::pg::PgCluster;
use support::{get, promtool_check, wait_for, Prometheus};

#[test]
fn single_target_exports_the_standard_groups() {
    let pg = PgCluster::start(&[]);
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql("app", "CREATE TABLE users (id int); INSERT INTO users SELECT generate_series(1, 20); ANALYZE users;");
    let exporter = Running::start(Targets::Single(dsn(&pg, "app")));
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    // Every group has finished its first run (groups share the target's two connections, so they finish one
    // after another).
    wait_for(Duration::from_secs(30), "/-/ready", || {
        get(exporter.addr, "/-/ready", &[])
            .ok()
            .filter(|r| r.status == 200)
    });
    let body = exporter.wait_metrics("pg_up 1 and per-table series", |b| {
        b.contains(&format!("pg_up{{{server}}} 1"))
            && b.contains(&format!(
                "pg_stat_user_tables_n_live_tup{{{server},datname=\"app\""
            ))
    });
    // The background writer's view lost its checkpoint columns in 17 (pg_stat_checkpointer has them), and
    // that view gained num_done and slru_written in 18.
    let version = pg.version_num();
    let by_version: &[&str] = match version {
        ..170_000 => &["# TYPE pg_stat_bgwriter_checkpoints_timed_total counter"],
        170_000..180_000 => &[
            "# TYPE pg_stat_checkpointer_num_timed_total counter",
            "# TYPE pg_stat_checkpointer_restartpoints_done_total counter",
        ],
        _ => &[
            "# TYPE pg_stat_checkpointer_num_timed_total counter",
            "# TYPE pg_stat_checkpointer_num_done_total counter",
            "# TYPE pg_stat_checkpointer_slru_written_total counter",
        ],
    };
    for family in by_version {
        assert!(body.contains(family), "missing {family:?} on {version}");
    }
    // A server without TLS: sslmode=disable, and the link says it is not encrypted.
    assert!(
        body.contains(&format!("hubble_target_tls{{{server},mode=\"disable\"}} 0")),
        "{body}"
    );
    // pg_stat_checkpointer does not apply before 17: shown as such, neither up nor down.
    let checkpointer = format!("{server},collector=\"pg_stat_checkpointer\"}}");
    assert_eq!(
        body.contains(&format!(
            "hubble_collector_not_applicable{{{checkpointer} 1"
        )),
        version < 170_000,
        "{body}"
    );
    assert_eq!(
        body.contains(&format!("hubble_collector_up{{{checkpointer} 1")),
        version >= 170_000,
        "{body}"
    );
    // The bgwriter's checkpoint families on every version (from pg_stat_checkpointer on 17 and later).
    assert!(body.contains("pg_stat_bgwriter_checkpoints_timed_total"));
    // A column the server's view lacks gives no sample, and no empty family either.
    assert_eq!(
        body.contains("pg_stat_checkpointer_num_done_total"),
        version >= 180_000
    );
    for family in [
        "# TYPE pg_stat_database_xact_commit counter",
        "# TYPE pg_stat_bgwriter_buffers_clean_total counter",
        "# TYPE pg_stat_bgwriter_buffers_alloc_total counter",
        "# TYPE pg_stat_activity_count gauge",
        "# TYPE pg_locks_count gauge",
        "# TYPE pg_database_size_bytes gauge",
        "# TYPE pg_settings_max_connections gauge",
        "# TYPE pg_settings_shared_buffers_bytes gauge",
        "# TYPE pg_settings_checkpoint_timeout_seconds gauge",
        "# TYPE pg_postmaster_start_time_seconds gauge",
        "# TYPE pg_static untyped",
        "# TYPE pg_exporter_last_scrape_error gauge",
        "# TYPE pg_statio_user_tables_heap_blocks_read counter",
        "# TYPE pg_roles_connection_limit gauge",
        "# TYPE pg_wal_segments gauge",
        "# TYPE pg_wal_size_bytes gauge",
    ] {
        assert!(body.contains(family), "missing {family:?}");
    }
    // Settings in base units, each family with its setting's own help and the conversion noted.
    for line in [
        format!("pg_settings_checkpoint_timeout_seconds{{{server}}} 300"),
        format!("pg_settings_fsync{{{server}}} 0"),
        format!("pg_settings_autovacuum_vacuum_scale_factor{{{server}}} 0.2"),
        format!("pg_settings_wal_segment_size_bytes{{{server}}} 16777216"),
        "# HELP pg_settings_checkpoint_timeout_seconds Sets the maximum time between automatic WAL checkpoints. [Units converted to seconds.]".to_owned(),
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?}");
    }
    let table = format!(
        "pg_stat_user_tables_n_live_tup{{{server},datname=\"app\",relname=\"users\",schemaname=\"public\"}} "
    );
    assert!(body.contains(&table), "missing {table:?}");
    // Every collector that has run succeeded.
    let failed: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("hubble_collector_up{") && l.ends_with(" 0"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // postgres_exporter's names break promtool's naming lints (no `_total` on counters); the format itself must parse.
    let complaints = promtool_check(body.as_bytes());
    assert!(
        !complaints.contains("error while linting") && !complaints.contains("parsing"),
        "{complaints}"
    );
    // DBAs can tell who is connected.
    assert!(our_connections(&pg) >= 1);
    exporter.stop();
    assert_eq!(our_connections(&pg), 0, "pool not closed at shutdown");
}

#[test]
fn a_target_holds_one_connection_with_the_default_groups() {
    // Pools may open two (the default), but every statement of the standard set goes out in the target's
    // batch: a second backend held per target is what a DBA sees doubled. The groups that check the server's
    // version (stat_bgwriter) or an extension (stat_statements, not installed here) now and then were the
    // ones that opened it.
    let pg = PgCluster::start(&[]);
    let mut collection = one_second_collection();
    collection.collectors.set("stat_statements", true).unwrap();
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    exporter.wait_metrics("the version-split and extension-gated groups to run", |b| {
        b.contains(&format!(
            "hubble_collector_up{{{server},collector=\"pg_stat_bgwriter\"}} 1"
        )) && b.contains(&format!(
            "hubble_collector_not_applicable{{{server},collector=\"pg_stat_statements\"}} 1"
        ))
    });
    assert_eq!(peak_connections(&pg), 1, "connections held by one target");
    exporter.stop();
}

/// The test collection at one run a second with a timeout of a second. A message not answered within the
/// timeout drops its connection and sends its statements each on its own, which may open a second one: a
/// second, not the tests' 300 ms, keeps a loaded machine from doing that where connections are counted.
fn one_second_collection() -> Collection {
    let mut collection = running::test_collection();
    let catalogue = &postgres_exporter::collectors::CATALOGUE;
    for entry in catalogue.entries().iter().filter(|e| e.interval.is_some()) {
        collection
            .collectors
            .set_interval(entry.name, Duration::from_secs(1))
            .unwrap();
    }
    collection.schedule.interval = Duration::from_secs(1);
    collection.schedule.timeout = Duration::from_secs(1);
    collection
}

/// The most connections the exporter held over three intervals, sampled often enough to see one opened for
/// a single statement.
fn peak_connections(pg: &PgCluster) -> usize {
    let mut peak = 0;
    for _ in 0..20 {
        peak = peak.max(our_connections(pg));
        std::thread::sleep(Duration::from_millis(150));
    }
    peak
}

/// In the batch a statement has half the collection timeout; a custom query that needs more is cancelled
/// there once and runs on its own, with the whole timeout, from then on.
#[test]
fn a_custom_query_slower_than_the_batch_allows_runs_on_its_own() {
    let pg = PgCluster::start(&[]);
    let yaml = "app_slow:\n  query: \"SELECT 1 AS v FROM pg_sleep(0.6)\"\n  metrics:\n    - v: {usage: GAUGE, description: Slow}\n";
    let mut collection = one_second_collection();
    collection.custom_queries = custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap();
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    exporter.wait_metrics("the slow query answered, on its own", |b| {
        b.contains(&format!("app_slow_v{{{server}}} 1\n"))
    });
    exporter.stop();
}

/// Custom queries go in the target's batch, their rows read as text: the series are those of the same
/// queries read on their own (typed, in binary), for every type a query may return. A target with custom
/// queries and `stat_statements` (whose parameters are written into its statement) still holds one
/// connection.
#[test]
fn custom_queries_in_the_batch_read_as_they_do_on_their_own() {
    let pg = PgCluster::start(&["shared_preload_libraries=pg_stat_statements"]);
    pg.psql(
        "postgres",
        "CREATE EXTENSION pg_stat_statements;
         CREATE TABLE typed (name text, v2 int2, v4 int4, v8 int8, f4 float4, f8 float8, n numeric,
                             b bool, o oid, t timestamptz, state varchar, d text, q name);
         INSERT INTO typed VALUES
           ('a', 2, 4, 8, 1.5, 2.25, 12.5, true, 42, '2026-01-02 03:04:05.5+00', 'up', '1h2m', 'x'),
           ('b', -2, -4, -9007199254740993, -1.5, 1e300, -0.125, false, 7, '1999-12-31 23:59:59+00', 'down', '250', 'y'),
           ('c', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    );
    let yaml = r#"
app_typed:
  query: "SELECT name, v2, v4, v8, f4, f8, n, b, o, t, state, d, q FROM typed ORDER BY name"
  metrics:
    - name: {usage: "LABEL", description: "Row"}
    - q: {usage: "LABEL", description: "A name"}
    - v2: {usage: "GAUGE", description: "int2"}
    - v4: {usage: "GAUGE", description: "int4"}
    - v8: {usage: "COUNTER", description: "int8"}
    - f4: {usage: "GAUGE", description: "float4"}
    - f8: {usage: "GAUGE", description: "float8"}
    - n: {usage: "GAUGE", description: "numeric"}
    - b: {usage: "GAUGE", description: "bool"}
    - o: {usage: "GAUGE", description: "oid"}
    - t: {usage: "GAUGE", description: "timestamptz"}
    - state: {usage: "MAPPEDMETRIC", description: "varchar", mapping: {up: 1, down: 0}}
    - d: {usage: "DURATION", description: "text duration"}
app_hist:
  query: |
    WITH q(name, lat, lat_bucket, lat_sum, lat_count) AS (VALUES
      ('i', ARRAY[1, 5]::int4[], ARRAY[2, 3]::int8[], 7::int8, 4::int8),
      ('f', ARRAY[0.5, 2.5]::float8[], ARRAY[1, 1]::int2[], 1.25::float8, 1::int4),
      ('n', ARRAY[0.25, 1]::numeric[], ARRAY[0, 6]::numeric[], 2.5::numeric, 6::numeric))
    SELECT * FROM q
  metrics:
    - name: {usage: "LABEL", description: "Row"}
    - lat: {usage: "HISTOGRAM", description: "Latency"}
"#;
    let queries = custom::parse(std::path::Path::new("queries.yaml"), yaml).unwrap();
    let run = |batch: bool| {
        let mut collection = one_second_collection();
        collection.custom_queries = queries.clone();
        collection.batch = batch;
        collection.collectors.set("stat_statements", true).unwrap();
        collection.statements.exclude_users = vec!["nobody".into()];
        let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
        let body = exporter.wait_metrics("the custom series and pg_stat_statements", |b| {
            b.contains("app_typed_f8{")
                && b.contains("app_hist_lat_count{")
                && b.contains("pg_stat_statements_calls_total{")
        });
        let peak = peak_connections(&pg);
        exporter.stop();
        let mut lines: Vec<String> = body
            .lines()
            .filter(|l| l.starts_with("app_") || l.starts_with("# TYPE app_"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        (lines, peak)
    };
    let (batched, peak) = run(true);
    let (alone, _) = run(false);
    assert_eq!(batched, alone, "batched (left) and alone (right) differ");
    assert_eq!(
        peak, 1,
        "connections held by a target with custom queries and stat_statements"
    );
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    for line in [
        format!("app_typed_v8{{{server},name=\"b\",q=\"y\"}} -9007199254740992"),
        format!("app_typed_f8{{{server},name=\"b\",q=\"y\"}} 1e300"),
        format!("app_typed_n{{{server},name=\"b\",q=\"y\"}} -0.125"),
        format!("app_typed_b{{{server},name=\"a\",q=\"x\"}} 1"),
        format!("app_typed_o{{{server},name=\"a\",q=\"x\"}} 42"),
        format!("app_typed_t{{{server},name=\"a\",q=\"x\"}} 1767323045.5"),
        format!("app_typed_d{{{server},name=\"a\",q=\"x\"}} 3720000"),
        format!("app_hist_lat_bucket{{{server},le=\"2.5\",name=\"f\"}} 1"),
        format!("app_hist_lat_sum{{{server},name=\"n\"}} 2.5"),
    ] {
        assert!(
            batched.contains(&line),
            "missing {line:?} in:
{batched:#?}"
        );
    }
}

#[test]
fn a_target_down_at_start_comes_up_by_itself() {
    let pg = PgCluster::start(&[]);
    pg.stop();
    let exporter = Running::start(Targets::Single(dsn(&pg, "postgres")));
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    // Both: pg_up says the server is down, and a query group's first run has failed.
    exporter.wait_metrics("pg_up 0 and a failed group", |b| {
        b.contains(&format!("pg_up{{{server}}} 0"))
            && b.contains(&format!(
                "hubble_collector_up{{{server},collector=\"pg_stat_database\"}} 0"
            ))
    });
    pg.restart();
    exporter.wait_metrics("pg_up 1 after start", |b| {
        b.contains(&format!("pg_up{{{server}}} 1"))
            && b.contains(&format!(
                "hubble_collector_up{{{server},collector=\"pg_stat_database\"}} 1"
            ))
    });
    // Restarted mid-run: down, then up again, without restarting the exporter.
    pg.stop();
    exporter.wait_metrics("pg_up 0 after stop", |b| {
        b.contains(&format!("pg_up{{{server}}} 0"))
    });
    pg.restart();
    exporter.wait_metrics("pg_up 1 after restart", |b| {
        b.contains(&format!("pg_up{{{server}}} 1"))
    });
    exporter.stop();
}

#[test]
fn file_sd_targets_come_and_go_and_their_pools_close() {
    let pg = PgCluster::start(&[]);
    pg.psql("postgres", "CREATE DATABASE orders");
    let file = pg.dir().join("targets.yml");
    let target = format!("127.0.0.1:{}", pg.port);
    std::fs::write(
        &file,
        format!("- targets: ['{target}']\n  labels: {{env: test, __param_dbname: orders, __meta_x: hidden}}\n"),
    )
    .unwrap();
    let exporter = Running::start(Targets::File(file.clone()));
    // pg_up and a standard group: groups finish their first runs one after another.
    let body = exporter.wait_metrics("the discovered target", |b| {
        b.contains("pg_up{env=\"test\"") && b.contains("pg_stat_database_xact_commit{")
    });
    assert!(
        !body.contains("__meta_x") && !body.contains("hidden"),
        "a __ label leaked"
    );
    assert!(
        body.contains(&format!("host=\"{target}\"")),
        "discovery labels missing"
    );
    assert!(
        body.contains("hubble_dispatcher_targets{backend=\"file_sd\"} 1"),
        "{body}"
    );
    wait_for(Duration::from_secs(10), "the target's connections", || {
        (our_connections(&pg) >= 1).then_some(())
    });

    std::fs::write(&file, "[]\n").unwrap();
    exporter.wait_metrics("the target removed", |b| {
        !b.contains("pg_up{") && b.contains("hubble_dispatcher_targets{backend=\"file_sd\"} 0")
    });
    wait_for(Duration::from_secs(10), "the pool to close", || {
        (our_connections(&pg) == 0).then_some(())
    });
    exporter.stop();
}

#[test]
fn custom_queries_export_and_a_bad_one_fails_alone() {
    let pg = PgCluster::start(&[]);
    pg.psql(
        "postgres",
        "CREATE TABLE jobs (queue text, state text, wait interval, n int8);
         INSERT INTO jobs VALUES ('mail', 'up', '1 second', 3), ('sms', 'down', '2 minutes', 5);",
    );
    let yaml = r#"
app_jobs:
  query: "SELECT queue, state, wait, n, 'x' AS note FROM jobs"
  metrics:
    - queue: {usage: "LABEL", description: "Queue"}
    - state: {usage: "MAPPEDMETRIC", description: "Queue state", mapping: {up: 1, down: 0}}
    - wait: {usage: "DURATION", description: "Wait in milliseconds"}
    - n: {usage: "COUNTER", description: "Jobs"}
    - note: {usage: "DISCARD"}
app_wait:
  query: |
    SELECT queue, ARRAY[1, 60, 300] AS seconds,
           ARRAY[count(*) FILTER (WHERE wait <= '1 second'), count(*) FILTER (WHERE wait <= '1 minute'),
                 count(*) FILTER (WHERE wait <= '5 minutes')] AS seconds_bucket,
           sum(EXTRACT(EPOCH FROM wait)) AS seconds_sum, count(*) AS seconds_count
    FROM jobs GROUP BY queue
  metrics:
    - queue: {usage: "LABEL", description: "Queue"}
    - seconds: {usage: "HISTOGRAM", description: "Job waits"}
app_broken:
  query: "SELECT missing_column FROM jobs"
  metrics:
    - missing_column: {usage: "GAUGE", description: "Never works"}
"#;
    let queries = custom::parse(std::path::Path::new("queries.yaml"), yaml).unwrap();
    let exporter = Running::start_with(Targets::Single(dsn(&pg, "postgres")), queries);
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    // Collectors finish their first runs one after another: pg_up is waited for with the rest.
    let body = exporter.wait_metrics("custom series and the broken query's failure", |b| {
        b.contains("app_jobs_n{")
            && b.contains("app_wait_seconds_count{")
            && b.contains(&format!("pg_up{{{server}}} 1"))
            && b.contains(&format!(
                "hubble_collector_up{{{server},collector=\"app_broken\"}} 0"
            ))
            && b.contains(&format!(
                "hubble_collector_up{{{server},collector=\"pg_stat_database\"}} 1"
            ))
    });
    for line in [
        format!("app_jobs_state{{{server},queue=\"mail\"}} 1"),
        format!("app_jobs_state{{{server},queue=\"sms\"}} 0"),
        format!("app_jobs_wait{{{server},queue=\"mail\"}} 1000"),
        format!("app_jobs_wait{{{server},queue=\"sms\"}} 120000"),
        format!("app_jobs_n{{{server},queue=\"sms\"}} 5"),
        "# TYPE app_jobs_n counter".to_owned(),
        "# TYPE app_wait_seconds histogram".to_owned(),
        format!("app_wait_seconds_bucket{{{server},le=\"60\",queue=\"sms\"}} 0"),
        format!("app_wait_seconds_bucket{{{server},le=\"300\",queue=\"sms\"}} 1"),
        format!("app_wait_seconds_bucket{{{server},le=\"+Inf\",queue=\"sms\"}} 1"),
        format!("app_wait_seconds_sum{{{server},queue=\"sms\"}} 120"),
        format!("app_wait_seconds_count{{{server},queue=\"mail\"}} 1"),
        format!("pg_up{{{server}}} 1"),
    ] {
        assert!(body.contains(&line), "missing {line:?} in:\n{body}");
    }
    assert!(
        !body.contains("app_jobs_note") && !body.contains("app_broken_missing_column{"),
        "{body}"
    );
    // postgres_exporter's self-metrics follow, one round behind: the mixin's exporter-error alert fires.
    let body = exporter.wait_metrics("pg_exporter_last_scrape_error 1", |b| {
        b.contains(&format!("pg_exporter_last_scrape_error{{{server}}} 1"))
    });
    for line in [
        format!("pg_scrape_collector_success{{{server},collector=\"app_broken\"}} 0"),
        format!("pg_scrape_collector_success{{{server},collector=\"app_jobs\"}} 1"),
        format!("pg_scrape_collector_success{{{server},collector=\"stat_database\"}} 1"),
        format!("pg_scrape_collector_duration_seconds{{{server},collector=\"locks\"}} "),
        format!("pg_exporter_last_scrape_duration_seconds{{{server}}} "),
        "# TYPE pg_exporter_scrapes_total counter".to_owned(),
    ] {
        assert!(body.contains(&line), "missing {line:?} in:\n{body}");
    }
    let first = running::rounds(&body);
    assert!(first >= 1.0, "{body}");
    exporter.wait_metrics("another round counted", |b| running::rounds(b) > first);
    exporter.stop();
}

#[test]
fn a_real_prometheus_scrapes_the_exporter() {
    let pg = PgCluster::start(&[]);
    pg.psql("postgres", "CREATE TABLE users (id int); INSERT INTO users SELECT generate_series(1, 5); ANALYZE users;");
    let exporter = Running::start(Targets::Single(dsn(&pg, "postgres")));
    exporter.wait_metrics("pg_up", |b| b.contains("pg_up{"));
    let prometheus = Prometheus::scraping(exporter.addr);
    wait_for(Duration::from_secs(60), "Prometheus to see pg_up 1", || {
        (prometheus.query("pg_up").as_deref() == Some("1")).then_some(())
    });
    wait_for(
        Duration::from_secs(30),
        "a per-table series in Prometheus",
        || {
            prometheus
                .query(r#"pg_stat_user_tables_n_live_tup{relname="users"}"#)
                .filter(|v| v == "5")
        },
    );
    assert_eq!(
        prometheus.query(r#"up{job="postgres"}"#).as_deref(),
        Some("1")
    );
    drop(prometheus);
    exporter.stop();
}

#[test]
fn the_password_never_shows() {
    let pg = PgCluster::start(&[]);
    let secret = "s3cr3t-Pa55word";
    let with_password: Dsn = format!(
        "postgresql://postgres:{secret}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    )
    .parse()
    .unwrap();
    let exporter = Running::start(Targets::Single(with_password));
    exporter.wait_metrics("pg_up 1", |b| b.contains("pg_up{") && b.contains("} 1"));
    // Down: error messages appear on the landing page; none may carry the password.
    pg.stop();
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    let metrics = exporter.wait_metrics("pg_up 0", |b| b.contains(&format!("pg_up{{{server}}} 0")));
    let landing = wait_for(
        Duration::from_secs(20),
        "errors on the landing page",
        || {
            let page = get(exporter.addr, "/", &[]).ok()?.text();
            page.contains("class=\"down\"").then_some(page)
        },
    );
    for (what, text) in [("metrics", &metrics), ("landing page", &landing)] {
        assert!(!text.contains(secret), "password in the {what}:\n{text}");
    }
    exporter.stop();
}

#[test]
fn probe_exports_the_asked_target_and_closes_it_when_idle() {
    let pg = PgCluster::start(&[]);
    let mut config = running::config(Targets::ProbeOnly, running::test_collection());
    config.probe.allowed_targets = vec![format!("127.0.0.1:{}", pg.port).parse().unwrap()];
    let exporter = Running::start_config(config);
    let target = format!("127.0.0.1:{}", pg.port);
    let r = get(exporter.addr, &format!("/probe?target={target}"), &[]).unwrap();
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(
        body.contains(&format!("pg_up{{server=\"{target}\"}} 1")),
        "{body}"
    );
    assert!(
        body.contains("pg_stat_database_xact_commit{"),
        "first probe waits for the first collection"
    );
    assert!(
        !body.contains("process_resident_memory_bytes"),
        "probe output holds only the target"
    );
    // The main endpoint holds none of the probed target's series.
    assert!(!get(exporter.addr, "/metrics", &[])
        .unwrap()
        .text()
        .contains("pg_up{"));
    // Reused while probed; closed once idle.
    assert!(get(exporter.addr, &format!("/probe?target={target}"), &[])
        .unwrap()
        .text()
        .contains("pg_up{"));
    assert!(our_connections(&pg) >= 1);
    wait_for(
        Duration::from_secs(10),
        "the idle probe target's pool to close",
        || (our_connections(&pg) == 0).then_some(()),
    );
    // Bad requests.
    assert_eq!(get(exporter.addr, "/probe", &[]).unwrap().status, 400);
    let bad = get(
        exporter.addr,
        "/probe?target=postgresql://u:secretpw@h:notaport/db",
        &[],
    )
    .unwrap();
    assert_eq!(bad.status, 400);
    assert!(!bad.text().contains("secretpw"), "{}", bad.text());
    exporter.stop();
}

#[test]
fn a_slow_query_is_cancelled_in_the_database() {
    let pg = PgCluster::start(&[]);
    let yaml = "app_slow:\n  query: \"SELECT 1 AS v FROM pg_sleep(30)\"\n  metrics:\n    - v: {usage: GAUGE, description: Slow}\n";
    let queries = custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap();
    let exporter = Running::start_with(Targets::Single(dsn(&pg, "postgres")), queries);
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    exporter.wait_metrics("the slow query to fail", |b| {
        b.contains(&format!(
            "hubble_collector_up{{{server},collector=\"app_slow\"}} 0"
        ))
    });
    // statement_timeout (the collection timeout, 300 ms) ends it on the server: runs restart every interval,
    // but none lives past the timeout, and none piles up.
    let sleeping = || {
        pg.count(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{APPLICATION_NAME}' \
                 AND state = 'active' AND query LIKE '%pg_sleep(30)%' AND now() - query_start > interval '1 second'"
            ),
        )
    };
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        sleeping(),
        0,
        "a timed-out query still runs in the database"
    );
    exporter.stop();
}

#[test]
fn prometheus_naming_is_promtool_clean() {
    let pg = PgCluster::start(&[]);
    pg.psql(
        "postgres",
        "CREATE TABLE users (id int); INSERT INTO users VALUES (1); ANALYZE users;",
    );
    let exporter = Running::start_full(
        Targets::Single(dsn(&pg, "postgres")),
        Vec::new(),
        Naming::Prometheus,
    );
    let ready = || {
        get(exporter.addr, "/-/ready", &[])
            .ok()
            .filter(|r| r.status == 200)
    };
    wait_for(
        Duration::from_secs(20),
        "every collector's first run",
        ready,
    );
    let body = exporter.wait_metrics("renamed families", |b| {
        b.contains("# TYPE pg_stat_database_xact_commit_total counter")
            && b.contains("pg_stat_user_tables_n_live_tup{")
    });
    assert!(
        body.contains("# TYPE pg_locks gauge") && body.contains("# TYPE pg_stat_activity gauge"),
        "{body}"
    );
    assert_eq!(promtool_check(body.as_bytes()), "", "promtool complaints");
    exporter.stop();
}

#[test]
fn the_password_never_shows_in_logs() {
    let pg = PgCluster::start(&[]);
    pg.stop();
    let secret = "l0g-s3cr3t-pw";
    let addr = support::free_addr();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
        .env(
            "DATA_SOURCE_NAME",
            format!(
                "postgresql://postgres:{secret}@127.0.0.1:{}/postgres?sslmode=disable",
                pg.port
            ),
        )
        .args([
            "--web.listen-address",
            &addr.to_string(),
            "--collection.interval",
            "300ms",
            "--log.level",
            "debug",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let child = support::KillOnDrop::new(child);
    // Down, then up: failure and recovery logs.
    let down = format!(
        "hubble_collector_up{{server=\"127.0.0.1:{}\",collector=\"pg_stat_database\"}} 0",
        pg.port
    );
    wait_for(Duration::from_secs(30), "a failed group", || {
        get(addr, "/metrics", &[])
            .ok()
            .filter(|r| r.text().contains(&down))
    });
    pg.restart();
    wait_for(Duration::from_secs(30), "recovery", || {
        get(addr, "/metrics", &[]).ok().filter(|r| {
            r.text()
                .contains(&format!("pg_up{{server=\"127.0.0.1:{}\"}} 1", pg.port))
        })
    });
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.into_inner().wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Down, then back: once for the target, not once per collector.
    assert!(
        logs.contains("target unreachable") && logs.contains("target reachable again"),
        "{logs}"
    );
    assert_eq!(
        logs.matches("msg=\"target unreachable\"").count(),
        1,
        "{logs}"
    );
    assert!(
        logs.contains("postgres:***@"),
        "the DSN is logged redacted: {logs}"
    );
    assert!(!logs.contains(secret), "password in the logs:\n{logs}");
}

#[test]
fn disable_default_metrics_keeps_pg_up_and_custom_queries_only() {
    let pg = PgCluster::start(&[]);
    let yaml = "app_one:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n";
    let collection = Collection {
        custom_queries: custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap(),
        disable_default_metrics: true,
        pool_size: 1,
        ..running::test_collection()
    };
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let body = exporter.wait_metrics("pg_up and the custom query", |b| {
        b.contains("pg_up{") && b.contains("app_one_v{")
    });
    assert!(
        !body.contains("pg_stat_database") && !body.contains("pg_settings_"),
        "{body}"
    );
    exporter.stop();
}

#[test]
fn collectors_are_turned_on_and_off_by_postgres_exporters_names() {
    let pg = PgCluster::start(&[]);
    let mut collection = running::test_collection();
    collection.collectors.set("settings", false).unwrap();
    collection.collectors.set("locks", false).unwrap();
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let body = exporter.wait_rounds(2.0);
    assert!(
        !body.contains("pg_settings_") && !body.contains("pg_locks_count"),
        "{body}"
    );
    assert!(body.contains("pg_stat_activity_count{"), "{body}");
    exporter.stop();
}

#[test]
fn a_least_privilege_role_with_pg_monitor_runs_every_default_collector() {
    let pg = PgCluster::start(&[]);
    pg.psql(
        "postgres",
        "CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon; CREATE ROLE nobody LOGIN;",
    );
    let as_user = |user: &str| -> Dsn {
        format!(
            "postgresql://{user}@127.0.0.1:{}/postgres?sslmode=disable",
            pg.port
        )
        .parse()
        .unwrap()
    };
    let exporter = Running::start(Targets::Single(as_user("mon")));
    let body = exporter.wait_rounds(2.0);
    let down: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("hubble_collector_up{") && l.ends_with(" 0"))
        .collect();
    assert!(down.is_empty(), "failing with pg_monitor: {down:?}");
    assert!(body.contains("pg_wal_segments{"), "{body}");
    exporter.stop();
    // Without pg_monitor the WAL directory is closed: that collector fails alone, naming the grant.
    let exporter = Running::start(Targets::Single(as_user("nobody")));
    let page = wait_for(Duration::from_secs(30), "the wal collector down", || {
        let page = get(exporter.addr, "/", &[]).ok()?.text();
        page.contains("GRANT EXECUTE ON FUNCTION pg_ls_waldir")
            .then_some(page)
    });
    assert!(
        page.contains("or GRANT pg_monitor TO the exporter"),
        "{page}"
    );
    let body = get(exporter.addr, "/metrics", &[]).unwrap().text();
    assert!(body.contains("pg_up{"), "{body}");
    exporter.stop();
}

#[test]
fn a_group_over_the_series_limit_is_dropped_and_shown_down() {
    let pg = PgCluster::start(&[]);
    // One series per row: 50 rows against a limit of 20. The other group stays within it.
    let yaml = "app_rows:\n  query: \"SELECT g::text AS id, g AS v FROM generate_series(1, 50) g\"\n  metrics:\n    - id: {usage: LABEL, description: Row}\n    - v: {usage: GAUGE, description: Value}\napp_one:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n";
    let base = running::test_collection();
    let collection = Collection {
        schedule: Schedule {
            max_series: 20,
            ..base.schedule
        },
        custom_queries: custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap(),
        disable_default_metrics: true,
        pool_size: 1,
        ..base
    };
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let body = exporter.wait_metrics("app_rows down, app_one up", |b| {
        b.lines().any(|l| {
            l.starts_with("hubble_collector_up{")
                && l.contains("collector=\"app_rows\"")
                && l.ends_with(" 0")
        }) && b.contains("app_one_v{")
    });
    assert!(!body.contains("app_rows_v{"), "{body}");
    let status = get(exporter.addr, "/", &[]).unwrap().text();
    // The status page says which limit, and the flag that raises it.
    assert!(
        status.contains(
            "produced 50 series, more than the limit of 20: the run is dropped \
             (narrow the query or raise --collection.max-series)"
        ),
        "{status}"
    );
    exporter.stop();
}

/// By default there is no series limit, as postgres_exporter has none: a database of 1,000 tables keeps
/// every table's statistics (21,000 series in pg_stat_user_tables, over the former default limit of 10,000).
#[test]
fn every_table_of_a_large_database_is_exported_by_default() {
    let pg = PgCluster::start(&[]);
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "DO $$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format('CREATE TABLE t%s (id int)', i); END LOOP; END $$",
    );
    let collection = Collection {
        schedule: Schedule {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            ..Schedule::default()
        },
        ..running::test_collection()
    };
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "app")), collection);
    let body = exporter.wait_metrics("1,000 tables", |b| {
        b.matches("pg_stat_user_tables_seq_scan{").count() == 1000
    });
    let series = body
        .lines()
        .filter(|l| l.starts_with("pg_stat_user_tables_"))
        .count();
    assert!(series > 10_000, "{series} series");
    assert!(body.lines().any(|l| l.starts_with("hubble_collector_up{")
        && l.contains("collector=\"pg_stat_user_tables\"")
        && l.ends_with(" 1")));
    exporter.stop();
}

/// A standby promoted while the exporter runs: `pg_replication_is_replica` and the standby-only collector
/// follow without a restart (the WAL receiver goes from up to not applicable, never down).
#[test]
fn a_promoted_standby_is_followed_without_a_restart() {
    let primary = PgCluster::start(&[]);
    let standby = primary.replica(None);
    let mut collection = running::test_collection();
    collection
        .collectors
        .set("stat_wal_receiver", true)
        .unwrap();
    let exporter =
        Running::start_collection(Targets::Single(dsn(&standby, "postgres")), collection);
    // The collector's health line (`hubble_collector_up{server=..,collector="pg_stat_wal_receiver"} 1`).
    let receiver = |family: &'static str, value: &'static str| {
        move |l: &str| {
            l.starts_with(family)
                && l.contains("collector=\"pg_stat_wal_receiver\"}")
                && l.ends_with(value)
        }
    };
    let body = exporter.wait_metrics("the standby's WAL receiver", |b| {
        b.lines()
            .any(|l| l.starts_with("pg_replication_is_replica{") && l.ends_with(" 1"))
            && b.lines().any(receiver("hubble_collector_up{", " 1"))
    });
    assert!(body.contains("pg_stat_wal_receiver_flushed_lsn{"), "{body}");
    // The load balancers' endpoints: 200 in the role asked, 404 in the other.
    let status = |path: &str| get(exporter.addr, path, &[]).unwrap().status;
    assert_eq!((status("/replica"), status("/primary")), (200, 404));
    let server = format!("127.0.0.1:{}", standby.port);
    assert_eq!(status(&format!("/replica?target={server}")), 200);
    assert_eq!(status("/replica?target=127.0.0.1:1"), 400, "not a target");

    standby.promote();
    let body = exporter.wait_metrics("the promotion", |b| {
        b.lines()
            .any(|l| l.starts_with("pg_replication_is_replica{") && l.ends_with(" 0"))
            && b.lines()
                .any(receiver("hubble_collector_not_applicable{", " 1"))
    });
    assert!(
        !body.contains("pg_stat_wal_receiver_flushed_lsn{"),
        "{body}"
    );
    assert_eq!((status("/replica"), status("/primary")), (404, 200));
    assert!(
        !body
            .lines()
            .any(|l| l.starts_with("hubble_collector_up{") && l.ends_with(" 0")),
        "{body}"
    );
    // Down: 503, whatever the role asked.
    standby.stop();
    assert_eq!((status("/replica"), status("/primary")), (503, 503));
    exporter.stop();
}

/// A `pg_settings_*` series as postgres_exporter 0.20.1 makes it from a row of `pg_settings`
/// (`collector/pg_setting.go`): `.` and `-` become `_`; booleans 1 or 0; numbers converted to seconds or
/// bytes with the unit's suffix, except -1 (disabled), which stays -1; a unit it does not know is skipped.
fn upstream_setting(name: &str, setting: &str, unit: &str, vartype: &str) -> Option<(String, f64)> {
    let name = format!("pg_settings_{}", name.replace(['.', '-'], "_"));
    if vartype == "bool" {
        return Some((name, if setting == "on" { 1.0 } else { 0.0 }));
    }
    let value: f64 = setting.parse().ok()?;
    let (suffix, factor) = match unit {
        "" => ("", 1.0),
        "ms" => ("_seconds", 1e-3),
        "s" => ("_seconds", 1.0),
        "min" => ("_seconds", 60.0),
        "h" => ("_seconds", 3600.0),
        "d" => ("_seconds", 86400.0),
        "B" => ("_bytes", 1.0),
        "kB" | "1kB" => ("_bytes", 1024.0),
        "2kB" => ("_bytes", 2048.0),
        "4kB" => ("_bytes", 4096.0),
        "8kB" => ("_bytes", 8192.0),
        "16kB" => ("_bytes", 16384.0),
        "32kB" => ("_bytes", 32768.0),
        "64kB" => ("_bytes", 65536.0),
        "MB" => ("_bytes", 1048576.0),
        "16MB" => ("_bytes", 16777216.0),
        "32MB" => ("_bytes", 33554432.0),
        "64MB" => ("_bytes", 67108864.0),
        "GB" => ("_bytes", 1073741824.0),
        "TB" => ("_bytes", 1099511627776.0),
        _ => return None,
    };
    let value = if value == -1.0 { -1.0 } else { value * factor };
    Some((format!("{name}{suffix}"), value))
}

#[test]
fn every_setting_is_the_servers_own_converted_as_postgres_exporter_does() {
    // Disabled settings (-1) in several units, and a role-level setting a session of the exporter's user gets.
    let pg = PgCluster::start(&[
        "log_min_duration_statement=-1",
        "temp_file_limit=-1",
        "work_mem=8MB",
    ]);
    pg.psql("postgres", "ALTER ROLE postgres SET lock_timeout = '3s'");
    // A session of our own, which changed nothing: the values postgres_exporter's session would read.
    let rows = pg.rows(
        "postgres",
        "SELECT name, setting, COALESCE(unit, ''), vartype FROM pg_settings \
         WHERE vartype IN ('bool', 'integer', 'real') \
           AND name NOT IN ('sync_commit_cancel_wait', 'google_dataplex.max_messages')",
    );
    let want: std::collections::BTreeMap<String, f64> = rows
        .iter()
        .filter_map(|r| upstream_setting(&r[0], &r[1], &r[2], &r[3]))
        .collect();
    assert!(want.len() > 150, "only {} settings", want.len());
    assert_eq!(want["pg_settings_statement_timeout_seconds"], 0.0);
    assert_eq!(want["pg_settings_lock_timeout_seconds"], 3.0);
    assert_eq!(want["pg_settings_log_min_duration_statement_seconds"], -1.0);

    let exporter = Running::start(Targets::Single(dsn(&pg, "postgres")));
    let body = exporter.wait_metrics("pg_settings", |b| {
        b.contains("pg_settings_max_connections{")
    });
    let got: std::collections::BTreeMap<String, f64> = body
        .lines()
        .filter(|l| l.starts_with("pg_settings_"))
        .map(|l| {
            let name = &l[..l.find('{').unwrap()];
            let value = l.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
            (name.to_owned(), value)
        })
        .collect();
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    let differ: Vec<String> = want
        .iter()
        .filter(|(k, v)| (got[*k] - **v).abs() > 1e-9 * v.abs().max(1.0))
        .map(|(k, v)| format!("{k}: server {v}, exported {}", got[k]))
        .collect();
    assert!(
        differ.is_empty(),
        "on {}:\n{}",
        pg.version_num(),
        differ.join("\n")
    );
    exporter.stop();
}

/// A postgres_exporter 0.20.1 deployment's command line and environment start as they are: the server from
/// DATA_SOURCE_URI / DATA_SOURCE_USER / DATA_SOURCE_PASS_FILE (as the community Helm chart sets them), its
/// --constantLabels on every series, --collection-timeout, --metric-prefix on the custom queries, two
/// --web.listen-address, JSON logs. A real Prometheus scraping it stores the text format's names, and the
/// official dashboards' counter queries have data.
#[test]
fn a_postgres_exporter_deployment_starts_and_prometheus_stores_its_names() {
    use std::process::{Command, Stdio};
    let pg = PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "not-needed-with-trust\n").unwrap();
    let queries = dir.path().join("queries.yaml");
    std::fs::write(
        &queries,
        "pg_custom:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n",
    )
    .unwrap();
    let (a, b) = (support::free_addr(), support::free_addr());
    let log = tempfile::NamedTempFile::new().unwrap();
    let exporter = support::KillOnDrop::new(
        Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
            .env_remove("DATA_SOURCE_NAME")
            .env(
                "DATA_SOURCE_URI",
                format!("127.0.0.1:{}/postgres?sslmode=disable", pg.port),
            )
            .env("DATA_SOURCE_USER", "postgres")
            .env("DATA_SOURCE_PASS_FILE", &pass)
            .env("PG_EXPORTER_EXTEND_QUERY_PATH", &queries)
            .args([
                "--constantLabels=env=test,team=db",
                "--collection-timeout=5s",
                "--metric-prefix=acme",
                "--collection.interval=1s",
                "--log.format=json",
            ])
            .arg(format!("--web.listen-address={a}"))
            .arg(format!("--web.listen-address={b}"))
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    let body = support::wait_showing(
        Duration::from_secs(30),
        "pg_up 1 and the custom query",
        || {
            let body = get(a, "/metrics", &[])
                .map(|r| r.text())
                .unwrap_or_default();
            if body.contains("pg_up{") && body.contains("acme_custom_v{") {
                Ok(body)
            } else {
                Err(body)
            }
        },
    );
    assert!(
        body.lines().any(|l| l.starts_with("pg_up{")
            && l.contains(&server)
            && l.contains("env=\"test\"")
            && l.contains("team=\"db\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    let without: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("pg_") || l.starts_with("acme_"))
        .filter(|l| !(l.contains("env=\"test\"") && l.contains("team=\"db\"")))
        .collect();
    assert!(
        without.is_empty(),
        "series without the constant labels: {without:?}"
    );
    assert!(!body.contains("pg_custom_v"), "{body}");
    assert!(get(b, "/metrics", &[]).unwrap().text().contains("pg_up{"));

    let prometheus = Prometheus::scraping(a);
    let names = prometheus.assert_stores_the_text_names(a, "/metrics");
    for counter in [
        "pg_stat_database_xact_commit",
        "pg_stat_database_blks_hit",
        "pg_stat_database_tup_fetched",
    ] {
        assert!(names.contains(counter), "{counter} not stored");
        assert!(!names.contains(&format!("{counter}_total")));
    }
    // The postgres_mixin dashboard's and alerts' counter queries.
    for query in [
        "rate(pg_stat_database_xact_commit[1m])",
        "rate(pg_stat_database_xact_rollback[1m])",
        "rate(pg_stat_database_blks_hit[1m])",
        "rate(pg_stat_database_tup_fetched[1m])",
        "rate(pg_stat_database_deadlocks[1m])",
        "pg_stat_database_numbackends",
        "pg_up == 1",
    ] {
        wait_for(Duration::from_secs(30), query, || {
            (!prometheus.results(query).is_empty()).then_some(())
        });
    }
    drop(prometheus);
    drop(exporter);
    let log = std::fs::read_to_string(log.path()).unwrap();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        assert!(v["msg"].is_string() && v["level"].is_string(), "{line}");
    }
    assert!(log.contains("deprecated"), "{log}");
}

/// --dumpmaps lists every collector and its families without connecting anywhere, and exits.
#[test]
fn dumpmaps_lists_the_collectors_and_exits() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
        .env_remove("DATA_SOURCE_NAME")
        .args([
            "--dumpmaps",
            "--dsn",
            "postgresql://nobody@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "pg_stat_database\n",
        "  pg_stat_database_xact_commit ",
        "\npg_settings\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
}

/// `stat_replication` has postgres_exporter 0.20.1's labels (the slot a standby streams through included);
/// with `--collector.stat_replication.pid`, also the WAL sender's `pid` that upstream adds after 0.20.1.
#[test]
fn stat_replication_names_the_slot_and_optionally_the_pid() {
    let primary = PgCluster::start(&[]);
    primary.psql(
        "postgres",
        "SELECT pg_create_physical_replication_slot('standby_slot', true)",
    );
    let _standby = primary.replica(Some("standby_slot"));
    let sender_pid = primary.rows(
        "postgres",
        "SELECT pid FROM pg_stat_replication WHERE application_name = 'replica'",
    )[0][0]
        .clone();
    for pid in [false, true] {
        let collection = Collection {
            stat_replication_pid: pid,
            ..running::test_collection()
        };
        let exporter =
            Running::start_collection(Targets::Single(dsn(&primary, "postgres")), collection);
        let body = exporter.wait_metrics("the standby's lag", |b| {
            b.contains("pg_stat_replication_pg_wal_lsn_diff{")
        });
        let line = body
            .lines()
            .find(|l| l.starts_with("pg_stat_replication_pg_wal_lsn_diff{"))
            .unwrap();
        assert!(
            line.contains("application_name=\"replica\"")
                && line.contains("slot_name=\"standby_slot\"")
                && line.contains("state=\"streaming\""),
            "{line}"
        );
        assert_eq!(
            line.contains(&format!("pid=\"{sender_pid}\"")),
            pid,
            "{line}"
        );
        exporter.stop();
    }
}

/// `settings` reads `pg_settings` again only once the configuration was loaded since (a reload): between
/// reloads its runs are one short statement and its series stay, up, renewed.
#[test]
fn settings_are_read_again_only_after_a_reload() {
    let pg = PgCluster::start(&["log_statement=all"]);
    let mut collection = running::test_collection();
    collection
        .collectors
        .set_interval("settings", Duration::from_millis(300))
        .unwrap();
    // Each statement on its own, so the server's log has one entry per read (a batch's entry holds them all).
    collection.batch = false;
    let exporter = Running::start_config(running::config(
        Targets::Single(dsn(&pg, "postgres")),
        collection,
    ));
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    exporter.wait_metrics("maintenance_work_mem at its default, 64MB", |b| {
        b.contains(&format!(
            "pg_settings_maintenance_work_mem_bytes{{{server}}} 67108864\n"
        ))
    });
    let log = pg.dir().join("server.log");
    let reads = || {
        let text = std::fs::read_to_string(&log).unwrap();
        let checks = text.matches("pg_conf_load_time()").count();
        (text.matches("FROM pg_settings) s").count(), checks)
    };
    // Ten runs and more at 300 ms: each asks for the load time, none reads pg_settings again.
    wait_for(Duration::from_secs(20), "ten load-time checks", || {
        (reads().1 >= 10).then_some(())
    });
    assert_eq!(reads().0, 1, "pg_settings read again without a reload");
    let body = get(exporter.addr, "/metrics", &[]).unwrap().text();
    assert!(
        body.lines().any(|l| l.starts_with("hubble_collector_up{")
            && l.contains("collector=\"pg_settings\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    assert!(body.contains(&format!(
        "pg_settings_maintenance_work_mem_bytes{{{server}}} 67108864\n"
    )));

    // ALTER SYSTEM refuses to run in a transaction block: two commands. (A setting given on the server's
    // command line would not move: the command line outranks postgresql.auto.conf.)
    pg.psql("postgres", "ALTER SYSTEM SET maintenance_work_mem = '32MB'");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    exporter.wait_metrics("maintenance_work_mem at 32MB after the reload", |b| {
        b.contains(&format!(
            "pg_settings_maintenance_work_mem_bytes{{{server}}} 33554432\n"
        ))
    });
    assert_eq!(reads().0, 2, "one read for the reload");
    exporter.stop();
}
