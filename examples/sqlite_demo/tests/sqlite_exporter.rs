//! The main job end to end: the SQLite demo exporter on a loopback port, scraped over real HTTP and checked
//! with promtool; and the example binary's handling of bad input and signals.

use hubble_test_support as support;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use hubble::Registry;
use sqlite_demo::Config;
use support::{get, promtool_check, serve_in_thread, wait_for, InThread};

struct Running {
    server: InThread,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start() -> Running {
        Running::start_with(|_| {})
    }

    fn start_with(adjust: impl FnOnce(&mut Config)) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            database_url: dir.path().join("demo.db").display().to_string(),
            interval: Duration::from_millis(200),
            workload_tick: Duration::from_millis(50),
            ..Config::default()
        };
        adjust(&mut config);
        let server = serve_in_thread(move |listener, shutdown| {
            sqlite_demo::run(config, listener, Registry::new(), shutdown)
        });
        Running {
            addr: server.addr,
            server,
            _dir: dir,
        }
    }

    fn stop(self) -> anyhow::Result<()> {
        self.server.stop()
    }

    fn metrics_with(&self, needle: &str) -> String {
        wait_for(Duration::from_secs(20), needle, || {
            let body = get(self.addr, "/metrics", &[]).ok()?.text();
            body.contains(needle).then_some(body)
        })
    }
}

#[test]
fn serves_the_demo_groups_promtool_clean() {
    let exporter = Running::start();
    // Ready once every collector has run once (first runs are jittered by up to a tenth of their interval).
    wait_for(Duration::from_secs(20), "/-/ready", || {
        get(exporter.addr, "/-/ready", &[])
            .ok()
            .filter(|r| r.status == 200)
    });
    let families = [
        "# TYPE demo_jobs gauge",
        "# TYPE demo_queue_enqueued_total counter",
        "# TYPE demo_worker_busy gauge",
        "# TYPE demo_database_size_bytes gauge",
        "hubble_collector_up{collector=\"jobs\"} 1",
        "hubble_collector_up{collector=\"demo_queue\"} 1",
        "hubble_collector_up{collector=\"demo_worker\"} 1",
        "hubble_collector_up{collector=\"demo_database\"} 1",
        "hubble_collector_last_success_timestamp_seconds{collector=\"jobs\"}",
        "process_resident_memory_bytes",
    ];
    // The workload is random: wait for a scrape showing every family rather than trusting the first one.
    let body = wait_for(Duration::from_secs(20), "every demo family", || {
        let body = get(exporter.addr, "/metrics", &[]).ok()?.text();
        families.iter().all(|f| body.contains(f)).then_some(body)
    });
    for family in families {
        assert!(body.contains(family), "missing {family:?} in:\n{body}");
    }
    assert_eq!(
        promtool_check(body.as_bytes()),
        "",
        "promtool complaints on:\n{body}"
    );

    let plain = get(exporter.addr, "/metrics", &[]).unwrap();
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    // gzip when asked, and the same document.
    let gz = get(exporter.addr, "/metrics", &[("Accept-Encoding", "gzip")]).unwrap();
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert!(unzipped.contains("# TYPE demo_jobs gauge"));
    assert_eq!(promtool_check(unzipped.as_bytes()), "");

    // What Prometheus asks for: OpenMetrics first. By default the text format answers, so the counter's
    // stored name stays the one the text format shows.
    let prometheus_accept = [(
        "Accept",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    )];
    let text = get(exporter.addr, "/metrics", &prometheus_accept).unwrap();
    assert!(text
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(text
        .text()
        .contains("# TYPE demo_queue_enqueued_total counter\n"));
    assert!(!text.text().contains("# EOF"));
    exporter.stop().unwrap();

    // With --web.enable-openmetrics, OpenMetrics when asked.
    let exporter = Running::start_with(|c| c.enable_openmetrics = true);
    wait_for(Duration::from_secs(20), "/-/ready", || {
        get(exporter.addr, "/-/ready", &[])
            .ok()
            .filter(|r| r.status == 200)
    });
    let om = get(exporter.addr, "/metrics", &prometheus_accept).unwrap();
    assert!(om
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let om = om.text();
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE demo_queue_enqueued counter\n"), "{om}");
    assert!(om.contains("demo_queue_enqueued_total{queue="));

    // Landing page and health endpoints.
    let landing = get(exporter.addr, "/", &[]).unwrap().text();
    for c in [
        "sqlite_demo",
        "jobs",
        "demo_queue",
        "demo_worker",
        "demo_database",
        "href=\"/metrics\"",
    ] {
        assert!(landing.contains(c), "landing page lacks {c:?}:\n{landing}");
    }
    assert_eq!(get(exporter.addr, "/-/healthy", &[]).unwrap().status, 200);
    assert_eq!(get(exporter.addr, "/-/ready", &[]).unwrap().status, 200);
    assert_eq!(get(exporter.addr, "/nope", &[]).unwrap().status, 404);

    exporter.stop().expect("clean shutdown");
}

#[test]
fn metrics_move_with_the_workload() {
    let exporter = Running::start();
    let enqueued = |body: &str| -> f64 {
        body.lines()
            .filter(|l| l.starts_with("demo_queue_enqueued_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    let first = enqueued(&exporter.metrics_with("demo_queue_enqueued_total{"));
    wait_for(
        Duration::from_secs(20),
        "the enqueued counter to grow",
        || {
            let body = get(exporter.addr, "/metrics", &[]).ok()?.text();
            (enqueued(&body) > first).then_some(())
        },
    );
    exporter.stop().unwrap();
}

fn example_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sqlite_exporter"))
}

fn run_binary(args: &[&str], cwd: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(example_binary())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_are_one_line_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["--collection.interval", "soon"][..],
            "--collection.interval",
        ),
        (
            &["--web.listen-address", "localhost"][..],
            "--web.listen-address",
        ),
        (&["--log.level", "loud"][..], "--log.level"),
        (
            &["--web.telemetry-path", "metrics"][..],
            "--web.telemetry-path",
        ),
        (&["--no-such-flag"][..], "--no-such-flag"),
    ] {
        let (code, stderr) = run_binary(args, dir.path());
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line:\n{stderr}"
        );
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn runtime_errors_are_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    // A database path under a regular file cannot be created.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let bad_db = file.join("demo.db");
    let (code, stderr) = run_binary(
        &[
            "--database-url",
            bad_db.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(
        last.starts_with("error: opening database") && last.contains("demo.db"),
        "{stderr}"
    );

    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_binary(&["--web.listen-address", &addr], dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("error: listening on {addr}")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "{stderr}"
    );
}

#[test]
fn sigterm_shuts_down_cleanly_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let addr = support::free_addr();
    let child = Command::new(example_binary())
        .args([
            "--web.listen-address",
            &addr.to_string(),
            "--collection.interval",
            "1s",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = support::KillOnDrop::new(child);
    wait_for(Duration::from_secs(30), "the binary to serve", || {
        get(addr, "/-/healthy", &[])
            .ok()
            .filter(|r| r.status == 200)
    });
    // Default database file lands in the working directory.
    assert!(dir.path().join("hubble-demo.db").exists());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for(Duration::from_secs(20), "the binary to exit", || {
        child.child().try_wait().unwrap()
    });
    assert_eq!(exit.code(), Some(0));
}

/// What a real Prometheus stores (it asks for OpenMetrics first) is what the text format shows.
#[test]
fn prometheus_stores_the_names_the_text_format_shows() {
    let exporter = Running::start();
    exporter.metrics_with("demo_queue_enqueued_total{");
    let prometheus = support::Prometheus::scraping(exporter.addr);
    let names = prometheus.assert_stores_the_text_names(exporter.addr, "/metrics");
    assert!(names.contains("demo_queue_enqueued_total"), "{names:?}");
    assert!(names.contains("demo_jobs"), "{names:?}");
    drop(prometheus);
    exporter.stop().unwrap();
}

/// `--web.systemd-socket`: the exporter serves on the socket systemd passes (here systemd's own
/// `systemd-socket-activate`, which listens and starts the program on the first connection), not on
/// `--web.listen-address`; started without one, it says so in one line and exits 1.
#[test]
fn serves_on_the_socket_systemd_passes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let (code, stderr) = run_binary(
        &[
            "--web.systemd-socket",
            "--database-url",
            db.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--web.systemd-socket: no socket activation file descriptors found"),
        "{stderr}"
    );

    let addr = support::free_addr();
    let child = Command::new("systemd-socket-activate")
        .args(["-l", &addr.to_string()])
        .arg(example_binary())
        .args([
            "--web.systemd-socket",
            "--database-url",
            db.to_str().unwrap(),
            "--collection.interval",
            "1s",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "systemd-socket-activate not found (Debian package `systemd`, see scripts/test.sh)",
        );
    let child = support::KillOnDrop::new(child);
    let body = wait_for(
        Duration::from_secs(30),
        "metrics on the passed socket",
        || {
            get(addr, "/metrics", &[])
                .ok()
                .map(|r| r.text())
                // Two collectors, which finish their first runs one after another.
                .filter(|b| b.contains("demo_jobs{") && b.contains("demo_queue_enqueued_total{"))
        },
    );
    assert!(body.contains("demo_queue_enqueued_total{"), "{body}");
    drop(child);
}
