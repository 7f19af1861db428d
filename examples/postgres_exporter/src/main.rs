//! A Prometheus exporter for PostgreSQL built on hubble: a drop-in for postgres_exporter.
//!
//! ```text
//! DATA_SOURCE_NAME=postgresql://postgres@127.0.0.1:5432/postgres postgres_exporter
//! postgres_exporter --discovery.file targets.yml
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hubble::discovery::etcd::EtcdForm;
use hubble::discovery::ConsulConfig;
use hubble::dispatcher::Shard;
use hubble::runtime::CollectionRuntime;
use hubble::targets::allowlist::Pattern;
use hubble_cli::{self as cli, parse_duration, parse_listen_address, LOG_LEVELS};
use postgres_exporter::app::{self, Config, ProbeConfig, Targets};
use postgres_exporter::collectors::StatementsOptions;
use postgres_exporter::collectors::{Enabled, CATALOGUE};
use postgres_exporter::connection::Dsn;
use postgres_exporter::databases::DatabaseFilter;
use postgres_exporter::naming::Naming;
use postgres_exporter::reload;
use postgres_exporter::{Collection, Schedule};

/// Prometheus exporter for PostgreSQL, built on hubble. Metric names follow postgres_exporter's.
///
/// Three ways to run: one server (--dsn or DATA_SOURCE_NAME); any server on demand at
/// /probe?target=<dsn or host:port> (always available; alone when no target is given); or discovery, from a
/// Prometheus file_sd file (--discovery.file) or Consul services carrying a tag (--discovery.consul.url and
/// --discovery.consul.tag). /probe reaches only the servers allowed by --probe.allowed-targets[-file] and the
/// targets already exported. /probe targets and discovered targets take missing credentials from
/// --target.* (or /probe?auth_module=NAME from --config.file). Collectors are turned on and off with
/// postgres_exporter's --collector.<name> and --no-collector.<name> (listed below with their defaults).
/// Discovered targets get their user, password, dbname and sslmode from their exporter options (file_sd
/// __param_<name> labels or Consul KV monitoring/<service>/<tag>), else from the --target.* flags.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Flags {
    /// Server to export: a URL (postgresql://user:pass@host:port/db?sslmode=disable) or key=value pairs.
    /// Without it, postgres_exporter's DATA_SOURCE_URI (host:port/db?params), DATA_SOURCE_USER and
    /// DATA_SOURCE_PASS (or their _FILE forms, which win) name the server.
    #[arg(long, env = "DATA_SOURCE_NAME", value_name = "DSN", hide_env_values = true, value_parser = parse_dsn)]
    dsn: Option<Dsn>,
    /// Discover targets from a Prometheus file_sd file (JSON or YAML).
    #[arg(long = "discovery.file", value_name = "PATH", conflicts_with_all = ["dsn", "consul_url"])]
    discovery_file: Option<PathBuf>,
    /// Discover targets from Consul at this URL (e.g. http://127.0.0.1:8500).
    #[arg(
        long = "discovery.consul.url",
        value_name = "URL",
        conflicts_with = "dsn"
    )]
    consul_url: Option<String>,
    /// Patroni namespace in Consul's KV store (Patroni's default is /service/): each member of each cluster
    /// is a target labelled cluster, member and role, read every --discovery.interval. Instead of
    /// --discovery.consul.tag.
    #[arg(
        long = "discovery.consul.patroni-namespace",
        value_name = "NAMESPACE",
        requires = "consul_url",
        conflicts_with = "consul_tag"
    )]
    consul_patroni_namespace: Option<String>,
    /// Consul service tag to export; also the exporter name of the params key monitoring/<service>/<tag>.
    #[arg(long = "discovery.consul.tag", value_name = "TAG")]
    consul_tag: Option<String>,
    /// Consul datacenter (default: the agent's).
    #[arg(long = "discovery.consul.datacenter", value_name = "DC")]
    consul_datacenter: Option<String>,
    /// File holding the Consul ACL token.
    #[arg(long = "discovery.consul.token-file", value_name = "PATH")]
    consul_token_file: Option<PathBuf>,
    /// Discover targets from etcd at these URLs (comma list): the keys under --discovery.etcd.prefix, or
    /// the members of the Patroni clusters under --discovery.etcd.patroni-namespace, followed by a watch.
    #[arg(long = "discovery.etcd.endpoints", value_name = "URLS", value_delimiter = ',', conflicts_with_all = ["dsn", "consul_url", "discovery_file"])]
    etcd_endpoints: Vec<String>,
    /// Key prefix whose keys are targets: JSON documents {"address": "host:port", "extra_labels": {..},
    /// "exporter_options": {..}, "notifiable": bool, "service": ".."}.
    #[arg(
        long = "discovery.etcd.prefix",
        value_name = "PREFIX",
        requires = "etcd_endpoints",
        conflicts_with = "patroni_namespace"
    )]
    etcd_prefix: Option<String>,
    /// Patroni namespace (Patroni's default is /service/): each member of each cluster is a target
    /// labelled cluster, member and role (primary, replica or standby_leader), following failovers.
    #[arg(
        long = "discovery.etcd.patroni-namespace",
        value_name = "NAMESPACE",
        requires = "etcd_endpoints"
    )]
    patroni_namespace: Option<String>,
    /// How long Patroni's store and a member's server may disagree on its role (primary or not) before
    /// hubble_patroni_role_disagreements counts it: longer than a failover takes.
    #[arg(long = "discovery.etcd.patroni-grace", value_name = "DURATION", default_value = "45s", value_parser = parse_duration)]
    patroni_grace: Duration,
    /// How often discovery runs (etcd's changes are followed as they happen besides).
    #[arg(long = "discovery.interval", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    discovery_interval: Duration,
    /// Export only this replica's share of discovered targets: index/count, 0-based (e.g. 0/3).
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    #[command(flatten)]
    etcd: cli::EtcdFlags,
    #[command(flatten)]
    cluster: cli::ClusterFlags,
    /// Default user for discovered targets.
    #[arg(long = "target.user", value_name = "USER", default_value = "postgres")]
    target_user: String,
    /// File holding the default password for discovered targets.
    #[arg(long = "target.password-file", value_name = "PATH")]
    target_password_file: Option<PathBuf>,
    /// Default database for discovered targets.
    #[arg(long = "target.dbname", value_name = "DB", default_value = "postgres")]
    target_dbname: String,
    /// Default sslmode for discovered targets: disable, allow, prefer, require, verify-ca or verify-full
    /// (default: prefer; verify-full with --target.sslrootcert system).
    #[arg(long = "target.sslmode", value_name = "MODE", value_parser = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])]
    target_sslmode: Option<String>,
    /// Default CA certificates (PEM file) verifying discovered targets, or `system` for the system's.
    #[arg(long = "target.sslrootcert", value_name = "PATH")]
    target_sslrootcert: Option<String>,
    /// Default client certificate (PEM file) for discovered targets (pg_hba method cert).
    #[arg(
        long = "target.sslcert",
        value_name = "PATH",
        requires = "target_sslkey"
    )]
    target_sslcert: Option<String>,
    /// Its private key (PEM file).
    #[arg(
        long = "target.sslkey",
        value_name = "PATH",
        requires = "target_sslcert"
    )]
    target_sslkey: Option<String>,
    /// A postgres_exporter-compatible queries YAML: each entry becomes one more metric group.
    #[arg(
        long = "extend.query-path",
        value_name = "PATH",
        env = "PG_EXPORTER_EXTEND_QUERY_PATH"
    )]
    query_path: Option<PathBuf>,
    /// Metric names: postgres_exporter's (drop-in) or prometheus (conventional: counters end in _total,
    /// promtool-clean).
    #[arg(
        long = "metric-names",
        value_name = "STYLE",
        default_value = "postgres_exporter"
    )]
    metric_names: Naming,
    /// Send the standard groups of a target that are due together in one message: one round trip per target
    /// and tick, each group still failing alone, each statement prepared once per connection (false: one
    /// round trip per group, as through a pooler that cannot keep prepared statements).
    #[arg(long = "collection.batch", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    batch: bool,
    /// Send the batch over the exporter's own PostgreSQL connection, which holds no buffer between ticks
    /// (about 18 KB a target less than sqlx's), reading the answers as text where they arrive (false: over
    /// sqlx's, as before). Queries outside the batch always go over sqlx.
    #[arg(long = "collection.own-connection", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    own_connection: bool,
    /// Connections per target (1 is enough for many targets on one server; 2 lets a slow group not delay the others).
    #[arg(long = "target.max-connections", value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    max_connections: u32,
    /// Every database of each server: the database-local collectors (stat_user_tables, statio_user_tables,
    /// statio_user_indexes, per_database custom queries) run in each, within --target.max-connections.
    #[arg(
        long = "auto-discover-databases",
        env = "PG_EXPORTER_AUTO_DISCOVER_DATABASES"
    )]
    auto_discover_databases: bool,
    /// With --auto-discover-databases, only these databases (comma list).
    #[arg(
        long = "include-databases",
        env = "PG_EXPORTER_INCLUDE_DATABASES",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    include_databases: Vec<String>,
    /// With --auto-discover-databases, not these databases (comma list).
    #[arg(
        long = "exclude-databases",
        env = "PG_EXPORTER_EXCLUDE_DATABASES",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    exclude_databases: Vec<String>,
    /// Export only pg_up and the custom queries, not the standard groups (as postgres_exporter's flag).
    #[arg(
        long = "disable-default-metrics",
        env = "PG_EXPORTER_DISABLE_DEFAULT_METRICS"
    )]
    disable_default_metrics: bool,
    /// Servers /probe may reach, besides the targets already exported (none by default): a comma list of
    /// host:port, host:*, [ipv6]:port, CIDR:port (10.0.0.0/8:5432, addresses only), CIDR:*, or * for any.
    #[arg(long = "probe.allowed-targets", value_name = "PATTERNS", value_delimiter = ',', value_parser = cli::parse_pattern)]
    probe_allowed_targets: Vec<Pattern>,
    /// A file of such patterns (one or more per line, # comments), re-read on reload.
    #[arg(long = "probe.allowed-targets-file", value_name = "PATH")]
    probe_allowed_targets_file: Option<PathBuf>,
    /// Let /probe send passwords to servers that ask for them in cleartext or as MD5 (by default a probed
    /// target with a password must authenticate with SCRAM).
    #[arg(long = "probe.allow-insecure-auth")]
    probe_allow_insecure_auth: bool,
    /// postgres_exporter's config file: auth_modules for /probe?auth_module=NAME; re-read on reload.
    #[arg(long = "config.file", value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// How long a /probe target's pool is kept without being probed.
    #[arg(long = "probe.idle-timeout", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    probe_idle_timeout: Duration,
    /// Address to listen on for HTTP requests (postgres_exporter's port, so scrape configs keep working);
    /// repeat it to listen on several.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = ":9187", value_parser = parse_listen_address, action = clap::ArgAction::Append)]
    listen_address: Vec<SocketAddr>,
    /// Prometheus exporter-toolkit web config (TLS, client certificates, basic auth, headers); re-read on
    /// reload.
    #[arg(long = "web.config.file", value_name = "PATH")]
    web_config_file: Option<PathBuf>,
    /// Enable POST /-/reload and POST /-/quit. SIGHUP reloads regardless.
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        env = "PG_EXPORTER_WEB_TELEMETRY_PATH",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    telemetry_path: String,
    /// How often each metric group is collected.
    #[arg(long = "collection.interval", value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    interval: Duration,
    /// Timeout of one collection (at most the interval), also enforced by the server as statement_timeout.
    /// postgres_exporter's --collection-timeout and PG_EXPORTER_COLLECTION_TIMEOUT are the same setting.
    #[arg(long = "collection.timeout", alias = "collection-timeout", env = "PG_EXPORTER_COLLECTION_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Labels on every series, as label=value pairs separated by commas (postgres_exporter's flag).
    #[arg(long = "constantLabels", env = "PG_EXPORTER_CONSTANT_LABELS", value_name = "LABELS", default_value = "", value_parser = parse_constant_labels)]
    constant_labels: hubble::Labels,
    /// The prefix that replaces `pg` in the names of the --extend.query-path metrics (postgres_exporter's
    /// flag: as there, the built-in collectors keep their names).
    #[arg(long = "metric-prefix", env = "PG_EXPORTER_METRIC_PREFIX", value_name = "PREFIX", default_value = "pg", value_parser = parse_metric_prefix)]
    metric_prefix: String,
    /// Print every collector that would run with the families it exports (name, type, labels, help), then exit.
    #[arg(long = "dumpmaps")]
    dumpmaps: bool,
    /// Most series one metric group may export per run (per database for the database-local groups); a run
    /// producing more is dropped and its group shows as down (hubble_collector_up 0, its error on the status
    /// page). 0, the default, is no limit, as postgres_exporter has none.
    #[arg(long = "collection.max-series", value_name = "N", default_value_t = 0)]
    max_series: u64,
    /// Threads that run collection, apart from those serving HTTP. One keeps the CPU per collection lowest
    /// (no hand-offs between threads); more help only when collecting thousands of targets saturates it.
    #[arg(long = "collection.threads", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    collection_threads: u16,
    /// stat_replication: add the `pid` label upstream adds after 0.20.1, which tells apart two connections of one
    /// standby (a new series on every reconnect).
    #[arg(long = "collector.stat_replication.pid")]
    stat_replication_pid: bool,
    /// stat_statements: also export pg_stat_statements_query_id{queryid, query} with each statement's text.
    #[arg(long = "collector.stat_statements.include_query")]
    statements_include_query: bool,
    /// stat_statements: characters of statement text kept.
    #[arg(long = "collector.stat_statements.query_length", value_name = "N", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    statements_query_length: u32,
    /// stat_statements: most statements exported per run (the most time-consuming first).
    #[arg(long = "collector.stat_statements.limit", value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    statements_limit: u32,
    /// stat_statements: comma list of databases whose statements are left out.
    #[arg(
        long = "collector.stat_statements.exclude_databases",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    statements_exclude_databases: Vec<String>,
    /// stat_statements: comma list of users whose statements are left out.
    #[arg(
        long = "collector.stat_statements.exclude_users",
        value_name = "NAMES",
        value_delimiter = ','
    )]
    statements_exclude_users: Vec<String>,
    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info", value_parser = LOG_LEVELS)]
    log_level: String,
    #[command(flatten)]
    toolkit: cli::ToolkitFlags,
}

/// postgres_exporter's `--constantLabels`: `a=b,c=d`; an entry that is not label=value is an error.
fn parse_constant_labels(s: &str) -> Result<hubble::Labels, String> {
    let mut labels = hubble::Labels::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!(
                "expected label=value pairs separated by commas, got {part:?}"
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        if !hubble::is_valid_label_name(name) {
            return Err(format!("{name:?} is not a valid label name"));
        }
        // postgres_exporter skips an empty value (a label with an empty value is no label).
        if !value.is_empty() {
            labels.insert(name.to_owned(), value.to_owned());
        }
    }
    Ok(labels)
}

fn parse_metric_prefix(s: &str) -> Result<String, String> {
    if hubble::is_valid_metric_name(s) {
        Ok(s.to_owned())
    } else {
        Err("expected a metric name prefix such as pg ([a-zA-Z_:][a-zA-Z0-9_:]*)".to_owned())
    }
}

/// postgres_exporter's `DATA_SOURCE_URI`, `DATA_SOURCE_USER` and `DATA_SOURCE_PASS`, each with a `_FILE` form
/// that wins over it, used when `DATA_SOURCE_NAME` (and `--dsn`) is not set. `None` without a URI.
fn data_source_from_parts(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Dsn>> {
    let read = |name: &str| -> anyhow::Result<Option<String>> {
        let file = format!("{name}_FILE");
        match env(&file).filter(|p| !p.is_empty()) {
            Some(path) => std::fs::read_to_string(&path)
                .map(|s| Some(s.trim().to_owned()))
                .map_err(|e| anyhow::anyhow!("{file} {path}: {e}")),
            None => Ok(env(name)),
        }
    };
    let Some(uri) = read("DATA_SOURCE_URI")?.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let user = read("DATA_SOURCE_USER")?.unwrap_or_default();
    let pass = read("DATA_SOURCE_PASS")?.unwrap_or_default();
    let url = format!(
        "postgresql://{}:{}@{uri}",
        percent_encode(&user),
        percent_encode(&pass)
    );
    url.parse::<Dsn>()
        .map(Some)
        .map_err(|e| anyhow::anyhow!("DATA_SOURCE_URI: {e}"))
}

/// Escapes a URL's user or password: everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_dsn(s: &str) -> Result<Dsn, String> {
    s.parse()
        .map_err(|e: postgres_exporter::connection::DsnError| e.to_string())
}

fn read_secret(path: &std::path::Path, flag: &str) -> anyhow::Result<String> {
    reload::read_secret(path, flag).map_err(anyhow::Error::msg)
}

/// `--flag=""` or `a,,b` leave empty names, which name nothing.
/// `--auto-discover-databases` and its filters.
fn databases(flags: &Flags) -> anyhow::Result<Option<DatabaseFilter>> {
    let filter = DatabaseFilter {
        include: without_empty(flags.include_databases.clone()),
        exclude: without_empty(flags.exclude_databases.clone()),
    };
    if !flags.auto_discover_databases {
        if filter != DatabaseFilter::default() {
            anyhow::bail!(
                "--include-databases and --exclude-databases need --auto-discover-databases"
            );
        }
        return Ok(None);
    }
    if flags.max_connections < 2 {
        anyhow::bail!(
            "--auto-discover-databases needs --target.max-connections 2 or more \
             (the server-wide groups' connection, and one to visit databases with)"
        );
    }
    Ok(Some(filter))
}

fn without_empty(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

fn config(flags: Flags, collectors: Enabled) -> anyhow::Result<Config> {
    let databases = databases(&flags)?;
    if flags.shard.is_some() && !flags.cluster.cluster_etcd_endpoints.is_empty() {
        anyhow::bail!(
            "--shard and --cluster.etcd.endpoints both split the targets: give one (--shard without etcd, \
             --cluster.* with it)"
        );
    }
    let targets = if !flags.etcd_endpoints.is_empty() {
        let form = match (&flags.etcd_prefix, &flags.patroni_namespace) {
            (Some(prefix), None) => EtcdForm::Prefix(prefix.clone()),
            (None, Some(namespace)) => EtcdForm::patroni(namespace),
            _ => anyhow::bail!(
                "--discovery.etcd.endpoints needs --discovery.etcd.prefix or --discovery.etcd.patroni-namespace"
            ),
        };
        Targets::Etcd {
            client: flags
                .etcd
                .client("--discovery.etcd.endpoints", &flags.etcd_endpoints)?,
            form,
        }
    } else if let Some(path) = flags.discovery_file {
        Targets::File(path)
    } else if let Some(url) = flags.consul_url {
        let mut consul = ConsulConfig::new(url);
        consul.datacenter = flags.consul_datacenter;
        if let Some(p) = &flags.consul_token_file {
            consul.token = Some(read_secret(p, "--discovery.consul.token-file")?);
        }
        match (flags.consul_tag, flags.consul_patroni_namespace) {
            (Some(tag), None) => Targets::Consul {
                config: consul,
                tag,
            },
            (None, Some(namespace)) => Targets::ConsulPatroni {
                config: consul,
                namespace,
            },
            _ => anyhow::bail!(
                "--discovery.consul.url needs --discovery.consul.tag or --discovery.consul.patroni-namespace"
            ),
        }
    } else if let Some(dsn) = flags.dsn {
        Targets::Single(dsn)
    } else if let Some(dsn) = data_source_from_parts(|k| std::env::var(k).ok())? {
        Targets::Single(dsn)
    } else {
        Targets::ProbeOnly
    };
    let password = match &flags.target_password_file {
        Some(p) => Some(read_secret(p, "--target.password-file")?),
        None => None,
    };
    let custom_queries = match &flags.query_path {
        Some(p) => postgres_exporter::custom::with_metric_prefix(
            postgres_exporter::custom::load(p)
                .map_err(|e| anyhow::anyhow!("--extend.query-path {e}"))?,
            &flags.metric_prefix,
        ),
        None => Vec::new(),
    };
    let web = cli::web_config(flags.web_config_file.as_deref())?;
    Ok(Config {
        web,
        enable_lifecycle: flags.enable_lifecycle,
        query_path: flags.query_path,
        probe: ProbeConfig {
            allowed_targets: flags.probe_allowed_targets,
            allowed_targets_file: flags.probe_allowed_targets_file,
            auth_config_file: flags.config_file,
            allow_insecure_auth: flags.probe_allow_insecure_auth,
        },
        consul_token_file: flags.consul_token_file,
        collection: Collection {
            schedule: Schedule {
                interval: flags.interval,
                timeout: flags.timeout.min(flags.interval),
                max_series: match flags.max_series {
                    0 => usize::MAX,
                    n => usize::try_from(n).unwrap_or(usize::MAX),
                },
            },
            custom_queries,
            const_labels: flags.constant_labels,
            metric_prefix: flags.metric_prefix,
            naming: flags.metric_names,
            disable_default_metrics: flags.disable_default_metrics,
            pool_size: flags.max_connections,
            batch: flags.batch,
            own_connection: flags.own_connection,
            collectors,
            databases,
            statements: StatementsOptions {
                include_query: flags.statements_include_query,
                query_length: flags.statements_query_length,
                limit: flags.statements_limit,
                exclude_databases: without_empty(flags.statements_exclude_databases),
                exclude_users: without_empty(flags.statements_exclude_users),
            },
            stat_replication_pid: flags.stat_replication_pid,
        },
        probe_idle_timeout: flags.probe_idle_timeout,
        targets,
        defaults: Dsn {
            user: Some(flags.target_user),
            password,
            dbname: Some(flags.target_dbname),
            sslmode: flags.target_sslmode,
            sslrootcert: flags.target_sslrootcert,
            sslcert: flags.target_sslcert,
            sslkey: flags.target_sslkey,
            ..Dsn::default()
        },
        discovery_interval: flags.discovery_interval,
        shard: flags.shard,
        patroni_grace: flags.patroni_grace,
        cluster: flags.cluster.membership(
            &flags.etcd,
            &flags
                .listen_address
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
        )?,
        telemetry_path: flags.telemetry_path,
        enable_openmetrics: flags.toolkit.enable_openmetrics
            || flags.metric_names == Naming::Prometheus,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let (flags, matches) = cli::parse_with_or_exit::<Flags>(cli::catalogue_flags(&CATALOGUE));
    let collectors = cli::catalogue_selection(&CATALOGUE, &matches);
    cli::init_logging(&flags.log_level, &flags.toolkit.log_format);
    let listen = flags.listen_address.clone();
    let systemd = flags.toolkit.systemd_socket;
    let threads = flags.collection_threads;
    let dumpmaps = flags.dumpmaps;
    if !flags.constant_labels.is_empty() {
        tracing::warn!(
            "constant labels on all metrics (--constantLabels) are deprecated in postgres_exporter"
        );
    }
    let result = async {
        let config = config(flags, collectors)?;
        if dumpmaps {
            return dump_maps(&config);
        }
        let listener = cli::bind(&listen, systemd).await?;
        let collection = CollectionRuntime::new(threads.into()).map_err(|e| {
            anyhow::anyhow!("--collection.threads: starting {threads} threads: {e}")
        })?;
        let registry = hubble::default_registry().clone();
        registry.collect_on(collection.handle().clone());
        // run() closes every exporter before it returns, so nothing is left on the collection threads.
        app::run(config, listener, registry, hubble::shutdown_signal()).await
    }
    .await;
    cli::exit_code(result)
}

/// `--dumpmaps`: every collector that would run with its families, without connecting to anything.
fn dump_maps(config: &Config) -> anyhow::Result<()> {
    use hubble::Exporter as _;
    let dsn = match &config.targets {
        Targets::Single(dsn) => dsn.clone(),
        _ => "postgresql://127.0.0.1:5432/postgres".parse::<Dsn>()?,
    };
    let exporter = app::PgExporter::new(&dsn, hubble::Labels::new(), &config.collection)?;
    let mut out = String::new();
    for (collector, descs) in exporter.as_base().families() {
        out.push_str(&format!("{collector}\n"));
        if descs.is_empty() {
            out.push_str("  (one family per row, named by the row)\n");
        }
        for d in descs {
            out.push_str(&format!(
                "  {:<52} {:<9} {{{}}} {}\n",
                d.name,
                d.kind.as_text(),
                d.label_names.join(","),
                d.help
            ));
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
