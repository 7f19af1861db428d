//! The exporter against Debian's Pgpool-II in front of a throwaway PostgreSQL primary and standby: its families
//! with pgpool2_exporter's names and labels, a standby detached mid-run, and every panel of the Grafana dashboard
//! in pgpool2_exporter's repository answered by a real Prometheus scraping it.

use std::process::Command;

use hubble_test_support::pg::PgCluster;
use hubble_test_support::pgpool::Pgpool;
use hubble_test_support::{
    free_addr, promtool_check, spawn_exporter, start_exporter, wait_lines, Prometheus,
};

/// The expressions of pgpool2_exporter 1.2.2's `dashboards/pgpool2.json`, one per panel target, with its
/// `$backend_nodes` variable (`label_values(pgpool2_pool_nodes_status{}, hostname)`) as `.*`.
const DASHBOARD: [&str; 25] = [
    "pgpool2_pool_nodes_status",
    "pgpool2_frontend_used_ratio",
    "pgpool2_frontend_used",
    "pgpool2_frontend_total",
    "pgpool2_pool_nodes_replication_delay{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_error_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_fatal_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_panic_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_select_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_delete_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_insert_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_update_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_ddl_cnt{hostname=~\".*\"}",
    "pgpool2_pool_backend_stats_other_cnt{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_total_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_success_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_fail_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_skip_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_retry_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_max_retry_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_average_retry_count{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_average_duration{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_min_duration{hostname=~\".*\"}",
    "pgpool2_pool_health_check_stats_max_duration{hostname=~\".*\"}",
    "pgpool2_pool_cache_cache_hit_ratio",
];

/// pgpool2_exporter's counters, whose names lack the `_total` promtool asks for: kept, as its dashboard
/// queries them.
const COUNTERS_AS_UPSTREAM: [&str; 10] = [
    "pgpool2_pool_nodes_select_cnt",
    "pgpool2_pool_backend_stats_select_cnt",
    "pgpool2_pool_backend_stats_insert_cnt",
    "pgpool2_pool_backend_stats_update_cnt",
    "pgpool2_pool_backend_stats_delete_cnt",
    "pgpool2_pool_backend_stats_ddl_cnt",
    "pgpool2_pool_backend_stats_other_cnt",
    "pgpool2_pool_backend_stats_panic_cnt",
    "pgpool2_pool_backend_stats_fatal_cnt",
    "pgpool2_pool_backend_stats_error_cnt",
];

#[test]
fn exports_pgpool_as_pgpool2_exporter_and_follows_a_detached_node() {
    let primary = PgCluster::start(&[]);
    let standby = primary.replica(None);
    let pool = Pgpool::start(&[primary.port, standby.port]);
    // A client through Pgpool-II: statements of each kind reach the backends' counters (one per query:
    // Pgpool-II counts a query string by its first statement).
    for sql in [
        "CREATE TABLE t (id int)",
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET id = 2",
        "DELETE FROM t",
    ] {
        pool.psql(sql).unwrap();
    }

    let log = tempfile::NamedTempFile::new().unwrap();
    let dsn = format!(
        "postgresql://postgres:not-Used-Pa55@127.0.0.1:{}/postgres?sslmode=disable",
        pool.port
    );
    let (_exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_pgpool2_exporter"), |c| {
        // Its log is read at the end.
        c.env("DATA_SOURCE_NAME", &dsn)
            .stderr(log.reopen().unwrap());
    });
    let node = |port: u16, role: &str| {
        format!("{{hostname=\"127.0.0.1\",port=\"{port}\",role=\"{role}\"}}")
    };
    let (p, s) = (node(primary.port, "primary"), node(standby.port, "standby"));
    let body = wait_lines(
        addr,
        &[
            format!("pgpool2_pool_nodes_status{s} 1"),
            format!("pgpool2_pool_nodes_status{p} 1"),
            "pgpool2_up 1".to_owned(),
            format!("pgpool2_pool_backend_stats_insert_cnt{p} 1"),
            format!("pgpool2_pool_backend_stats_update_cnt{p} 1"),
            format!("pgpool2_pool_backend_stats_delete_cnt{p} 1"),
            format!("pgpool2_pool_backend_stats_status{s} 1"),
            format!("pgpool2_pool_health_check_stats_fail_count{s} 0"),
            "pgpool2_frontend_total 4".to_owned(),
            "pgpool2_backend_total 16".to_owned(),
            "pgpool2_pool_cache_num_cache_hits 0".to_owned(),
            // The exporter's own connection is a frontend in use, with its backend slots.
            "pgpool2_frontend_used{database=\"postgres\",username=\"postgres\"} 1".to_owned(),
        ],
    );
    assert!(
        body.contains("# TYPE pgpool2_pool_backend_stats_ddl_cnt counter"),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("pgpool2_backend_by_process_used{")
                && l.contains("username=\"postgres\"")),
        "{body}"
    );
    for name in [
        "pgpool2_pool_health_check_stats_average_duration",
        "pgpool2_pool_health_check_stats_success_count",
        "pgpool2_backend_used_ratio",
        "pgpool2_frontend_used_ratio",
        "pgpool2_pool_nodes_replication_delay",
    ] {
        assert!(body.contains(&format!("\n{name}")), "no {name} in\n{body}");
    }
    // The text parses; promtool's only complaints are the suffix lints of upstream's names (counters without
    // `_total`, gauges with `_total` or `_count`), never hubble's own families.
    for complaint in promtool_check(body.as_bytes()).lines() {
        let name = complaint.split(' ').next().unwrap_or("");
        let upstream = name.starts_with("pgpool2_") && complaint.ends_with(" suffix");
        assert!(upstream, "{complaint}");
        if complaint.ends_with("counter metrics should have \"_total\" suffix") {
            assert!(COUNTERS_AS_UPSTREAM.contains(&name), "{complaint}");
        }
    }
    // The password given never shows, nor in the log.
    assert!(!body.contains("not-Used-Pa55"));

    // The operator detaches the standby: its status turns 0, Pgpool-II and the primary stay up.
    pool.detach(1);
    wait_lines(
        addr,
        &[
            format!("pgpool2_pool_nodes_status{s} 0"),
            format!("pgpool2_pool_nodes_status{p} 1"),
            "pgpool2_up 1".to_owned(),
        ],
    );
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(!logged.contains("not-Used-Pa55"), "{logged}");
}

#[test]
fn every_panel_of_pgpool2_exporters_dashboard_gets_data_from_a_real_prometheus() {
    let primary = PgCluster::start(&[]);
    let standby = primary.replica(None);
    let pool = Pgpool::start(&[primary.port, standby.port]);
    // pgpool2_exporter's other form: user, password and the rest apart.
    let uri = format!("127.0.0.1:{}/postgres?sslmode=disable", pool.port);
    let (_exporter, addr) = start_exporter(
        env!("CARGO_BIN_EXE_pgpool2_exporter"),
        &[],
        &[
            ("DATA_SOURCE_USER", "postgres"),
            ("DATA_SOURCE_PASS", ""),
            ("DATA_SOURCE_URI", &uri),
        ],
    );
    // Every collector has run before Prometheus looks (they finish their first runs one after another).
    let collectors = [
        "pgpool2_up",
        "pool_nodes",
        "pool_backend_stats",
        "pool_health_check_stats",
        "pool_cache",
        "pool_processes",
        "pool_pools",
    ];
    wait_lines(
        addr,
        &collectors.map(|c| format!("hubble_collector_up{{collector=\"{c}\"}} 1")),
    );
    let prometheus = Prometheus::with_job(&format!(
        "job_name: pgpool\nstatic_configs:\n  - targets: ['{addr}']\n"
    ));
    prometheus.assert_stores_the_text_names(addr, "/metrics");
    let nodes: Vec<String> = prometheus
        .results("pgpool2_pool_nodes_status")
        .iter()
        .filter_map(|r| r["metric"]["hostname"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        nodes,
        ["127.0.0.1", "127.0.0.1"],
        "the dashboard's variable"
    );
    let empty: Vec<&str> = DASHBOARD
        .iter()
        .copied()
        .filter(|expr| prometheus.query(expr).is_none())
        .collect();
    assert!(empty.is_empty(), "panels without data: {empty:?}");
}

#[test]
fn a_missing_data_source_is_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgpool2_exporter"))
        .env_remove("DATA_SOURCE_NAME")
        .env_remove("DATA_SOURCE_URI")
        .args(["--web.listen-address", &free_addr().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATA_SOURCE_NAME"), "{stderr}");
}
