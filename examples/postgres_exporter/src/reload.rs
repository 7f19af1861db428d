//! Reloads on SIGHUP or `POST /-/reload`: the web config, the custom queries file and the Consul token file
//! are re-read. Everything is read and checked before anything is applied, so an invalid edit is logged and
//! the configuration in force stays whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hubble::discovery::ConsulBackend;
use hubble::{WebConfig, WebConfigHandle};

use super::auth_modules::{self, AuthModules};
use super::custom;
use super::live::Live;
use hubble::targets::allowlist::{self, Allowlist};

/// Reads a secret file (a password, a token), trimmed; the error names the flag and the file.
pub fn read_secret(path: &Path, flag: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// The files a reload re-reads and what it applies them to.
pub struct Reloader {
    pub(crate) web: Arc<WebConfigHandle>,
    pub(crate) live: Arc<Live>,
    pub(crate) query_path: Option<PathBuf>,
    pub(crate) consul: Option<(ConsulBackend, PathBuf)>,
    allowed_targets: Option<(Arc<Allowlist>, PathBuf)>,
    auth_modules: Option<(Arc<AuthModules>, PathBuf)>,
    successful: prometheus::IntGauge,
    success_time: prometheus::Gauge,
}

impl Reloader {
    pub(crate) fn new(
        web: Arc<WebConfigHandle>,
        live: Arc<Live>,
        query_path: Option<PathBuf>,
        consul: Option<(ConsulBackend, PathBuf)>,
        registry: &hubble::Registry,
    ) -> Self {
        let successful = prometheus::IntGauge::new(
            "hubble_config_last_reload_successful",
            "Whether the last configuration reload succeeded (1) or was refused (0).",
        )
        .expect("valid metric");
        let success_time = prometheus::Gauge::new(
            "hubble_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, in Unix seconds.",
        )
        .expect("valid metric");
        successful.set(1);
        success_time.set(unix_now());
        // Already registered: a second run in one process (tests); the first run's gauges stay.
        let _ = registry.prometheus().register(Box::new(successful.clone()));
        let _ = registry
            .prometheus()
            .register(Box::new(success_time.clone()));
        Reloader {
            web,
            live,
            query_path,
            consul,
            allowed_targets: None,
            auth_modules: None,
            successful,
            success_time,
        }
    }

    /// Also re-reads the `/probe` allowlist file and the auth modules file.
    pub(crate) fn probes(
        mut self,
        allowed_targets: Option<(Arc<Allowlist>, PathBuf)>,
        auth_modules: Option<(Arc<AuthModules>, PathBuf)>,
    ) -> Self {
        self.allowed_targets = allowed_targets;
        self.auth_modules = auth_modules;
        self
    }

    /// Re-reads every file; applies them all or, on the first error, none. Logs the outcome.
    pub fn reload(&self, trigger: &'static str) -> Result<(), String> {
        let result = self.try_reload();
        match &result {
            Ok(()) => {
                self.successful.set(1);
                self.success_time.set(unix_now());
            }
            Err(error) => {
                self.successful.set(0);
                tracing::error!(trigger, %error, "reload refused; the configuration in force stays");
            }
        }
        result
    }

    fn try_reload(&self) -> Result<(), String> {
        let web = match self.web.path() {
            Some(path) => Some(WebConfig::load(path).map_err(|e| e.to_string())?),
            None => None,
        };
        let queries = match &self.query_path {
            Some(path) => Some(custom::with_metric_prefix(
                custom::load(path).map_err(|e| format!("--extend.query-path {e}"))?,
                &self.live.collection().metric_prefix,
            )),
            None => None,
        };
        let token = match &self.consul {
            Some((_, path)) => Some(read_secret(path, "--discovery.consul.token-file")?),
            None => None,
        };
        let allowed = match &self.allowed_targets {
            Some((_, path)) => Some(allowlist::load_file(path)?),
            None => None,
        };
        let modules = match &self.auth_modules {
            Some((_, path)) => Some(auth_modules::load(path)?),
            None => None,
        };
        if let (Some((list, _)), Some(patterns)) = (&self.allowed_targets, allowed) {
            tracing::info!(patterns = patterns.len(), "probe allowlist reloaded");
            list.set_file_patterns(patterns);
        }
        if let (Some((handle, _)), Some(modules)) = (&self.auth_modules, modules) {
            tracing::info!(modules = modules.len(), "auth modules reloaded");
            handle.replace(modules);
        }
        if let Some(web) = web {
            tracing::info!(
                tls = web.tls_enabled(),
                basic_auth = web.basic_auth_enabled(),
                "web config reloaded"
            );
            self.web.replace(web);
        }
        if let Some(queries) = queries {
            let changes = self.live.set_custom_queries(queries);
            tracing::info!(
                added = changes.added,
                removed = changes.removed,
                targets = changes.targets,
                "custom queries reloaded"
            );
        }
        if let (Some((backend, _)), Some(token)) = (&self.consul, token) {
            backend.set_token(Some(token));
            tracing::info!("Consul token reloaded");
        }
        Ok(())
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
