//! A Prometheus exporter for MySQL and MariaDB built on hubble: a drop-in for mysqld_exporter.
//!
//! ```text
//! MYSQLD_EXPORTER_PASSWORD=... mysqld_exporter --mysqld.address 127.0.0.1:3306 --mysqld.username exporter
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hubble::targets::allowlist::Pattern;
use hubble_cli::{self as cli, parse_duration, parse_listen_address};
use mysqld_exporter::app::Session;
use mysqld_exporter::app::{self, Config, Target};
use mysqld_exporter::collectors::{Options, CATALOGUE};
use mysqld_exporter::probe::ProbeConfig;

/// Prometheus exporter for MySQL and MariaDB, built on hubble. Metric names, labels and flags follow
/// mysqld_exporter's. Collectors are turned on and off with --collect.<name> and --no-collect.<name> (listed
/// below with their defaults).
/// The server is read every --collection.interval; scrapes are served from the last results. With
/// --discovery.file, each listed server's credentials come from the option file's section its
/// __param_auth_module label names ([client] by default).
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Flags {
    /// MySQL option file whose [client] section gives user, password, host, port or socket (a missing default
    /// file is fine).
    #[arg(long = "config.my-cnf", value_name = "PATH")]
    my_cnf: Option<PathBuf>,
    /// Server address, host:port (overrides the option file's host and port).
    #[arg(long = "mysqld.address", value_name = "HOST:PORT", value_parser = app::address)]
    address: Option<(String, u16)>,
    /// User (overrides the option file's); the password comes from MYSQLD_EXPORTER_PASSWORD or the file.
    #[arg(long = "mysqld.username", value_name = "USER")]
    username: Option<String>,
    /// Servers /probe?target=host:port may reach (none by default): a comma list of host:port, host:*,
    /// [ipv6]:port, CIDR:port (10.0.0.0/8:3306, addresses only), CIDR:*, or * for any.
    #[arg(long = "probe.allowed-targets", value_name = "PATTERNS", value_delimiter = ',', value_parser = cli::parse_pattern)]
    probe_allowed_targets: Vec<Pattern>,
    /// How long a /probe target's connection and exporter are kept without being probed.
    #[arg(long = "probe.idle-timeout", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    probe_idle_timeout: Duration,
    /// info_schema.processlist: minimum time a thread must be in each state to be counted.
    #[arg(
        long = "collect.info_schema.processlist.min_time",
        value_name = "SECONDS",
        default_value_t = 0
    )]
    processlist_min_time: u32,
    /// heartbeat: database from where to collect heartbeat data.
    #[arg(
        long = "collect.heartbeat.database",
        value_name = "NAME",
        default_value = "heartbeat"
    )]
    heartbeat_database: String,
    /// heartbeat: table from where to collect heartbeat data.
    #[arg(
        long = "collect.heartbeat.table",
        value_name = "NAME",
        default_value = "heartbeat"
    )]
    heartbeat_table: String,
    /// info_schema.tables: the databases whose tables are exported, comma-separated, or '*' for all.
    #[arg(
        long = "collect.info_schema.tables.databases",
        value_name = "LIST",
        default_value = "*"
    )]
    tables_databases: String,
    /// perf_schema.eventsstatements: most statement digests exported, the costliest first.
    #[arg(
        long = "collect.perf_schema.eventsstatements.limit",
        value_name = "N",
        default_value_t = 250
    )]
    statements_limit: u32,
    /// perf_schema.eventsstatements: digests last seen longer ago than this many seconds are left out.
    #[arg(
        long = "collect.perf_schema.eventsstatements.timelimit",
        value_name = "SECONDS",
        default_value_t = 86_400
    )]
    statements_timelimit: u32,
    /// perf_schema.eventsstatements: characters of normalized statement text kept.
    #[arg(
        long = "collect.perf_schema.eventsstatements.digest_text_limit",
        value_name = "N",
        default_value_t = 120
    )]
    statements_digest_text_limit: u32,
    /// perf_schema.eventsstatements: a schema to leave out besides mysql, performance_schema and
    /// information_schema; repeat it for several.
    #[arg(long = "collect.perf_schema.eventsstatements.exclude_schemas", value_name = "SCHEMA", action = clap::ArgAction::Append)]
    statements_exclude_schemas: Vec<String>,
    /// perf_schema.memory_events: the prefix cut from event names.
    #[arg(
        long = "collect.perf_schema.memory_events.remove_prefix",
        value_name = "PREFIX",
        default_value = "memory/"
    )]
    memory_events_remove_prefix: String,
    /// perf_schema.file_instances: a regular expression (the server's REGEXP) the file names must match.
    #[arg(
        long = "collect.perf_schema.file_instances.filter",
        value_name = "REGEXP",
        default_value = ".*"
    )]
    file_instances_filter: String,
    /// perf_schema.file_instances: the prefix cut from file names.
    #[arg(
        long = "collect.perf_schema.file_instances.remove_prefix",
        value_name = "PREFIX",
        default_value = "/var/lib/mysql/"
    )]
    file_instances_remove_prefix: String,
    /// Address to listen on for HTTP requests (mysqld_exporter's port, so scrape configs keep working);
    /// repeat it to listen on several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = ":9104", value_parser = parse_listen_address, action = clap::ArgAction::Append)]
    listen_address: Vec<SocketAddr>,
    /// mysqld_exporter's offset subtracted from Prometheus' scrape timeout. Accepted for its command lines; a
    /// scrape here is answered from the last collection and never waits on the server, so nothing to offset.
    #[arg(
        long = "timeout-offset",
        value_name = "SECONDS",
        default_value_t = 0.25
    )]
    timeout_offset: f64,
    /// Ignore certificate and server verification on a TLS connection: every option file section's default
    /// for ssl-skip-verfication.
    #[arg(long = "tls.insecure-skip-verify")]
    tls_insecure_skip_verify: bool,
    /// Seconds a query of the exporter waits for a metadata lock (the session's lock_wait_timeout).
    #[arg(
        long = "exporter.lock_wait_timeout",
        value_name = "SECONDS",
        default_value_t = 2
    )]
    lock_wait_timeout: u32,
    /// Set lock_wait_timeout on the exporter's connections.
    #[arg(long = "exporter.enable_lock_wait_timeout", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    enable_lock_wait_timeout: bool,
    /// Keep the exporter's queries out of the slow query log (log_slow_filter; MariaDB and Percona only).
    #[arg(long = "exporter.log_slow_filter", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    log_slow_filter: bool,
    /// Timeout of each collector's queries in seconds (0: --collection.timeout alone bounds them).
    #[arg(
        long = "exporter.query_timeout",
        value_name = "SECONDS",
        default_value_t = 0
    )]
    query_timeout: u64,
    /// Connections per server (collectors take turns on one by default).
    #[arg(long = "exporter.max_open_connections", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    max_open_connections: u32,
    #[command(flatten)]
    common: cli::CommonFlags,
    #[command(flatten)]
    discovery: cli::FileSdFlags,
}

/// The collectors' boolean options, `--collect.<option>` and `--no-collect.<option>` as kingpin has them:
/// (option, default).
const BOOL_OPTIONS: [(&str, bool); 4] = [
    ("info_schema.processlist.processes_by_user", true),
    ("info_schema.processlist.processes_by_host", true),
    ("heartbeat.utc", false),
    ("mysql.user.privileges", false),
];

fn options(flags: &Flags, matches: &clap::ArgMatches) -> Options {
    let on = |name: &str| {
        let default = BOOL_OPTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .is_some_and(|o| o.1);
        cli::toggled(matches, "collect.", name).unwrap_or(default)
    };
    Options {
        processlist_min_time: flags.processlist_min_time,
        processes_by_user: on("info_schema.processlist.processes_by_user"),
        processes_by_host: on("info_schema.processlist.processes_by_host"),
        heartbeat_database: flags.heartbeat_database.clone(),
        heartbeat_table: flags.heartbeat_table.clone(),
        heartbeat_utc: on("heartbeat.utc"),
        user_privileges: on("mysql.user.privileges"),
        tables_databases: flags.tables_databases.clone(),
        statements_limit: flags.statements_limit,
        statements_timelimit: flags.statements_timelimit,
        statements_digest_text_limit: flags.statements_digest_text_limit,
        statements_exclude_schemas: flags.statements_exclude_schemas.clone(),
        memory_events_remove_prefix: flags.memory_events_remove_prefix.clone(),
        file_instances_filter: flags.file_instances_filter.clone(),
        file_instances_remove_prefix: flags.file_instances_remove_prefix.clone(),
    }
}

fn config(
    flags: Flags,
    collectors: hubble::catalogue::Selection,
    options: Options,
) -> anyhow::Result<Config> {
    let session = Session {
        lock_wait_timeout: flags
            .enable_lock_wait_timeout
            .then_some(flags.lock_wait_timeout),
        log_slow_filter: flags.log_slow_filter,
        max_open_connections: flags.max_open_connections,
    };
    let timeout = match flags.query_timeout {
        0 => flags.common.timeout(),
        s => flags.common.timeout().min(Duration::from_secs(s)),
    };
    let (path, explicit) = match flags.my_cnf {
        Some(p) => (Some(p), true),
        None => (
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".my.cnf")),
            false,
        ),
    };
    let mut sections: std::collections::BTreeMap<_, mysqld_exporter::mycnf::Client> = match path {
        Some(p) if explicit || p.exists() => mysqld_exporter::mycnf::read_sections(&p)
            .map_err(|e| anyhow::anyhow!("--config.my-cnf {e}"))?,
        _ => Default::default(),
    };
    // As upstream: the flag is every section's default for ssl-skip-verfication (a section may say false).
    if flags.tls_insecure_skip_verify {
        for client in sections.values_mut() {
            client.tls.skip_verification.get_or_insert(true);
        }
    }
    let mut file = sections.get("client").cloned().unwrap_or_default();
    if flags.tls_insecure_skip_verify {
        file.tls.skip_verification.get_or_insert(true);
    }
    let password = std::env::var("MYSQLD_EXPORTER_PASSWORD").ok();
    let target = match Target::resolve(file, flags.address, flags.username, password) {
        Ok(t) => Some(t),
        // With /probe allowed somewhere, an exporter without a server of its own is a probe-only one.
        Err(_)
            if !flags.probe_allowed_targets.is_empty()
                || flags.discovery.discovery_file.is_some() =>
        {
            None
        }
        Err(e) => anyhow::bail!(e),
    };
    let serving = flags
        .common
        .serving("hubble MySQL exporter")?
        .catalogue(&CATALOGUE, &collectors)
        // mysqld_exporter's `/metrics?target=`, as a probe, and `collect[]`.
        .target_on_metrics()
        .collect_param(&["mysql_up"]);
    Ok(Config {
        target,
        discovery_file: flags.discovery.discovery_file,
        discovery_interval: flags.discovery.discovery_interval,
        probe: ProbeConfig {
            allowed: flags.probe_allowed_targets,
            sections,
            idle: flags.probe_idle_timeout,
            collectors: collectors.clone(),
            options,
            interval: flags.common.interval,
            timeout,
            enable_openmetrics: flags.common.toolkit.enable_openmetrics,
            session,
        },
        collectors,
        interval: flags.common.interval,
        timeout,
        serving,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut extra = cli::catalogue_flags(&CATALOGUE);
    extra.extend(cli::toggle_flags(
        "collect.",
        BOOL_OPTIONS.iter().map(|(name, _)| *name),
    ));
    let (flags, matches) = cli::parse_with_or_exit::<Flags>(extra);
    let collectors = cli::catalogue_selection(&CATALOGUE, &matches);
    cli::init_logging(&flags.common.log_level, &flags.common.toolkit.log_format);
    CATALOGUE.warn_upstream_only(&collectors);
    tracing::debug!(
        timeout_offset = flags.timeout_offset,
        "--timeout-offset has nothing to offset: scrapes never wait on the server"
    );
    let listen = flags.listen_address.clone();
    let systemd = flags.common.toolkit.systemd_socket;
    let result = async {
        let options = options(&flags, &matches);
        let config = config(flags, collectors, options)?;
        let listener = cli::bind(&listen, systemd).await?;
        app::run(config, listener, hubble::shutdown_signal()).await
    }
    .await;
    cli::exit_code(result)
}
