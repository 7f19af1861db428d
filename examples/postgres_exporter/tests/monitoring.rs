//! The alerts and dashboard shipped in `monitoring/`, and those of the postgres mixin postgres_exporter's
//! users run: promtool accepts our rules, and every metric a rule or a panel selects is in the exporter's
//! output (default collectors and names) on a test cluster, so none can silently select nothing.

mod running;

use hubble_test_support as support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use postgres_exporter::app::Targets;
use running::{dsn, Running};
use support::pg::PgCluster;

fn monitoring(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("monitoring")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Metric names in PromQL: identifiers starting `pg_` or `hubble_` (no label, function or keyword does).
fn selected(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if (word.starts_with("pg_") || word.starts_with("hubble_")) && c != '=' {
            out.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    out
}

#[test]
fn promql_metric_names_are_found() {
    assert_eq!(
        selected("sum by (server) (rate(pg_a_total{server=~\"$x\"}[5m])) > 0.9 * hubble_b"),
        BTreeSet::from(["pg_a_total".to_owned(), "hubble_b".to_owned()])
    );
}

#[test]
fn rules_pass_promtool_and_every_selected_metric_is_exported() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring/alerts.yml");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (Debian's prometheus package)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let mut wanted: Vec<(String, String)> = Vec::new();
    let alerts: serde_json::Value = hubble::yaml::from_str(&monitoring("alerts.yml")).unwrap();
    for rule in alerts["groups"][0]["rules"].as_array().unwrap() {
        let what = format!("alert {}", rule["alert"].as_str().unwrap());
        for m in selected(rule["expr"].as_str().unwrap()) {
            wanted.push((what.clone(), m));
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(&monitoring("dashboard.json")).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    for panel in panels {
        let what = format!("panel {:?}", panel["title"].as_str().unwrap());
        for target in panel["targets"].as_array().unwrap() {
            for m in selected(target["expr"].as_str().unwrap()) {
                wanted.push((what.clone(), m));
            }
        }
    }
    let variables = &dashboard["templating"]["list"];
    for v in variables.as_array().unwrap() {
        if let Some(q) = v["query"].as_str() {
            for m in selected(q) {
                wanted.push((format!("variable {}", v["name"]), m));
            }
        }
    }

    for m in POSTGRES_MIXIN {
        wanted.push(("the postgres mixin".into(), m.into()));
    }

    let pg = PgCluster::start(&[]);
    pg.psql(
        "postgres",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1); \
         SELECT pg_create_physical_replication_slot('standby1', true);",
    );
    let exporter = Running::start(Targets::Single(dsn(&pg, "postgres")));
    let body = exporter.wait_rounds(2.0);
    exporter.stop();
    let exported: BTreeSet<&str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(_, m)| !exported.contains(m.as_str()))
        .map(|(what, m)| format!("{what} selects {m}"))
        .collect();
    assert!(
        missing.is_empty(),
        "on PostgreSQL {}: {missing:#?}",
        pg.version_num()
    );
    // The mixin filters these by database and groups everything by `server` (its instance labels).
    for m in MIXIN_BY_DATABASE {
        let line = body
            .lines()
            .find(|l| l.starts_with(&format!("{m}{{")))
            .unwrap_or_else(|| panic!("{m} missing"));
        assert!(
            line.contains("datname=\"") && line.contains("server=\""),
            "{line}"
        );
    }
}

/// Every metric the postgres mixin in postgres_exporter's repository (`postgres_mixin/`: its alerts and its
/// overview dashboard) selects, as of postgres_exporter 0.20. Its users' alerts and panels select something
/// here on every major: on 17 and later postgres_exporter stops exporting the `pg_stat_bgwriter` checkpoint
/// and backend families, hubble keeps them (from `pg_stat_checkpointer` and `pg_stat_io`).
const POSTGRES_MIXIN: [&str; 29] = [
    "pg_exporter_last_scrape_error",
    "pg_locks_count",
    "pg_replication_is_replica",
    "pg_replication_lag",
    "pg_replication_slots_active",
    "pg_settings_autovacuum_vacuum_scale_factor",
    "pg_settings_autovacuum_vacuum_threshold",
    "pg_settings_max_connections",
    "pg_settings_max_locks_per_transaction",
    "pg_settings_superuser_reserved_connections",
    "pg_stat_activity_count",
    "pg_stat_activity_max_tx_duration",
    "pg_stat_bgwriter_buffers_alloc_total",
    "pg_stat_bgwriter_buffers_backend_fsync_total",
    "pg_stat_bgwriter_buffers_backend_total",
    "pg_stat_bgwriter_buffers_checkpoint_total",
    "pg_stat_bgwriter_buffers_clean_total",
    "pg_stat_bgwriter_checkpoints_req_total",
    "pg_stat_bgwriter_checkpoints_timed_total",
    "pg_stat_database_blks_hit",
    "pg_stat_database_conflicts",
    "pg_stat_database_deadlocks",
    "pg_stat_database_numbackends",
    "pg_stat_database_tup_deleted",
    "pg_stat_database_tup_fetched",
    "pg_stat_database_tup_inserted",
    "pg_stat_database_tup_returned",
    "pg_stat_database_tup_updated",
    "pg_stat_database_xact_commit",
];

/// Families the mixin filters with `datname!~"template.*"`.
const MIXIN_BY_DATABASE: [&str; 5] = [
    "pg_stat_activity_max_tx_duration",
    "pg_locks_count",
    "pg_stat_database_xact_rollback",
    "pg_stat_database_blks_hit",
    "pg_stat_database_deadlocks",
];

/// Every query of hubble's own mixin (`hubble/monitoring/`): its alerts' expressions and its dashboard's
/// panels, the dashboard's `$job` as `.*`.
fn hubble_mixin() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hubble/monitoring");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let alerts: serde_json::Value = hubble::yaml::from_str(&read("alerts.yml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&read("dashboard.json")).unwrap();
    let mut out: Vec<(String, String)> = alerts["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let what = format!("alert {}", r["alert"].as_str().unwrap());
            (what, r["expr"].as_str().unwrap().to_owned())
        })
        .collect();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let what = format!("panel {:?}", panel["title"].as_str().unwrap());
            out.push((what, target["expr"].as_str().unwrap().replace("$job", ".*")));
        }
    }
    out
}

/// hubble's own mixin against a real Prometheus scraping this exporter over a discovered server, with a
/// failing custom query, a collector whose extension is missing, refused probes and a discovery file gone
/// bad: every metric it selects is stored, and every alert expression and panel query returns data, but
/// for the states listed with the reason the test cannot make them.
#[test]
fn hubbles_mixin_gets_data_from_a_real_prometheus() {
    const CANNOT: [(&str, &str); 2] = [
        (
            "alert HubbleCollectorStale",
            "needs a collector without success for 15 minutes",
        ),
        (
            "alert HubbleConfigReloadFailed",
            "needs a failed reload (operations.rs reloads a bad file)",
        ),
    ];
    let pg = PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.yml");
    let targets = format!(
        "- targets: ['127.0.0.1:{}']\n  labels: {{name: one}}\n",
        pg.port
    );
    std::fs::write(&file, &targets).unwrap();
    let mut collection = running::test_collection();
    collection.custom_queries = postgres_exporter::custom::parse(
        Path::new("q.yaml"),
        "app_broken:\n  query: \"SELECT x FROM nowhere\"\n  metrics:\n    - x: {usage: GAUGE, description: Never}\n",
    )
    .unwrap();
    // pg_stat_statements is not installed: not applicable.
    collection.collectors.set("stat_statements", true).unwrap();
    let exporter = Running::start_collection(Targets::File(file.clone()), collection);
    exporter.wait_metrics("the broken query down", |b| {
        b.contains("collector=\"app_broken\"} 0") && b.contains("hubble_probes_refused_total")
    });
    let prometheus = support::Prometheus::scraping(exporter.addr);
    // The counters are stored at their first values before anything moves them, so rates see the moves.
    support::wait_for(
        std::time::Duration::from_secs(30),
        "the counters stored",
        || {
            let stored = prometheus.stored_names();
            (stored.contains("hubble_probes_refused_total")
                && stored.contains("hubble_discovery_errors_total"))
            .then_some(())
        },
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    for path in ["/probe?target=192.0.2.1:5432", "/probe"] {
        for _ in 0..3 {
            let status = support::get(exporter.addr, path, &[]).unwrap().status;
            assert!(status == 403 || status == 400, "{path}: {status}");
        }
    }
    std::fs::write(&file, "- targets: [unclosed\n").unwrap();

    let queries = hubble_mixin();
    assert!(queries.len() >= 19);
    for (what, expr) in &queries {
        let names: BTreeSet<String> = selected(expr)
            .into_iter()
            .filter(|n| n.starts_with("hubble_"))
            .collect();
        for name in &names {
            assert!(
                !prometheus.results(name).is_empty(),
                "{what}: {name} is not stored"
            );
        }
        if let Some((_, why)) = CANNOT.iter().find(|(w, _)| w == what) {
            eprintln!("{what}: no data expected here: {why}");
            continue;
        }
        support::wait_for(
            std::time::Duration::from_secs(30),
            &format!("{what}: {expr}"),
            || (!prometheus.results(expr).is_empty()).then_some(()),
        );
    }
    exporter.stop();
}

/// The queries of postgres_exporter 0.20.1's postgres mixin (`postgres_mixin/`), listed here: the
/// overview dashboard's 15 with Grafana's `$db`, `$job` and `$instance` as `.*` and `$__rate_interval` as
/// `1m`, and the expressions its 15 alerts compare (17: two compare two), a condition on the role turned
/// to hold on a healthy primary, with the mixin's defaults (group by `job`, `instance`, `server`;
/// `datname!~"template.*"`).
fn postgres_mixin() -> Vec<(&'static str, String)> {
    const DB: &str = "{datname=~\".*\",job=~\".*\",instance=~\".*\"}";
    const ANY: &str = "{job=~\".*\",instance=~\".*\"}";
    const NO_TEMPLATES: &str = "{datname!~\"template.*\"}";
    const AGG: &str = "job, instance, server";
    let mut out: Vec<(&'static str, String)> = Vec::new();
    out.push(("QPS", format!("sum(irate(pg_stat_database_xact_commit{DB}[1m])) + sum(irate(pg_stat_database_xact_rollback{DB}[1m]))")));
    for m in ["fetched", "returned", "inserted", "updated", "deleted"] {
        out.push((
            "Rows",
            format!("sum(irate(pg_stat_database_tup_{m}{DB}[1m]))"),
        ));
    }
    for m in ["alloc", "backend_fsync", "backend", "clean", "checkpoint"] {
        out.push((
            "Buffers",
            format!("irate(pg_stat_bgwriter_buffers_{m}_total{ANY}[1m])"),
        ));
    }
    for m in ["deadlocks", "conflicts"] {
        out.push((
            "Conflicts/Deadlocks",
            format!("sum(pg_stat_database_{m}{DB})"),
        ));
    }
    out.push((
        "Cache hit ratio",
        format!(
            "round(sum by (datname) (rate(pg_stat_database_blks_hit{DB}[1m])) / (sum by (datname)(rate(pg_stat_database_blks_hit{DB}[1m])) + sum by (datname)(rate(pg_stat_database_blks_read{DB}[1m])))*100,0.001)"
        ),
    ));
    out.push((
        "Number of active connections",
        format!("pg_stat_database_numbackends{DB}"),
    ));
    let limit = format!("sum by ({AGG}) (pg_settings_max_connections) - sum by ({AGG}) (pg_settings_superuser_reserved_connections)");
    out.extend([
        ("alert PostgreSQLMaxConnectionsReached", format!("sum by ({AGG}) (pg_stat_activity_count)")),
        ("alert PostgreSQLMaxConnectionsReached", limit.clone()),
        ("alert PostgreSQLHighConnections", format!("({limit}) * 0.8")),
        ("alert PostgreSQLDown", "pg_up".to_owned()),
        ("alert PostgreSQLSlowQueries", format!("avg by (datname, {AGG}) (rate(pg_stat_activity_max_tx_duration{NO_TEMPLATES}[2m]))")),
        ("alert PostgreSQLQPS", format!("avg by (datname, {AGG}) (irate(pg_stat_database_xact_commit{NO_TEMPLATES}[5m]) + irate(pg_stat_database_xact_rollback{NO_TEMPLATES}[5m]))")),
        ("alert PostgreSQLCacheHitRatio", format!("avg by (datname, {AGG}) (rate(pg_stat_database_blks_hit{NO_TEMPLATES}[5m]) / (rate(pg_stat_database_blks_hit{NO_TEMPLATES}[5m]) + rate(pg_stat_database_blks_read{NO_TEMPLATES}[5m])))")),
        ("alert PostgresHasTooManyRollbacks", format!("avg without(pod, instance) (rate(pg_stat_database_xact_rollback{NO_TEMPLATES}[5m]) / (rate(pg_stat_database_xact_commit{NO_TEMPLATES}[5m]) + rate(pg_stat_database_xact_rollback{NO_TEMPLATES}[5m])))")),
        ("alert PostgresHasHighDeadLocks", format!("max without(pod, instance) (rate(pg_stat_database_deadlocks{NO_TEMPLATES}[5m]) * 60)")),
        ("alert PostgresAcquiredTooManyLocks", format!("max by(datname,job,instance,server) ((pg_locks_count{NO_TEMPLATES}) / on(job,instance) group_left(server) (pg_settings_max_locks_per_transaction{{}} * pg_settings_max_connections{{}}))")),
        ("alert PostgresReplicationLaggingMore1Hour", format!("pg_replication_lag{{}} and on ({AGG}) (pg_replication_is_replica{{}} == 0)")),
        ("alert PostgresHasReplicationSlotUsed", "pg_replication_slots_active{}".to_owned()),
        ("alert PostgresReplicationRoleChanged", "pg_replication_is_replica{} and changes(pg_replication_is_replica{}[1m]) == 0".to_owned()),
        ("alert PostgresHasExporterErrors", "pg_exporter_last_scrape_error{}".to_owned()),
        ("alert PostgresTablesNotVaccumed", format!("pg_stat_user_tables_n_live_tup{{}} * on({AGG}) group_left pg_settings_autovacuum_vacuum_scale_factor{{}} + on({AGG}) group_left pg_settings_autovacuum_vacuum_threshold{{}}")),
        ("alert PostgresTablesNotVaccumed", "pg_stat_user_tables_n_dead_tup{}".to_owned()),
        ("alert PostgresTooManyCheckpointsRequested", "rate(pg_stat_bgwriter_checkpoints_timed_total{}[5m]) / (rate(pg_stat_bgwriter_checkpoints_timed_total{}[5m]) + rate(pg_stat_bgwriter_checkpoints_req_total{}[5m]))".to_owned()),
    ]);
    out
}

/// The postgres mixin against a real Prometheus scraping this exporter (default collectors and names) over
/// a server with a table, writes and a replication slot: every dashboard query and every expression its
/// alerts compare returns data. On every major of the matrix (17 and 18 moved the bgwriter's columns:
/// the `pg_stat_bgwriter` collector keeps their old names, so the Buffers panels keep working).
#[test]
fn the_postgres_mixin_gets_data_from_a_real_prometheus() {
    let pg = PgCluster::start(&[]);
    pg.psql(
        "postgres",
        "CREATE TABLE app (id int PRIMARY KEY, v text); INSERT INTO app SELECT g, 'x' FROM generate_series(1, 100) g;
         DELETE FROM app WHERE id <= 10; SELECT pg_create_physical_replication_slot('standby_slot');",
    );
    let exporter = Running::start(Targets::Single(dsn(&pg, "postgres")));
    exporter.wait_metrics("pg_up", |b| b.contains("pg_up{"));
    let prometheus = support::Prometheus::scraping(exporter.addr);
    for _ in 0..3 {
        pg.psql(
            "postgres",
            "UPDATE app SET v = 'y' WHERE id = 20; SELECT count(*) FROM app;",
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let queries = postgres_mixin();
    assert_eq!(
        queries.len(),
        32,
        "the dashboard's 16 queries and the alerts' 16 comparisons"
    );
    for (what, expr) in &queries {
        support::wait_for(
            std::time::Duration::from_secs(30),
            &format!("{what}: {expr}"),
            || (!prometheus.results(expr).is_empty()).then_some(()),
        );
    }
    exporter.stop();
}
