//! Operating the Postgres example: reload (HTTP and SIGHUP) without losing series, the lifecycle API's
//! default, and a bad reload changing nothing.

mod running;

use hubble_test_support as support;

use std::net::SocketAddr;
use std::time::Duration;

use postgres_exporter::app::Targets;
use postgres_exporter::custom;
use postgres_exporter::Collection;
use running::{config, dsn, Running};
use support::pg::PgCluster;
use support::{get, post, wait_for};

const ONE_AND_TWO: &str =
    "app_one:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n\
app_two:\n  query: \"SELECT 2 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: Two}\n";
const ONE_AND_THREE: &str =
    "app_one:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n\
app_three:\n  query: \"SELECT 3 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: Three}\n";

fn fast() -> Collection {
    Collection {
        schedule: postgres_exporter::Schedule {
            interval: Duration::from_millis(300),
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
        ..Collection::default()
    }
}

#[test]
fn the_lifecycle_api_is_off_by_default() {
    let exporter = Running::start_collection(Targets::ProbeOnly, fast());
    for path in ["/-/reload", "/-/quit"] {
        let r = post(exporter.addr, path).unwrap();
        assert_eq!(r.status, 403, "{path}");
        assert!(r.text().contains("--web.enable-lifecycle"), "{}", r.text());
    }
    assert_eq!(
        get(exporter.addr, "/-/healthy", &[]).unwrap().status,
        200,
        "still running"
    );
    exporter.stop();
}

#[test]
fn reload_over_http_swaps_custom_queries_and_keeps_every_other_series() {
    let pg = PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queries.yaml");
    std::fs::write(&path, ONE_AND_TWO).unwrap();
    let mut collection = fast();
    collection.custom_queries = custom::load(&path).unwrap();
    let mut cfg = config(Targets::Single(dsn(&pg, "postgres")), collection);
    cfg.enable_lifecycle = true;
    cfg.query_path = Some(path.clone());
    let exporter = Running::start_config(cfg);
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    exporter.wait_metrics("both custom queries", |b| {
        b.contains(&format!("app_one_v{{{server}}} 1"))
            && b.contains(&format!("app_two_v{{{server}}} 2"))
    });

    // Scrape all through the reload: the unchanged query and the standard groups never miss a scrape.
    let scraping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let scraper = {
        let (addr, scraping, server) = (exporter.addr, scraping.clone(), server.clone());
        std::thread::spawn(move || {
            let mut scrapes = 0;
            while scraping.load(std::sync::atomic::Ordering::Relaxed) && scrapes < 2_000 {
                let body = get(addr, "/metrics", &[]).unwrap().text();
                for kept in [
                    format!("app_one_v{{{server}}} 1"),
                    format!("pg_up{{{server}}} 1"),
                ] {
                    assert!(body.contains(&kept), "{kept} missing during the reload");
                }
                scrapes += 1;
            }
            scrapes
        })
    };
    std::fs::write(&path, ONE_AND_THREE).unwrap();
    let r = post(exporter.addr, "/-/reload").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = exporter.wait_metrics("the new query in, the removed one out", |b| {
        b.contains(&format!("app_three_v{{{server}}} 3")) && !b.contains("app_two_v")
    });
    assert!(
        !body.contains("collector=\"app_two\""),
        "the removed group's self-metrics go too"
    );
    assert!(
        body.contains("hubble_config_last_reload_successful 1"),
        "{body}"
    );

    // An invalid file is refused with its name and position; what runs stays.
    std::fs::write(&path, "app_four:\n  query: [\n").unwrap();
    let r = post(exporter.addr, "/-/reload").unwrap();
    assert_eq!(r.status, 500);
    let text = r.text();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("line"),
        "{text}"
    );
    let body = exporter.wait_metrics("the failed reload shown", |b| {
        b.contains("hubble_config_last_reload_successful 0")
    });
    assert!(
        body.contains(&format!("app_three_v{{{server}}} 3")),
        "{body}"
    );
    scraping.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(scraper.join().expect("no scrape lost a kept series") > 0);
    exporter.stop();
}

/// Starts the example binary with `args`, listening on a free loopback port.
fn spawn_binary(args: &[&str]) -> (support::KillOnDrop, SocketAddr) {
    let addr = support::free_addr();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
        .args(["--web.listen-address", &addr.to_string()])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (support::KillOnDrop::new(child), addr)
}

fn signal(child: &support::KillOnDrop, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn stop(child: support::KillOnDrop) -> String {
    signal(&child, "TERM");
    let out = child.into_inner().wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "clean exit");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn sighup_reloads_the_web_config_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    let users = |user: &str| {
        format!(
            "basic_auth_users:\n  {user}: '{}'\n",
            bcrypt::hash("pw", 4).unwrap()
        )
    };
    std::fs::write(&web, users("alice")).unwrap();
    let (child, addr) = spawn_binary(&["--web.config.file", &web.display().to_string()]);
    let auth = |user: &str| {
        let token = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{user}:pw"),
        );
        get(
            addr,
            "/-/healthy",
            &[("Authorization", &format!("Basic {token}"))],
        )
        .map(|r| r.status)
        .unwrap_or(0)
    };
    wait_for(Duration::from_secs(30), "alice let in", || {
        (auth("alice") == 200).then_some(())
    });
    assert_eq!(auth("bob"), 401);

    std::fs::write(&web, users("bob")).unwrap();
    signal(&child, "HUP");
    wait_for(Duration::from_secs(10), "bob let in after SIGHUP", || {
        (auth("bob") == 200).then_some(())
    });
    assert_eq!(auth("alice"), 401);

    std::fs::write(&web, "basic_auth_users:\n  eve: not-a-hash\n").unwrap();
    signal(&child, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        auth("bob"),
        200,
        "a refused reload keeps the config in force"
    );
    let logs = stop(child);
    assert!(logs.contains("reload refused"), "{logs}");
    assert!(
        logs.contains("basic_auth_users.eve") && !logs.contains("not-a-hash"),
        "{logs}"
    );
}

#[test]
fn a_bad_web_config_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
        .args(["--web.listen-address", "127.0.0.1:0", "--web.config.file"])
        .arg(&web)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("--web.config.file")
            && lines[0].contains(&web.display().to_string())
            && lines[0].contains("tls_server_config.cert_file"),
        "{err}"
    );
}

#[test]
fn a_bad_collection_thread_count_is_one_line_naming_the_flag() {
    for bad in ["0", "many"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--collection.threads",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.contains("--collection.threads") && first.contains(bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_status_page_renders_in_a_real_browser_without_secrets() {
    let pg = PgCluster::start(&[]);
    let secret = "st4tus-s3cret";
    // Trust authentication: the password is sent and ignored, so it is in the DSN but must show nowhere.
    let target: postgres_exporter::connection::Dsn = format!(
        "postgresql://postgres:{secret}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    )
    .parse()
    .unwrap();
    let yaml = "app_broken:\n  query: \"SELECT 'password=hunter2'::int AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: Never}\n";
    let mut collection = fast();
    collection.custom_queries = custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap();
    let exporter = Running::start_collection(Targets::Single(target), collection);
    let server = format!("server=\"127.0.0.1:{}\"", pg.port);
    exporter.wait_metrics("pg_up and the broken query down", |b| {
        b.contains(&format!("pg_up{{{server}}} 1"))
            && b.contains(&format!(
                "hubble_collector_up{{{server},collector=\"app_broken\"}} 0"
            ))
    });

    let browser = support::webdriver::Browser::start();
    browser.goto(&format!("http://{}/", exporter.addr));
    let text = browser.text();
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    std::fs::write(&shot, browser.screenshot()).unwrap();
    eprintln!("status page screenshot: {}", shot.display());

    assert!(text.contains("hubble Postgres exporter"), "{text}");
    assert!(
        text.contains("1 target(s)") && text.contains("1 down"),
        "{text}"
    );
    assert!(
        text.contains(&format!("server=\"127.0.0.1:{}\"", pg.port)),
        "target labels: {text}"
    );
    // The test server has no TLS: the link is shown as plaintext.
    assert!(text.contains("Connection: plaintext ("), "{text}");
    // Rows as rendered: collector, state, series, interval, last success, duration, errors, last error.
    let rows = browser.eval(
        "return [...document.querySelectorAll('table.collectors tr')].map(r => \
         [...r.cells].map(c => c.innerText.trim()));",
    );
    let rows = rows.as_array().expect("rows");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no row {name} in {rows:?}"))
            .clone()
    };
    let header = &rows[0];
    assert_eq!(header[0], "Collector");
    assert_eq!(header[7], "Last error");
    let up = row("pg_stat_database");
    assert_eq!(up[1], "up");
    assert_eq!(up[3], "300ms");
    assert!(up[4].as_str().unwrap().ends_with("s ago"), "{up:?}");
    let broken = row("app_broken");
    assert_eq!(broken[1], "down");
    assert_eq!(broken[4], "never");
    assert_ne!(broken[6], "0");
    let error = broken[7].as_str().unwrap();
    assert!(
        error.contains("app_broken") && error.contains("password=***"),
        "{error}"
    );
    // Red for down, from the page's own stylesheet (no external assets).
    let colour = browser.eval("return getComputedStyle(document.querySelector('td.down')).color;");
    assert_eq!(colour, "rgb(187, 0, 0)");
    assert_eq!(
        browser.eval("return [...document.querySelectorAll('link,script,img')].length;"),
        0
    );
    assert_eq!(
        browser.eval("return document.querySelector('a[href=\"/metrics\"]').innerText;"),
        "Metrics"
    );
    // The catalogue: every collector offered, its state and default, and the flag that changes it.
    let offered = browser.eval(
        "return [...document.querySelectorAll('table.catalogue tr')].map(r => \
         [...r.cells].map(c => c.innerText.trim()));",
    );
    let offered = offered.as_array().expect("catalogue rows");
    assert_eq!(
        offered.len(),
        1 + postgres_exporter::collectors::CATALOGUE.entries().len()
    );
    let line = |name: &str| {
        offered
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no {name} in {offered:?}"))
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(line("locks")[1..4], ["on", "on", "--no-collector.locks"]);
    assert_eq!(
        line("stat_statements")[1..4],
        ["off", "off", "--collector.stat_statements"]
    );
    let html = browser.eval("return document.documentElement.outerHTML;");
    let html = html.as_str().unwrap();
    for leaked in [secret, "hunter2"] {
        assert!(!html.contains(leaked), "{leaked} on the status page");
    }
    // It refreshes itself: a marker set in this page is gone after the refresh interval.
    browser.eval("window.hubbleMarker = 1; return 0;");
    wait_for(
        Duration::from_secs(15),
        "the page to refresh itself",
        || {
            browser
            .eval("return window.hubbleMarker === undefined && document.readyState === 'complete';")
            .as_bool()
            .filter(|b| *b)
        },
    );
    drop(browser);
    exporter.stop();
}

/// The value of `metric` for the target labelled `name="<target>"`.
fn of_target(body: &str, metric: &str, target: &str) -> Option<f64> {
    support::value(body, metric, &[("name", target)])
}

#[test]
fn faults_hit_one_target_and_heal_while_the_rest_keeps_serving() {
    let good = PgCluster::start(&[]);
    let victim = PgCluster::start(&[]);
    let (_refused, refused_port) = support::refused_port();
    let file = good.dir().join("targets.yml");
    let targets = format!(
        "- targets: ['127.0.0.1:{}']\n  labels: {{name: good}}\n\
         - targets: ['127.0.0.1:{}']\n  labels: {{name: victim}}\n\
         - targets: ['127.0.0.1:{refused_port}']\n  labels: {{name: refused}}\n",
        good.port, victim.port
    );
    std::fs::write(&file, &targets).unwrap();
    // A slow query keeps a collection in flight most of the time, so the kill lands mid-collection.
    let yaml = "app_slow:\n  query: \"SELECT 1 AS v FROM pg_sleep(0.2)\"\n  metrics:\n    - v: {usage: GAUGE, description: Slow}\n";
    let mut collection = fast();
    collection.schedule.timeout = Duration::from_millis(1000);
    collection.schedule.interval = Duration::from_millis(1000);
    collection.custom_queries = custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap();
    let exporter = Running::start_collection(Targets::File(file.clone()), collection);
    exporter.wait_metrics("three targets, one refusing", |b| {
        of_target(b, "pg_up", "good") == Some(1.0)
            && of_target(b, "pg_up", "victim") == Some(1.0)
            && of_target(b, "app_slow_v", "victim") == Some(1.0)
            && of_target(b, "pg_up", "refused") == Some(0.0)
    });

    // Discovery returns garbage: the last good set stays.
    std::fs::write(&file, "- targets: [unclosed\n").unwrap();
    let body = exporter.wait_metrics("the discovery error counted", |b| {
        support::value(
            b,
            "hubble_discovery_errors_total",
            &[("backend", "file_sd")],
        )
        .is_some_and(|v| v >= 1.0)
    });
    assert_eq!(of_target(&body, "pg_up", "victim"), Some(1.0), "{body}");
    std::fs::write(&file, &targets).unwrap();

    // The victim crashes mid-collection: only its series say so.
    victim.kill();
    let body = exporter.wait_metrics("the victim down", |b| {
        of_target(b, "pg_up", "victim") == Some(0.0)
    });
    assert_eq!(of_target(&body, "pg_up", "good"), Some(1.0), "{body}");
    assert_eq!(of_target(&body, "app_slow_v", "good"), Some(1.0), "{body}");
    assert!(
        body.contains("hubble_dispatcher_targets{backend=\"file_sd\"} 3"),
        "{body}"
    );

    // It comes back; the exporter reconnects by itself.
    victim.restart();
    exporter.wait_metrics("the victim recovered", |b| {
        of_target(b, "pg_up", "victim") == Some(1.0)
            && of_target(b, "app_slow_v", "victim") == Some(1.0)
    });
    // No backends piled up on either server: at most the pool per target.
    for pg in [&good, &victim] {
        let ours = running::our_connections(pg);
        assert!(ours <= 2, "{ours} connections on port {}", pg.port);
    }
    exporter.stop();
}

/// Percent-encodes a query parameter value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn secrets_never_show_in_logs_metrics_pages_or_errors() {
    let pg = PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (pg_password, consul_token, basic_password) =
        ("pg-Pa55-s3cret", "consul-t0ken-s3cret", "basic-Pa55-s3cret");
    let hash = bcrypt::hash(basic_password, 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  prom: '{hash}'\n")).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, consul_token).unwrap();
    // Consul on a port where nothing listens: discovery fails (with the token set) the whole time.
    let (_closed, closed_port) = support::refused_port();
    let closed = format!("127.0.0.1:{closed_port}");
    let (child, addr) = spawn_binary(&[
        "--probe.allowed-targets",
        "127.0.0.1:*",
        "--discovery.consul.url",
        &format!("http://{closed}"),
        "--discovery.consul.tag",
        "postgres",
        "--discovery.consul.token-file",
        &token_file.display().to_string(),
        "--discovery.interval",
        "200ms",
        "--web.config.file",
        &web.display().to_string(),
        "--web.enable-lifecycle",
        "--collection.interval",
        "300ms",
        "--log.level",
        "debug",
    ]);
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("prom:{basic_password}")
        )
    );
    let headers = [("Authorization", auth.as_str())];
    let mut seen = String::new();
    let mut fetch = |path: &str| {
        let r = get(addr, path, &headers).ok()?;
        // The response only: the request path holds the probe DSN by design.
        seen.push_str(&format!(
            "{}\n{:?}\n{}\n",
            r.status,
            r.headers,
            String::from_utf8_lossy(&r.body)
        ));
        Some(r)
    };
    let up_dsn = format!(
        "postgresql://postgres:{pg_password}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let down_dsn = format!(
        "postgresql://postgres:{pg_password}@127.0.0.1:{}/postgres?sslmode=disable",
        closed_port
    );
    wait_for(
        Duration::from_secs(30),
        "a probe of the live server",
        || fetch(&format!("/probe?target={}", encode(&up_dsn))).filter(|r| r.status == 200),
    );
    let probe = fetch(&format!("/probe?target={}", encode(&down_dsn))).unwrap();
    assert!(probe.text().contains("pg_up"), "{}", probe.text());
    for bad in [
        format!("postgresql://postgres:{pg_password}@[::1/x"),
        format!("mysql://postgres:{pg_password}@127.0.0.1/x"),
        format!("host=127.0.0.1 password={pg_password} port=notaport"),
    ] {
        let r = fetch(&format!("/probe?target={}", encode(&bad))).unwrap();
        assert_eq!(r.status, 400, "{bad}");
    }
    wait_for(
        Duration::from_secs(10),
        "the discovery failure counted",
        || {
            fetch("/metrics").filter(|r| {
                // Exported as 0 from the start: wait for a count.
                let text = r.text();
                text.contains("hubble_discovery_errors_total{backend=\"consul\"} ")
                    && !text.contains("hubble_discovery_errors_total{backend=\"consul\"} 0\n")
            })
        },
    );
    fetch("/");
    fetch("/-/ready");
    // A wrong password, and a reload that fails on a broken web config.
    let wrong = get(
        addr,
        "/metrics",
        &[("Authorization", "Basic cHJvbTp3cm9uZw==")],
    )
    .unwrap();
    seen.push_str(&wrong.text());
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  prom: '{hash}'\n  eve: {basic_password}\n"),
    )
    .unwrap();
    let r = get(addr, "/metrics", &headers).unwrap();
    assert_eq!(r.status, 200);
    let reload = support::request(
        addr,
        "POST",
        "/-/reload",
        &[headers[0], ("Content-Length", "0")],
    )
    .unwrap();
    assert_eq!(reload.status, 500);
    seen.push_str(&reload.text());
    let logs = stop(child);
    assert!(logs.contains("reload refused"), "{logs}");
    for (what, text) in [("HTTP responses", &seen), ("logs", &logs)] {
        for secret in [pg_password, consul_token, basic_password, hash.as_str()] {
            assert!(!text.contains(secret), "{secret} in the {what}:\n{text}");
        }
    }
}

/// Undoes the text format's label escaping (`\\`, `\"`, `\n`).
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn awkward_label_values_survive_both_formats() {
    let pg = PgCluster::start(&[]);
    let values = [
        "a \"quoted\" value",
        "back\\slash and \\n not a newline",
        "two\nlines",
        "naïve – 東京 😀",
        "tab\tand } brace, comma=\"x\"",
    ];
    pg.psql("postgres", "CREATE TABLE awkward (v text)");
    for v in values {
        // Dollar quoting: the values go in verbatim.
        pg.psql(
            "postgres",
            &format!("INSERT INTO awkward VALUES ($q${v}$q$)"),
        );
    }
    let yaml = "app_awkward:\n  query: \"SELECT v, 1 AS n FROM awkward\"\n  metrics:\n    - v: {usage: LABEL, description: Value}\n    - n: {usage: GAUGE, description: One}\n";
    let mut collection = fast();
    collection.custom_queries = custom::parse(std::path::Path::new("q.yaml"), yaml).unwrap();
    // Conventional names, so promtool's lints judge the escaping alone.
    collection.naming = postgres_exporter::naming::Naming::Prometheus;
    // The prometheus naming serves OpenMetrics when asked, as main() sets it.
    let mut config = running::config(Targets::Single(dsn(&pg, "postgres")), collection);
    config.enable_openmetrics = true;
    let exporter = Running::start_config(config);
    let body = exporter.wait_metrics("the awkward series", |b| {
        b.matches("app_awkward_n{").count() == values.len()
    });
    assert_eq!(
        support::promtool_check(body.as_bytes()),
        "",
        "promtool on the text format"
    );
    let mut text_values: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with("app_awkward_n{"))
        .map(|l| {
            let start = l.find("v=\"").unwrap() + 3;
            let end = l.rfind("\"} ").unwrap();
            unescape(&l[start..end])
        })
        .collect();
    text_values.sort();
    let mut want: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    want.sort();
    assert_eq!(text_values, want, "text format round trip");

    // OpenMetrics, as Prometheus asks for it, read back through Prometheus itself.
    let om = get(
        exporter.addr,
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    )
    .unwrap();
    assert!(om
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(om.text().ends_with("# EOF\n"));
    let prometheus = support::Prometheus::scraping(exporter.addr);
    let stored = wait_for(
        Duration::from_secs(60),
        "Prometheus to store the awkward series",
        || {
            let r = prometheus.results("app_awkward_n");
            (r.len() == values.len()).then_some(r)
        },
    );
    let mut prom_values: Vec<String> = stored
        .iter()
        .map(|s| s["metric"]["v"].as_str().unwrap().to_owned())
        .collect();
    prom_values.sort();
    assert_eq!(
        prom_values, want,
        "OpenMetrics round trip through Prometheus"
    );
    drop(prometheus);
    exporter.stop();
}

/// A TCP proxy to `upstream` on a loopback port that, once [`black_hole`](Self::black_hole) is called, stops
/// passing bytes while keeping every connection open (a network partition, a hung load balancer).
struct BlackHoleProxy {
    port: u16,
    passing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHoleProxy {
    fn start(upstream: u16) -> BlackHoleProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let passing = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (passing.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                if !p.load(Ordering::Relaxed) {
                    held.push(client); // accepted, never answered
                    continue;
                }
                let server = std::net::TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let (p, s) = (p.clone(), s.clone());
                    from.set_read_timeout(Some(Duration::from_millis(50)))
                        .unwrap();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while !s.load(Ordering::Relaxed) {
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                // Read but dropped once the hole opens: nothing arrives, nothing closes.
                                Ok(n) if p.load(Ordering::Relaxed) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Ok(_) => {}
                                Err(e)
                                    if e.kind() == std::io::ErrorKind::WouldBlock
                                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                                Err(_) => break,
                            }
                        }
                    });
                }
            }
        });
        BlackHoleProxy {
            port,
            passing,
            stop,
        }
    }

    fn black_hole(&self) {
        self.passing
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for BlackHoleProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A network black hole between the exporter and PostgreSQL (bytes stop, connections stay open): `pg_up` is in
/// every scrape throughout and turns 0 within one interval and one timeout of the hole opening.
#[test]
fn pg_up_turns_0_within_interval_and_timeout_of_a_black_hole_and_is_never_absent() {
    let pg = PgCluster::start(&[]);
    let proxy = BlackHoleProxy::start(pg.port);
    let (interval, timeout) = (Duration::from_secs(2), Duration::from_millis(1500));
    let collection = Collection {
        schedule: postgres_exporter::Schedule {
            interval,
            timeout,
            ..Default::default()
        },
        ..Collection::default()
    };
    let target: postgres_exporter::connection::Dsn = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        proxy.port
    )
    .parse()
    .unwrap();
    let exporter = Running::start_collection(Targets::Single(target), collection);
    let up = |body: &str| {
        body.lines()
            .find(|l| l.starts_with("pg_up{"))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    exporter.wait_metrics("pg_up 1 through the proxy", |b| {
        up(b).as_deref() == Some("1")
    });
    proxy.black_hole();
    let opened = std::time::Instant::now();
    // The first run after the hole opens starts within an interval and gives up at 0.9 of the timeout; the
    // second of slack is for a loaded machine's scheduling, not for a second run.
    let limit = interval + timeout + Duration::from_secs(1);
    let zero_after = loop {
        let body = get(exporter.addr, "/metrics", &[]).unwrap().text();
        match up(&body).as_deref() {
            Some("0") => break opened.elapsed(),
            Some(_) => {}
            None => panic!(
                "pg_up absent {:?} into the black hole:\n{body}",
                opened.elapsed()
            ),
        }
        assert!(
            opened.elapsed() < limit + Duration::from_secs(5),
            "pg_up still 1 {:?} into the black hole",
            opened.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("pg_up turned 0 {zero_after:?} into the black hole (at most {limit:?} allowed)");
    assert!(zero_after <= limit, "{zero_after:?} > {limit:?}");
    // And stays in every scrape while the hole lasts; then the exporter stops although its connections are
    // stuck (their close is bounded).
    for _ in 0..40 {
        let body = get(exporter.addr, "/metrics", &[]).unwrap().text();
        assert_eq!(up(&body).as_deref(), Some("0"), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    exporter.stop();
}
