//! A Prometheus exporter for Pgpool-II built on hubble: a drop-in for pgpool/pgpool2_exporter 1.2 (its metric
//! names, labels, port 9719 and `DATA_SOURCE_*` environment).
//!
//! Written as a new user of hubble would: the `SHOW pool_*` commands are declared in [`groups`], the two that
//! pgpool2_exporter counts rather than lists are code collectors in [`slots`], and everything else (the
//! connection and its TLS, the schedule and cache, `pgpool2_up`, `/probe`, file_sd discovery, the HTTP server)
//! is hubble's and the shared command-line crate's.

pub mod groups;
pub mod slots;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hubble::connections::{lazy_pool, Connections, WithConnections};
use hubble::targets::postgres::{encrypted_by_mode, ssl_mode_name, Dsn};
use hubble::targets::probe::{AddressProber, BuildExporter, Probes};
use hubble::targets::up::{Answer, Check, Up};
use hubble::{BaseExporter, CollectError, FactsProbe, SqlCollector, TargetFacts};
use sqlx::Postgres;

/// A Pgpool-II's connections (one: a round of `SHOW` commands takes milliseconds).
pub type Pool = Connections<Postgres>;

/// One Pgpool-II's exporter and its connection, closed together.
pub type PgpoolExporter = WithConnections<Postgres>;

/// What connections are called in Pgpool-II's `SHOW pool_processes` and the backends' `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "hubble_pgpool2_exporter";

/// What the command line decides.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATA_SOURCE_NAME` (or `DATA_SOURCE_USER`, `_PASS`, `_URI`): the Pgpool-II, or with discovery the
    /// user, password, database and TLS settings of every discovered one.
    pub dsn: Dsn,
    /// `--collection.interval`.
    pub interval: Duration,
    /// `--collection.timeout`.
    pub timeout: Duration,
    /// Telemetry path and web config.
    pub serving: hubble_cli::Serving,
    /// `--discovery.file` and `--discovery.interval`.
    pub discovery: Option<(PathBuf, Duration)>,
    /// `--probe.allowed-targets` and `--probe.idle-timeout`.
    pub probe: hubble_cli::ProbeFlags,
}

/// Pgpool-II's version (`4.3.5 (tamahomeboshi)` → 40305), for the commands it gained in 4.2.
struct Version(Pool);

impl FactsProbe for Version {
    async fn probe(&self) -> Result<TargetFacts, CollectError> {
        let answer = hubble::text_rows::TextRows::fetch(&self.0, "SHOW pool_version")
            .await
            .map_err(|e| CollectError::Source(format!("SHOW pool_version: {e}").into()))?;
        let text = answer
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten());
        let number = text.as_deref().and_then(|t| {
            let mut parts = t.split([' ', '.']).map(|p| p.parse::<u64>().ok());
            Some(
                parts.next()?? * 10000 + parts.next()?? * 100 + parts.next().flatten().unwrap_or(0),
            )
        });
        Ok(TargetFacts {
            version: number,
            role: None,
        })
    }

    fn version_name(&self, v: u64) -> String {
        format!("Pgpool-II {}.{}.{}", v / 10000, v / 100 % 100, v % 100)
    }
}

/// `pgpool2_up`'s check: `SHOW pool_version` answered, as pgpool2_exporter pings.
struct Answers(Pool, sqlx::postgres::PgSslMode);

impl Check for Answers {
    async fn check(&self) -> Result<Answer, String> {
        let ping = || hubble::text_rows::TextRows::fetch(&self.0, "SHOW pool_version");
        // Pgpool-II restarts its children on a failover or a detached node, closing the kept connection:
        // asked again on a new one before it counts as down, as pgpool2_exporter reconnects and pings again.
        if ping().await.is_err() {
            ping().await.map_err(|e| e.to_string())?;
        }
        // Pgpool-II does not say whether a client's link is encrypted; the mode settles it or not.
        Ok(Answer {
            encrypted: encrypted_by_mode(self.1),
            samples: Vec::new(),
        })
    }
}

/// The exporter of the Pgpool-II `dsn` reaches, with `labels` on every series, over its own connection.
pub fn exporter(
    config: &Config,
    dsn: &Dsn,
    labels: hubble::Labels,
) -> Result<PgpoolExporter, String> {
    let options = dsn
        .connect_options()?
        .application_name(APPLICATION_NAME)
        .statement_cache_capacity(0);
    let mode = options.get_ssl_mode();
    let pool: Pool = Connections::new(lazy_pool(1, config.timeout).connect_lazy_with(options));
    let up = Up::new(
        "pgpool2_up",
        "Whether the Pgpool-II server is up (1 for yes, 0 for no).",
        Answers(pool.clone(), mode),
        config.timeout,
    )
    .tls_mode(ssl_mode_name(mode));
    let base = BaseExporter::builder("pgpool2")
        .interval(config.interval)
        .timeout(config.timeout)
        .const_labels(labels)
        .facts(Version(pool.clone()))
        .collector(up)
        .collector(SqlCollector::<groups::PoolNodes, Postgres>::new(
            pool.clone(),
        ))
        .collector(SqlCollector::<groups::BackendStats, Postgres>::new(
            pool.clone(),
        ))
        .collector(SqlCollector::<groups::HealthCheckStats, Postgres>::new(
            pool.clone(),
        ))
        .collector(SqlCollector::<groups::PoolCache, Postgres>::new(
            pool.clone(),
        ))
        .collector(slots::Processes(pool.clone()))
        .collector(slots::Pools(pool.clone()))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(WithConnections::new(base, pool))
}

/// Builds a probed or discovered Pgpool-II's exporter from its address and the configured credentials.
struct AtAddress(Arc<Config>);

impl BuildExporter for AtAddress {
    type Exporter = PgpoolExporter;

    fn build(&self, host: &str, port: u16) -> Result<PgpoolExporter, String> {
        let dsn = Dsn {
            host: host.to_owned(),
            port,
            ..self.0.dsn.clone()
        };
        exporter(&self.0, &dsn, hubble::Labels::new())
    }
}

/// Serves until `shutdown`: the Pgpool-II of the DSN, or with `--discovery.file` each one the file lists
/// (a target's `__param_<name>` labels override the DSN's user, password, database and TLS settings); and
/// `/probe?target=host:port` of the Pgpool-IIs `--probe.allowed-targets` allows.
pub async fn run(
    config: Config,
    listener: impl Into<hubble::Listeners>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let single = match config.discovery {
        None => {
            tracing::info!(target = %config.dsn.redacted(), "exporting one Pgpool-II");
            Some(
                exporter(&config, &config.dsn, hubble::Labels::new())
                    .map_err(anyhow::Error::msg)?,
            )
        }
        Some(_) => None,
    };
    let discovery = config.discovery.clone().map(|(path, interval)| {
        let config = config.clone();
        hubble_cli::Discovered {
            path,
            interval,
            make: move |svc: &hubble::discovery::ServiceAtomic| {
                let dsn = Dsn {
                    host: svc.address.clone(),
                    port: svc.port,
                    ..Dsn::default()
                }
                .with_options(&svc.exporter_options)
                .or_defaults(&config.dsn);
                exporter(&config, &dsn, svc.labels.clone())
            },
        }
    });
    let prober = AddressProber::new(
        config.probe.allowlist(),
        config.timeout + Duration::from_secs(1),
        AtAddress(config.clone()),
    );
    let probes =
        Probes::new(prober, hubble::default_registry()).idle_timeout(config.probe.idle_timeout);
    hubble_cli::serve_targets(
        "pgpool2",
        single,
        discovery,
        probes,
        listener.into(),
        config.serving.clone(),
        shutdown,
    )
    .await
}
