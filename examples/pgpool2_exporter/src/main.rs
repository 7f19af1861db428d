//! A Prometheus exporter for Pgpool-II built on hubble: a drop-in for pgpool2_exporter.
//!
//! ```text
//! DATA_SOURCE_NAME='postgresql://postgres:secret@127.0.0.1:9999/postgres?sslmode=disable' pgpool2_exporter
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use hubble::targets::postgres::Dsn;
use hubble_cli::{self as cli, parse_listen_address};
use pgpool2_exporter::Config;

/// Prometheus exporter for Pgpool-II, built on hubble. Metric names, labels, port and environment follow
/// pgpool2_exporter's. Reads SHOW pool_nodes, pool_backend_stats, pool_health_check_stats, pool_processes,
/// pool_pools and pool_cache every --collection.interval; scrapes are served from the last results. The
/// Pgpool-II is DATA_SOURCE_NAME, or postgresql://DATA_SOURCE_USER:DATA_SOURCE_PASS@DATA_SOURCE_URI.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Flags {
    /// Address to listen on for HTTP requests (pgpool2_exporter's port, so scrape configs keep working);
    /// repeat it to listen on several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = ":9719", value_parser = parse_listen_address, action = clap::ArgAction::Append)]
    listen_address: Vec<SocketAddr>,
    #[command(flatten)]
    common: cli::CommonFlags,
    #[command(flatten)]
    discovery: cli::FileSdFlags,
    #[command(flatten)]
    probe: cli::ProbeFlags,
}

/// The Pgpool-II from the environment, as pgpool2_exporter reads it; with discovery, the credentials and
/// settings every discovered one is reached with (Pgpool-II's port, 9999, where nothing is set).
fn data_source(discovery: bool) -> anyhow::Result<Dsn> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(dsn) = var("DATA_SOURCE_NAME") {
        // The parse error never quotes the value: it may hold a password.
        return dsn
            .parse()
            .map_err(|e| anyhow::anyhow!("DATA_SOURCE_NAME: {e}"));
    }
    let Some(uri) = var("DATA_SOURCE_URI") else {
        anyhow::ensure!(
            discovery,
            "set DATA_SOURCE_NAME (postgresql://user:pass@host:port/db), or DATA_SOURCE_URI \
             (host:port/db) with DATA_SOURCE_USER and DATA_SOURCE_PASS"
        );
        return Ok(Dsn {
            host: "localhost".into(),
            port: 9999,
            user: var("DATA_SOURCE_USER"),
            password: var("DATA_SOURCE_PASS"),
            ..Dsn::default()
        });
    };
    let dsn: Dsn = format!("postgresql://{uri}")
        .parse()
        .map_err(|e| anyhow::anyhow!("DATA_SOURCE_URI: {e}"))?;
    Ok(Dsn {
        user: var("DATA_SOURCE_USER").or(dsn.user.clone()),
        password: var("DATA_SOURCE_PASS").or(dsn.password.clone()),
        ..dsn
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = cli::parse_or_exit::<Flags>();
    cli::init_logging(&flags.common.log_level, &flags.common.toolkit.log_format);
    let result = async {
        let discovery = flags
            .discovery
            .discovery_file
            .map(|path| (path, flags.discovery.discovery_interval));
        let config = Config {
            dsn: data_source(discovery.is_some())?,
            interval: flags.common.interval,
            timeout: flags.common.timeout(),
            serving: flags.common.serving("hubble Pgpool-II exporter")?,
            discovery,
            probe: flags.probe,
        };
        let listener =
            cli::bind(&flags.listen_address, flags.common.toolkit.systemd_socket).await?;
        pgpool2_exporter::run(config, listener, hubble::shutdown_signal()).await
    }
    .await;
    cli::exit_code(result)
}
