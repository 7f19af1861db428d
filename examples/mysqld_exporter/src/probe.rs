//! `/probe?target=host:port[&auth_module=client.NAME]`: mysqld_exporter's multi-target pattern, on hubble's
//! probe registry ([`hubble::targets::probe`]): the same bounds, answers and refusal counters as the other
//! exporters. Each target gets its own exporter, connection and registry on its first probe (which waits for
//! the first collection), kept while probed and closed after `--probe.idle-timeout` without a probe.
//!
//! A probe reaches only a server `--probe.allowed-targets` allows (none by default), checked before anything
//! else is done with the target: credentials from the option file go to a server of the operator's choosing
//! only. The credentials are the option file's `[client]` section, or `[client.NAME]` for `auth_module`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hubble::targets::allowlist::{Allowlist, KnownTargets, Pattern};
use hubble::targets::probe::{Prober, Refusal};
use hubble::{BaseExporter, Registry};

use crate::app::Target;
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
    pub collectors: hubble::catalogue::Selection,
    /// Their options.
    pub options: crate::collectors::Options,
    /// `--collection.interval` and `--collection.timeout`.
    pub interval: Duration,
    /// See `interval`.
    pub timeout: Duration,
    /// Answer in OpenMetrics when asked (`--web.enable-openmetrics`).
    pub enable_openmetrics: bool,
    /// The `--exporter.*` session settings, for every server's connections.
    pub session: crate::app::Session,
}

impl ProbeConfig {
    /// The target `module`'s section describes at `host`:`port`.
    pub fn target(&self, host: String, port: u16, module: &str) -> Result<Target, String> {
        let client = self.sections.get(module).ok_or_else(|| {
            format!("auth_module {module:?}: no [{module}] section in --config.my-cnf")
        })?;
        let user = client
            .user
            .clone()
            .ok_or_else(|| format!("auth_module {module:?}: its section has no user"))?;
        Ok(Target {
            address: Some((host, port)),
            socket: None,
            user,
            password: client.password.clone(),
            tls: client.tls.clone(),
        })
    }

    /// `target`'s exporter over its own connection, with `labels` on every series.
    pub fn exporter(
        &self,
        target: &Target,
        labels: hubble::Labels,
    ) -> Result<MysqlExporter, String> {
        let server = crate::app::connect(target, self.timeout, &self.session);
        let base = crate::collectors::add(
            BaseExporter::builder("mysqld")
                .interval(self.interval)
                .timeout(self.timeout)
                .const_labels(labels),
            &server,
            self.timeout,
            &target.tls_mode(),
            &self.collectors,
            &self.options,
        )
        .build()
        .map_err(|e| e.to_string())?;
        Ok(MysqlExporter::new(base, server))
    }
}

/// One server's exporter and its connection, closed together.
pub type MysqlExporter = hubble::connections::WithConnections<sqlx::MySql>;

/// The exporter's half of `/probe`.
pub struct MysqlProber {
    config: ProbeConfig,
    allowlist: Allowlist,
}

impl MysqlProber {
    /// Probes what `config` allows.
    pub fn new(config: ProbeConfig) -> Self {
        let allowlist = Allowlist::new(
            config.allowed.clone(),
            Vec::new(),
            Arc::new(KnownTargets::default()),
        );
        MysqlProber { config, allowlist }
    }

    /// What it was made with.
    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }
}

/// The probed servers.
pub type Probes = hubble::targets::probe::Probes<MysqlProber>;

impl Prober for MysqlProber {
    /// Address and auth module: one exporter per server and credentials.
    type Key = (String, u16, String);

    const TARGET_FORM: &'static str = "host:port";

    fn resolve(&self, target: &str, auth_module: Option<&str>) -> Result<Self::Key, Refusal> {
        let (host, port) = match crate::app::address(target) {
            Ok(a) => a,
            Err(_) if !target.contains(':') => (target.to_owned(), 3306),
            Err(e) => return Err(Refusal::bad_request(format!("target: {e}"))),
        };
        self.allowlist
            .check(&host, port)
            .map_err(|e| Refusal::not_allowed(e.to_string()))?;
        let module = auth_module.unwrap_or("client");
        // The section is checked now, so a bad auth_module is a 400 before any connection.
        self.config
            .target(host.clone(), port, module)
            .map_err(Refusal::bad_request)?;
        Ok((host, port, module.to_owned()))
    }

    async fn open(
        &self,
        (host, port, module): &Self::Key,
        registry: &Registry,
        _runtime: &tokio::runtime::Handle,
    ) -> Result<(), Refusal> {
        let target = self
            .config
            .target(host.clone(), *port, module)
            .map_err(Refusal::bad_request)?;
        let exporter = self
            .config
            .exporter(&target, hubble::Labels::new())
            .map_err(Refusal::failed)?;
        hubble::targets::probe::register(registry, exporter).await
    }

    fn first_collection_wait(&self) -> Duration {
        self.config.timeout
    }

    fn describe(&self, (host, port, module): &Self::Key) -> String {
        format!(
            "{} ({module})",
            hubble::targets::allowlist::server(host, *port)
        )
    }
}
