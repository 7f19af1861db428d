//! `/probe?target=host:port[&auth_module=client.NAME]`: mysqld_exporter's multi-target pattern. Each target gets
//! its own exporter, connection and registry on its first probe (which waits for the first collection), kept
//! while probed and closed after `--probe.idle-timeout` without a probe. Later probes read the cache, like
//! `/metrics`.
//!
//! A probe reaches only a server `--probe.allowed-targets` allows (none by default), checked before anything
//! else is done with the target: credentials from the option file go to a server of the operator's choosing
//! only. The credentials are the option file's `[client]` section, or `[client.NAME]` for `auth_module`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postgres_exporter::allowlist::Pattern;
use tokio::time::Instant;

use crate::app::Target;
use crate::collectors::Server;
use crate::mycnf::Client;

/// Who may be probed, with which credentials, and how targets are collected.
#[derive(Clone)]
pub struct ProbeConfig {
    /// `--probe.allowed-targets`.
    pub allowed: Vec<Pattern>,
    /// The option file's `[client]` and `[client.NAME]` sections.
    pub sections: BTreeMap<String, Client>,
    /// `--probe.idle-timeout`.
    pub idle: Duration,
    /// The collectors turned on.
    pub collectors: Vec<&'static str>,
    /// `--collection.interval` and `--collection.timeout`.
    pub interval: Duration,
    /// See `interval`.
    pub timeout: Duration,
    /// Answer in OpenMetrics when asked (`--web.enable-openmetrics`).
    pub enable_openmetrics: bool,
    /// The `--exporter.*` session settings, for every server's connections.
    pub session: crate::app::Session,
}

struct Probed {
    registry: hubble::Registry,
    exporter: Arc<hubble::BaseExporter>,
    server: Server,
    last_used: Mutex<Instant>,
}

/// The probed targets.
pub struct Probes {
    config: ProbeConfig,
    targets: tokio::sync::Mutex<HashMap<(String, u16, String), Arc<Probed>>>,
}

/// Most targets probed at once; a probe beyond is refused until idle ones are closed.
const MAX_TARGETS: usize = 1000;

impl Probes {
    /// No target yet.
    pub fn new(config: ProbeConfig) -> Arc<Self> {
        Arc::new(Probes {
            config,
            targets: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// What it was made with.
    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }

    /// Closes targets not probed for the idle timeout.
    pub async fn evict_idle(&self) {
        let gone: Vec<Arc<Probed>> = {
            let mut targets = self.targets.lock().await;
            let now = Instant::now();
            let idle = self.config.idle;
            let stale: Vec<_> = targets
                .iter()
                .filter(|(_, p)| {
                    now.duration_since(*p.last_used.lock().unwrap_or_else(|e| e.into_inner()))
                        > idle
                })
                .map(|(k, _)| k.clone())
                .collect();
            stale.iter().filter_map(|k| targets.remove(k)).collect()
        };
        for p in gone {
            close(&p).await;
        }
    }

    /// Closes every target.
    pub async fn close(&self) {
        let all: Vec<_> = self.targets.lock().await.drain().map(|(_, p)| p).collect();
        for p in all {
            close(&p).await;
        }
    }

    async fn probed(
        &self,
        target: &str,
        module: &str,
    ) -> Result<Arc<Probed>, (StatusCode, String)> {
        let (host, port) = match crate::app::address(target) {
            Ok(a) => a,
            Err(_) if !target.is_empty() && !target.contains(':') => (target.to_owned(), 3306),
            Err(e) => return Err((StatusCode::BAD_REQUEST, format!("target: {e}"))),
        };
        if !self.config.allowed.iter().any(|p| p.matches(&host, port)) {
            return Err((
                StatusCode::FORBIDDEN,
                format!("target {host}:{port} is not allowed by --probe.allowed-targets"),
            ));
        }
        let client = self.config.sections.get(module).ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!("auth_module {module:?}: no [{module}] section in --config.my-cnf"),
            )
        })?;
        let user = client.user.clone().ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!("auth_module {module:?}: its section has no user"),
            )
        })?;
        let key = (host.clone(), port, module.to_owned());
        let mut targets = self.targets.lock().await;
        if let Some(p) = targets.get(&key) {
            return Ok(p.clone());
        }
        if targets.len() >= MAX_TARGETS {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{MAX_TARGETS} targets probed already; idle ones close after --probe.idle-timeout"),
            ));
        }
        let target = Target {
            address: Some((host, port)),
            socket: None,
            user,
            password: client.password.clone(),
            tls: client.tls.clone(),
        };
        let server = crate::app::connect(&target, self.config.timeout, &self.config.session);
        let exporter = crate::collectors::add(
            hubble::BaseExporter::builder("mysqld")
                .interval(self.config.interval)
                .timeout(self.config.timeout),
            &server,
            &target.tls_mode(),
            &self.config.collectors,
        )
        .build()
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let registry = hubble::Registry::without_process_metrics();
        let exporter = registry
            .register(exporter)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        tracing::info!(target = %target.describe(), auth_module = module, "probing a new target");
        let probed = Arc::new(Probed {
            registry,
            exporter,
            server,
            last_used: Mutex::new(Instant::now()),
        });
        targets.insert(key, probed.clone());
        Ok(probed)
    }
}

async fn close(p: &Probed) {
    p.registry.unregister(&*p.exporter).await;
    p.server.close().await;
}

/// `GET /probe`.
pub async fn handler(
    State(probes): State<Arc<Probes>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(target) = params.get("target").filter(|t| !t.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "missing target=host:port\n").into_response();
    };
    let module = params.get("auth_module").map_or("client", String::as_str);
    let probed = match probes.probed(target, module).await {
        Ok(p) => p,
        Err((status, why)) => return (status, format!("{why}\n")).into_response(),
    };
    *probed.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    // A new target's first collection: wait for it rather than answer with nothing.
    let deadline = Instant::now() + probes.config.timeout;
    while !probed.registry.is_ready() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hubble::metrics_response(&probed.registry, &headers, probes.config.enable_openmetrics)
}
