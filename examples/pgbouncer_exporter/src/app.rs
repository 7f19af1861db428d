//! The program: one PgBouncer, collected on a schedule and served over HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hubble::targets::postgres::{Dsn, DsnError};
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;

use crate::probe::{BouncerExporter, Probes};
use crate::show::Console;

/// What the command line decides.
#[derive(Clone)]
pub struct Config {
    /// `--pgBouncer.connectionString`: a URL or key=value pairs, to the admin console's `pgbouncer` database.
    pub connection: PgConnectOptions,
    /// `--collection.interval`.
    pub interval: Duration,
    /// `--collection.timeout`, at most the interval.
    pub timeout: Duration,
    /// Telemetry path and web config.
    pub serving: hubble_cli::Serving,
    /// `--pgBouncer.pid-file`: PgBouncer's process metrics.
    pub pid_file: Option<PathBuf>,
    /// `--discovery.file`: PgBouncers from a Prometheus file_sd file, each with its own exporter.
    pub discovery_file: Option<PathBuf>,
    /// `--discovery.interval`.
    pub discovery_interval: Duration,
    /// `--probe.allowed-targets` and `--probe.idle-timeout`: the PgBouncers `/probe` may reach (none by
    /// default), and how long one is kept without a probe.
    pub probe: hubble_cli::ProbeFlags,
    /// The collectors turned on (`--collector.<name>`, `--no-collector.<name>`).
    pub collectors: hubble::catalogue::Selection,
}

/// What connections are called in `SHOW CLIENTS`.
pub const APPLICATION_NAME: &str = "hubble_pgbouncer_exporter";

/// Parses a connection string for the admin console: a `postgres://` URL or `key=value` pairs; errors never
/// quote the password.
pub fn connection(s: &str) -> Result<PgConnectOptions, String> {
    let dsn: Dsn = s.parse().map_err(|e: DsnError| e.to_string())?;
    if dsn.user.is_none() && dsn.dbname.is_none() && !s.contains('=') && !s.contains("://") {
        return Err("expected a postgres:// URL or key=value pairs, not host:port".into());
    }
    // Only what PgBouncer accepts at startup: no `options` (statement_timeout) and no `extra_float_digits`,
    // which it refuses unless told to ignore them.
    let mut o = PgConnectOptions::new_without_pgpass()
        .host(&dsn.host)
        .port(dsn.port)
        .application_name(APPLICATION_NAME)
        .extra_float_digits(None)
        .statement_cache_capacity(0)
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    if let Some(u) = &dsn.user {
        o = o.username(u);
    }
    if let Some(p) = &dsn.password {
        o = o.password(p);
    }
    o = o.database(dsn.dbname.as_deref().unwrap_or("pgbouncer"));
    // sslmode, sslrootcert, sslcert and sslkey as libpq reads them (PgBouncer's client_tls_sslmode).
    dsn.with_tls(o)
}

/// An admin console's connection, opened when first needed and kept; a refused connection is an error after
/// most of the collection `timeout`.
pub fn console(options: PgConnectOptions, timeout: Duration) -> Console {
    // No ping before a query, which the console could not answer (it knows only simple queries): a kept
    // connection that failed is closed and opened again instead.
    let pool = hubble::connections::lazy_pool(1, timeout).connect_lazy_with(options);
    hubble::connections::Connections::new(pool)
}

/// The exporter of the PgBouncer `options` reach, over its own console connection, with `labels` on every
/// series.
pub fn exporter(
    config: &Config,
    options: PgConnectOptions,
    labels: hubble::Labels,
) -> Result<BouncerExporter, String> {
    let ssl_mode = options.get_ssl_mode();
    let console = console(options, config.timeout);
    let base = crate::collectors::add(
        hubble::BaseExporter::builder("pgbouncer")
            .interval(config.interval)
            .timeout(config.timeout)
            .const_labels(labels),
        &console,
        config.timeout,
        ssl_mode,
        &config.collectors,
    )
    .build()
    .map_err(|e| e.to_string())?;
    Ok(BouncerExporter::new(base, console))
}

/// A discovered PgBouncer's labels: discovery's, with its `host` (a label of `SHOW DATABASES` too) given as
/// `server`, `host:port`, as the Postgres exporter names a target.
fn target_labels(svc: &hubble::discovery::ServiceAtomic) -> hubble::Labels {
    let mut labels = hubble::Labels::new();
    for (name, value) in svc.labels.iter().filter(|(name, _)| *name != "host") {
        labels.insert(name.to_owned(), value);
    }
    if labels.get("server").is_none() {
        labels.insert("server", format!("{}:{}", svc.address, svc.port));
    }
    labels
}

/// Serves until `shutdown`: the PgBouncer of the connection string, or with `--discovery.file` each one the
/// file lists (the connection string then gives their user, password, database and sslmode; a target's
/// `__param_user` label overrides the user).
pub async fn run(
    config: Config,
    listener: impl Into<hubble::Listeners>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let single = match &config.discovery_file {
        None => {
            let o = &config.connection;
            tracing::info!(
                host = o.get_host(),
                port = o.get_port(),
                database = o.get_database().unwrap_or(""),
                user = o.get_username(),
                "exporting one PgBouncer"
            );
            Some(
                exporter(&config, config.connection.clone(), hubble::Labels::new())
                    .map_err(anyhow::Error::msg)?,
            )
        }
        Some(_) => None,
    };
    let discovery = config.discovery_file.clone().map(|path| {
        let config = config.clone();
        hubble_cli::Discovered {
            path,
            interval: config.discovery_interval,
            make: move |svc: &hubble::discovery::ServiceAtomic| {
                let mut options = config.connection.clone().host(&svc.address).port(svc.port);
                if let Some(user) = svc.exporter_options.get("user") {
                    options = options.username(user);
                }
                // The connection closes with the exporter, when the target goes.
                exporter(&config, options, target_labels(svc))
            },
        }
    });
    if let Some(path) = &config.pid_file {
        hubble::default_registry()
            .prometheus()
            .register(Box::new(crate::process::PidFileProcess::new(path.clone())))
            .context("--pgBouncer.pid-file")?;
    }
    let probes = Probes::new(
        crate::probe::prober(config.clone(), config.probe.allowlist()),
        hubble::default_registry(),
    )
    .idle_timeout(config.probe.idle_timeout);
    hubble_cli::serve_targets(
        "pgbouncer",
        single,
        discovery,
        probes,
        listener.into(),
        config.serving.clone(),
        shutdown,
    )
    .await
}
