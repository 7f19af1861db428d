//! `/probe?target=host:port`: PgBouncers reached on demand, on hubble's probe registry
//! ([`hubble::targets::probe`]) with the same bounds, answers and refusal counters as the other exporters.
//! A probed PgBouncer is reached with `--pgBouncer.connectionString`'s user, password, database and TLS
//! settings, only where `--probe.allowed-targets` allows (nowhere by default): those credentials go to a
//! server of the operator's choosing only.

use std::sync::Arc;
use std::time::Duration;

use hubble::targets::allowlist::{Allowlist, KnownTargets, Pattern};
use hubble::targets::probe::{Prober, Refusal};
use hubble::{BaseExporter, Exporter, Registry};
use sqlx::postgres::PgConnectOptions;

use crate::show::Console;

/// One PgBouncer's exporter and its console connection, closed together.
pub struct BouncerExporter {
    pub(crate) base: BaseExporter,
    pub(crate) console: Console,
}

impl Exporter for BouncerExporter {
    fn base(&self) -> &BaseExporter {
        &self.base
    }

    async fn close(&self) {
        self.base.close().await;
        self.console.close().await;
    }
}

/// The exporter's half of `/probe`: targets are `host:port`.
pub struct BouncerProber {
    config: Arc<crate::app::Config>,
    allowlist: Allowlist,
}

impl BouncerProber {
    /// Probes what `allowed` allows, with `config`'s connection string and schedule.
    pub fn new(config: Arc<crate::app::Config>, allowed: Vec<Pattern>) -> Self {
        let allowlist = Allowlist::new(allowed, Vec::new(), Arc::new(KnownTargets::default()));
        BouncerProber { config, allowlist }
    }
}

/// The probed PgBouncers.
pub type Probes = hubble::targets::probe::Probes<BouncerProber>;

impl Prober for BouncerProber {
    type Key = (String, u16);

    const TARGET_FORM: &'static str = "host:port";

    fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<Self::Key, Refusal> {
        if auth_module.is_some() {
            return Err(Refusal::bad_request(
                "auth_module is not supported: credentials come from --pgBouncer.connectionString",
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
        let options: PgConnectOptions = self.config.connection.clone().host(host).port(*port);
        let exporter = crate::app::exporter(&self.config, options, hubble::Labels::new())
            .map_err(Refusal::failed)?;
        registry
            .register(exporter)
            .await
            .map_err(|e| Refusal::failed(e.to_string()))?;
        Ok(())
    }

    fn first_collection_wait(&self) -> Duration {
        self.config.timeout + Duration::from_secs(1)
    }

    fn describe(&self, (host, port): &Self::Key) -> String {
        hubble::targets::allowlist::server(host, *port)
    }
}
