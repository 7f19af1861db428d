//! `/probe?target=<dsn or host:port>[&auth_module=NAME]`: the multi-target pattern. Each target gets its own
//! exporter, pool and registry, created on its first probe (which waits for the first collection) and closed
//! after it has not been probed for the idle timeout. Later probes read the cache, like `/metrics`.
//!
//! A probe reaches only a server the [`Allowlist`] allows, checked before anything else is done with the
//! target; credentials come from the target itself, the named auth module, or the `--target.*` defaults. A
//! password goes through an [`AuthGuard`] unless the operator allowed insecure authentication.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hubble::{Labels, Registry};
use tokio::time::Instant;

use super::allowlist::Allowlist;
use super::auth_guard::AuthGuard;
use super::auth_modules::AuthModules;
use super::connection::Dsn;
use super::live::{Holds, Live};

struct Probed {
    registry: Registry,
    last_used: Mutex<Instant>,
    /// Held until the first collection is in (or the first probe gave up waiting).
    first_probe: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

/// Who may be probed, and with which credentials.
pub struct Access {
    /// Servers `/probe` may reach.
    pub allowlist: Arc<Allowlist>,
    /// Named credentials (`--config.file`).
    pub auth_modules: Arc<AuthModules>,
    /// Send passwords to servers that ask for them in cleartext or as MD5 (`--probe.allow-insecure-auth`).
    pub allow_insecure_auth: bool,
}

/// The probed targets.
pub struct Probes {
    defaults: Dsn,
    live: Arc<Live>,
    access: Access,
    idle: Duration,
    max_targets: usize,
    /// First probes in flight: each holds a permit until its first collection, so targets that never answer
    /// cannot pile up waiting requests.
    first_probes: Arc<tokio::sync::Semaphore>,
    /// Where probed targets' collectors run (`None`: the probing request's runtime).
    collect_on: Option<tokio::runtime::Handle>,
    /// Answer in OpenMetrics when asked (`--web.enable-openmetrics`).
    enable_openmetrics: bool,
    targets: tokio::sync::Mutex<HashMap<Dsn, Arc<Probed>>>,
    refused: prometheus::IntCounterVec,
}

/// A probe that cannot be answered with metrics: its status and one line saying why.
type Refusal = (StatusCode, String);

impl Probes {
    /// Most targets kept at once; a probe for one more is refused rather than opening unbounded pools.
    pub const DEFAULT_MAX_TARGETS: usize = 1000;
    /// Most first probes (new targets waiting for their first collection) at once; more get 503.
    pub const DEFAULT_MAX_FIRST_PROBES: usize = 32;

    /// Probes with `defaults` for what a target leaves unset, under the settings of `live` (reloads
    /// included), reaching what `access` allows, closed after `idle` without a probe. Refusals are counted
    /// in `hubble_probes_refused_total` on `registry`.
    pub fn new(
        defaults: Dsn,
        live: Arc<Live>,
        access: Access,
        idle: Duration,
        registry: &hubble::Registry,
    ) -> Self {
        let refused = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "hubble_probes_refused_total",
                "Probes refused before reaching a target, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for reason in ["not_allowed", "bad_request", "too_many_targets", "busy"] {
            refused.with_label_values(&[reason]);
        }
        // Already registered: a second run in one process (tests); the first run's counter stays.
        let _ = registry.prometheus().register(Box::new(refused.clone()));
        Probes {
            defaults,
            live,
            access,
            idle,
            max_targets: Self::DEFAULT_MAX_TARGETS,
            first_probes: Arc::new(tokio::sync::Semaphore::new(Self::DEFAULT_MAX_FIRST_PROBES)),
            collect_on: None,
            enable_openmetrics: false,
            targets: tokio::sync::Mutex::new(HashMap::new()),
            refused,
        }
    }

    /// Runs probed targets' collectors in `runtime`, as [`Registry::collect_on`].
    pub fn collect_on(mut self, runtime: Option<tokio::runtime::Handle>) -> Self {
        self.collect_on = runtime;
        self
    }

    /// Answers in OpenMetrics when the scraper asks for it, as [`hubble::ServerConfig::enable_openmetrics`].
    pub fn enable_openmetrics(mut self, on: bool) -> Self {
        self.enable_openmetrics = on;
        self
    }

    fn refuse(&self, reason: &str, status: StatusCode, message: String) -> Refusal {
        self.refused.with_label_values(&[reason]).inc();
        (status, message)
    }

    /// The DSN a probe of `target` with `auth_module` connects with, if the target is allowed. Nothing
    /// is connected to here; the error never holds a password.
    fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<Dsn, Refusal> {
        let bad = |message: String| self.refuse("bad_request", StatusCode::BAD_REQUEST, message);
        // The parse error never echoes the target: it may hold a password.
        let mut dsn = target.parse::<Dsn>().map_err(|e| bad(e.to_string()))?;
        if let Some(name) = auth_module {
            let module = self
                .access
                .auth_modules
                .get(name)
                .ok_or_else(|| bad(format!("auth_module {name} not found")))?;
            dsn = module.apply(dsn).map_err(bad)?;
        }
        self.access.allowlist.check(&dsn).map_err(|e| {
            tracing::debug!(server = %dsn.server(), "probe refused: target not allowed");
            self.refuse("not_allowed", StatusCode::FORBIDDEN, e.to_string())
        })?;
        Ok(dsn.or_defaults(&self.defaults))
    }

    /// The target's registry, created (and its first collection awaited) on its first probe.
    async fn get(&self, dsn: Dsn) -> Result<Arc<Probed>, Refusal> {
        let mut targets = self.targets.lock().await;
        if let Some(p) = targets.get(&dsn) {
            *p.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            return Ok(p.clone());
        }
        if targets.len() >= self.max_targets {
            return Err(self.refuse(
                "too_many_targets",
                StatusCode::SERVICE_UNAVAILABLE,
                format!("too many probed targets ({})", self.max_targets),
            ));
        }
        let Ok(permit) = self.first_probes.clone().try_acquire_owned() else {
            return Err(self.refuse(
                "busy",
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "too many new targets waiting for their first collection ({}); try again",
                    Self::DEFAULT_MAX_FIRST_PROBES
                ),
            ));
        };
        let registry = Registry::without_process_metrics();
        // A probed target is scraped about once per collection: a kept body would rarely be reused, and a
        // thousand targets would hold a thousand of them.
        registry.keep_bodies(false);
        if let Some(runtime) = &self.collect_on {
            registry.collect_on(runtime.clone());
        }
        let guarded = !self.access.allow_insecure_auth
            && dsn.password.is_some()
            && !dsn.host.starts_with('/');
        let auth_guard = if guarded {
            let runtime = self
                .collect_on
                .clone()
                .unwrap_or_else(tokio::runtime::Handle::current);
            let timeout = self.live.collection().schedule.timeout;
            Some(
                AuthGuard::start(&dsn.host, dsn.port, timeout, &runtime).map_err(|e| {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("starting the authentication guard: {e}"),
                    )
                })?,
            )
        } else {
            None
        };
        let holds = Holds {
            auth_guard,
            known: None,
        };
        let exporter = self
            .live
            .exporter_holding(&dsn, Labels::new(), holds)
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        registry
            .register(exporter)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        tracing::info!(target = %dsn.redacted(), "probing a new target");
        let probed = Arc::new(Probed {
            registry,
            last_used: Mutex::new(Instant::now()),
            first_probe: Mutex::new(Some(permit)),
        });
        targets.insert(dsn, probed.clone());
        Ok(probed)
    }

    /// Closes targets not probed for the idle timeout; returns how many.
    pub async fn evict_idle(&self) -> usize {
        let now = Instant::now();
        let idle: Vec<Arc<Probed>> = {
            let mut targets = self.targets.lock().await;
            let expired: Vec<Dsn> = targets
                .iter()
                .filter(|(_, p)| {
                    now.duration_since(*p.last_used.lock().unwrap_or_else(|e| e.into_inner()))
                        >= self.idle
                })
                .map(|(d, _)| d.clone())
                .collect();
            expired.iter().filter_map(|d| targets.remove(d)).collect()
        };
        for p in &idle {
            p.registry.close_all().await;
        }
        idle.len()
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
}

/// The `/probe` handler.
pub async fn handler(
    State(probes): State<Arc<Probes>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(target) = params.get("target").filter(|t| !t.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            "missing ?target=<dsn or host:port>\n",
        )
            .into_response();
    };
    let auth_module = params.get("auth_module").filter(|m| !m.is_empty());
    let probed = match probes.resolve(target, auth_module.map(String::as_str)) {
        Ok(dsn) => probes.get(dsn).await,
        Err(refusal) => Err(refusal),
    };
    let probed = match probed {
        Ok(p) => p,
        Err((status, message)) => return (status, format!("{message}\n")).into_response(),
    };
    // A new target's first collection: wait for it (bounded by the collection timeout) rather than answer empty.
    let deadline =
        Instant::now() + probes.live.collection().schedule.timeout + Duration::from_secs(1);
    while !probed.registry.is_ready() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    probed
        .first_probe
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    hubble::metrics_response(&probed.registry, &headers, probes.enable_openmetrics)
}
