//! A Prometheus exporter for PgBouncer built on hubble: a drop-in for pgbouncer_exporter.
//!
//! ```text
//! pgbouncer_exporter --pgBouncer.connectionString postgres://pgbouncer@127.0.0.1:6432/pgbouncer
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hubble_cli::{self as cli, parse_duration, parse_listen_address, LOG_LEVELS};
use pgbouncer_exporter::app::{self, Config};
use sqlx::postgres::PgConnectOptions;

/// Prometheus exporter for PgBouncer, built on hubble. Metric names, labels and flags follow
/// pgbouncer_exporter's. Reads SHOW DATABASES, STATS_TOTALS, POOLS, LISTS, CONFIG, VERSION and CLIENTS on
/// PgBouncer's admin console every --collection.interval; scrapes are served from the last results.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Flags {
    /// Connection string of PgBouncer's admin console (its `pgbouncer` database), as a URL or key=value pairs.
    #[arg(
        long = "pgBouncer.connectionString",
        env = "PGBOUNCER_EXPORTER_CONNECTION_STRING",
        hide_env_values = true,
        value_name = "DSN",
        default_value = "postgres://postgres:@localhost:6543/pgbouncer?sslmode=disable",
        value_parser = app::connection
    )]
    connection: PgConnectOptions,
    /// PgBouncer's pid file: also export its process metrics (pgbouncer_process_cpu_seconds_total, ...).
    #[arg(long = "pgBouncer.pid-file", value_name = "PATH")]
    pid_file: Option<PathBuf>,
    /// Discover PgBouncers from a Prometheus file_sd file: each target (host:port) gets its own exporter, its
    /// labels on every series; the connection string gives their user (or their __param_user label),
    /// password, database and sslmode.
    #[arg(long = "discovery.file", value_name = "PATH")]
    discovery_file: Option<PathBuf>,
    /// How often discovery runs.
    #[arg(long = "discovery.interval", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    discovery_interval: Duration,
    /// Address to listen on for HTTP requests (pgbouncer_exporter's port, so scrape configs keep working).
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = ":9127", value_parser = parse_listen_address)]
    listen_address: SocketAddr,
    /// Prometheus exporter-toolkit web config (TLS, client certificates, basic auth, headers).
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    telemetry_path: String,
    /// How often PgBouncer is asked.
    #[arg(long = "collection.interval", value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    interval: Duration,
    /// Timeout of one collection.
    #[arg(long = "collection.timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info", value_parser = LOG_LEVELS)]
    log_level: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = cli::parse_or_exit::<Flags>();
    cli::init_logging(&flags.log_level);
    let result = async {
        let config = Config {
            connection: flags.connection,
            interval: flags.interval,
            timeout: flags.timeout.min(flags.interval),
            serving: cli::Serving {
                telemetry_path: flags.telemetry_path,
                title: "hubble PgBouncer exporter".into(),
                web: cli::web_config(flags.web_config_file.as_deref())?,
            },
            pid_file: flags.pid_file,
            discovery_file: flags.discovery_file,
            discovery_interval: flags.discovery_interval,
        };
        let listener = cli::bind(flags.listen_address).await?;
        app::run(config, listener, hubble::shutdown_signal()).await
    }
    .await;
    cli::exit_code(result)
}
