//! The exporter against Debian's PgBouncer in front of a throwaway PostgreSQL: its families with
//! pgbouncer_exporter's names and labels, `promtool check metrics` clean, the password kept out of metrics and
//! logs, and PgBouncer going away shown as `pgbouncer_up 0` without the process going down.

use std::process::{Command, Stdio};
use std::time::Duration;

use hubble_test_support::pg::PgCluster;
use hubble_test_support::pgbouncer::PgBouncer;
use hubble_test_support::{
    free_addr, get, promtool_check, scrape, start_exporter, wait_line, wait_showing, KillOnDrop,
};

const PASSWORD: &str = "s3cret-Pw";

#[test]
fn exports_pgbouncer_with_its_names_and_survives_it_going_away() {
    let pg = PgCluster::start(&[]);
    pg.psql("postgres", "CREATE ROLE alice LOGIN");
    pg.psql("postgres", "CREATE DATABASE app OWNER alice");
    let bouncer = PgBouncer::start(pg.port, &["app"], &["postgres", "alice"], "postgres");

    // A client through PgBouncer: one query pooled, then the connection held open (an active client).
    let mut client = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &bouncer.url("alice", "app"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    {
        use std::io::Write;
        let stdin = client.stdin.as_mut().unwrap();
        stdin.write_all(b"SELECT 1;\n").unwrap();
        stdin.flush().unwrap();
    }
    let client = KillOnDrop::new(client);

    let (addr, second) = (free_addr(), free_addr());
    let log = tempfile::NamedTempFile::new().unwrap();
    let exporter = KillOnDrop::new(
        Command::new(env!("CARGO_BIN_EXE_pgbouncer_exporter"))
            .arg("--pgBouncer.connectionString")
            .arg(format!(
                "postgres://postgres:{PASSWORD}@127.0.0.1:{}/pgbouncer?sslmode=disable",
                bouncer.port
            ))
            .args(["--web.listen-address", &addr.to_string()])
            .args(["--collection.interval", "1s", "--log.level", "debug"])
            // The toolkit's and promslog's flags, as deployments carry them.
            .arg(format!("--web.listen-address={second}"))
            .arg("--log.format=json")
            .arg("--pgBouncer.pid-file")
            .arg(bouncer.pid_file())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let expected = [
        "pgbouncer_up 1".to_owned(),
        "pgbouncer_version_info{version=\"PgBouncer ".to_owned(),
        format!(
            "pgbouncer_databases_pool_size{{database=\"app\",force_user=\"\",host=\"127.0.0.1\",name=\"app\",pool_mode=\"\",port=\"{}\"}} 5",
            pg.port
        ),
        "pgbouncer_stats_totals_queries_pooled_total{database=\"app\"} ".to_owned(),
        "pgbouncer_stats_totals_queries_duration_seconds_total{database=\"app\"} ".to_owned(),
        // The names before pgbouncer_exporter 0.11, which its dashboards still ask for.
        "pgbouncer_stats_queries_pooled_total{database=\"app\"} ".to_owned(),
        "pgbouncer_pools_client_active_connections{database=\"app\",user=\"alice\"} 1".to_owned(),
        "pgbouncer_pools_server_active_connections{database=\"app\",user=\"alice\"} ".to_owned(),
        // psql names itself: the client's group (its collector may run before psql connects: waited for).
        "pgbouncer_client_connections{application_name=\"psql\",database=\"app\",state=\"active\",user=\"alice\"} 1"
            .to_owned(),
        "pgbouncer_config_max_client_connections 50".to_owned(),
        "pgbouncer_databases 2".to_owned(),
        "pgbouncer_used_clients ".to_owned(),
        "hubble_collector_up{collector=\"pools\"} 1".to_owned(),
        // PgBouncer's own process, from its pid file.
        "pgbouncer_process_resident_memory_bytes ".to_owned(),
        "pgbouncer_process_start_time_seconds ".to_owned(),
        "pgbouncer_process_open_fds ".to_owned(),
    ];
    let body = wait_showing(Duration::from_secs(30), "every family", || {
        let body = scrape(addr);
        match expected
            .iter()
            .find(|e| !body.lines().any(|l| l.starts_with(e.as_str())))
        {
            None => Ok(body),
            Some(missing) => Err(format!("missing {missing:?} in:\n{body}")),
        }
    });
    let complaints = promtool_check(body.as_bytes());
    assert!(complaints.is_empty(), "promtool: {complaints}");
    // The second listen address serves the same exporter.
    assert!(scrape(second).contains("pgbouncer_up 1"));
    // What a real Prometheus stores (it asks for OpenMetrics first) is what the text format shows.
    let prometheus = hubble_test_support::Prometheus::scraping(addr);
    let names = prometheus.assert_stores_the_text_names(addr, "/metrics");
    for name in [
        "pgbouncer_stats_queries_pooled_total",
        "pgbouncer_pools_client_active_connections",
    ] {
        assert!(names.contains(name), "{name} not stored: {names:?}");
    }
    drop(prometheus);
    // The admin console's query statistics: every collector's SHOW went over the simple protocol, or the
    // console would have refused it and the family would be missing.
    for family in [
        "pgbouncer_stats_totals_",
        "pgbouncer_pools_",
        "pgbouncer_databases_",
        "pgbouncer_config_",
    ] {
        assert!(body.contains(&format!("# TYPE {family}")), "{family}");
    }

    // PgBouncer goes away: pgbouncer_up 0, its families gone, the exporter still serving.
    drop(client);
    drop(bouncer);
    let body = wait_showing(Duration::from_secs(30), "pgbouncer_up 0", || {
        let body = scrape(addr);
        if body.lines().any(|l| l == "pgbouncer_up 0") && !body.contains("pgbouncer_pools_") {
            Ok(body)
        } else {
            Err(body)
        }
    });
    assert!(
        body.contains("hubble_collector_up{collector=\"pools\"} 0"),
        "{body}"
    );
    drop(exporter);
    let log = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        !body.contains(PASSWORD) && !log.contains(PASSWORD),
        "the password leaked:\n{log}"
    );
    assert!(log.contains("exporting one PgBouncer"), "{log}");
    // --log.format=json: every line an object with promslog's fields.
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        for field in ["time", "level", "source", "msg"] {
            assert!(v[field].is_string(), "no {field} in {line}");
        }
    }
}

#[test]
fn a_bad_connection_string_is_a_one_line_error_naming_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgbouncer_exporter"))
        .args([
            "--pgBouncer.connectionString",
            "mysql://x:hunter2@127.0.0.1/db",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pgBouncer.connectionString"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // A misspelt collector is named with the one meant.
    let out = Command::new(env!("CARGO_BIN_EXE_pgbouncer_exporter"))
        .arg("--no-collector.client")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: unknown flag --no-collector.client; did you mean --no-collector.clients? (see --help)"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn discovered_pgbouncers_get_their_own_exporter_and_labels() {
    let pg = PgCluster::start(&[]);
    let a = PgBouncer::start(pg.port, &["postgres"], &["postgres"], "postgres");
    let b = PgBouncer::start(pg.port, &["postgres"], &["postgres"], "postgres");
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("bouncers.yml");
    let write = |ports: &[u16]| {
        let targets: Vec<String> = ports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
        std::fs::write(
            &sd,
            format!(
                "- targets: [{}]\n  labels: {{job: pgbouncer, env: test}}\n",
                targets.join(", ")
            ),
        )
        .unwrap();
    };
    write(&[a.port, b.port]);
    let addr = free_addr();
    let _exporter = KillOnDrop::new(
        Command::new(env!("CARGO_BIN_EXE_pgbouncer_exporter"))
            // The template of every discovered PgBouncer: its host and port are the target's.
            .args([
                "--pgBouncer.connectionString",
                "postgres://postgres@127.0.0.1:1/pgbouncer?sslmode=disable",
            ])
            .arg("--discovery.file")
            .arg(&sd)
            .args(["--discovery.interval", "1s", "--collection.interval", "1s"])
            .args(["--web.listen-address", &addr.to_string()])
            // Two collectors off, for every discovered PgBouncer.
            .args(["--no-collector.lists", "--no-collector.clients"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ups = |body: &str| -> Vec<String> {
        body.lines()
            .filter(|l| {
                l.starts_with("pgbouncer_up{") && l.contains("env=\"test\"") && l.ends_with(" 1")
            })
            .map(str::to_owned)
            .collect()
    };
    let body = wait_showing(Duration::from_secs(30), "both PgBouncers up", || {
        let body = scrape(addr);
        let pools = body
            .matches("\npgbouncer_pools_client_active_connections{")
            .count();
        if ups(&body).len() == 2 && pools >= 2 {
            Ok(body)
        } else {
            Err(body)
        }
    });
    // The collectors turned off run nowhere; the rest do.
    for absent in [
        "pgbouncer_used_clients",
        "pgbouncer_client_connections",
        "collector=\"lists\"",
        "collector=\"clients\"",
    ] {
        assert!(!body.contains(absent), "{absent} in {body}");
    }
    assert!(body.contains("collector=\"pools\""), "{body}");
    // The status page lists them as off, with the flag that turns each back on.
    let page = get(addr, "/", &[]).unwrap().text();
    assert!(
        page.contains("<code>--collector.clients</code>")
            && page.contains("<code>--no-collector.pools</code>"),
        "{page}"
    );
    // One leaves the file: its series go, the other's stay.
    write(&[a.port]);
    let body = wait_showing(Duration::from_secs(30), "one PgBouncer left", || {
        let body = scrape(addr);
        if ups(&body).len() == 1 {
            Ok(body)
        } else {
            Err(body)
        }
    });
    assert!(
        ups(&body)[0].contains(&format!("server=\"127.0.0.1:{}\"", a.port)),
        "{body}"
    );
    drop(b);
}

/// `/probe?target=host:port` reaches the PgBouncers `--probe.allowed-targets` allows, with the connection
/// string's credentials, and refuses the rest (403, counted) before connecting to them.
#[test]
fn probes_reach_allowed_pgbouncers_only() {
    let pg = PgCluster::start(&[]);
    let bouncer = PgBouncer::start(pg.port, &["postgres"], &["postgres"], "postgres");
    let allowed = format!("--probe.allowed-targets=127.0.0.1:{}", bouncer.port);
    let (_exporter, addr) = start_exporter(
        env!("CARGO_BIN_EXE_pgbouncer_exporter"),
        &[
            "--pgBouncer.connectionString",
            "postgres://postgres@127.0.0.1:1/pgbouncer?sslmode=disable",
            &allowed,
        ],
        &[],
    );
    let probe = |target: &str| {
        wait_showing(Duration::from_secs(30), "the exporter serving", || {
            get(addr, &format!("/probe?target={target}"), &[]).map_err(|e| e.to_string())
        })
    };
    let allowed = probe(&format!("127.0.0.1:{}", bouncer.port));
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let body = allowed.text();
    assert!(body.lines().any(|l| l == "pgbouncer_up 1"), "{body}");
    assert!(
        body.contains("pgbouncer_pools_client_active_connections{"),
        "{body}"
    );
    let refused = probe(&format!("127.0.0.1:{}", pg.port));
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(probe("no-port").status, 400);
    let own = scrape(addr);
    assert!(
        own.lines()
            .any(|l| l == "hubble_probes_refused_total{reason=\"not_allowed\"} 1"),
        "{own}"
    );
    // The probed PgBouncer's series are not on /metrics, where its own target (port 1, down) is.
    let own = wait_line(addr, "pgbouncer_up 0");
    assert!(!own.contains("pgbouncer_up 1"), "{own}");
}

/// A PgBouncer that accepts clients only over TLS (`client_tls_sslmode = require`): verified with the CA
/// given as `sslrootcert`, and a connection string without TLS is refused, shown as `pgbouncer_up 0`.
#[test]
fn reaches_a_pgbouncer_that_requires_tls() {
    let pki = hubble_test_support::pki::Pki::generate();
    let pg = PgCluster::start(&[]);
    let bouncer = PgBouncer::start_tls(pg.port, &["postgres"], &["postgres"], "postgres", &pki);
    let run = |params: &str| {
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/pgbouncer?{params}",
            bouncer.port
        );
        start_exporter(
            env!("CARGO_BIN_EXE_pgbouncer_exporter"),
            &["--pgBouncer.connectionString", &url],
            &[],
        )
    };
    let (exporter, addr) = run(&format!(
        "sslmode=verify-full&sslrootcert={}",
        pki.path("ca.crt").display()
    ));
    wait_line(addr, "pgbouncer_up 1");
    let body = scrape(addr);
    assert!(body.contains("pgbouncer_pools_client_active_connections{"));
    assert!(
        body.lines()
            .any(|l| l == "hubble_target_tls{mode=\"verify-full\"} 1"),
        "{body}"
    );
    drop(exporter);
    let (exporter, addr) = run("sslmode=disable");
    wait_line(addr, "pgbouncer_up 0");
    drop(exporter);
}
