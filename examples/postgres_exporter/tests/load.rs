//! Load: 64 concurrent scrapers on keep-alive connections for 60 s against ~1,000 series while collections
//! run every 300 ms. No request may fail, and resident memory at the end stays within 10% of what it was
//! after warm-up. `HUBBLE_LOAD_SECONDS` lengthens the run; `scripts/soak.sh` runs it for an hour.

use hubble_test_support as support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::pg::PgCluster;
use support::wait_for;

const SCRAPERS: usize = 64;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
#[ignore = "60 s: scripts/test.sh runs it (and scripts/soak.sh for longer)"]
fn sixty_four_scrapers_fail_nothing_and_memory_stays_flat() {
    let seconds: u64 = std::env::var("HUBBLE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let warmup = Duration::from_secs((seconds / 6).clamp(5, 60));
    let pg = PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("queries.yaml");
    // 600 series on top of the standard groups' ~500: about 1,000, changing every run.
    std::fs::write(
        &queries,
        "app_load:\n  query: \"SELECT i::text AS i, random() AS v FROM generate_series(1, 600) AS i\"\n  \
         metrics:\n    - i: {usage: LABEL, description: Row}\n    - v: {usage: GAUGE, description: Random}\n",
    )
    .unwrap();
    let addr = support::free_addr();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
        .env(
            "DATA_SOURCE_NAME",
            format!(
                "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
                pg.port
            ),
        )
        .args(["--web.listen-address", &addr.to_string()])
        .args(["--collection.interval", "300ms", "--log.level", "warn"])
        .arg("--extend.query-path")
        .arg(&queries)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child = support::KillOnDrop::new(child);
    let series = wait_for(Duration::from_secs(30), "the first full collection", || {
        let mut c = support::Connection::open(addr).ok()?;
        let r = c.get("/metrics").ok()?;
        let status = r.status;
        let text = String::from_utf8(r.body).ok()?;
        let n = text.lines().filter(|l| !l.starts_with('#')).count();
        // Every group has run once: the 600 custom series and the standard groups' ~500.
        (status == 200 && text.matches("app_load_v{").count() == 600 && n >= 1_000).then_some(n)
    });

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let scrapers: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut client = None;
                let mut first_error = None;
                while !stop.load(Ordering::Relaxed) {
                    let c = match client.as_mut() {
                        Some(c) => c,
                        None => client.insert(support::Connection::open(addr).expect("connect")),
                    };
                    match c.get("/metrics") {
                        Ok(r)
                            if r.status == 200
                                && r.body.ends_with(b"\n")
                                && r.body.len() > 50_000 =>
                        {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            first_error.get_or_insert(format!(
                                "{:?}",
                                other.map(|r| (r.status, r.body.len()))
                            ));
                            client = None;
                        }
                    }
                }
                first_error
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(warmup);
    let rss_warm = rss_kib(child.id());
    let mut peak = rss_warm;
    while start.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
        peak = peak.max(rss_kib(child.id()));
    }
    let rss_end = rss_kib(child.id());
    stop.store(true, Ordering::Relaxed);
    let errors: Vec<String> = scrapers
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "{SCRAPERS} scrapers, {seconds} s, {series} series: {ok} scrapes ({:.0}/s), {failed} failed; \
         RSS after warm-up {rss_warm} KiB, at the end {rss_end} KiB, peak {peak} KiB",
        ok as f64 / seconds as f64
    );
    drop(child);
    assert_eq!(failed, 0, "failed requests: {errors:?}");
    assert!(ok > 0);
    assert!(
        rss_end * 10 <= rss_warm * 11,
        "RSS grew from {rss_warm} KiB after warm-up to {rss_end} KiB"
    );
}
