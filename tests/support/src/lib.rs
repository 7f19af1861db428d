//! Shared test helpers: a minimal HTTP client over loopback, promtool, polling with bounds.
#![allow(dead_code)]

pub mod pg;
pub mod pki;
pub mod props;
pub mod webdriver;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    /// Body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// `GET path` with extra request headers, over a fresh connection (HTTP/1.1, `Connection: close`).
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    request(addr, "GET", path, headers)
}

/// `POST path` without a body.
pub fn post(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    request(addr, "POST", path, &[("Content-Length", "0")])
}

/// `method path` with extra request headers and no body, over a fresh connection.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    request_with_body(addr, method, path, headers, &[])
}

/// `method path` with extra request headers and `body` (with its `Content-Length` when not empty).
pub fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    stream.write_all(body)?;
    // Until the server closes, or the body's Content-Length is in (some servers ignore `Connection: close`).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        // A read with a timeout (SO_RCVTIMEO) is not restarted after a signal, even under SA_RESTART: another
        // test's child process exiting (SIGCHLD) can interrupt it.
        let n = match stream.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| raw.len() >= split + 4 + len) {
                break;
            }
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..pos]).unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[pos + 2..pos + 2 + size]);
        data = &data[pos + 2 + size + 2..];
    }
    out
}

/// A loopback address with a free port, for a child process to listen on: picked by binding port 0 and
/// letting go, just before the child binds it.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A loopback port that refuses connections, reserved while the returned socket lives.
///
/// The socket is bound but not listening, so connections get a reset, and no other server (another test's
/// PostgreSQL) can be given the port meanwhile, as it could be once a listener picked for its port is dropped.
pub fn refused_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind a loopback port");
    let port = socket.local_addr().expect("bound address").port();
    (socket, port)
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    wait_showing(limit, what, || f().ok_or_else(String::new))
}

/// Polls `f` every 50 ms until it returns `Ok`, for at most `limit`. `f` returns what it saw instead; on
/// timeout the panic shows the last of it.
pub fn wait_showing<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        let seen = match f() {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}{}",
            if seen.is_empty() {
                String::new()
            } else {
                format!("; {seen}")
            }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `promtool check metrics` on `body`; returns its complaints (empty when clean).
pub fn promtool_check(body: &[u8]) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's `prometheus` package (see .ci/run)");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        String::new()
    } else if text.trim().is_empty() {
        format!("promtool exited with {}", out.status)
    } else {
        text
    }
}

/// A server run on its own runtime in a thread, on a loopback port, until [`stop`](Self::stop).
pub struct InThread {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

/// The future that tells a server run by [`serve_in_thread`] to shut down.
pub type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Binds `127.0.0.1:0` and runs `serve(listener, shutdown)` on a two-thread runtime in its own thread.
pub fn serve_in_thread<F, Fut>(serve: F) -> InThread
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            tx.send(listener.local_addr()?)?;
            serve(
                listener,
                Box::pin(async {
                    let _ = stopped.await;
                }),
            )
            .await
        })
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server did not start");
    InThread {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl InThread {
    /// Signals shutdown and waits for the server's result.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap()
    }
}

/// An example binary, built by `cargo test` alongside the tests.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} not built: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// A real Prometheus server; killed on drop.
pub struct Prometheus {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` every second as job `postgres`.
    pub fn scraping(target: SocketAddr) -> Prometheus {
        Prometheus::with_job(&format!(
            "job_name: postgres\nstatic_configs:\n  - targets: ['{target}']\n"
        ))
    }

    /// Runs one scrape job, given as YAML (a `scrape_configs` entry), every second.
    pub fn with_job(job: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let job: String = job
            .lines()
            .enumerate()
            .map(|(i, l)| format!("{}{l}\n", if i == 0 { "  - " } else { "    " }))
            .collect();
        std::fs::write(
            &config,
            format!("global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{job}"),
        )
        .unwrap();
        let addr = free_addr();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "prometheus not found: install Debian's `prometheus` package (see scripts/test.sh)",
            );
        Prometheus {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The value of an instant query's first result, if any.
    pub fn query(&self, promql: &str) -> Option<String> {
        self.results(promql).first()?["value"][1]
            .as_str()
            .map(str::to_owned)
    }

    /// Every result of an instant query: each series' labels and value.
    pub fn results(&self, promql: &str) -> Vec<serde_json::Value> {
        let encoded: String = promql
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        get(self.addr, &format!("/api/v1/query?query={encoded}"), &[])
            .ok()
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    /// The `lastError` of the first active target, as Prometheus reports it.
    pub fn target_error(&self) -> Option<String> {
        let body = get(self.addr, "/api/v1/targets", &[]).ok()?.text();
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["activeTargets"][0]["lastError"]
            .as_str()
            .map(str::to_owned)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
