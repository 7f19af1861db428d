//! The program: one PgBouncer, collected on a schedule and served over HTTP.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use postgres_exporter::connection::{Dsn, DsnError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::ConnectOptions;

use crate::show::Console;

/// What the command line decides.
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
    if let Some(m) = &dsn.sslmode {
        o = o.ssl_mode(PgSslMode::from_str(m).map_err(|_| format!("unknown sslmode {m:?}"))?);
    }
    Ok(o)
}

/// The admin console's connection, opened when first needed and kept; a refused connection is an error after
/// most of the collection timeout.
pub fn console(config: &Config) -> Console {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(config.timeout.mul_f32(0.8))
        // The console answers no ping (it knows only simple queries): a kept connection that failed is
        // closed and opened again instead.
        .test_before_acquire(false)
        .connect_lazy_with(config.connection.clone());
    hubble::connections::Connections::new(pool)
}

/// Serves until `shutdown`.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let console = console(&config);
    let exporter = crate::collectors::add_all(
        hubble::BaseExporter::builder("pgbouncer")
            .interval(config.interval)
            .timeout(config.timeout),
        &console,
    )
    .build()
    .context("building the exporter")?;
    if let Some(path) = &config.pid_file {
        hubble::default_registry()
            .prometheus()
            .register(Box::new(crate::process::PidFileProcess::new(path.clone())))
            .context("--pgBouncer.pid-file")?;
    }
    let o = &config.connection;
    tracing::info!(
        host = o.get_host(),
        port = o.get_port(),
        database = o.get_database().unwrap_or(""),
        user = o.get_username(),
        "exporting one PgBouncer"
    );
    let served = hubble_cli::serve_one(
        Some(exporter),
        listener,
        config.serving,
        Default::default(),
        shutdown,
    )
    .await;
    console.close().await;
    served
}
