//! `/probe?target=...[&auth_module=NAME]`: the multi-target pattern, with the same bounds and answers in every
//! exporter. Each target gets its own exporter and registry on its first probe, which waits for the first
//! collection; later probes read the cache, like `/metrics`; a target not probed for the idle timeout is
//! closed.
//!
//! What a target is, who may be probed and how its exporter is built is the exporter's: a [`Prober`]. The rest
//! is here:
//!
//! | answer | when | counted as `hubble_probes_refused_total{reason}` |
//! |---|---|---|
//! | 400 | no `target`, a target or `auth_module` that does not parse or exist | `bad_request` |
//! | 403 | a target the allowlist refuses | `not_allowed` |
//! | 503 | [`Probes::max_targets`] kept already | `too_many_targets` |
//! | 503 | [`Probes::max_first_probes`] new targets waiting for their first collection | `busy` |
//! | 500 | the exporter could not be built (not a refusal: not counted) | |
//!
//! ```
//! use std::time::Duration;
//! use hubble::targets::probe::{Prober, Probes, Refusal};
//! use hubble::targets::up::{Answer, Check, Up};
//! use hubble::{BaseExporter, Registry};
//!
//! /// Probes targets named `db1`, `db2`...
//! struct Demo;
//!
//! /// A check that always answers (a real one runs a statement).
//! struct Answers;
//!
//! impl Check for Answers {
//!     async fn check(&self) -> Result<Answer, String> {
//!         Ok(Answer::default())
//!     }
//! }
//!
//! impl Prober for Demo {
//!     type Key = String;
//!     const TARGET_FORM: &'static str = "db<N>";
//!
//!     fn resolve(&self, target: &str, _auth_module: Option<&str>) -> Result<String, Refusal> {
//!         if !target.starts_with("db") {
//!             return Err(Refusal::not_allowed(format!("{target} is not a database")));
//!         }
//!         Ok(target.to_owned())
//!     }
//!
//!     async fn open(
//!         &self,
//!         _key: &String,
//!         registry: &Registry,
//!         _runtime: &tokio::runtime::Handle,
//!     ) -> Result<(), Refusal> {
//!         let up = Up::new("demo_up", "Whether the demo answered.", Answers, Duration::from_secs(5));
//!         let exporter = BaseExporter::builder("demo")
//!             .collector(up)
//!             .build()
//!             .map_err(|e| Refusal::failed(e.to_string()))?;
//!         hubble::targets::probe::register(registry, exporter).await
//!     }
//!
//!     fn first_collection_wait(&self) -> Duration {
//!         Duration::from_secs(5)
//!     }
//!
//!     fn describe(&self, key: &String) -> String {
//!         key.clone()
//!     }
//! }
//!
//! let probes = std::sync::Arc::new(Probes::new(Demo, &Registry::without_process_metrics()));
//! let routes: axum::Router = axum::Router::new()
//!     .route("/probe", axum::routing::get(hubble::targets::probe::handler::<Demo>))
//!     .with_state(probes);
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Registry;

/// The exporter's half of `/probe`: what a target is and how its exporter is built.
pub trait Prober: Send + Sync + 'static {
    /// What tells targets apart: probes with equal keys share one exporter.
    type Key: Eq + Hash + Clone + Send + Sync + 'static;

    /// How a target is written, for the 400 of a probe without one (`host:port`, `<dsn or host:port>`).
    const TARGET_FORM: &'static str;

    /// The probe's target, checked: parsed, its auth module applied, allowed. Nothing is connected to here,
    /// and a refusal never quotes a password.
    fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<Self::Key, Refusal>;

    /// Builds the target's exporter and registers it in `registry`; its collectors run on `runtime`.
    /// Everything it opens must close with `registry.close_all()` (the exporter's `close`).
    fn open(
        &self,
        key: &Self::Key,
        registry: &Registry,
        runtime: &tokio::runtime::Handle,
    ) -> impl Future<Output = Result<(), Refusal>> + Send;

    /// How long a new target's first probe waits for its first collection.
    fn first_collection_wait(&self) -> Duration;

    /// The target for logs: never its password.
    fn describe(&self, key: &Self::Key) -> String;
}

/// A probe answered without metrics: its status, the reason it is counted under, and one line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    status: StatusCode,
    reason: Option<&'static str>,
    message: String,
}

impl Refusal {
    /// 400: the target or auth module does not parse or does not exist.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("bad_request"), message)
    }

    /// 403: the allowlist refuses the target.
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Some("not_allowed"), message)
    }

    /// 500: the target's exporter could not be built. Not a refusal of the caller: not counted.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, message)
    }

    fn new(status: StatusCode, reason: Option<&'static str>, message: impl Into<String>) -> Self {
        Refusal {
            status,
            reason,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The line the caller reads.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Makes the exporter of a target at an address, for an [`AddressProber`].
pub trait BuildExporter: Send + Sync + 'static {
    /// The exporter it makes.
    type Exporter: crate::Exporter;

    /// The exporter of the target at `host`:`port`; the error is one line.
    fn build(&self, host: &str, port: u16) -> Result<Self::Exporter, String>;
}

/// A [`Prober`] for targets written `host:port` (`[v6]:port`), reached with the exporter's own credentials:
/// checked against an [`Allowlist`](super::allowlist::Allowlist), then `build` makes the target's exporter.
/// An `auth_module` is refused: there are no credentials to choose from.
pub struct AddressProber<F> {
    allowlist: super::allowlist::Allowlist,
    wait: Duration,
    build: F,
}

impl<F> std::fmt::Debug for AddressProber<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressProber")
            .field("allowlist", &self.allowlist)
            .finish_non_exhaustive()
    }
}

impl<F> AddressProber<F> {
    /// Probes what `allowlist` allows, waiting up to `first_collection_wait` for a new target's first
    /// collection; `build` makes a target's exporter.
    pub fn new(
        allowlist: super::allowlist::Allowlist,
        first_collection_wait: Duration,
        build: F,
    ) -> Self {
        AddressProber {
            allowlist,
            wait: first_collection_wait,
            build,
        }
    }
}

impl<B: BuildExporter> Prober for AddressProber<B> {
    type Key = (String, u16);

    const TARGET_FORM: &'static str = "host:port";

    fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<Self::Key, Refusal> {
        if auth_module.is_some() {
            return Err(Refusal::bad_request(
                "auth_module is not supported: targets are reached with the exporter's own credentials",
            ));
        }
        let (host, port) = match target.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() => (
                host.trim_start_matches('[').trim_end_matches(']'),
                port.parse::<u16>().map_err(|_| {
                    Refusal::bad_request("target: expected host:port with a numeric port")
                })?,
            ),
            _ => return Err(Refusal::bad_request("target: expected host:port")),
        };
        self.allowlist
            .check(host, port)
            .map_err(|e| Refusal::not_allowed(e.to_string()))?;
        Ok((host.to_owned(), port))
    }

    async fn open(
        &self,
        (host, port): &Self::Key,
        registry: &Registry,
        _runtime: &tokio::runtime::Handle,
    ) -> Result<(), Refusal> {
        let exporter = self.build.build(host, *port).map_err(Refusal::failed)?;
        register(registry, exporter).await
    }

    fn first_collection_wait(&self) -> Duration {
        self.wait
    }

    fn describe(&self, (host, port): &Self::Key) -> String {
        super::allowlist::server(host, *port)
    }
}

/// Registers a probed target's `exporter` in its `registry`, for [`Prober::open`]: a failure is a 500.
pub async fn register<E: crate::Exporter>(registry: &Registry, exporter: E) -> Result<(), Refusal> {
    registry
        .register(exporter)
        .await
        .map(drop)
        .map_err(|e| Refusal::failed(e.to_string()))
}

/// The reasons `hubble_probes_refused_total` counts, each present from the start.
const REASONS: [&str; 4] = ["not_allowed", "bad_request", "too_many_targets", "busy"];

struct Probed {
    registry: Registry,
    last_used: Mutex<Instant>,
    /// Held until the first collection is in (or the first probe gave up waiting).
    first_probe: Mutex<Option<OwnedSemaphorePermit>>,
}

/// The probed targets of one exporter.
pub struct Probes<P: Prober> {
    prober: P,
    idle: Duration,
    max_targets: usize,
    max_first_probes: usize,
    /// First probes in flight: each holds a permit until its first collection, so targets that never answer
    /// cannot pile up waiting requests.
    first_probes: Arc<Semaphore>,
    collect_on: Option<tokio::runtime::Handle>,
    enable_openmetrics: bool,
    collect: Option<crate::CollectSelection>,
    targets: tokio::sync::Mutex<HashMap<P::Key, Arc<Probed>>>,
    refused: prometheus::IntCounterVec,
}

impl<P: Prober> std::fmt::Debug for Probes<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("idle", &self.idle)
            .field("max_targets", &self.max_targets)
            .field("max_first_probes", &self.max_first_probes)
            .finish_non_exhaustive()
    }
}

impl<P: Prober> Probes<P> {
    /// Most targets kept at once, by default.
    pub const DEFAULT_MAX_TARGETS: usize = 1000;
    /// Most new targets waiting for their first collection at once, by default.
    pub const DEFAULT_MAX_FIRST_PROBES: usize = 32;
    /// How long a target is kept without a probe, by default.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

    /// No target yet; refusals are counted in `hubble_probes_refused_total` on `registry`.
    pub fn new(prober: P, registry: &Registry) -> Self {
        let refused = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "hubble_probes_refused_total",
                "Probes refused before reaching a target, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for reason in REASONS {
            refused.with_label_values(&[reason]);
        }
        // Already registered: a second run in one process (tests); the first run's counter stays.
        let _ = registry.prometheus().register(Box::new(refused.clone()));
        Probes {
            prober,
            idle: Self::DEFAULT_IDLE_TIMEOUT,
            max_targets: Self::DEFAULT_MAX_TARGETS,
            max_first_probes: Self::DEFAULT_MAX_FIRST_PROBES,
            first_probes: Arc::new(Semaphore::new(Self::DEFAULT_MAX_FIRST_PROBES)),
            collect_on: None,
            enable_openmetrics: false,
            collect: None,
            targets: tokio::sync::Mutex::new(HashMap::new()),
            refused,
        }
    }

    /// Closes a target after `idle` without a probe.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Keeps at most `n` targets; a probe of one more is a 503 until idle ones close.
    pub fn max_targets(mut self, n: usize) -> Self {
        self.max_targets = n;
        self
    }

    /// Lets at most `n` new targets wait for their first collection at once; more are a 503.
    pub fn max_first_probes(mut self, n: usize) -> Self {
        self.max_first_probes = n;
        self.first_probes = Arc::new(Semaphore::new(n));
        self
    }

    /// Runs probed targets' collectors in `runtime`, as [`Registry::collect_on`] (`None`: the probing
    /// request's runtime).
    pub fn collect_on(mut self, runtime: Option<tokio::runtime::Handle>) -> Self {
        self.collect_on = runtime;
        self
    }

    /// Answers in OpenMetrics when the scraper asks for it, as
    /// Honour `collect[]` in the probe's query ([`ServerConfig::collect_param`](crate::ServerConfig::collect_param)).
    pub fn collect_param(mut self, selection: Option<crate::CollectSelection>) -> Self {
        self.collect = selection;
        self
    }

    /// [`ServerConfig::enable_openmetrics`](crate::ServerConfig::enable_openmetrics).
    pub fn enable_openmetrics(mut self, on: bool) -> Self {
        self.enable_openmetrics = on;
        self
    }

    /// The exporter's half.
    pub fn prober(&self) -> &P {
        &self.prober
    }

    fn refuse(&self, refusal: Refusal) -> Refusal {
        if let Some(reason) = refusal.reason {
            self.refused.with_label_values(&[reason]).inc();
        }
        refusal
    }

    /// The target's registry, created (its exporter built) on its first probe.
    async fn get(&self, key: P::Key) -> Result<Arc<Probed>, Refusal> {
        let mut targets = self.targets.lock().await;
        if let Some(p) = targets.get(&key) {
            *p.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            return Ok(p.clone());
        }
        if targets.len() >= self.max_targets {
            return Err(self.refuse(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("too_many_targets"),
                format!(
                    "too many probed targets ({}); idle ones close after {:?} without a probe",
                    self.max_targets, self.idle
                ),
            )));
        }
        let Ok(permit) = self.first_probes.clone().try_acquire_owned() else {
            return Err(self.refuse(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("busy"),
                format!(
                    "too many new targets waiting for their first collection ({}); try again",
                    self.max_first_probes
                ),
            )));
        };
        let registry = Registry::without_process_metrics();
        // A probed target is scraped about once per collection: a kept body would rarely be reused, and a
        // thousand targets would hold a thousand of them.
        registry.keep_bodies(false);
        let runtime = self
            .collect_on
            .clone()
            .unwrap_or_else(tokio::runtime::Handle::current);
        if self.collect_on.is_some() {
            registry.collect_on(runtime.clone());
        }
        if let Err(refusal) = self.prober.open(&key, &registry, &runtime).await {
            registry.close_all().await;
            return Err(self.refuse(refusal));
        }
        tracing::info!(target = %self.prober.describe(&key), "probing a new target");
        let probed = Arc::new(Probed {
            registry,
            last_used: Mutex::new(Instant::now()),
            first_probe: Mutex::new(Some(permit)),
        });
        targets.insert(key, probed.clone());
        Ok(probed)
    }

    /// Closes targets not probed for the idle timeout; returns how many.
    pub async fn evict_idle(&self) -> usize {
        let now = Instant::now();
        let idle: Vec<Arc<Probed>> = {
            let mut targets = self.targets.lock().await;
            let expired: Vec<P::Key> = targets
                .iter()
                .filter(|(_, p)| {
                    now.duration_since(*p.last_used.lock().unwrap_or_else(|e| e.into_inner()))
                        >= self.idle
                })
                .map(|(k, _)| k.clone())
                .collect();
            expired.iter().filter_map(|k| targets.remove(k)).collect()
        };
        for p in &idle {
            p.registry.close_all().await;
        }
        idle.len()
    }

    /// Closes idle targets every quarter of the idle timeout until `cancel`, then closes every target.
    pub async fn run_evictions(&self, cancel: CancellationToken) {
        let every = (self.idle / 4).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(every) => { self.evict_idle().await; }
            }
        }
        self.close().await;
    }

    /// Closes every target.
    pub async fn close(&self) {
        let all: Vec<Arc<Probed>> = self.targets.lock().await.drain().map(|(_, p)| p).collect();
        for p in all {
            p.registry.close_all().await;
        }
    }

    /// Number of live targets.
    pub async fn len(&self) -> usize {
        self.targets.lock().await.len()
    }

    /// Whether no target is live.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// The answer to one probe.
    pub async fn answer(
        &self,
        target: Option<&str>,
        auth_module: Option<&str>,
        headers: &HeaderMap,
    ) -> Response {
        self.answer_selecting(target, auth_module, &[], headers)
            .await
    }

    /// [`answer`](Self::answer), of the collectors `requested` names (`collect[]`) where that is honoured.
    pub async fn answer_selecting(
        &self,
        target: Option<&str>,
        auth_module: Option<&str>,
        requested: &[String],
        headers: &HeaderMap,
    ) -> Response {
        let Some(target) = target.filter(|t| !t.is_empty()) else {
            let refusal = self.refuse(Refusal::bad_request(format!(
                "missing ?target={}",
                P::TARGET_FORM
            )));
            return (refusal.status, format!("{}\n", refusal.message)).into_response();
        };
        let auth_module = auth_module.filter(|m| !m.is_empty());
        let probed = match self.prober.resolve(target, auth_module) {
            Ok(key) => self.get(key).await,
            Err(refusal) => Err(self.refuse(refusal)),
        };
        let probed = match probed {
            Ok(p) => p,
            Err(refusal) => {
                return (refusal.status, format!("{}\n", refusal.message)).into_response()
            }
        };
        // A new target's first collection: wait for it (bounded) rather than answer empty.
        let deadline = Instant::now() + self.prober.first_collection_wait();
        while !probed.registry.is_ready() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        probed
            .first_probe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match &self.collect {
            Some(selection) => {
                crate::metrics_response_with(headers, self.enable_openmetrics, |f| {
                    selection.render(&probed.registry, f, requested)
                })
            }
            None => crate::metrics_response(&probed.registry, headers, self.enable_openmetrics),
        }
    }
}

/// `GET /probe`, for `axum::routing::get(handler::<P>)` with the [`Probes`] as state.
pub async fn handler<P: Prober>(
    State(probes): State<Arc<Probes<P>>>,
    Query(params): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let requested = crate::CollectSelection::requested(&uri);
    probes
        .answer_selecting(
            params.get("target").map(String::as_str),
            params.get("auth_module").map(String::as_str),
            &requested,
            &headers,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BaseExporter, CollectError, Collector, Family, MetricKind, Sample};

    /// Targets `db<N>`; `slow` ones take a minute to collect.
    struct Demo;

    struct Answers(Duration);

    impl Collector for Answers {
        fn name(&self) -> &str {
            "demo"
        }
        fn families(&self) -> Vec<Family> {
            vec![Family::new(
                "demo_up",
                "Up.",
                MetricKind::Gauge,
                Vec::<&str>::new(),
            )]
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            tokio::time::sleep(self.0).await;
            Ok(vec![Sample::gauge("demo_up", "Up.", 1.0)])
        }
    }

    impl Prober for Demo {
        type Key = String;
        const TARGET_FORM: &'static str = "host:port";

        fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<String, Refusal> {
            if auth_module.is_some_and(|m| m != "known") {
                return Err(Refusal::bad_request("no such auth_module"));
            }
            if !target.starts_with("db") && !target.starts_with("slow") {
                return Err(Refusal::not_allowed(format!("{target} is not allowed")));
            }
            Ok(target.to_owned())
        }

        async fn open(
            &self,
            key: &String,
            registry: &Registry,
            _runtime: &tokio::runtime::Handle,
        ) -> Result<(), Refusal> {
            let wait = if key.starts_with("slow") { 60 } else { 0 };
            let exporter = BaseExporter::builder("demo")
                // A start jitter of at most a tenth of the interval: 200 ms.
                .interval(Duration::from_secs(2))
                .collector(Answers(Duration::from_secs(wait)))
                .build()
                .map_err(|e| Refusal::failed(e.to_string()))?;
            register(registry, exporter).await
        }

        fn first_collection_wait(&self) -> Duration {
            Duration::from_millis(600)
        }

        fn describe(&self, key: &String) -> String {
            key.clone()
        }
    }

    async fn status(probes: &Probes<Demo>, target: &str, module: Option<&str>) -> (u16, String) {
        let response = probes.answer(Some(target), module, &HeaderMap::new()).await;
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn refused(registry: &Registry, reason: &str) -> u64 {
        registry
            .prometheus()
            .gather()
            .iter()
            .filter(|f| f.name() == "hubble_probes_refused_total")
            .flat_map(|f| f.get_metric())
            .filter(|m| m.get_label().iter().any(|l| l.value() == reason))
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }

    // Paused time: the waits, the idle timeout and the slow collector follow the test's clock, not the machine's.
    #[tokio::test(start_paused = true)]
    async fn answers_refuses_and_counts() {
        let own = Registry::without_process_metrics();
        let probes = Probes::new(Demo, &own)
            .max_targets(3)
            .max_first_probes(1)
            .idle_timeout(Duration::from_millis(700));
        for reason in REASONS {
            assert_eq!(refused(&own, reason), 0, "{reason} present from the start");
        }

        let (code, body) = status(&probes, "db1", None).await;
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("demo_up 1"), "body: {body:?}");
        assert_eq!(status(&probes, "db1", Some("known")).await.0, 200);
        assert_eq!(probes.len().await, 1, "one key, one target");

        let missing = probes.answer(None, None, &HeaderMap::new()).await;
        assert_eq!(missing.status(), 400);
        assert_eq!(status(&probes, "db1", Some("nope")).await.0, 400);
        assert_eq!(refused(&own, "bad_request"), 2);
        let (code, body) = status(&probes, "web1", None).await;
        assert_eq!((code, body.as_str()), (403, "web1 is not allowed\n"));
        assert_eq!(refused(&own, "not_allowed"), 1);

        // A target that has not collected yet holds the one first-probe permit while it is awaited...
        let (slow, busy) = tokio::join!(status(&probes, "slow1", None), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            status(&probes, "db2", None).await
        });
        assert_eq!(slow.0, 200, "answered empty after the wait: {}", slow.1);
        assert_eq!(busy.0, 503, "{}", busy.1);
        assert_eq!(refused(&own, "busy"), 1);
        // ...and gives it back when the wait ends. Three targets are the most kept.
        assert_eq!(status(&probes, "db2", None).await.0, 200);
        let (code, body) = status(&probes, "db3", None).await;
        assert_eq!(
            (code, body.contains("too many probed targets")),
            (503, true),
            "{body}"
        );
        assert_eq!(refused(&own, "too_many_targets"), 1);

        tokio::time::sleep(Duration::from_millis(750)).await;
        assert_eq!(probes.evict_idle().await, 3);
        assert!(probes.is_empty().await);
        assert_eq!(status(&probes, "db3", None).await.0, 200);
        probes.close().await;
        assert!(probes.is_empty().await);
    }
}
