//! Shared test helpers: a minimal HTTP client over loopback, promtool, polling with bounds.
#![allow(dead_code)]

pub mod etcd;
pub mod mariadb;
pub mod patroni;
pub mod pg;
pub mod pgbouncer;
pub mod pgpool;
pub mod pki;
pub mod props;
pub mod webdriver;

use std::io::{BufRead, BufReader, Read, Write};
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

/// `method path` with extra request headers and `body` (with its `Content-Length` when not empty), over a
/// fresh connection closed after the response.
pub fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut headers = headers.to_vec();
    headers.push(("Connection", "close"));
    Connection::open(addr)?.request(method, path, &headers, body)
}

/// One HTTP/1.1 connection over loopback, kept alive between requests: the tests' one HTTP client.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connects (5 s timeout); reads time out after 10 s.
    pub fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Connection {
            addr,
            reader: BufReader::new(stream),
        })
    }

    /// `GET path`, keeping the connection open.
    pub fn get(&mut self, path: &str) -> std::io::Result<Response> {
        self.request("GET", path, &[], &[])
    }

    /// `method path` with extra request headers and `body`; the response, its body de-chunked.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(req.as_bytes())?;
        stream.write_all(body)?;
        let mut line = String::new();
        read_line(&mut self.reader, &mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            read_line(&mut self.reader, &mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((n, v)) = header.split_once(':') {
                headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mut body = Vec::new();
        if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                line.clear();
                read_line(&mut self.reader, &mut line)?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        } else {
            // Neither: the body ends when the server closes.
            loop {
                match self.reader.read_to_end(&mut body) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => {
                        r?;
                        break;
                    }
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// A line, retried when a signal (another test's child exiting: SIGCHLD) interrupts a read with a timeout,
/// which is not restarted even under SA_RESTART.
fn read_line(reader: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<()> {
    loop {
        match reader.read_line(line) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
            r => return r.map(drop),
        }
    }
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

/// [`wait_for`] in an async test: polls without blocking the runtime the awaited work runs on.
pub async fn wait_for_async<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    wait_showing(limit, what, || f().ok_or_else(String::new))
}

/// Starts the exporter binary `bin` (an `env!("CARGO_BIN_EXE_...")`) with `args` and `env`, listening on a free
/// loopback port and collecting every second, its output discarded; killed on drop.
pub fn start_exporter(bin: &str, args: &[&str], env: &[(&str, &str)]) -> (KillOnDrop, SocketAddr) {
    spawn_exporter(bin, |c| {
        c.args(args).envs(env.iter().copied());
    })
}

/// [`start_exporter`] with the command set up by `configure` (arguments, environment, a log file for its
/// standard error), before the listen address and the one-second interval are added.
pub fn spawn_exporter(bin: &str, configure: impl FnOnce(&mut Command)) -> (KillOnDrop, SocketAddr) {
    let addr = free_addr();
    let mut command = Command::new(bin);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    configure(&mut command);
    let child = command
        .args(["--web.listen-address", &addr.to_string()])
        .args(["--collection.interval", "1s"])
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    (KillOnDrop::new(child), addr)
}

/// Waits (up to 30 s) until `GET /metrics` of `addr` has a line equal to `want`; returns that text.
pub fn wait_line(addr: SocketAddr, want: &str) -> String {
    wait_lines(addr, &[want])
}

/// Waits (up to 30 s) until one `GET /metrics` of `addr` has a line equal to each of `wanted` (collectors
/// finish their first runs one after another); returns that text.
pub fn wait_lines<S: AsRef<str>>(addr: SocketAddr, wanted: &[S]) -> String {
    wait_showing(Duration::from_secs(30), "every line wanted", || {
        let body = get(addr, "/metrics", &[])
            .map(|r| r.text())
            .unwrap_or_default();
        match wanted
            .iter()
            .find(|w| !body.lines().any(|l| l == w.as_ref()))
        {
            None => Ok(body),
            Some(missing) => Err(format!("missing {:?} in:\n{body}", missing.as_ref())),
        }
    })
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

/// A test that panicked before [`stop`](InThread::stop) still stops its server, so nothing keeps serving (or
/// holding database connections) while the other tests run. Bounded: a server that does not stop within 10 s
/// is left to the process's end.
impl Drop for InThread {
    fn drop(&mut self) {
        let Some(stop) = self.stop.take() else {
            return;
        };
        let _ = stop.send(());
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// A child process killed and reaped on drop, so a test that fails midway leaves nothing running.
#[derive(Debug)]
pub struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    /// Watches `child`.
    pub fn new(child: std::process::Child) -> Self {
        KillOnDrop(Some(child))
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("child").id()
    }

    /// The child, to read its pipes or wait for it.
    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("child")
    }

    /// The child, no longer killed on drop (for a test that ends it itself).
    pub fn into_inner(mut self) -> std::process::Child {
        self.0.take().expect("child")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET /metrics` as text; empty while the exporter does not answer.
pub fn scrape(addr: SocketAddr) -> String {
    get(addr, "/metrics", &[])
        .map(|r| r.text())
        .unwrap_or_default()
}

/// One sample line of a text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its name (`foo_bucket` for a histogram's bucket).
    pub name: String,
    /// Its labels, values unescaped.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Every sample of a text exposition (format 0.0.4 or OpenMetrics), in order; comments, blank lines and
/// lines that do not parse are skipped.
pub fn samples(body: &str) -> Vec<Sample> {
    body.lines().filter_map(parse_sample).collect()
}

/// The value of the first sample named `name` whose labels include every pair in `labels`.
pub fn value(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(parse_sample)
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn parse_sample(line: &str) -> Option<Sample> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let end = line.find(['{', ' '])?;
    let name = line[..end].to_owned();
    let mut labels = std::collections::BTreeMap::new();
    let mut rest = &line[end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut close = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    close = Some(i);
                    break;
                }
                ',' | ' ' => {}
                _ => {
                    let eq = inner[i..].find('=')? + i;
                    let key = inner[i..eq].trim().to_owned();
                    while chars.next_if(|(j, _)| *j <= eq).is_some() {}
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.insert(key, value);
                }
            }
        }
        rest = &inner[close? + 1..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The sample names of a text exposition (histograms' `_bucket`, `_sum`, `_count` included).
pub fn sample_names(body: &str) -> std::collections::BTreeSet<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
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

    /// Every metric name Prometheus has stored (`/api/v1/label/__name__/values`).
    pub fn stored_names(&self) -> std::collections::BTreeSet<String> {
        get(self.addr, "/api/v1/label/__name__/values", &[])
            .ok()
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .and_then(|v| v["data"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    }

    /// Waits (up to 60 s) until the names this Prometheus stores from scraping the exporter at `addr`
    /// equal the sample names of the exporter's own text output at `path` (besides what Prometheus adds
    /// itself: `up`, `scrape_*`), and returns them; panics with the difference otherwise. Prometheus asks
    /// for OpenMetrics first, so this is what users of a dashboard see.
    pub fn assert_stores_the_text_names(
        &self,
        addr: SocketAddr,
        path: &str,
    ) -> std::collections::BTreeSet<String> {
        wait_showing(Duration::from_secs(60), "stored names = text names", || {
            let body = get(addr, path, &[]).map_err(|e| e.to_string())?.text();
            let text = sample_names(&body);
            let stored: std::collections::BTreeSet<String> = self
                .stored_names()
                .into_iter()
                .filter(|n| n != "up" && !n.starts_with("scrape_"))
                .collect();
            if !text.is_empty() && stored == text {
                return Ok(stored);
            }
            Err(format!(
                "stored only: {:?}\ntext only: {:?}",
                stored.difference(&text).collect::<Vec<_>>(),
                text.difference(&stored).collect::<Vec<_>>()
            ))
        })
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

#[cfg(test)]
mod exposition_tests {
    use super::*;

    #[test]
    fn samples_with_escaped_labels_and_special_values() {
        let body = "# HELP a x\n# TYPE a gauge\na 1\nb{x=\"1\",y=\"q\\\"uo}te\\\\ \\n\"} 2.5\nc_bucket{le=\"+Inf\"} 3 1700000000\n\nd{} NaN\n";
        let all = samples(body);
        assert_eq!(all.len(), 4, "{all:?}");
        assert_eq!(all[0].name, "a");
        assert_eq!(all[1].labels["y"], "q\"uo}te\\ \n");
        assert_eq!(all[1].value, 2.5);
        assert_eq!(all[2].labels["le"], "+Inf");
        assert!(all[3].value.is_nan());
        assert_eq!(value(body, "b", &[("x", "1")]), Some(2.5));
        assert_eq!(value(body, "b", &[("x", "2")]), None);
        assert_eq!(value(body, "c", &[]), None);
    }
}
