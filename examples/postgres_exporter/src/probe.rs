//! `/probe?target=<dsn or host:port>[&auth_module=NAME]`: the multi-target pattern. Each target gets its own
//! exporter, pool and registry, created on its first probe (which waits for the first collection) and closed
//! after it has not been probed for the idle timeout. Later probes read the cache, like `/metrics`.
//!
//! A probe reaches only a server the [`Allowlist`] allows, checked before anything else is done with the
//! target; credentials come from the target itself, the named auth module, or the `--target.*` defaults. A
//! password goes through an [`AuthGuard`] unless the operator allowed insecure authentication.

use std::sync::Arc;
use std::time::Duration;

use hubble::targets::allowlist::Allowlist;
use hubble::targets::probe::{Prober, Refusal};
use hubble::{Labels, Registry};

use super::auth_guard::AuthGuard;
use super::auth_modules::AuthModules;
use super::connection::Dsn;
use super::live::{Holds, Live};

/// Who may be probed, and with which credentials.
pub struct Access {
    /// Servers `/probe` may reach.
    pub allowlist: Arc<Allowlist>,
    /// Named credentials (`--config.file`).
    pub auth_modules: Arc<AuthModules>,
    /// Send passwords to servers that ask for them in cleartext or as MD5 (`--probe.allow-insecure-auth`).
    pub allow_insecure_auth: bool,
}

/// The exporter's half of `/probe`: targets are DSNs.
pub struct PgProber {
    defaults: Dsn,
    live: Arc<Live>,
    access: Access,
}

/// The probed targets.
pub type Probes = hubble::targets::probe::Probes<PgProber>;

impl PgProber {
    /// Probes with `defaults` for what a target leaves unset, under the settings of `live` (reloads
    /// included), reaching what `access` allows.
    pub fn new(defaults: Dsn, live: Arc<Live>, access: Access) -> Self {
        PgProber {
            defaults,
            live,
            access,
        }
    }
}

impl Prober for PgProber {
    type Key = Dsn;

    const TARGET_FORM: &'static str = "<dsn or host:port>";

    /// The DSN a probe of `target` with `auth_module` connects with, if the target is allowed. Nothing
    /// is connected to here; the error never holds a password.
    fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<Dsn, Refusal> {
        // The parse error never echoes the target: it may hold a password.
        let mut dsn = target
            .parse::<Dsn>()
            .map_err(|e| Refusal::bad_request(e.to_string()))?;
        if let Some(name) = auth_module {
            let module = self
                .access
                .auth_modules
                .get(name)
                .ok_or_else(|| Refusal::bad_request(format!("auth_module {name} not found")))?;
            dsn = module.apply(dsn).map_err(Refusal::bad_request)?;
        }
        self.access
            .allowlist
            .check(&dsn.host, dsn.port)
            .map_err(|e| {
                tracing::debug!(server = %dsn.server(), "probe refused: target not allowed");
                Refusal::not_allowed(e.to_string())
            })?;
        Ok(dsn.or_defaults(&self.defaults))
    }

    async fn open(
        &self,
        dsn: &Dsn,
        registry: &Registry,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), Refusal> {
        let guarded = !self.access.allow_insecure_auth
            && dsn.password.is_some()
            && !dsn.host.starts_with('/');
        let auth_guard = if guarded {
            let timeout = self.live.collection().schedule.timeout;
            // The relay makes the TLS connection the DSN asks for: sqlx reaches it in clear.
            let tls = dsn.tls_client().map_err(Refusal::bad_request)?;
            Some(
                AuthGuard::start(&dsn.host, dsn.port, tls, timeout, runtime).map_err(|e| {
                    Refusal::failed(format!("starting the authentication guard: {e}"))
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
            .exporter_holding(dsn, Labels::new(), holds)
            .map_err(|e| Refusal::bad_request(e.to_string()))?;
        hubble::targets::probe::register(registry, exporter).await
    }

    fn first_collection_wait(&self) -> Duration {
        self.live.collection().schedule.timeout + Duration::from_secs(1)
    }

    fn describe(&self, dsn: &Dsn) -> String {
        dsn.redacted()
    }
}
