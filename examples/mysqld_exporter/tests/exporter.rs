//! The exporter against Debian's MariaDB: mysqld_exporter's default families with their labels, the family
//! names of Debian's prometheus-mysqld-exporter 0.14 on the same server, no lint problem it does not have
//! too, the password kept out, and the server going away shown as `mysql_up 0`.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use hubble_test_support::mariadb::MariaDb;
use hubble_test_support::{
    free_addr, get, promtool_check, scrape, spawn_exporter, wait_line, wait_showing, KillOnDrop,
};

const PASSWORD: &str = "Exp0rter-s3cret";

fn families(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("mysql_") && !n.starts_with("mysql_exporter_"))
        .map(str::to_owned)
        .collect()
}

/// promtool's complaints, by metric name.
fn complaints(body: &str) -> BTreeSet<String> {
    promtool_check(body.as_bytes())
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn exports_the_default_families_like_mysqld_exporter() {
    let db = MariaDb::start();
    exporter_user(&db);
    let addr = free_addr();
    let log = tempfile::NamedTempFile::new().unwrap();
    let exporter = KillOnDrop::new(
        Command::new(env!("CARGO_BIN_EXE_mysqld_exporter"))
            .args(["--mysqld.address", &format!("127.0.0.1:{}", db.port)])
            .args(["--mysqld.username", "exporter"])
            .env("MYSQLD_EXPORTER_PASSWORD", PASSWORD)
            // No ~/.my.cnf of the machine's.
            .env("HOME", "/nonexistent")
            .args(["--web.listen-address", &addr.to_string()])
            .args(["--collection.interval", "1s", "--log.level", "debug"])
            // The variables the plugin installed below adds appear at global_variables' next run: every
            // second here, not the minute it runs at by default.
            .args(["--collection.intervals", "global_variables=1s"])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let expected = [
        "mysql_up 1",
        "mysql_global_status_uptime ",
        "mysql_global_status_commands_total{command=\"select\"} ",
        "mysql_global_status_handlers_total{handler=\"read_rnd\"} ",
        "mysql_global_status_buffer_pool_pages{state=\"free\"} ",
        "mysql_global_status_connection_errors_total{error=\"accept\"} 0",
        "mysql_global_variables_max_connections 151",
        "mysql_global_variables_innodb_buffer_pool_size 33554432",
        "mysql_version_info{innodb_version=\"",
        "mysql_transaction_isolation{level=\"REPEATABLE-READ\"} 1",
        "mysql_info_schema_innodb_cmp_compress_ops_total{page_size=\"1024\"} 0",
        "mysql_info_schema_innodb_cmpmem_pages_used_total{buffer_pool=\"0\",page_size=\"1024\"} 0",
        "hubble_collector_up{collector=\"slave_status\"} 1",
        // No TLS keys: not encrypted, and it says so.
        "hubble_target_tls{mode=\"disabled\"} 0",
        // Without the response time plugin its collector does not apply (waited for: the collectors'
        // first runs finish one by one, and an early scrape may come before this one's).
        "hubble_collector_not_applicable{collector=\"info_schema.query_response_time\"} 1",
    ];
    wait_showing(Duration::from_secs(30), "every family", || {
        let body = scrape(addr);
        match expected
            .iter()
            .find(|e| !body.lines().any(|l| l.starts_with(*e)))
        {
            None => Ok(body),
            Some(missing) => Err(format!("missing {missing:?} in:\n{body}")),
        }
    });

    // With the response time plugin, a histogram.
    db.sql("INSTALL SONAME 'query_response_time'; SET GLOBAL query_response_time_stats = ON; SELECT 1;");
    let body = wait_showing(
        Duration::from_secs(30),
        "the response time histogram",
        || {
            let body = scrape(addr);
            if body.contains("# TYPE mysql_info_schema_query_response_time_seconds histogram")
                && body
                    .contains("mysql_info_schema_query_response_time_seconds_bucket{le=\"+Inf\"} ")
            {
                Ok(body)
            } else {
                Err(body)
            }
        },
    );

    // Debian's mysqld_exporter 0.14 on the same server, same user: every family it exports, we export.
    let theirs_addr = free_addr();
    let theirs = Command::new("prometheus-mysqld-exporter")
        .env(
            "DATA_SOURCE_NAME",
            format!("exporter:{PASSWORD}@(127.0.0.1:{})/", db.port),
        )
        .args(["--web.listen-address", &theirs_addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Ok(theirs) = theirs {
        let _theirs = KillOnDrop::new(theirs);
        let their_body = wait_showing(Duration::from_secs(30), "mysqld_exporter 0.14", || {
            let b = scrape(theirs_addr);
            if b.contains("mysql_up 1") {
                Ok(b)
            } else {
                Err(b)
            }
        });
        let ours = families(&scrape(addr));
        // About 800 on MariaDB 10.11: a broken comparison would compare nothing.
        assert!(families(&their_body).len() > 500, "{their_body}");
        let missing: Vec<_> = families(&their_body).difference(&ours).cloned().collect();
        assert!(
            missing.is_empty(),
            "families mysqld_exporter 0.14 has and we lack: {missing:?}"
        );
        // promtool: no complaint that the incumbent's names do not earn too (drop-in names keep their lint).
        let ours = complaints(&body);
        let theirs = complaints(&their_body);
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        assert!(
            only_ours.is_empty(),
            "promtool complaints of ours only: {only_ours:?}"
        );
    } else {
        panic!("prometheus-mysqld-exporter not found (Debian package, see scripts/test.sh)");
    }

    // The server goes away: mysql_up 0, the exporter still serving.
    drop(db);
    let body = wait_showing(Duration::from_secs(30), "mysql_up 0", || {
        let body = scrape(addr);
        if body.lines().any(|l| l == "mysql_up 0") {
            Ok(body)
        } else {
            Err(body)
        }
    });
    drop(exporter);
    let log = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        !body.contains(PASSWORD) && !log.contains(PASSWORD),
        "the password leaked:\n{log}"
    );
    assert!(log.contains("exporting one MySQL server"), "{log}");
}

#[test]
fn a_missing_user_is_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_mysqld_exporter"))
        .args([
            "--config.my-cnf",
            "/dev/null",
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--mysqld.username"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_replica_shows_its_replication_status() {
    let primary = MariaDb::start_with(&["--log-bin=mysql-bin", "--server-id=1"]);
    let replica = MariaDb::start_with(&["--server-id=2", "--report-host=replica-1"]);
    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT); INSERT INTO app.t VALUES (1);");
    replica.sql(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', MASTER_PASSWORD='', \
         MASTER_USE_GTID=slave_pos; START SLAVE;",
        primary.port
    ));
    let (_exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        c.args(["--mysqld.address", &format!("127.0.0.1:{}", replica.port)])
            .args(["--mysqld.username", "root"])
            .env_remove("MYSQLD_EXPORTER_PASSWORD")
            .env("HOME", "/nonexistent");
    });
    let labels =
        "channel_name=\"\",connection_name=\"\",master_host=\"127.0.0.1\",master_uuid=\"\"";
    let expected = [
        format!("mysql_slave_status_slave_io_running{{{labels}}} 1"),
        format!("mysql_slave_status_slave_sql_running{{{labels}}} 1"),
        format!("mysql_slave_status_seconds_behind_master{{{labels}}} 0"),
        format!(
            "mysql_slave_status_master_port{{{labels}}} {}",
            primary.port
        ),
    ];
    let body = wait_showing(Duration::from_secs(30), "the replica's status", || {
        let body = scrape(addr);
        match expected
            .iter()
            .find(|e| !body.lines().any(|l| l == e.as_str()))
        {
            None => Ok(body),
            Some(missing) => Err(format!("missing {missing:?} in:\n{body}")),
        }
    });
    // MariaDB's GTID position, per domain and server: the primary is server 1 of domain 0.
    assert!(
        body.lines()
            .any(|l| l.starts_with("mysql_slave_status_gtid_slave_pos{")
                && l.contains("domain_id=\"0\"")
                && l.contains("server_id=\"1\"")),
        "{body}"
    );
    // The replica has the primary's rows: it is replicating, not just configured.
    assert_eq!(replica.sql("SELECT COUNT(*) FROM app.t"), "1", "{body}");
    // The primary's exporter lists the replica (slave_hosts), as it reports itself.
    let (_on_primary, primary_addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        as_root(c, &primary).arg("--collect.slave_hosts");
    });
    let body = hubble_test_support::wait_lines(
        primary_addr,
        &["hubble_collector_up{collector=\"slave_hosts\"} 1"],
    );
    let host = hubble_test_support::samples(&body)
        .into_iter()
        .find(|s| s.name == "mysql_heartbeat_mysql_slave_hosts_info")
        .unwrap_or_else(|| panic!("no replica listed:\n{body}"));
    assert_eq!(host.labels["server_id"], "2");
    assert_eq!(host.labels["slave_host"], "replica-1");
    assert_eq!(host.labels["master_id"], "1");
}

#[test]
fn the_web_config_guards_metrics_and_the_status_page() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  prometheus: '{}'\n",
            bcrypt::hash("scrape-pw", 4).unwrap()
        ),
    )
    .unwrap();
    let addr = free_addr();
    let _exporter = KillOnDrop::new(
        Command::new(env!("CARGO_BIN_EXE_mysqld_exporter"))
            .args(["--mysqld.address", &format!("127.0.0.1:{}", db.port)])
            .args(["--mysqld.username", "root"])
            .env_remove("MYSQLD_EXPORTER_PASSWORD")
            .env("HOME", "/nonexistent")
            .args(["--web.listen-address", &addr.to_string()])
            .arg("--web.config.file")
            .arg(&web)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let token = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "prometheus:scrape-pw",
    );
    let authorized = [("Authorization", format!("Basic {token}"))];
    let authorized: Vec<(&str, &str)> = authorized.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = wait_showing(
        Duration::from_secs(30),
        "mysql_up 1 with the password",
        || {
            let r = get(addr, "/metrics", &authorized).map_err(|e| e.to_string())?;
            let body = r.text();
            // Up, and the first global status run in (the collectors' first runs are spread out).
            if r.status == 200
                && body.lines().any(|l| l == "mysql_up 1")
                && body.contains("mysql_global_status_uptime ")
                && body.contains("mysql_version_info{")
            {
                Ok(body)
            } else {
                Err(format!("{} {body}", r.status))
            }
        },
    );
    assert!(body.contains("mysql_version_info{"), "{body}");
    assert_eq!(get(addr, "/metrics", &[]).unwrap().status, 401);
    assert_eq!(get(addr, "/", &[]).unwrap().status, 401);
    // The status page lists the collectors and how they fare.
    let page = get(addr, "/", &authorized).unwrap();
    assert_eq!(page.status, 200);
    let page = page.text();
    for collector in [
        "global_status",
        "slave_status",
        "info_schema.query_response_time",
    ] {
        assert!(
            page.contains(collector),
            "{collector} not on the status page:\n{page}"
        );
    }
}

/// The `exporter` user (password [`PASSWORD`]) with what the default collectors need.
fn exporter_user(db: &MariaDb) {
    monitoring_user(db, "exporter", PASSWORD);
}

fn monitoring_user(db: &MariaDb, user: &str, password: &str) {
    db.sql(&format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}';
         GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO '{user}'@'127.0.0.1';"
    ));
}

/// A monitoring `user` on `db`, and an option file in `dir` whose `[client.fleet]` section logs in as it.
fn fleet_user(
    db: &MariaDb,
    user: &str,
    password: &str,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    monitoring_user(db, user, password);
    let cnf = dir.join("my.cnf");
    std::fs::write(
        &cnf,
        format!("[client.fleet]\nuser = {user}\npassword = {password}\n"),
    )
    .unwrap();
    cnf
}

/// The exporter reading `cnf`, with no password from the environment.
fn with_option_file(cnf: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mysqld_exporter"));
    c.arg("--config.my-cnf")
        .arg(cnf)
        .env_remove("MYSQLD_EXPORTER_PASSWORD");
    c
}

#[test]
fn probe_reaches_allowed_targets_with_their_auth_module() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    // No [client]: a probe-only exporter.
    let cnf = fleet_user(&db, "prober", "probe-pw", dir.path());
    let addr = free_addr();
    let log = tempfile::NamedTempFile::new().unwrap();
    let exporter = KillOnDrop::new(
        with_option_file(&cnf)
            .args(["--probe.allowed-targets", &format!("127.0.0.1:{}", db.port)])
            .args(["--web.listen-address", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let probe = |query: &str| {
        wait_showing(Duration::from_secs(30), "an answer", || {
            get(addr, &format!("/probe?{query}"), &[]).map_err(|e| e.to_string())
        })
    };
    let ok = probe(&format!(
        "target=127.0.0.1:{}&auth_module=client.fleet",
        db.port
    ));
    let body = ok.text();
    assert_eq!(ok.status, 200, "{body}");
    assert!(body.lines().any(|l| l == "mysql_up 1"), "{body}");
    assert!(body.contains("mysql_global_status_uptime "), "{body}");
    // The exporter's own /metrics has no server of its own.
    let own = get(addr, "/metrics", &[]).unwrap().text();
    assert!(!own.contains("mysql_up"), "{own}");
    // `collect[]` selects collectors, as upstream: mysql_up stays.
    let only = probe(&format!(
        "target=127.0.0.1:{}&auth_module=client.fleet&collect[]=global_variables",
        db.port
    ))
    .text();
    assert!(only.lines().any(|l| l == "mysql_up 1"), "{only}");
    assert!(
        only.contains("mysql_global_variables_max_connections "),
        "{only}"
    );
    assert!(!only.contains("mysql_global_status_"), "{only}");
    // mysqld_exporter's `/metrics?target=` is answered as the probe, allowlist and all.
    let metrics = |query: &str| get(addr, &format!("/metrics?{query}"), &[]).unwrap();
    let same = metrics(&format!(
        "target=127.0.0.1:{}&auth_module=client.fleet",
        db.port
    ));
    assert_eq!(same.status, 200);
    assert!(
        same.text().lines().any(|l| l == "mysql_up 1"),
        "{}",
        same.text()
    );
    assert_eq!(
        metrics("target=127.0.0.1:1&auth_module=client.fleet").status,
        403
    );
    // Without auth_module, [client], which this option file lacks: refused, naming it.
    let client = metrics(&format!("target=127.0.0.1:{}", db.port));
    assert_eq!(client.status, 400, "{}", client.text());
    assert!(client.text().contains("client"), "{}", client.text());
    // Refusals, each before anything is done with the target.
    let other = probe("target=127.0.0.1:1&auth_module=client.fleet");
    assert_eq!(other.status, 403);
    assert!(other.text().contains("--probe.allowed-targets"));
    let module = probe(&format!(
        "target=127.0.0.1:{}&auth_module=client.nope",
        db.port
    ));
    assert_eq!(module.status, 400);
    assert!(module.text().contains("client.nope"));
    assert_eq!(probe("auth_module=client.fleet").status, 400);
    drop(exporter);
    let log = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        !log.contains("probe-pw") && !body.contains("probe-pw"),
        "{log}"
    );
    assert!(log.contains("probing a new target"), "{log}");
}

#[test]
fn discovered_servers_get_their_own_exporter_and_labels() {
    let db = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let cnf = fleet_user(&db, "fleet", "fleet-pw", dir.path());
    let sd = dir.path().join("targets.json");
    std::fs::write(
        &sd,
        format!(
            r#"[{{"targets": ["127.0.0.1:{}"], "labels": {{"job": "mysql", "env": "test", "__param_auth_module": "client.fleet"}}}}]"#,
            db.port
        ),
    )
    .unwrap();
    let addr = free_addr();
    let _exporter = KillOnDrop::new(
        with_option_file(&cnf)
            .arg("--discovery.file")
            .arg(&sd)
            .args(["--discovery.interval", "1s", "--collection.interval", "1s"])
            .args(["--web.listen-address", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let body = wait_showing(Duration::from_secs(30), "the discovered server", || {
        let body = scrape(addr);
        let up = body
            .lines()
            .find(|l| l.starts_with("mysql_up{"))
            .map(str::to_owned);
        // Up, and the first global status run in (the collectors' first runs are spread out).
        let status = body
            .lines()
            .any(|l| l.starts_with("mysql_global_status_uptime{") && l.contains("env=\"test\""))
            && body.contains("mysql_global_variables_max_connections{");
        match up {
            Some(l) if l.contains("env=\"test\"") && l.ends_with(" 1") && status => Ok(body),
            _ => Err(body),
        }
    });
    assert!(
        body.contains("mysql_global_variables_max_connections{"),
        "{body}"
    );
    // The target goes from the file: its series go.
    std::fs::write(&sd, "[]").unwrap();
    wait_showing(Duration::from_secs(30), "the target removed", || {
        let body = scrape(addr);
        if body.contains("mysql_up{") {
            Err(body)
        } else {
            Ok(())
        }
    });
}

/// Every line of a `--log.format=json` log is a JSON object with promslog's fields.
fn json_log(path: &std::path::Path) -> String {
    let log = std::fs::read_to_string(path).unwrap();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        for field in ["time", "level", "source", "msg"] {
            assert!(v[field].is_string(), "no {field} in {line}");
        }
    }
    log
}

/// A mysqld_exporter 0.20 command line starts as it is: toolkit and promslog flags (two listen addresses,
/// JSON logs), its --exporter.* and --timeout-offset flags, and --collect.* flags of its off-by-default collectors
/// and their options, each of which runs. (`--tls.insecure-skip-verify` asks for TLS, which this server lacks: the TLS
/// test has it.) A real Prometheus scraping it stores the names of the text format.
#[test]
fn a_mysqld_exporter_command_line_starts_and_prometheus_stores_its_names() {
    let db = MariaDb::start();
    exporter_user(&db);
    let (a, b) = (free_addr(), free_addr());
    let log = tempfile::NamedTempFile::new().unwrap();
    let exporter = KillOnDrop::new(
        Command::new(env!("CARGO_BIN_EXE_mysqld_exporter"))
            .args(["--mysqld.address", &format!("127.0.0.1:{}", db.port)])
            .args(["--mysqld.username", "exporter"])
            .env("MYSQLD_EXPORTER_PASSWORD", PASSWORD)
            .env("HOME", "/nonexistent")
            .arg(format!("--web.listen-address={a}"))
            .arg(format!("--web.listen-address={b}"))
            .args(["--log.format=json", "--log.level=info"])
            .args([
                "--timeout-offset=0.5",
                "--exporter.lock_wait_timeout=3",
                "--exporter.enable_lock_wait_timeout",
                "--exporter.log_slow_filter",
                "--exporter.query_timeout=5",
                "--exporter.max_open_connections=2",
                "--collect.info_schema.processlist",
                "--collect.info_schema.processlist.min_time=0",
                "--collect.perf_schema.eventsstatements",
                "--collect.perf_schema.eventsstatements.exclude_schemas=mysql",
                "--collect.perf_schema.eventsstatements.exclude_schemas=sys",
                "--collect.mysql.user",
                "--collect.mysql.user.privileges",
                "--no-collect.heartbeat",
                "--collection.interval=1s",
            ])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    for addr in [a, b] {
        wait_line(addr, "mysql_up 1");
    }
    // The session settings are in force on the exporter's connection (a failing SET would fail the connection).
    wait_showing(Duration::from_secs(30), "global status", || {
        let body = scrape(a);
        if body.contains("hubble_collector_up{collector=\"global_status\"} 1") {
            Ok(())
        } else {
            Err(body)
        }
    });

    // Every collector the command line turns on runs, mysql.user with its privileges among them.
    let body = hubble_test_support::wait_lines(
        a,
        &[
            "hubble_collector_up{collector=\"mysql.user\"} 1",
            "hubble_collector_up{collector=\"perf_schema.eventsstatements\"} 1",
        ],
    );
    assert!(
        body.contains("mysql_mysql_select_priv{hostmask=\"localhost\",mysql_user=\"root\"} 1"),
        "{body}"
    );
    let prometheus = hubble_test_support::Prometheus::scraping(a);
    let names = prometheus.assert_stores_the_text_names(a, "/metrics");
    for name in [
        "mysql_up",
        "mysql_global_status_commands_total",
        "mysql_global_variables_max_connections",
        "mysql_mysql_max_user_connections",
    ] {
        assert!(names.contains(name), "{name} not stored: {names:?}");
    }
    drop(prometheus);
    drop(exporter);
    let log = json_log(log.path());
    // Every collector of mysqld_exporter 0.20 is built: no flag is ignored.
    assert!(!log.contains("the flag is ignored"), "{log}");
}

/// A MariaDB that accepts only encrypted connections (`--require-secure-transport=ON`) with a certificate
/// from a test CA, reached as the option file's sections say: verified by `ssl-ca`; encrypted only with
/// `tls = skip-verify`; refused without TLS keys, and with a CA that did not sign the server's certificate.
#[test]
fn reaches_a_server_that_requires_tls_as_the_option_file_says() {
    let pki = hubble_test_support::pki::Pki::generate();
    let path = |f: &str| pki.path(f).display().to_string();
    let db = MariaDb::start_with(&[
        "--require-secure-transport=ON",
        &format!("--ssl-ca={}", path("ca.crt")),
        &format!("--ssl-cert={}", path("server.crt")),
        &format!("--ssl-key={}", path("server.key")),
    ]);
    exporter_user(&db);
    let dir = tempfile::tempdir().unwrap();
    let cnf = dir.path().join("my.cnf");
    let section =
        |name: &str, tls: &str| format!("[{name}]\nuser = exporter\npassword = {PASSWORD}\n{tls}");
    std::fs::write(
        &cnf,
        [
            section("client", &format!("ssl-ca = {}\n", path("ca.crt"))),
            section("client.plain", ""),
            section("client.skip", "tls = skip-verify\n"),
            section("client.rogue", &format!("ssl-ca = {}\n", path("rogue.crt"))),
        ]
        .concat(),
    )
    .unwrap();
    let target = format!("127.0.0.1:{}", db.port);
    let (exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        c.arg("--config.my-cnf")
            .arg(&cnf)
            .env_remove("MYSQLD_EXPORTER_PASSWORD")
            .args(["--mysqld.address", &target])
            .args(["--probe.allowed-targets", &target]);
    });
    // [client], verified by its CA: up, and encrypted as the server sees it.
    wait_showing(Duration::from_secs(30), "mysql_up 1 over TLS", || {
        let body = scrape(addr);
        if body.lines().any(|l| l == "mysql_up 1")
            && body.contains("hubble_target_tls{mode=\"verify-identity\"} 1")
        {
            Ok(())
        } else {
            Err(body)
        }
    });
    let probe = |module: &str| {
        let r = get(
            addr,
            &format!("/probe?target={target}&auth_module={module}"),
            &[],
        )
        .unwrap();
        assert_eq!(r.status, 200);
        r.text()
    };
    let up = |module: &str, want: &str| {
        wait_showing(Duration::from_secs(30), module, || {
            let body = probe(module);
            if body.lines().any(|l| l == want) {
                Ok(())
            } else {
                Err(body)
            }
        })
    };
    up("client.skip", "mysql_up 1");
    up("client.plain", "mysql_up 0");
    up("client.rogue", "mysql_up 0");
    drop(exporter);

    // --tls.insecure-skip-verify: every section encrypted, not verified, unless it says otherwise.
    let plain = dir.path().join("plain.cnf");
    std::fs::write(&plain, section("client", "")).unwrap();
    let (exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        c.arg("--config.my-cnf")
            .arg(&plain)
            .arg("--tls.insecure-skip-verify")
            .env_remove("MYSQLD_EXPORTER_PASSWORD")
            .args(["--mysqld.address", &target]);
    });
    wait_line(addr, "mysql_up 1");
    drop(exporter);
}

/// mysqld_exporter 0.20's `info_schema.processlist`, `binlog_size` and `heartbeat`, turned on by their flags,
/// on a server with binary logs, a long query running and a heartbeat row as pt-heartbeat writes it.
#[test]
fn processlist_binlog_and_heartbeat_collectors_as_mysqld_exporter_0_20() {
    let db = MariaDb::start_with(&["--log-bin=mysql-bin", "--server-id=7"]);
    db.sql(
        "CREATE DATABASE hb; CREATE TABLE hb.beat (ts varchar(26) NOT NULL, \
         server_id int unsigned NOT NULL PRIMARY KEY); \
         INSERT INTO hb.beat VALUES ('2026-01-02T03:04:05.500000', 7);",
    );
    let stored = db.sql("SELECT UNIX_TIMESTAMP('2026-01-02T03:04:05.500000')");
    // A client in a long query: a thread in state "User sleep".
    let sleeper = sleeping_client(&db);
    let (_exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        as_root(c, &db)
            .args(["--collect.info_schema.processlist", "--collect.binlog_size"])
            .args(["--collect.heartbeat", "--collect.heartbeat.database=hb"])
            .args(["--collect.heartbeat.table", "beat"])
            .arg("--no-collect.info_schema.processlist.processes_by_host");
    });
    let body = hubble_test_support::wait_lines(
        addr,
        &[
            "mysql_info_schema_processlist_threads{command=\"query\",state=\"user_sleep\"} 1",
            "mysql_binlog_files 1",
            "mysql_binlog_file_number 1",
            "hubble_collector_up{collector=\"heartbeat\"} 1",
            // mysqld_exporter's own self-metrics, beside hubble's.
            "mysql_exporter_collector_success{collector=\"collect.heartbeat\"} 1",
            "mysql_exporter_collector_success{collector=\"collect.binlog_size\"} 1",
        ],
    );
    assert!(
        body.lines().any(|l| l
            .starts_with("mysql_exporter_collector_duration_seconds{collector=\"connection\"} ")),
        "{body}"
    );
    let value = |prefix: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{body}"))
    };
    assert!(value("mysql_binlog_size_bytes ") > 0.0);
    let stored: f64 = stored.parse().unwrap();
    assert_eq!(
        value("mysql_heartbeat_stored_timestamp_seconds{server_id=\"7\"}"),
        stored
    );
    assert!(
        value("mysql_heartbeat_now_timestamp_seconds{server_id=\"7\"}") > stored,
        "the server's clock is read beside the stored time"
    );
    assert!(
        value("mysql_info_schema_processlist_seconds{command=\"query\",state=\"user_sleep\"}")
            >= 0.0
    );
    assert!(value("mysql_info_schema_processlist_processes_by_user{mysql_user=\"root\"}") >= 1.0);
    assert!(
        !body.contains("mysql_info_schema_processlist_processes_by_host"),
        "turned off by its flag"
    );
    // `collect[]` on /metrics: only the collectors named, mysql_up always; a name that runs nowhere
    // selects nothing, so everything is answered, as upstream.
    let only = get(addr, "/metrics?collect[]=binlog_size", &[])
        .unwrap()
        .text();
    assert!(
        only.lines().any(|l| l == "mysql_up 1") && only.contains("mysql_binlog_files "),
        "{only}"
    );
    assert!(
        !only.contains("mysql_global_status_") && !only.contains("mysql_heartbeat_"),
        "{only}"
    );
    let all = get(addr, "/metrics?collect[]=nothing_like_it", &[])
        .unwrap()
        .text();
    assert!(
        all.contains("mysql_global_status_uptime ") && all.contains("mysql_binlog_files "),
        "{all}"
    );
    for c in ["info_schema.processlist", "binlog_size", "heartbeat"] {
        assert!(
            body.lines()
                .any(|l| l == format!("hubble_collector_up{{collector=\"{c}\"}} 1")),
            "{c}:\n{body}"
        );
    }
    drop(sleeper);
}

/// A client in a long query (`SELECT SLEEP(120)`): a thread in state "User sleep" until dropped.
fn sleeping_client(db: &MariaDb) -> KillOnDrop {
    KillOnDrop::new(
        Command::new("mariadb")
            .args(["--no-defaults", "-h127.0.0.1", "-uroot"])
            .arg(format!("-P{}", db.port))
            .args(["-e", "SELECT SLEEP(120)"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The exporter's command reaching `db` as root, without the machine's option file.
fn as_root<'c>(c: &'c mut Command, db: &MariaDb) -> &'c mut Command {
    c.args(["--mysqld.address", &format!("127.0.0.1:{}", db.port)])
        .args(["--mysqld.username", "root"])
        .env_remove("MYSQLD_EXPORTER_PASSWORD")
        .env("HOME", "/nonexistent")
}

/// The TYPE lines of families starting with one of `prefixes`: `name type`.
fn typed_families(body: &str, prefixes: &[&str]) -> BTreeSet<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .map(str::to_owned)
        .collect()
}

/// mysqld_exporter 0.20's table, InnoDB metrics, performance schema and replica-host collectors on a real
/// workload (a table read by its index, written and deleted from; the performance schema on): each up, its
/// families with upstream's names and labels, and every family Debian's mysqld_exporter 0.14 exports for
/// the same collectors exported here too.
#[test]
fn tables_innodb_metrics_and_performance_schema_collectors_as_mysqld_exporter_0_20() {
    let db = MariaDb::start_with(&[
        "--performance-schema=ON",
        "--innodb-monitor-enable=all",
        "--userstat=ON",
    ]);
    db.sql(&format!(
        "CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';
         GRANT PROCESS, REPLICATION CLIENT, REPLICATION MASTER ADMIN, SLAVE MONITOR, SELECT
           ON *.* TO 'exporter'@'127.0.0.1';
         CREATE DATABASE app;
         CREATE TABLE app.orders (id INT PRIMARY KEY AUTO_INCREMENT, note VARCHAR(40), KEY note (note));
         INSERT INTO app.orders (note) VALUES ('a'), ('b'), ('c');
         SELECT * FROM app.orders WHERE id = 2;
         SELECT * FROM app.orders WHERE note = 'c';
         UPDATE app.orders SET note = 'd' WHERE id = 1;
         DELETE FROM app.orders WHERE id = 3;
         LOCK TABLES app.orders READ; UNLOCK TABLES;"
    ));
    // Statements with a default database, for the digests by schema.
    db.sql("USE app; SELECT COUNT(*) FROM orders; SELECT note FROM orders WHERE id = 1;");
    let collectors = [
        "info_schema.tables",
        "info_schema.innodb_metrics",
        "perf_schema.tableiowaits",
        "perf_schema.indexiowaits",
        "perf_schema.tablelocks",
        "slave_hosts",
        "info_schema.innodb_tablespaces",
        "auto_increment.columns",
        "perf_schema.eventswaits",
        "perf_schema.file_events",
        "info_schema.userstats",
        "info_schema.clientstats",
        "info_schema.tablestats",
        "info_schema.schemastats",
        "perf_schema.eventsstatements",
        "perf_schema.eventsstatementssum",
        "perf_schema.memory_events",
        "perf_schema.file_instances",
        "sys.user_summary",
        "engine_innodb_status",
        "mysql.user",
    ];
    let flags: Vec<String> = collectors
        .iter()
        .map(|c| format!("--collect.{c}"))
        .chain([
            "--collect.perf_schema.replication_group_members".to_owned(),
            "--collect.perf_schema.replication_group_member_stats".to_owned(),
            "--collect.perf_schema.replication_applier_status_by_worker".to_owned(),
            "--collect.engine_tokudb_status".to_owned(),
            "--collect.info_schema.rocksdb_perf_context".to_owned(),
            "--collect.info_schema.replica_host".to_owned(),
            "--collect.info_schema.tables.databases=app".to_owned(),
            "--collect.perf_schema.eventsstatements.digest_text_limit=20".to_owned(),
            "--collect.perf_schema.file_instances.filter=ibdata|orders".to_owned(),
        ])
        .collect();
    let (_exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        c.args(["--mysqld.address", &format!("127.0.0.1:{}", db.port)])
            .args(["--mysqld.username", "exporter"])
            .env("MYSQLD_EXPORTER_PASSWORD", PASSWORD)
            .env("HOME", "/nonexistent")
            .args(&flags);
    });
    let ups: Vec<String> = collectors
        .iter()
        .map(|c| format!("hubble_collector_up{{collector=\"{c}\"}} 1"))
        .collect();
    let body = hubble_test_support::wait_lines(addr, &ups);
    // MySQL's group replication tables are not MariaDB's: not applicable, never down.
    hubble_test_support::wait_lines(
        addr,
        &[
            "hubble_collector_not_applicable{collector=\"perf_schema.replication_group_members\"} 1",
            "hubble_collector_not_applicable{collector=\"perf_schema.replication_group_member_stats\"} 1",
            // Nor are TokuDB (gone in MariaDB 10.6), MyRocks (not installed) and Aurora's replica table.
            "hubble_collector_not_applicable{collector=\"engine_tokudb_status\"} 1",
            "hubble_collector_not_applicable{collector=\"info_schema.rocksdb_perf_context\"} 1",
            "hubble_collector_not_applicable{collector=\"info_schema.replica_host\"} 1",
        ],
    );
    assert!(
        !body.contains(
            "hubble_collector_up{collector=\"perf_schema.replication_applier_status_by_worker\"} 0"
        ),
        "{body}"
    );
    let value = |name: &str, labels: &[(&str, &str)]| {
        hubble_test_support::value(&body, name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in\n{body}"))
    };
    let table = [("schema", "app"), ("table", "orders")];
    let orders = [("schema", "app"), ("name", "orders")];
    let column = [table[0], table[1], ("column", "id")];
    // Each family with its labels, and the least value it may have (f64::MIN_POSITIVE: above 0).
    let positive = f64::MIN_POSITIVE;
    for (family, labels, least) in [
        ("mysql_info_schema_table_rows", table.to_vec(), 0.0),
        (
            "mysql_info_schema_table_size",
            vec![table[0], table[1], ("component", "data_length")],
            positive,
        ),
        (
            "mysql_info_schema_table_version",
            vec![
                table[0],
                table[1],
                ("engine", "InnoDB"),
                ("type", "BASE TABLE"),
            ],
            positive,
        ),
        (
            "mysql_perf_schema_table_io_waits_total",
            vec![orders[0], orders[1], ("operation", "fetch")],
            1.0,
        ),
        (
            "mysql_perf_schema_index_io_waits_total",
            vec![
                orders[0],
                orders[1],
                ("index", "PRIMARY"),
                ("operation", "fetch"),
            ],
            1.0,
        ),
        (
            "mysql_perf_schema_sql_lock_waits_total",
            vec![orders[0], orders[1], ("operation", "read_normal")],
            0.0,
        ),
        (
            "mysql_perf_schema_external_lock_waits_seconds_total",
            vec![orders[0], orders[1], ("operation", "read")],
            0.0,
        ),
        (
            "mysql_info_schema_innodb_metrics_buffer_pool_pages",
            vec![("state", "data")],
            positive,
        ),
        (
            "mysql_info_schema_innodb_tablespace_file_size_bytes",
            vec![("tablespace_name", "app/orders")],
            positive,
        ),
        (
            "mysql_perf_schema_file_events_total",
            vec![
                ("event_name", "wait/io/file/innodb/innodb_data_file"),
                ("mode", "read"),
            ],
            0.0,
        ),
    ] {
        let v = value(family, &labels);
        assert!(v >= least, "{family}{labels:?} is {v}, below {least}");
    }
    // Only the listed database.
    assert!(
        !body.contains("mysql_info_schema_table_rows{schema=\"mysql\""),
        "{body}"
    );
    // Inserts are counted on the table's row without an index only.
    assert!(
        hubble_test_support::value(
            &body,
            "mysql_perf_schema_index_io_waits_total",
            &[("index", "PRIMARY"), ("operation", "insert")]
        )
        .is_none(),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l
                .starts_with("mysql_info_schema_innodb_metrics_buffer_buffer_pool_reads_total ")),
        "{body}"
    );
    assert_eq!(
        value("mysql_info_schema_auto_increment_column", &column),
        4.0
    );
    assert_eq!(
        value("mysql_info_schema_auto_increment_column_max", &column),
        2_147_483_647.0
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("mysql_perf_schema_events_waits_total{event_name=\"wait/")),
        "{body}"
    );
    // The statement digests of the workload, their text cut at 20 characters.
    let digests: Vec<_> = hubble_test_support::samples(&body)
        .into_iter()
        .filter(|s| {
            s.name == "mysql_perf_schema_events_statements_total" && s.labels["schema"] == "app"
        })
        .collect();
    assert!(!digests.is_empty(), "{body}");
    assert!(digests
        .iter()
        .all(|s| s.labels["digest_text"].chars().count() <= 20 && s.value >= 1.0));
    assert!(value("mysql_perf_schema_events_statements_sum_total", &[]) >= 1.0);
    // Each digest's latency summary: its count is the digest's statements; MariaDB keeps no percentiles, so
    // it has no quantile lines (upstream writes 0s there).
    assert!(
        body.contains("# TYPE mysql_perf_schema_events_statements_latency summary\n"),
        "{body}"
    );
    for d in &digests {
        let labels: Vec<(&str, &str)> = d
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            value("mysql_perf_schema_events_statements_latency_count", &labels),
            d.value
        );
        assert!(value("mysql_perf_schema_events_statements_latency_sum", &labels) > 0.0);
    }
    assert!(
        !body.contains("mysql_perf_schema_events_statements_latency{"),
        "{body}"
    );
    // Files: only those the filter matches, and the table's own file among them.
    let files: Vec<_> = hubble_test_support::samples(&body)
        .into_iter()
        .filter(|s| s.name == "mysql_perf_schema_file_instances_bytes")
        .collect();
    assert!(
        files.iter().all(|s| ["ibdata", "orders"]
            .iter()
            .any(|f| s.labels["file_name"].contains(f))),
        "{files:?}"
    );
    assert!(
        files
            .iter()
            .any(|s| s.labels["file_name"].ends_with("orders.ibd")),
        "{files:?}"
    );
    // Memory per instrument, named without `memory/` (the performance schema's own are on by default).
    assert!(
        hubble_test_support::samples(&body)
            .iter()
            .any(|s| s.name == "mysql_perf_schema_memory_events_used_bytes"
                && s.labels["event_name"].starts_with("performance_schema/")),
        "{body}"
    );
    assert!(value("mysql_sys_statements_total", &[("user", "root")]) >= 1.0);
    // userstat's tables: the workload above ran as root, the exporter's own queries as `exporter`.
    assert!(
        value(
            "mysql_info_schema_user_statistics_select_commands_total",
            &[("user", "root")]
        ) >= 2.0
    );
    assert!(
        value(
            "mysql_info_schema_client_statistics_total_connections",
            &[("client", "localhost")]
        ) >= 1.0
    );
    assert!(value("mysql_info_schema_table_statistics_rows_read_total", &table) >= 1.0);
    assert!(
        value(
            "mysql_info_schema_schema_statistics_rows_changed_total",
            &[("schema", "app")]
        ) >= 1.0
    );
    // Debian's mysqld_exporter 0.14 with the same collectors: every family it exports here, we export,
    // typed alike.
    let theirs_addr = free_addr();
    let Ok(theirs) = Command::new("prometheus-mysqld-exporter")
        .env(
            "DATA_SOURCE_NAME",
            format!("exporter:{PASSWORD}@(127.0.0.1:{})/", db.port),
        )
        .args(["--web.listen-address", &theirs_addr.to_string()])
        // 0.14 has neither sys.user_summary nor info_schema.rocksdb_perf_context (later releases added them).
        .args(
            flags
                .iter()
                .filter(|f| !f.contains("sys.user_summary") && !f.contains("rocksdb")),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        panic!("prometheus-mysqld-exporter is not installed (scripts/test.sh installs it)");
    };
    let _theirs = KillOnDrop::new(theirs);
    let prefixes = [
        "mysql_info_schema_table",
        "mysql_info_schema_innodb_metrics_",
        "mysql_perf_schema_",
        "mysql_heartbeat_mysql_slave_hosts",
        "mysql_info_schema_auto_increment",
        "mysql_info_schema_innodb_tablespace",
        "mysql_info_schema_user_statistics",
        "mysql_info_schema_client_statistics",
        "mysql_info_schema_schema_statistics",
        "mysql_engine_innodb_",
        "mysql_mysql_",
    ];
    let their_body = wait_showing(Duration::from_secs(30), "mysqld_exporter 0.14", || {
        let b = scrape(theirs_addr);
        if b.contains("mysql_up 1") && b.contains("mysql_perf_schema_table_io_waits_total") {
            Ok(b)
        } else {
            Err(b)
        }
    });
    let ours = typed_families(&scrape(addr), &prefixes);
    let theirs = typed_families(&their_body, &prefixes);
    let missing: Vec<&String> = theirs.difference(&ours).collect();
    assert!(missing.is_empty(), "0.14 exports, we do not: {missing:#?}");
    // promtool objects to nothing in these families that it does not object to in 0.14's, but for 0.20's
    // own names (eventsstatementssum's counters without `_total`, kept as upstream has them).
    let objections = |body: &str| -> BTreeSet<String> {
        promtool_check(body.as_bytes())
            .lines()
            .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
            .map(str::to_owned)
            .collect()
    };
    let (ours, theirs) = (objections(&body), objections(&their_body));
    let new: Vec<&String> = ours
        .difference(&theirs)
        .filter(|l| !l.starts_with("mysql_perf_schema_events_statements_sum_"))
        .collect();
    assert!(new.is_empty(), "promtool objects to ours only: {new:#?}");

    // With userstat off, its collectors do not apply, and say why; the others go on.
    db.sql("SET GLOBAL userstat = OFF");
    let body = hubble_test_support::wait_lines(
        addr,
        &[
            "hubble_collector_not_applicable{collector=\"info_schema.userstats\"} 1",
            "hubble_collector_not_applicable{collector=\"info_schema.schemastats\"} 1",
            "hubble_collector_up{collector=\"info_schema.tables\"} 1",
        ],
    );
    assert!(
        !body.contains("mysql_info_schema_user_statistics_"),
        "{body}"
    );
}

/// The queries of mysqld_exporter 0.20's mysqld-mixin (`mysqld-mixin/dashboards/mysql-overview.json`,
/// its alerts and rules), listed here as (panel or rule, PromQL) with Grafana's `$job` and `$instance` as
/// `.*` and `$__rate_interval` as `1m`. `simple` panels are `f(metric{..})` for each metric named.
fn mysqld_mixin() -> Vec<(&'static str, String)> {
    const SEL: &str = "{job=~\".*\", instance=~\".*\"}";
    let simple: [(&str, &str, &[&str]); 27] = [
        ("Uptime", "", &["mysql_global_status_uptime"]),
        ("Current QPS", "rate", &["mysql_global_status_queries"]),
        (
            "InnoDB Buffer Pool",
            "",
            &["mysql_global_variables_innodb_buffer_pool_size"],
        ),
        (
            "MySQL Connections",
            "sum max_over_time",
            &["mysql_global_status_threads_connected"],
        ),
        (
            "MySQL Connections",
            "sum",
            &[
                "mysql_global_status_max_used_connections",
                "mysql_global_variables_max_connections",
            ],
        ),
        (
            "MySQL Client Thread Activity",
            "sum max_over_time",
            &[
                "mysql_global_status_threads_connected",
                "mysql_global_status_threads_running",
            ],
        ),
        (
            "MySQL Client Thread Activity",
            "sum avg_over_time",
            &["mysql_global_status_threads_running"],
        ),
        (
            "MySQL Questions",
            "rate",
            &["mysql_global_status_questions"],
        ),
        (
            "MySQL Thread Cache",
            "sum",
            &[
                "mysql_global_variables_thread_cache_size",
                "mysql_global_status_threads_cached",
            ],
        ),
        (
            "MySQL Thread Cache",
            "sum rate",
            &["mysql_global_status_threads_created"],
        ),
        (
            "MySQL Temporary Objects",
            "sum rate",
            &[
                "mysql_global_status_created_tmp_tables",
                "mysql_global_status_created_tmp_disk_tables",
                "mysql_global_status_created_tmp_files",
            ],
        ),
        (
            "MySQL Select Types",
            "sum rate",
            &[
                "mysql_global_status_select_full_join",
                "mysql_global_status_select_full_range_join",
                "mysql_global_status_select_range",
                "mysql_global_status_select_range_check",
                "mysql_global_status_select_scan",
            ],
        ),
        (
            "MySQL Sorts",
            "sum rate",
            &[
                "mysql_global_status_sort_rows",
                "mysql_global_status_sort_range",
                "mysql_global_status_sort_merge_passes",
                "mysql_global_status_sort_scan",
            ],
        ),
        (
            "MySQL Slow Queries",
            "sum rate",
            &["mysql_global_status_slow_queries"],
        ),
        (
            "MySQL Aborted Connections",
            "sum rate",
            &[
                "mysql_global_status_aborted_connects",
                "mysql_global_status_aborted_clients",
            ],
        ),
        (
            "MySQL Table Locks",
            "sum rate",
            &[
                "mysql_global_status_table_locks_immediate",
                "mysql_global_status_table_locks_waited",
            ],
        ),
        (
            "MySQL Network Traffic",
            "sum rate",
            &[
                "mysql_global_status_bytes_received",
                "mysql_global_status_bytes_sent",
            ],
        ),
        (
            "MySQL Internal Memory Overview",
            "sum",
            &[
                "mysql_global_variables_innodb_log_buffer_size",
                "mysql_global_variables_innodb_additional_mem_pool_size",
                "mysql_global_status_innodb_mem_dictionary",
                "mysql_global_variables_key_buffer_size",
                "mysql_global_variables_query_cache_size",
                "mysql_global_status_innodb_mem_adaptive_hash",
                "mysql_global_variables_tokudb_cache_size",
            ],
        ),
        (
            "Process States",
            "",
            &["mysql_info_schema_processlist_threads"],
        ),
        (
            "Top Process States Hourly",
            "topk avg_over_time",
            &["mysql_info_schema_processlist_threads"],
        ),
        (
            "MySQL Query Cache Memory",
            "",
            &[
                "mysql_global_status_qcache_free_memory",
                "mysql_global_variables_query_cache_size",
            ],
        ),
        (
            "MySQL Query Cache Activity",
            "rate",
            &[
                "mysql_global_status_qcache_hits",
                "mysql_global_status_qcache_inserts",
                "mysql_global_status_qcache_not_cached",
                "mysql_global_status_qcache_lowmem_prunes",
            ],
        ),
        (
            "MySQL Query Cache Activity",
            "",
            &["mysql_global_status_qcache_queries_in_cache"],
        ),
        (
            "MySQL File Openings",
            "rate",
            &["mysql_global_status_opened_files"],
        ),
        (
            "MySQL Open Files",
            "",
            &[
                "mysql_global_status_open_files",
                "mysql_global_variables_open_files_limit",
                "mysql_global_status_innodb_num_open_files",
            ],
        ),
        (
            "MySQL Table Open Cache Status",
            "rate",
            &[
                "mysql_global_status_opened_tables",
                "mysql_global_status_table_open_cache_hits",
                "mysql_global_status_table_open_cache_misses",
                "mysql_global_status_table_open_cache_overflows",
            ],
        ),
        (
            "MySQL Open Tables",
            "",
            &[
                "mysql_global_status_open_tables",
                "mysql_global_variables_table_open_cache",
                "mysql_global_status_open_table_definitions",
                "mysql_global_variables_table_definition_cache",
            ],
        ),
    ];
    let mut out = Vec::new();
    for (panel, shape, metrics) in simple {
        for m in metrics {
            let s = format!("{m}{SEL}");
            out.push((
                panel,
                match shape {
                    "" => s,
                    "rate" => format!("rate({s}[1m])"),
                    "sum" => format!("sum({s})"),
                    "sum rate" => format!("sum(rate({s}[1m]))"),
                    "sum max_over_time" => format!("sum(max_over_time({s}[1m]))"),
                    "sum avg_over_time" => format!("sum(avg_over_time({s}[1m]))"),
                    "topk avg_over_time" => format!("topk(5, avg_over_time({s}[1m]))"),
                    other => unreachable!("{other}"),
                },
            ));
        }
    }
    let sel = |m: &str, extra: &str| format!("{m}{{job=~\".*\", instance=~\".*\"{extra}}}");
    out.extend([
        ("MySQL Internal Memory Overview", format!("sum({} * on (instance) {})", sel("mysql_global_status_innodb_page_size", ""), sel("mysql_global_status_buffer_pool_pages", ", state=\"data\""))),
        ("Top Command Counters", format!("topk(5, rate({}[1m])>0)", sel("mysql_global_status_commands_total", ""))),
        ("MySQL Handlers", format!("rate({}[1m])", sel("mysql_global_status_handlers_total", ", handler!~\"commit|rollback|savepoint.*|prepare\""))),
        ("MySQL Transaction Handlers", format!("rate({}[1m])", sel("mysql_global_status_handlers_total", ", handler=~\"commit|rollback|savepoint.*|prepare\""))),
        ("MySQL Table Open Cache Status", {
            let (h, m) = (sel("mysql_global_status_table_open_cache_hits", ""), sel("mysql_global_status_table_open_cache_misses", ""));
            format!("rate({h}[1m])/(rate({h}[1m])+rate({m}[1m]))")
        }),
        ("MySQL Table Definition Cache", format!("rate({}[1m])", sel("mysql_global_status_opened_table_definitions", ""))),
        // The rules.
        ("rule instance:mysql_heartbeat_lag_seconds", "mysql_heartbeat_now_timestamp_seconds - mysql_heartbeat_stored_timestamp_seconds".to_owned()),
        ("rule job:mysql_transactions:rate5m", "sum without (command) (rate(mysql_global_status_commands_total{command=~\"(commit|rollback)\"}[5m]))".to_owned()),
        ("rule instance:mysql_slave_lag_seconds", "mysql_slave_status_seconds_behind_master - mysql_slave_status_sql_delay".to_owned()),
        // The alerts' selectors (a healthy server makes none fire).
        ("alert MySQLDown", "mysql_up".to_owned()),
        ("alert MySQLInnoDBLogWaits", "rate(mysql_global_status_innodb_log_waits[15m])".to_owned()),
        ("alert MySQLReplicationNotRunning", "mysql_slave_status_slave_io_running or mysql_slave_status_slave_sql_running".to_owned()),
        ("alert MySQLGaleraNotReady", "mysql_global_status_wsrep_ready".to_owned()),
        ("alert MySQLGaleraOutOfSync", "mysql_global_status_wsrep_local_state and mysql_global_variables_wsrep_desync".to_owned()),
        ("alert MySQLGaleraDonorFallingBehind", "mysql_global_status_wsrep_local_state and mysql_global_status_wsrep_local_recv_queue".to_owned()),
    ]);
    out
}

/// The mysqld-mixin's dashboard, rules and alerts against a real Prometheus scraping this exporter over a
/// MariaDB with a workload (the slow log and query cache on, a heartbeat table, a long query): every query
/// returns data but for the states listed with the reason the test cannot make them.
#[test]
fn the_mysqld_mixin_gets_data_from_a_real_prometheus() {
    const CANNOT: [(&str, &str); 5] = [
        (
            "mysql_global_variables_innodb_additional_mem_pool_size",
            "gone from MySQL 5.7 and MariaDB 10.2",
        ),
        (
            "mysql_global_variables_tokudb_cache_size",
            "TokuDB is gone from MariaDB 10.6",
        ),
        (
            "rule instance:mysql_slave_lag_seconds",
            "needs a replica (a_replica_shows_its_replication_status has one)",
        ),
        (
            "alert MySQLReplicationNotRunning",
            "needs a replica (a_replica_shows_its_replication_status has one)",
        ),
        ("alert MySQLGalera", "needs a Galera cluster"),
    ];
    let db = MariaDb::start_with(&[
        "--query-cache-type=1",
        "--query-cache-size=1048576",
        "--slow-query-log=ON",
        "--long-query-time=0",
    ]);
    db.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT);
         INSERT INTO app.t VALUES (1, 1), (2, 2), (3, 3);
         CREATE DATABASE hb; CREATE TABLE hb.heartbeat (ts varchar(26) NOT NULL, server_id int unsigned NOT NULL PRIMARY KEY);
         INSERT INTO hb.heartbeat VALUES (DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%f'), 1);",
    );
    let sleeper = sleeping_client(&db);
    let (_exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_mysqld_exporter"), |c| {
        as_root(c, &db).args([
            "--collect.info_schema.processlist",
            "--collect.heartbeat",
            "--collect.heartbeat.database=hb",
        ]);
    });
    wait_line(addr, "mysql_up 1");
    let prometheus = hubble_test_support::Prometheus::with_job(&format!(
        "job_name: mysql\nstatic_configs:\n  - targets: ['{addr}']\n"
    ));
    // A workload while Prometheus scrapes: reads, a join without an index, a sort, a cached query twice.
    for _ in 0..3 {
        db.sql(
            "SELECT SQL_CACHE COUNT(*) FROM app.t; SELECT SQL_CACHE COUNT(*) FROM app.t;
             SELECT a.id FROM app.t a JOIN app.t b ON a.v = b.v ORDER BY a.v DESC;
             SELECT * FROM app.t WHERE id BETWEEN 1 AND 2;",
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = Command::new("mariadb")
        .args(["--no-defaults", "-h127.0.0.1", "-unobody", "-pwrong"])
        .arg(format!("-P{}", db.port))
        .args(["-e", "SELECT 1"])
        .output();
    let queries = mysqld_mixin();
    // The dashboard's 66 queries, the 3 rules, 6 alerts.
    assert_eq!(queries.len(), 75);
    let mut checked = 0;
    for (what, expr) in &queries {
        if let Some((_, why)) = CANNOT
            .iter()
            .find(|(w, _)| what.starts_with(w) || expr.contains(w))
        {
            eprintln!("{what}: {expr}: no data expected here: {why}");
            continue;
        }
        hubble_test_support::wait_for(Duration::from_secs(30), &format!("{what}: {expr}"), || {
            (!prometheus.results(expr).is_empty()).then_some(())
        });
        checked += 1;
    }
    assert_eq!(checked, 68, "every query but the listed ones");
    drop(sleeper);
}
