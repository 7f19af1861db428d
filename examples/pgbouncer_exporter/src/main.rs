//! A Prometheus exporter for PgBouncer built on hubble: a drop-in for pgbouncer_exporter.
//!
//! ```text
//! pgbouncer_exporter --pgBouncer.connectionString postgres://pgbouncer@127.0.0.1:6432/pgbouncer
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hubble_cli::{self as cli, parse_listen_address};
use pgbouncer_exporter::app::{self, Config};
use pgbouncer_exporter::collectors::CATALOGUE;
use sqlx::postgres::PgConnectOptions;

/// Prometheus exporter for PgBouncer, built on hubble. Metric names, labels and flags follow
/// pgbouncer_exporter's. Reads SHOW DATABASES, STATS_TOTALS, POOLS, LISTS, CONFIG, VERSION and CLIENTS on
/// PgBouncer's admin console every --collection.interval; scrapes are served from the last results. With
/// --discovery.file, the connection string gives each listed PgBouncer's user (or its __param_user label),
/// password, database and sslmode.
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
    /// Address to listen on for HTTP requests (pgbouncer_exporter's port, so scrape configs keep working);
    /// repeat it to listen on several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = ":9127", value_parser = parse_listen_address, action = clap::ArgAction::Append)]
    listen_address: Vec<SocketAddr>,
    #[command(flatten)]
    probe: cli::ProbeFlags,
    #[command(flatten)]
    common: cli::CommonFlags,
    #[command(flatten)]
    discovery: cli::FileSdFlags,
}

#[tokio::main]
async fn main() -> ExitCode {
    let (flags, matches) = cli::parse_with_or_exit::<Flags>(cli::catalogue_flags(&CATALOGUE));
    let collectors = cli::catalogue_selection(&CATALOGUE, &matches);
    cli::init_logging(&flags.common.log_level, &flags.common.toolkit.log_format);
    let result = async {
        let config = Config {
            connection: flags.connection,
            interval: flags.common.interval,
            timeout: flags.common.timeout(),
            serving: flags
                .common
                .serving("hubble PgBouncer exporter")?
                .catalogue(&CATALOGUE, &collectors),
            pid_file: flags.pid_file,
            discovery_file: flags.discovery.discovery_file,
            discovery_interval: flags.discovery.discovery_interval,
            probe: flags.probe,
            collectors,
        };
        let listener =
            cli::bind(&flags.listen_address, flags.common.toolkit.systemd_socket).await?;
        app::run(config, listener, hubble::shutdown_signal()).await
    }
    .await;
    cli::exit_code(result)
}
