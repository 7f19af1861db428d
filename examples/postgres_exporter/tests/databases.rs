//! `--auto-discover-databases` on a real cluster: the database-local groups in every database with a
//! `datname` label, within the connection budget; databases created and dropped during a run; filters; a
//! role that may connect to some databases only; per-database custom queries.

mod running;

use hubble_test_support as support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use postgres_exporter::app::Targets;
use postgres_exporter::custom;
use postgres_exporter::databases::DatabaseFilter;
use running::{dsn, our_connections, Running};
use support::pg::PgCluster;

/// Databases with series of `family` in `body`.
fn databases_of(body: &str, family: &str) -> BTreeSet<String> {
    body.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .filter_map(|l| l.split("datname=\"").nth(1)?.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The most backends the exporter had at once, sampled for `window`.
fn peak_connections(pg: &PgCluster, window: Duration) -> usize {
    let until = Instant::now() + window;
    let mut peak = 0;
    while Instant::now() < until {
        peak = peak.max(our_connections(pg));
        std::thread::sleep(Duration::from_millis(20));
    }
    peak
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn with_table(pg: &PgCluster, db: &str) {
    pg.psql("postgres", &format!("CREATE DATABASE {db}"));
    pg.psql(
        db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10); ANALYZE t",
    );
}

#[test]
fn every_database_within_the_connection_budget() {
    let pg = PgCluster::start(&[]);
    for db in ["app1", "app2", "app3", "skipped"] {
        with_table(&pg, db);
    }
    pg.psql("postgres", "CREATE DATABASE closed");
    pg.psql("postgres", "ALTER DATABASE closed ALLOW_CONNECTIONS false");
    let queries = custom::parse(
        std::path::Path::new("queries.yaml"),
        "app_rows:\n  query: SELECT count(*)::float8 AS n FROM pg_class WHERE relname = 't'\n  \
         per_database: true\n  metrics:\n    - n:\n        usage: GAUGE\n        description: tables named t\n",
    )
    .unwrap();
    let mut collection = running::test_collection();
    collection.custom_queries = queries;
    collection.pool_size = 2;
    collection
        .collectors
        .set("statio_user_indexes", true)
        .unwrap();
    collection.databases = Some(DatabaseFilter {
        include: vec![],
        exclude: vec!["skipped".into()],
    });
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let all = set(&["app1", "app2", "app3", "postgres"]);
    let apps = set(&["app1", "app2", "app3"]);
    // Every group answered in every database (on a loaded machine a group may miss a round: wait for one
    // where none did).
    let body = exporter.wait_metrics("every database, every group", |b| {
        [
            "pg_stat_user_tables_n_live_tup",
            "pg_statio_user_tables_heap_blocks_hit",
            "pg_statio_user_indexes_idx_blks_hit_total",
        ]
        .iter()
        .all(|family| databases_of(b, family) == apps)
            && databases_of(b, "app_rows_n") == all
            && b.lines()
                .filter(|l| l.starts_with("pg_exporter_database_up{"))
                .all(|l| l.ends_with(" 1"))
    });
    // Every database-local group, with datname, in every database (above); never in the excluded or closed
    // ones.
    assert_eq!(
        databases_of(&body, "pg_exporter_database_up"),
        all,
        "{body}"
    );
    // Server-wide groups once: one pg_database_size_bytes per database, from the connected one.
    let sizes = body
        .lines()
        .filter(|l| l.starts_with("pg_database_size_bytes{") && l.contains("datname=\"app1\""))
        .count();
    assert_eq!(sizes, 1, "{body}");

    // The budget: never more than --target.max-connections backends, sampled over several rounds.
    let peak = peak_connections(&pg, Duration::from_secs(3));
    assert!((1..=2).contains(&peak), "peak backends {peak}");

    // A database created appears, one dropped goes (its kept connection closed, so DROP does not wait).
    with_table(&pg, "app4");
    pg.psql("postgres", "DROP DATABASE app2 WITH (FORCE)");
    let body = exporter.wait_metrics("app4 in, app2 out", |b| {
        databases_of(b, "pg_stat_user_tables_n_live_tup") == set(&["app1", "app3", "app4"])
            && databases_of(b, "pg_exporter_database_up")
                == set(&["app1", "app3", "app4", "postgres"])
    });
    assert!(
        body.lines().any(|l| l.starts_with("hubble_collector_up{")
            && l.contains("collector=\"pg_database_local\"}")
            && l.ends_with(" 1")),
        "{body}"
    );
    exporter.stop();
}

#[test]
fn a_role_sees_the_databases_it_may_connect_to() {
    let pg = PgCluster::start(&[]);
    for db in ["open1", "open2", "private"] {
        with_table(&pg, db);
    }
    pg.psql(
        "postgres",
        "CREATE ROLE monitor LOGIN IN ROLE pg_monitor; REVOKE CONNECT ON DATABASE private FROM PUBLIC",
    );
    let mut target = dsn(&pg, "postgres");
    target.user = Some("monitor".into());
    let mut collection = running::test_collection();
    collection.databases = Some(DatabaseFilter {
        include: vec!["open1".into(), "private".into(), "postgres".into()],
        exclude: vec![],
    });
    let exporter = Running::start_collection(Targets::Single(target), collection);
    let body = exporter.wait_metrics("open1", |b| {
        databases_of(b, "pg_stat_user_tables_n_live_tup") == set(&["open1"])
    });
    // Included but not connectable: skipped, not failing; not included: not visited.
    assert_eq!(
        databases_of(&body, "pg_exporter_database_up"),
        set(&["open1", "postgres"])
    );
    exporter.stop();
}

#[test]
fn a_round_cut_short_keeps_the_budget() {
    let pg = PgCluster::start(&[]);
    for db in ["slow1", "slow2"] {
        pg.psql("postgres", &format!("CREATE DATABASE {db}"));
    }
    // Each visit to another database takes most of a round's 300 ms: every round is cut short in slow2,
    // its query still running on the server.
    let queries = custom::parse(
        std::path::Path::new("queries.yaml"),
        "slow:\n  query: SELECT 1::float8 AS n \
         FROM pg_sleep(CASE WHEN current_database() = 'postgres' THEN 0 ELSE 0.25 END)\n  per_database: true\n  metrics:\n    - n:\n        usage: GAUGE\n        \
         description: one\n",
    )
    .unwrap();
    let mut collection = running::test_collection();
    collection.custom_queries = queries;
    collection.disable_default_metrics = true;
    collection.pool_size = 2;
    collection.databases = Some(DatabaseFilter::default());
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    exporter.wait_metrics("two rounds cut short", |b| {
        b.lines().any(|l| {
            l.starts_with("hubble_collector_errors_total{")
                && l.contains("collector=\"slow\"")
                && l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) >= Some(2.0)
        })
    });
    let peak = peak_connections(&pg, Duration::from_secs(3));
    assert!((1..=2).contains(&peak), "peak backends {peak}");
    exporter.stop();
}

/// A database's groups go to it in one message a round (as plain SQL: with more databases than the budget
/// keeps, a connection may live for one round only).
#[test]
fn a_database_gets_its_groups_in_one_message() {
    let pg = PgCluster::start(&["log_statement=all", "log_line_prefix=%d:"]);
    for db in ["app1", "app2"] {
        with_table(&pg, db);
    }
    let mut collection = running::test_collection();
    collection.pool_size = 2;
    collection.databases = Some(DatabaseFilter::default());
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    exporter.wait_metrics("both databases' tables", |b| {
        let dbs = databases_of(b, "pg_statio_user_tables_heap_blocks_read");
        dbs.contains("app1") && dbs.contains("app2")
    });
    exporter.stop();
    // The server's log, each entry with its continuation lines (a message's statements, one a line).
    let log = std::fs::read_to_string(pg.dir().join("server.log")).unwrap();
    let mut entries: Vec<String> = Vec::new();
    for line in log.lines() {
        match entries.last_mut() {
            Some(entry) if line.starts_with('\t') => entry.push_str(line),
            _ => entries.push(line.to_owned()),
        }
    }
    let messages: Vec<&String> = entries
        .iter()
        .filter(|e| e.starts_with("app1:LOG:  statement:") && e.contains("user_tables"))
        .collect();
    assert!(!messages.is_empty(), "no statement logged for app1");
    for m in messages {
        assert!(
            m.contains("FROM pg_stat_user_tables") && m.contains("FROM pg_statio_user_tables"),
            "a message with one group only: {m}"
        );
    }
}
