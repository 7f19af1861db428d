//! `/probe?target=<dsn or host:port>`: the multi-target pattern. Each target gets its own exporter, pool and
//! registry, created on its first probe (which waits for the first collection) and closed after it has not
//! been probed for the idle timeout. Later probes read the cache, like `/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hubble::{Labels, Registry};
use tokio::time::Instant;

use super::connection::Dsn;
use super::live::Live;

struct Probed {
    registry: Registry,
    last_used: Mutex<Instant>,
}

/// The probed targets.
pub struct Probes {
    defaults: Dsn,
    live: Arc<Live>,
    idle: Duration,
    max_targets: usize,
    /// Where probed targets' collectors run (`None`: the probing request's runtime).
    collect_on: Option<tokio::runtime::Handle>,
    targets: tokio::sync::Mutex<HashMap<Dsn, Arc<Probed>>>,
}

impl Probes {
    /// Most targets kept at once; a probe for one more is refused rather than opening unbounded pools.
    pub const DEFAULT_MAX_TARGETS: usize = 1000;

    /// Probes with `defaults` for what a target leaves unset, under the settings of `live` (reloads
    /// included), closed after `idle` without a probe.
    pub fn new(defaults: Dsn, live: Arc<Live>, idle: Duration) -> Self {
        Probes {
            defaults,
            live,
            idle,
            max_targets: Self::DEFAULT_MAX_TARGETS,
            collect_on: None,
            targets: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Runs probed targets' collectors in `runtime`, as [`Registry::collect_on`].
    pub fn collect_on(mut self, runtime: Option<tokio::runtime::Handle>) -> Self {
        self.collect_on = runtime;
        self
    }

    async fn get(&self, dsn: Dsn) -> Result<Arc<Probed>, (StatusCode, String)> {
        let mut targets = self.targets.lock().await;
        if let Some(p) = targets.get(&dsn) {
            *p.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            return Ok(p.clone());
        }
        if targets.len() >= self.max_targets {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("too many probed targets ({})", self.max_targets),
            ));
        }
        let registry = Registry::without_process_metrics();
        // A probed target is scraped about once per collection: a kept body would rarely be reused, and a
        // thousand targets would hold a thousand of them.
        registry.keep_bodies(false);
        if let Some(runtime) = &self.collect_on {
            registry.collect_on(runtime.clone());
        }
        let exporter = self
            .live
            .exporter(&dsn, Labels::new())
            .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        registry
            .register(exporter)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        tracing::info!(target = %dsn.redacted(), "probing a new target");
        let probed = Arc::new(Probed {
            registry,
            last_used: Mutex::new(Instant::now()),
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
    let dsn = match target.parse::<Dsn>() {
        Ok(d) => d.or_defaults(&probes.defaults),
        // The parse error never echoes the target: it may hold a password.
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let probed = match probes.get(dsn).await {
        Ok(p) => p,
        Err((status, message)) => return (status, format!("{message}\n")).into_response(),
    };
    // A new target's first collection: wait for it (bounded by the collection timeout) rather than answer empty.
    let deadline =
        Instant::now() + probes.live.collection().schedule.timeout + Duration::from_secs(1);
    while !probed.registry.is_ready() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hubble::metrics_response(&probed.registry, &headers)
}
