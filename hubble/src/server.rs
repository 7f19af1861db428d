//! HTTP: `/metrics`, a landing page, health endpoints, graceful shutdown.

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::catalogue::CatalogueSummary;
use crate::encode::Format;
use crate::registry::Registry;
use crate::web::WebConfigHandle;

/// What the server serves and where.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Path of the metrics endpoint (default [`ServerConfig::DEFAULT_TELEMETRY_PATH`]).
    pub telemetry_path: String,
    /// Title of the landing page.
    pub title: String,
    /// Answer in OpenMetrics when the scraper asks for it (default `false`: always the text format 0.0.4).
    ///
    /// Off by default, as in the Go exporters (`promhttp.HandlerOpts::EnableOpenMetrics`): Prometheus asks
    /// for OpenMetrics first, and there a counter family `foo` is written as samples `foo_total`, so the
    /// names Prometheus stores would differ from the text format's, and from the names an incumbent's
    /// dashboards query. Turn it on where every counter is already named `..._total`.
    pub enable_openmetrics: bool,
    /// The collectors offered and which run, listed on the status page (empty: no list).
    pub catalogue: CatalogueSummary,
    /// Honour a `collect[]` selection on the metrics path, as mysqld_exporter does (`None`: ignored).
    pub collect_param: Option<CollectSelection>,
    /// The replicas this one shares the targets with, listed on the status page (`None`: alone).
    pub cluster: Option<std::sync::Arc<crate::cluster::Membership>>,
}

/// mysqld_exporter's `collect[]=<collector>` query parameters: a scrape of only the collectors named (the
/// `always` ones too, the target's `up`); a selection naming none that runs is ignored, as upstream does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectSelection {
    /// Collectors every selection keeps.
    pub always: Vec<String>,
}

impl CollectSelection {
    /// The `collect[]` values of a request's query.
    pub fn requested(uri: &axum::http::Uri) -> Vec<String> {
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default();
        pairs
            .into_iter()
            .filter(|(k, _)| k == "collect[]")
            .map(|(_, v)| v)
            .collect()
    }

    /// Renders `registry` for `requested`: all of it when nothing is requested or nothing requested runs.
    pub fn render(&self, registry: &Registry, format: Format, requested: &[String]) -> crate::Body {
        if !registry.has_collector(requested) {
            return registry.render(format);
        }
        let keep = |name: &str| requested.iter().chain(&self.always).any(|r| r == name);
        registry.render_only(format, &keep)
    }
}

impl ServerConfig {
    /// Default metrics path.
    pub const DEFAULT_TELEMETRY_PATH: &'static str = "/metrics";
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            telemetry_path: Self::DEFAULT_TELEMETRY_PATH.to_owned(),
            title: "hubble exporter".to_owned(),
            enable_openmetrics: false,
            catalogue: CatalogueSummary::default(),
            collect_param: None,
            cluster: None,
        }
    }
}

struct AppState {
    registry: Registry,
    config: ServerConfig,
}

/// The router: `/metrics` (or the configured path), `/`, `/-/healthy`, `/-/ready`. Merge your own routes
/// into it (a `/probe` endpoint, say) before serving.
pub fn router(registry: Registry, config: ServerConfig) -> Router {
    let path = config.telemetry_path.clone();
    let exporters = registry.status();
    let collectors: std::collections::BTreeSet<&str> = exporters
        .iter()
        .flat_map(|e| e.collectors.iter().map(|c| c.name.as_str()))
        .collect();
    let collectors = collectors.into_iter().collect::<Vec<_>>().join(",");
    tracing::info!(
        path = %path,
        exporters = exporters.len(),
        collectors = %collectors,
        openmetrics = config.enable_openmetrics,
        "metrics endpoint"
    );
    let state = Arc::new(AppState { registry, config });
    Router::new()
        .route(&path, get(metrics))
        .route("/", get(landing))
        .route("/-/healthy", get(|| async { "Healthy.\n" }))
        .route("/-/ready", get(ready))
        .with_state(state)
}

/// Serves `router` on `listener` over plain HTTP until `shutdown` completes, then stops accepting, lets
/// requests in flight finish, and returns. Close your exporters afterwards ([`Registry::close_all`]).
pub async fn serve(
    listeners: impl Into<Listeners>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listeners,
        router,
        Arc::new(WebConfigHandle::plain()),
        shutdown,
    )
    .await
}

/// Like [`serve`], under the web configuration `web` (TLS, basic auth, headers). Each new connection and
/// request uses the configuration in force, so [`WebConfigHandle::reload`] takes effect without a restart.
pub async fn serve_with(
    listeners: impl Into<Listeners>,
    router: Router,
    web: Arc<WebConfigHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listeners = listeners.into();
    {
        let web = web.current();
        tracing::info!(
            addresses = ?listeners.local_addrs(),
            tls = web.tls_enabled(),
            basic_auth = web.basic_auth_enabled(),
            "serving HTTP"
        );
    }
    let router = router.layer(axum::middleware::from_fn_with_state(
        web.clone(),
        crate::web::guard,
    ));
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listeners.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    // Out of file descriptors, typically: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let tls = web.current().tls.clone();
        connections.spawn(connection(stream, peer, tls, router.clone(), stop.clone()));
    }
    stop.cancel();
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The sockets a server accepts on: one, or several (a repeated `--web.listen-address`, the sockets
/// systemd passes), all serving the same router.
#[derive(Debug)]
pub struct Listeners {
    listeners: Vec<TcpListener>,
    /// Where the next accept starts looking, so a busy socket cannot starve the others.
    next: std::sync::atomic::AtomicUsize,
}

impl Listeners {
    /// The addresses listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    async fn accept(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.listeners.is_empty() {
            return std::future::pending().await;
        }
        std::future::poll_fn(|cx| {
            let n = self.listeners.len();
            let start = self.next.load(Relaxed) % n;
            for i in 0..n {
                let at = (start + i) % n;
                if let std::task::Poll::Ready(r) = self.listeners[at].poll_accept(cx) {
                    self.next.store(at + 1, Relaxed);
                    return std::task::Poll::Ready(r);
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

impl From<TcpListener> for Listeners {
    fn from(listener: TcpListener) -> Self {
        vec![listener].into()
    }
}

impl From<Vec<TcpListener>> for Listeners {
    fn from(listeners: Vec<TcpListener>) -> Self {
        Listeners {
            listeners,
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        return http(TokioIo::new(stream), router, stop).await;
    };
    let handshake = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_rustls::TlsAcceptor::from(tls).accept(stream),
    );
    let stream = tokio::select! {
        () = stop.cancelled() => return,
        done = handshake => match done {
            Ok(Ok(s)) => s,
            // A client's problem (wrong CA, no certificate, plain HTTP to a TLS port): debug, not a warning
            // per connection.
            Ok(Err(error)) => return tracing::debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
        },
    };
    http(TokioIo::new(stream), router, stop).await
}

async fn http<I>(io: I, router: Router, stop: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let conn = builder.serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(conn);
    tokio::select! {
        done = conn.as_mut() => if let Err(error) = done {
            tracing::debug!(%error, "HTTP connection ended with an error");
        },
        () = stop.cancelled() => {
            // Finish the request in flight, then close.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Completes on SIGINT or SIGTERM (Ctrl-C elsewhere than Unix).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            // Without signal handlers, never trigger rather than stopping at once.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            // `gzip;q=0` means "not gzip".
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    match &state.config.collect_param {
        Some(selection) => {
            let requested = CollectSelection::requested(&uri);
            metrics_response_with(&headers, state.config.enable_openmetrics, |format| {
                selection.render(&state.registry, format, &requested)
            })
        }
        None => metrics_response(&state.registry, &headers, state.config.enable_openmetrics),
    }
}

/// The `/metrics` response for `registry`: the text format, or OpenMetrics when `enable_openmetrics` and
/// the request's `Accept` asks for it ([`ServerConfig::enable_openmetrics`]); gzipped when its
/// `Accept-Encoding` allows. For handlers serving another registry (a `/probe` endpoint, say).
pub fn metrics_response(
    registry: &Registry,
    headers: &HeaderMap,
    enable_openmetrics: bool,
) -> Response {
    metrics_response_with(headers, enable_openmetrics, |format| {
        registry.render(format)
    })
}

/// [`metrics_response`] with the body `render` gives for the negotiated format.
pub fn metrics_response_with(
    headers: &HeaderMap,
    enable_openmetrics: bool,
    render: impl FnOnce(Format) -> crate::Body,
) -> Response {
    let format = if enable_openmetrics {
        Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
    } else {
        Format::Text
    };
    let body = render(format);
    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response_headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    let gzip = accepts_gzip(headers);
    if gzip {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    (response_headers, body.into_http(gzip)).into_response()
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.registry.is_ready() {
        (StatusCode::OK, "Ready.\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: first collections still running.\n",
        )
            .into_response()
    }
}

/// Escapes text for HTML.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Seconds between automatic refreshes of the status page.
const STATUS_REFRESH_SECONDS: u32 = 5;

async fn landing(State(state): State<Arc<AppState>>) -> Html<String> {
    Html(status_page(
        &state.registry,
        &state.config,
        SystemTime::now(),
    ))
}

/// The status page: every exporter (target) with its labels, every collector with its state, series, last
/// success, last duration, errors and last error (already redacted by the cache). Self-contained (no
/// external assets) and refreshing itself.
fn status_page(registry: &Registry, config: &ServerConfig, now: SystemTime) -> String {
    let title = html_escape(&config.title);
    let path = html_escape(&config.telemetry_path);
    let exporters = registry.status();
    let collectors: usize = exporters.iter().map(|e| e.collectors.len()).sum();
    let down = exporters
        .iter()
        .flat_map(|e| &e.collectors)
        .filter(|c| c.health.runs > 0 && !c.health.up && c.health.not_applicable.is_none())
        .count();
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{STATUS_REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}\
         table{{border-collapse:collapse;margin-bottom:1.5em}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         th{{background:#f4f4f4}}td.num{{text-align:right}}.down{{color:#b00;font-weight:bold}}.up{{color:#070}}\
         .pending,.n\\/a{{color:#777}}code{{background:#f4f4f4;padding:1px 4px}}.err{{max-width:40em;word-break:break-word}}\
         </style></head><body><h1>{title}</h1>\
         <p><a href=\"{path}\">Metrics</a> · <a href=\"/-/healthy\">Health</a> · \
         <a href=\"/-/ready\">Readiness</a></p>\
         <p id=\"summary\">{targets} target(s), {collectors} collector(s), {down} down. \
         This page refreshes every {STATUS_REFRESH_SECONDS} s.</p>\n",
        targets = exporters.len(),
    );
    let exporters_shown = exporters.len();
    for exporter in exporters {
        let labels = exporter.const_labels.to_string();
        // The link as the `up` collector last saw it: an alert-worthy plaintext link shows here too.
        let link = exporter
            .collectors
            .iter()
            .find_map(|c| c.health.tls.as_ref())
            .map_or_else(String::new, |tls| {
                let class = if tls.encrypted { "up" } else { "down" };
                format!(
                    "<p class=\"link\">Connection: <span class=\"{class}\">{}</span></p>",
                    html_escape(&tls.describe())
                )
            });
        let _ = writeln!(
            page,
            "<h2>{} <code>{}</code></h2>{link}<table class=\"collectors\"><tr><th>Collector</th><th>State</th>\
             <th>Series</th><th>Interval</th><th>Last success</th><th>Last duration</th><th>Errors</th>\
             <th>Last error</th></tr>",
            html_escape(&exporter.name),
            html_escape(if labels.is_empty() { "{}" } else { &labels }),
        );
        for c in exporter.collectors {
            let h = &c.health;
            let state = match (h.runs, h.up, &h.not_applicable) {
                (0, _, _) => "pending",
                (_, _, Some(_)) => "n/a",
                (_, true, _) => "up",
                (_, false, _) => "down",
            };
            // The reason a collector does not apply shows where an error would.
            let note = h
                .not_applicable
                .as_deref()
                .or(h.last_error.as_deref())
                .unwrap_or("");
            let age = h
                .last_success
                .and_then(|t| now.duration_since(t).ok())
                .map_or_else(
                    || "never".to_owned(),
                    |d| format!("{:.1} s ago", d.as_secs_f64()),
                );
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td class=\"{state}\">{state}</td><td class=\"num\">{}</td><td>{}</td>\
                 <td>{age}</td><td class=\"num\">{:.3} s</td><td class=\"num\">{}</td><td class=\"err\">{}</td></tr>",
                html_escape(&c.name),
                h.series,
                humanize(c.interval),
                h.last_duration.as_secs_f64(),
                h.errors_total,
                html_escape(note),
            );
        }
        page.push_str("</table>\n");
    }
    if let Some(cluster) = &config.cluster {
        cluster_section(&mut page, cluster, exporters_shown);
    }
    catalogue_list(&mut page, &config.catalogue);
    page.push_str("</body></html>\n");
    page
}

/// The replicas sharing the targets, this one marked, and its share.
fn cluster_section(page: &mut String, cluster: &crate::cluster::Membership, targets: usize) {
    let share = cluster.share();
    let name = html_escape(&cluster.config().name);
    let state = if cluster.joined() {
        "<span class=\"up\">joined</span>"
    } else {
        "<span class=\"down\">not joined (etcd not reached yet, or its lease was lost): keeping its share</span>"
    };
    let _ = writeln!(
        page,
        "<h2>Cluster <code>{name}</code></h2><p id=\"cluster\">This replica, <code>{}</code>, is {state}; it \
         exports {targets} target(s), its share among {} replica(s).</p><table class=\"members\"><tr><th>Member</th></tr>",
        html_escape(&share.me),
        share.members.len(),
    );
    for m in &share.members {
        let me = if *m == share.me {
            " (this replica)"
        } else {
            ""
        };
        let _ = writeln!(page, "<tr><td>{}{me}</td></tr>", html_escape(m));
    }
    page.push_str("</table>\n");
}

/// Which collectors run and which could, with the flag that changes each: what a user reads before
/// reaching for `--help`.
fn catalogue_list(page: &mut String, catalogue: &CatalogueSummary) {
    if catalogue.collectors.is_empty() {
        return;
    }
    let prefix = catalogue.flag_prefix;
    page.push_str(
        "<h2>Collectors offered</h2><table class=\"catalogue\"><tr><th>Collector</th><th>State</th>\
         <th>Default</th><th>Flag</th><th>Interval</th><th>Exports</th></tr>\n",
    );
    for c in &catalogue.collectors {
        let (state, flag) = if c.on {
            ("on", format!("--no-{prefix}{}", c.name))
        } else {
            ("off", format!("--{prefix}{}", c.name))
        };
        let class = if c.on { "up" } else { "pending" };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"{class}\">{state}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            html_escape(c.name),
            if c.default { "on" } else { "off" },
            html_escape(&flag),
            c.interval.map_or_else(|| "the exporter's".to_owned(), |i| i.to_string()),
            html_escape(c.help),
        );
    }
    page.push_str("</table>\n");
    if !catalogue.upstream_only.is_empty() {
        let names: Vec<String> = catalogue
            .upstream_only
            .iter()
            .map(|n| format!("<code>{}</code>", html_escape(n)))
            .collect();
        let _ = writeln!(
            page,
            "<p id=\"upstream-only\">Not built yet (their flags are accepted and ignored): {}</p>",
            names.join(", ")
        );
    }
}

/// `15s`, `1m30s`, `500ms`: how the flags spell durations.
pub(crate) fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 || ms == 0 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, gzip;q=1.0, *;q=0.5"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn format_negotiation() {
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Text
        );
        // What Prometheus sends.
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                    text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
    }

    #[test]
    fn durations_read_like_flags() {
        assert_eq!(humanize(Duration::from_secs(15)), "15s");
        assert_eq!(humanize(Duration::from_secs(90)), "1m30s");
        assert_eq!(humanize(Duration::from_secs(120)), "2m");
        assert_eq!(humanize(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_catalogue_lists_each_collector_with_the_flag_that_changes_it() {
        use crate::catalogue::CollectorChoice;
        let mut page = String::new();
        catalogue_list(&mut page, &CatalogueSummary::default());
        assert!(page.is_empty());
        let summary = CatalogueSummary {
            flag_prefix: "collector.",
            collectors: vec![
                CollectorChoice {
                    name: "locks",
                    on: true,
                    default: true,
                    help: "Locks <by mode>",
                    interval: None,
                },
                CollectorChoice {
                    name: "stat_io",
                    on: false,
                    default: false,
                    help: "I/O",
                    interval: Some(crate::catalogue::Interval::AtLeast(Duration::from_secs(60))),
                },
            ],
            upstream_only: vec!["mysql.user"],
        };
        catalogue_list(&mut page, &summary);
        assert!(page.contains(
            "<tr><td>locks</td><td class=\"up\">on</td><td>on</td><td><code>--no-collector.locks</code></td>\
             <td>the exporter's</td><td>Locks &lt;by mode&gt;</td></tr>"
        ));
        assert!(page.contains(
            "<td class=\"pending\">off</td><td>off</td><td><code>--collector.stat_io</code></td>\
             <td>every 1m (default)</td>"
        ));
        assert!(page.contains(
            "Not built yet (their flags are accepted and ignored): <code>mysql.user</code>"
        ));
    }

    #[test]
    fn collect_parameters_are_read_decoded() {
        let requested = |uri: &str| CollectSelection::requested(&uri.parse().unwrap());
        assert_eq!(
            requested(
                "/m?target=db:3306&collect[]=global_status&collect%5B%5D=info_schema.processlist&collect[]=a+b"
            ),
            ["global_status", "info_schema.processlist", "a b"]
        );
        assert!(requested("/m").is_empty());
        assert!(requested("/m?collect=x&%zz").is_empty());
    }
}
