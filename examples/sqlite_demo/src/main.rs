//! The main job: an exporter over an embedded SQLite job queue, no server needed.
//!
//! ```text
//! cargo run --release -p sqlite_demo
//! curl -s localhost:9745/metrics
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hubble_cli::{self as cli, parse_duration, parse_listen_address, LOG_LEVELS};
use sqlite_demo::{Config, DEFAULT_DATABASE};

/// Prometheus exporter for a demo job queue in an embedded SQLite database, built on hubble.
///
/// Creates and seeds the database on first run, keeps a simulated workload going, and serves its metrics.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Flags {
    /// SQLite database: a file path or a sqlite: URL. Created if missing.
    #[arg(long = "database-url", value_name = "URL", default_value = DEFAULT_DATABASE)]
    database_url: String,
    /// Address to listen on for HTTP requests; repeat it to listen on several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = ":9745", value_parser = parse_listen_address, action = clap::ArgAction::Append)]
    listen_address: Vec<SocketAddr>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", value_name = "PATH", default_value = "/metrics", value_parser = parse_path)]
    telemetry_path: String,
    /// How often each metric group is collected (e.g. 5s, 1m).
    #[arg(long = "collection.interval", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    interval: Duration,
    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info", value_parser = LOG_LEVELS)]
    log_level: String,
    #[command(flatten)]
    toolkit: cli::ToolkitFlags,
}

fn parse_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') && s.len() > 1 {
        Ok(s.to_owned())
    } else {
        Err("expected a path starting with / such as /metrics".to_owned())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags: Flags = cli::parse_or_exit();
    cli::init_logging(&flags.log_level, &flags.toolkit.log_format);
    let config = Config {
        database_url: flags.database_url,
        telemetry_path: flags.telemetry_path,
        interval: flags.interval,
        enable_openmetrics: flags.toolkit.enable_openmetrics,
        ..Config::default()
    };
    let result = async {
        let listener = cli::bind(&flags.listen_address, flags.toolkit.systemd_socket).await?;
        sqlite_demo::run(
            config,
            listener,
            hubble::default_registry().clone(),
            hubble::shutdown_signal(),
        )
        .await
    }
    .await;
    cli::exit_code(result)
}
