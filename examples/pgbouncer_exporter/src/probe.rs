//! `/probe?target=host:port`: PgBouncers reached on demand, on hubble's probe registry
//! ([`hubble::targets::probe`]) with the same bounds, answers and refusal counters as the other exporters.
//! A probed PgBouncer is reached with `--pgBouncer.connectionString`'s user, password, database and TLS
//! settings, only where `--probe.allowed-targets` allows (nowhere by default): those credentials go to a
//! server of the operator's choosing only.

use std::sync::Arc;
use std::time::Duration;

use hubble::targets::allowlist::Allowlist;
use hubble::targets::probe::{AddressProber, BuildExporter};

use crate::app::Config;

/// One PgBouncer's exporter and its console connection, closed together.
pub type BouncerExporter = hubble::connections::WithConnections<sqlx::Postgres>;

/// Builds a probed PgBouncer's exporter from its address and the connection string.
pub struct Build(Arc<Config>);

impl BuildExporter for Build {
    type Exporter = BouncerExporter;

    fn build(&self, host: &str, port: u16) -> Result<BouncerExporter, String> {
        let options = self.0.connection.clone().host(host).port(port);
        crate::app::exporter(&self.0, options, hubble::Labels::new())
    }
}

/// The exporter's half of `/probe`: targets are `host:port`.
pub type BouncerProber = AddressProber<Build>;

/// The probed PgBouncers.
pub type Probes = hubble::targets::probe::Probes<BouncerProber>;

/// Probes what `allowlist` allows, with `config`'s connection string and schedule.
pub fn prober(config: Arc<Config>, allowlist: Allowlist) -> BouncerProber {
    let wait = config.timeout + Duration::from_secs(1);
    AddressProber::new(allowlist, wait, Build(config))
}
