//! Operating the Postgres example: reload (HTTP and SIGHUP) without losing series, the lifecycle API's
//! default, and a bad reload changing nothing.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hubble_examples::postgres::app::Targets;
use hubble_examples::postgres::custom;
use hubble_examples::postgres::Collection;
use support::pg::PgCluster;
use support::running::{config, dsn, Running};
use support::{get, post, wait_for};

const ONE_AND_TWO: &str =
    "app_one:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n\
app_two:\n  query: \"SELECT 2 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: Two}\n";
const ONE_AND_THREE: &str =
    "app_one:\n  query: \"SELECT 1 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: One}\n\
app_three:\n  query: \"SELECT 3 AS v\"\n  metrics:\n    - v: {usage: GAUGE, description: Three}\n";

fn fast() -> Collection {
    Collection {
        schedule: hubble_examples::postgres::Schedule {
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
fn spawn_binary(args: &[&str]) -> (std::process::Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = std::process::Command::new(support::example_binary("postgres_exporter"))
        .args(["--web.listen-address", &addr.to_string()])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (child, addr)
}

fn signal(child: &std::process::Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn stop(child: std::process::Child) -> String {
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
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
    let out = std::process::Command::new(support::example_binary("postgres_exporter"))
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
fn the_status_page_renders_in_a_real_browser_without_secrets() {
    let pg = PgCluster::start(&[]);
    let secret = "st4tus-s3cret";
    // Trust authentication: the password is sent and ignored, so it is in the DSN but must show nowhere.
    let target: hubble_examples::postgres::connection::Dsn = format!(
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
            && b.contains(&format!("hubble_collector_up{{collector=\"app_broken\",{server}}} 0"))
    });

    let browser = support::webdriver::Browser::start();
    browser.goto(&format!("http://{}/", exporter.addr));
    let text = browser.text();
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    std::fs::write(&shot, browser.screenshot()).unwrap();
    eprintln!("status page screenshot: {}", shot.display());

    assert!(text.contains("hubble Postgres exporter"), "{text}");
    assert!(text.contains("1 target(s)") && text.contains("1 down"), "{text}");
    assert!(text.contains(&format!("server=\"127.0.0.1:{}\"", pg.port)), "target labels: {text}");
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
    assert!(error.contains("app_broken") && error.contains("password=***"), "{error}");
    // Red for down, from the page's own stylesheet (no external assets).
    let colour = browser.eval(
        "return getComputedStyle(document.querySelector('td.down')).color;",
    );
    assert_eq!(colour, "rgb(187, 0, 0)");
    assert_eq!(
        browser.eval("return [...document.querySelectorAll('link,script,img')].length;"),
        0
    );
    assert_eq!(
        browser.eval("return document.querySelector('a[href=\"/metrics\"]').innerText;"),
        "Metrics"
    );
    let html = browser.eval("return document.documentElement.outerHTML;");
    let html = html.as_str().unwrap();
    for leaked in [secret, "hunter2"] {
        assert!(!html.contains(leaked), "{leaked} on the status page");
    }
    // It refreshes itself: a marker set in this page is gone after the refresh interval.
    browser.eval("window.hubbleMarker = 1; return 0;");
    wait_for(Duration::from_secs(15), "the page to refresh itself", || {
        browser
            .eval("return window.hubbleMarker === undefined && document.readyState === 'complete';")
            .as_bool()
            .filter(|b| *b)
    });
    drop(browser);
    exporter.stop();
}
