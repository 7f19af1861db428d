//! Exporter-style command-line helpers shared by the example exporters: listen addresses, durations, log
//! levels, one-line errors.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

mod logging;

pub use logging::{init_logging, LineFormat, LOG_FORMATS, LOG_LEVELS};

/// Parses a listen address: `host:port`, `[v6]:port`, or `:port` (all interfaces), as Go exporters accept.
pub fn parse_listen_address(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.parse().map_err(|_| {
        format!(
            "expected host:port, [ipv6]:port or :port (e.g. :9745 or 127.0.0.1:9745), got {s:?}"
        )
    })
}

/// Parses one `--probe.allowed-targets` pattern (`host:port`, `host:*`, `[ipv6]:port`, `CIDR:port`, `CIDR:*`,
/// `*`).
pub fn parse_pattern(s: &str) -> Result<hubble::targets::allowlist::Pattern, String> {
    s.parse()
        .map_err(|e: hubble::targets::allowlist::PatternError| e.to_string())
}

/// Parses a duration such as `500ms`, `15s`, `1m30s`; zero is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("expected a positive duration".to_owned()),
        Err(e) => Err(format!("expected a duration such as 5s, 1m or 500ms ({e})")),
    }
}

/// Parses flags; on a usage error prints one line naming the flag and exits with status 2.
pub fn parse_or_exit<C: clap::Parser>() -> C {
    parse_with_or_exit::<C>(Vec::new()).0
}

/// [`parse_or_exit`] with `extra` flags besides those `C` declares (generated ones, such as one per
/// collector); their values are read from the returned matches.
pub fn parse_with_or_exit<C: clap::Parser>(extra: Vec<clap::Arg>) -> (C, clap::ArgMatches) {
    let command = C::command().args(extra);
    let parsed = command
        .clone()
        .try_get_matches()
        .and_then(|matches| C::from_arg_matches(&matches).map(|c| (c, matches)));
    match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            if let Some(line) = without_secret_value(&command, &e) {
                eprintln!("{line} (see --help)");
                std::process::exit(2);
            }
            if let Some(line) = unknown_flag(&command, &e) {
                eprintln!("{line} (see --help)");
                std::process::exit(2);
            }
            let rendered = e.render().to_string();
            let line = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{line} (see --help)");
            std::process::exit(2);
        }
    }
}

/// An unknown flag, with the known one nearest to it (a misspelt `--collector.<name>`, say).
fn unknown_flag(command: &clap::Command, e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(given)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let name = given.strip_prefix("--")?.split('=').next()?;
    let near =
        hubble::catalogue::nearest(name, command.get_arguments().filter_map(|a| a.get_long()))?;
    Some(format!(
        "error: unknown flag --{name}; did you mean --{near}?"
    ))
}

/// clap quotes a rejected value; for a flag whose value may hold a password (declared with
/// `hide_env_values`, as DSN flags are) the error names the flag and why instead.
fn without_secret_value(command: &clap::Command, e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.trim_start_matches("--").split(' ').next()?;
    let secret = command
        .get_arguments()
        .any(|a| a.get_long() == Some(long) && a.is_hide_env_values_set());
    let why = std::error::Error::source(e)?;
    secret.then(|| format!("error: invalid value for '{arg}': {why}"))
}

/// Binds the HTTP listeners: every `--web.listen-address`, or with `--web.systemd-socket` the sockets
/// systemd passes (`LISTEN_FDS`) instead, as the exporter-toolkit does. Errors name the address and the flag.
pub async fn bind(addrs: &[SocketAddr], systemd_socket: bool) -> anyhow::Result<hubble::Listeners> {
    use anyhow::Context as _;
    if systemd_socket {
        let mut fds = listenfd::ListenFd::from_env();
        let mut listeners = Vec::new();
        for i in 0..fds.len() {
            let std_listener = fds.take_tcp_listener(i).with_context(|| {
                format!("--web.systemd-socket: socket {i} is not a TCP listener")
            })?;
            if let Some(l) = std_listener {
                l.set_nonblocking(true)?;
                listeners.push(tokio::net::TcpListener::from_std(l)?);
            }
        }
        if listeners.is_empty() {
            anyhow::bail!(
                "--web.systemd-socket: no socket activation file descriptors found (LISTEN_FDS)"
            );
        }
        return Ok(listeners.into());
    }
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        listeners.push(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (--web.listen-address)"))?,
        );
    }
    Ok(listeners.into())
}

/// The process exit status of a run: 0, or the error printed as one line and 1.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The `--<prefix><name>` and `--no-<prefix><name>` flag pairs that turn each of `names` on and off, hidden
/// from `--help` (which names them once): postgres_exporter's `--collector.`, mysqld_exporter's `--collect.`.
pub fn toggle_flags(prefix: &str, names: impl IntoIterator<Item = &'static str>) -> Vec<clap::Arg> {
    names
        .into_iter()
        .flat_map(|name| {
            [
                clap::Arg::new(format!("{prefix}{name}"))
                    .long(format!("{prefix}{name}"))
                    .action(clap::ArgAction::SetTrue)
                    .hide(true),
                clap::Arg::new(format!("no-{prefix}{name}"))
                    .long(format!("no-{prefix}{name}"))
                    .action(clap::ArgAction::SetTrue)
                    .hide(true),
            ]
        })
        .collect()
}

/// A catalogue's flags: `--<prefix><name>` for each collector, in `--help` under "Collectors" with its help
/// and default, and `--no-<prefix><name>` (hidden: the section's heading names the form once); the
/// incumbent's collectors the catalogue lacks get both, hidden.
pub fn catalogue_flags<T>(catalogue: &hubble::catalogue::Catalogue<T>) -> Vec<clap::Arg> {
    let prefix = catalogue.flag_prefix();
    // Alphabetical in --help, whatever the build order.
    let mut entries: Vec<_> = catalogue.entries().iter().collect();
    entries.sort_by_key(|e| e.name);
    let mut flags: Vec<clap::Arg> = entries
        .into_iter()
        .flat_map(|entry| {
            let default = match entry.interval {
                Some(every) if entry.default => {
                    format!("on, every {}", humantime::format_duration(every))
                }
                Some(every) => format!("off, every {}", humantime::format_duration(every)),
                None if entry.default => "on".to_owned(),
                None => "off".to_owned(),
            };
            [
                clap::Arg::new(format!("{prefix}{}", entry.name))
                    .long(format!("{prefix}{}", entry.name))
                    .action(clap::ArgAction::SetTrue)
                    .help(format!("{} [default: {default}]", entry.help))
                    .help_heading(format!(
                        "Collectors (--{prefix}<name> turns one on, --no-{prefix}<name> off)"
                    )),
                clap::Arg::new(format!("no-{prefix}{}", entry.name))
                    .long(format!("no-{prefix}{}", entry.name))
                    .action(clap::ArgAction::SetTrue)
                    .hide(true),
            ]
        })
        .collect();
    flags.extend(toggle_flags(
        prefix,
        catalogue.upstream_only().iter().copied(),
    ));
    let names: Vec<&'static str> = catalogue.entries().iter().map(|e| e.name).collect();
    flags.push(
        clap::Arg::new(INTERVALS)
            .long(INTERVALS)
            .value_name("NAME=DURATION")
            .value_delimiter(',')
            .action(clap::ArgAction::Append)
            .value_parser(move |s: &str| parse_interval(&names, s))
            .help(
                "Collectors that run on their own interval, whatever --collection.interval (comma list, \
                 e.g. settings=5m,database=1m). Without it, those listed with an interval run that often, \
                 or at --collection.interval when it is longer; the others at --collection.interval",
            ),
    );
    flags
}

/// The flag setting collectors' own intervals.
const INTERVALS: &str = "collection.intervals";

/// One `NAME=DURATION` of `--collection.intervals`, `NAME` among `names`.
fn parse_interval(names: &[&'static str], s: &str) -> Result<(&'static str, Duration), String> {
    let (name, every) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=DURATION, such as settings=5m, not {s:?}"))?;
    let known =
        names.iter().find(|n| **n == name).ok_or_else(|| {
            match hubble::catalogue::nearest(name, names.iter().copied()) {
                Some(near) => format!("unknown collector {name:?}; did you mean {near}?"),
                None => format!("unknown collector {name:?}"),
            }
        })?;
    Ok((
        known,
        parse_duration(every).map_err(|e| format!("{name}: {e}"))?,
    ))
}

/// The collectors the [`catalogue_flags`] in `matches` turn on; of two flags for one collector, the later
/// wins. Log what was ignored with [`Catalogue::warn_upstream_only`](hubble::catalogue::Catalogue::warn_upstream_only)
/// once logging is set up.
pub fn catalogue_selection<T>(
    catalogue: &hubble::catalogue::Catalogue<T>,
    matches: &clap::ArgMatches,
) -> hubble::catalogue::Selection {
    let prefix = catalogue.flag_prefix();
    let mut selection = catalogue.defaults();
    let names = catalogue.entries().iter().map(|e| e.name);
    for name in names.chain(catalogue.upstream_only().iter().copied()) {
        if let Some(on) = toggled(matches, prefix, name) {
            selection
                .set(name, on)
                .expect("every flag names a collector of the catalogue");
        }
    }
    let intervals = matches.get_many::<(&'static str, Duration)>(INTERVALS);
    for (name, every) in intervals.into_iter().flatten() {
        selection
            .set_interval(name, *every)
            .expect("the flag's parser takes only the catalogue's names");
    }
    selection
}

/// What the [`toggle_flags`] in `matches` say of `name`: `Some(true)` on, `Some(false)` off, `None` not
/// given. Of two flags for one name, the later wins.
pub fn toggled(matches: &clap::ArgMatches, prefix: &str, name: &str) -> Option<bool> {
    let at = |id: &str| matches.get_flag(id).then(|| matches.index_of(id)).flatten();
    match (
        at(&format!("{prefix}{name}")),
        at(&format!("no-{prefix}{name}")),
    ) {
        (Some(a), Some(b)) => Some(a > b),
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (None, None) => None,
    }
}

/// The exporter-toolkit and promslog flags every Prometheus exporter takes besides `--web.listen-address`
/// (declared by each exporter with its own default port) and `--log.level`.
#[derive(clap::Args, Debug, Clone)]
pub struct ToolkitFlags {
    /// Use systemd socket activation listeners instead of port listeners (Linux only).
    #[arg(long = "web.systemd-socket")]
    pub systemd_socket: bool,
    /// Answer in OpenMetrics when the scraper asks for it. Off by default, as in the Go exporters: in
    /// OpenMetrics a counter not named ..._total is stored by Prometheus as ..._total, which is not the name
    /// dashboards query.
    #[arg(long = "web.enable-openmetrics")]
    pub enable_openmetrics: bool,
    /// Output format of log messages.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "logfmt", value_parser = LOG_FORMATS)]
    pub log_format: String,
}

/// The flags an exporter of one kind of server shares with the others: how it is served and how often it
/// collects. Flatten it into the exporter's own flags (`#[command(flatten)]`).
#[derive(clap::Args, Debug, Clone)]
pub struct CommonFlags {
    /// Prometheus exporter-toolkit web config (TLS, client certificates, basic auth, headers).
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<std::path::PathBuf>,
    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,
    /// How often the server is collected.
    #[arg(long = "collection.interval", value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Timeout of one collection (at most the interval).
    #[arg(long = "collection.timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Only log messages at or above this level.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info", value_parser = LOG_LEVELS)]
    pub log_level: String,
    /// `--web.systemd-socket`, `--web.enable-openmetrics`, `--log.format`.
    #[command(flatten)]
    pub toolkit: ToolkitFlags,
}

impl CommonFlags {
    /// `--collection.timeout`, at most the interval.
    pub fn timeout(&self) -> Duration {
        self.timeout.min(self.interval)
    }

    /// How to serve, under the status page title `title`; loads `--web.config.file`.
    pub fn serving(&self, title: &str) -> anyhow::Result<Serving> {
        Ok(Serving {
            telemetry_path: self.telemetry_path.clone(),
            title: title.to_owned(),
            web: web_config(self.web_config_file.as_deref())?,
            enable_openmetrics: self.toolkit.enable_openmetrics,
            catalogue: Default::default(),
            target_on_metrics: false,
            collect_param: None,
        })
    }
}

/// `--discovery.file` and `--discovery.interval`, for [`file_sd_exporters`].
#[derive(clap::Args, Debug, Clone)]
pub struct FileSdFlags {
    /// Discover servers from a Prometheus file_sd file: each target (host:port) gets its own exporter, its
    /// labels on every series.
    #[arg(long = "discovery.file", value_name = "PATH")]
    pub discovery_file: Option<std::path::PathBuf>,
    /// How often discovery runs.
    #[arg(long = "discovery.interval", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub discovery_interval: Duration,
}

/// How to reach etcd, for discovery and for replicas sharing targets: `--etcd.*`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EtcdFlags {
    /// User for etcd's authentication (with --etcd.password-file).
    #[arg(
        long = "etcd.username",
        value_name = "USER",
        requires = "etcd_password_file"
    )]
    pub etcd_username: Option<String>,
    /// File holding that user's password.
    #[arg(
        long = "etcd.password-file",
        value_name = "PATH",
        requires = "etcd_username"
    )]
    pub etcd_password_file: Option<std::path::PathBuf>,
    /// CA certificates (PEM) signing etcd's certificate, for https:// endpoints (default: the system's).
    #[arg(long = "etcd.ca-file", value_name = "PATH")]
    pub etcd_ca_file: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for etcd's --client-cert-auth (with --etcd.key-file). etcd's HTTP gateway,
    /// which the exporter talks to, refuses certificates that carry a CommonName.
    #[arg(
        long = "etcd.cert-file",
        value_name = "PATH",
        requires = "etcd_key_file"
    )]
    pub etcd_cert_file: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    #[arg(
        long = "etcd.key-file",
        value_name = "PATH",
        requires = "etcd_cert_file"
    )]
    pub etcd_key_file: Option<std::path::PathBuf>,
}

impl EtcdFlags {
    /// A client for `endpoints` (named by `flag` in errors) with these flags' credentials.
    pub fn client(
        &self,
        flag: &str,
        endpoints: &[String],
    ) -> anyhow::Result<hubble::discovery::etcd::EtcdClient> {
        let mut config = hubble::discovery::etcd::EtcdConfig::new(endpoints.iter().cloned());
        config.username = self.etcd_username.clone();
        if let Some(path) = &self.etcd_password_file {
            config.password = Some(
                std::fs::read_to_string(path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| anyhow::anyhow!("--etcd.password-file {}: {e}", path.display()))?,
            );
        }
        config.ca_file = self.etcd_ca_file.clone();
        config.cert_file = self.etcd_cert_file.clone();
        config.key_file = self.etcd_key_file.clone();
        hubble::discovery::etcd::EtcdClient::new(config).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    }
}

/// Replicas sharing the discovered targets through etcd: `--cluster.*`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClusterFlags {
    /// Share the discovered targets with the other replicas of --cluster.name through this etcd (comma
    /// list of http:// or https:// URLs): each replica holds a lease, the targets are split over the live
    /// replicas, and a replica that stops or dies has its targets taken over within --cluster.lease-ttl.
    #[arg(
        long = "cluster.etcd.endpoints",
        value_name = "URLS",
        value_delimiter = ','
    )]
    pub cluster_etcd_endpoints: Vec<String>,
    /// The name the replicas share.
    #[arg(long = "cluster.name", value_name = "NAME", default_value = "hubble")]
    pub cluster_name: String,
    /// This replica's name among them (default: host@listen-address).
    #[arg(long = "cluster.member", value_name = "NAME")]
    pub cluster_member: Option<String>,
    /// How long a dead replica's targets wait for the others.
    #[arg(long = "cluster.lease-ttl", value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub cluster_lease_ttl: Duration,
}

impl ClusterFlags {
    /// The membership these flags ask for (`None` without `--cluster.etcd.endpoints`); `listen` names this
    /// replica by default.
    pub fn membership(
        &self,
        etcd: &EtcdFlags,
        listen: &str,
    ) -> anyhow::Result<Option<std::sync::Arc<hubble::cluster::Membership>>> {
        if self.cluster_etcd_endpoints.is_empty() {
            return Ok(None);
        }
        let client = etcd.client("--cluster.etcd.endpoints", &self.cluster_etcd_endpoints)?;
        let member = match &self.cluster_member {
            Some(m) if !m.is_empty() && !m.contains('/') => m.clone(),
            Some(m) => anyhow::bail!("--cluster.member {m:?}: expected a name without '/'"),
            None => format!("{}@{listen}", host_name()),
        };
        if self.cluster_name.is_empty() || self.cluster_name.contains('/') {
            anyhow::bail!(
                "--cluster.name {:?}: expected a name without '/'",
                self.cluster_name
            );
        }
        Ok(Some(hubble::cluster::Membership::new(
            client,
            hubble::cluster::ClusterConfig {
                name: self.cluster_name.clone(),
                member,
                lease_ttl: self.cluster_lease_ttl,
            },
        )))
    }
}

/// The host name, from the kernel (empty when unknown).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// `--web.config.file` when given (named in its error), else plain HTTP.
pub fn web_config(
    path: Option<&std::path::Path>,
) -> anyhow::Result<std::sync::Arc<hubble::WebConfigHandle>> {
    Ok(std::sync::Arc::new(match path {
        Some(p) => hubble::WebConfigHandle::from_file(p)
            .map_err(|e| anyhow::anyhow!("--web.config.file {e}"))?,
        None => hubble::WebConfigHandle::plain(),
    }))
}

/// How a one-target exporter is served: its telemetry path, landing page title and web config.
#[derive(Debug, Clone)]
pub struct Serving {
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// The status page's title.
    pub title: String,
    /// `--web.config.file`.
    pub web: std::sync::Arc<hubble::WebConfigHandle>,
    /// `--web.enable-openmetrics`.
    pub enable_openmetrics: bool,
    /// The collectors offered and which run, for the status page ([`Serving::catalogue`]).
    pub catalogue: hubble::catalogue::CatalogueSummary,
    /// `GET <telemetry path>?target=...` answered as `/probe?target=...` ([`Serving::target_on_metrics`]).
    pub target_on_metrics: bool,
    /// `collect[]` honoured on the metrics path ([`Serving::collect_param`]).
    pub collect_param: Option<hubble::CollectSelection>,
}

impl Serving {
    /// Answers `GET <telemetry path>?target=...` as `/probe` with the same query, as mysqld_exporter
    /// answers `/metrics?target=`: the target is reached as a probed one, so only where `/probe` may
    /// reach it (its allowlist, its credentials), never silently answered with the exporter's own server.
    pub fn target_on_metrics(mut self) -> Self {
        self.target_on_metrics = true;
        self
    }

    /// Honours mysqld_exporter's `collect[]=<collector>` on the metrics path: only those collectors, and
    /// `always` (the target's `up`), are answered.
    pub fn collect_param(mut self, always: &[&str]) -> Self {
        self.collect_param = Some(hubble::CollectSelection {
            always: always.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Lists `catalogue`'s collectors, as `selection` turns them on, on the status page.
    pub fn catalogue<T>(
        mut self,
        catalogue: &hubble::catalogue::Catalogue<T>,
        selection: &hubble::catalogue::Selection,
    ) -> Self {
        self.catalogue = catalogue.summary(selection);
        self
    }
}

/// Registers `exporter` (if any) in the default registry, serves it on `listeners` with `routes` (a
/// `/probe` endpoint, say) until `shutdown`, then unregisters (closes) it: the whole life of an exporter of
/// one target.
pub async fn serve_one<E: hubble::Exporter>(
    exporter: Option<E>,
    listeners: hubble::Listeners,
    serving: Serving,
    routes: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let exporter = match exporter {
        Some(e) => Some(
            hubble::register(e)
                .await
                .context("registering the exporter")?,
        ),
        None => None,
    };
    let router = hubble::router(
        hubble::default_registry().clone(),
        hubble::ServerConfig {
            telemetry_path: serving.telemetry_path.clone(),
            title: serving.title,
            enable_openmetrics: serving.enable_openmetrics,
            catalogue: serving.catalogue,
            collect_param: serving.collect_param,
            cluster: None,
        },
    )
    .merge(routes);
    let router = if serving.target_on_metrics {
        metrics_target_as_probe(router, &serving.telemetry_path)
    } else {
        router
    };
    let served = hubble::serve_with(listeners, router, serving.web.clone(), shutdown).await;
    if let Some(exporter) = exporter {
        hubble::unregister(&*exporter).await;
    }
    served.context("serving HTTP")
}

/// `router` with `GET <path>?target=...` sent to `/probe` (same query) before routing: a rewrite after
/// routing would be too late, so it wraps the whole router.
fn metrics_target_as_probe(router: axum::Router, path: &str) -> axum::Router {
    let path = path.to_owned();
    let rewrite = move |mut request: axum::extract::Request| {
        let uri = request.uri();
        let query = uri.query().unwrap_or_default();
        if uri.path() == path && query.split('&').any(|pair| pair.starts_with("target=")) {
            if let Ok(probe) = format!("/probe?{query}").parse() {
                *request.uri_mut() = probe;
            }
        }
        request
    };
    let service = tower::ServiceBuilder::new()
        .map_request(rewrite)
        .service(router);
    axum::Router::new().fallback_service(service)
}

/// `--discovery.file` for [`serve_targets`]: the file, how often it is read, and what a listed target's
/// exporter is.
#[derive(Debug)]
pub struct Discovered<M> {
    /// The Prometheus file_sd file.
    pub path: std::path::PathBuf,
    /// `--discovery.interval`.
    pub interval: Duration,
    /// A listed target's exporter.
    pub make: M,
}

/// `--probe.allowed-targets` and `--probe.idle-timeout`, for an exporter whose `/probe` reaches targets by
/// address with its own credentials.
#[derive(clap::Args, Debug, Clone)]
pub struct ProbeFlags {
    /// Servers /probe?target=host:port may reach (none by default), with the exporter's own credentials: a
    /// comma list of host:port, host:* (an IPv6 host in brackets), CIDR:port (10.0.0.0/8:5432, addresses
    /// only), CIDR:*, or * for any.
    #[arg(long = "probe.allowed-targets", value_name = "PATTERNS", value_delimiter = ',', value_parser = parse_pattern)]
    pub allowed_targets: Vec<hubble::targets::allowlist::Pattern>,
    /// How long a /probe target's connection and exporter are kept without being probed.
    #[arg(long = "probe.idle-timeout", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,
}

impl ProbeFlags {
    /// The allowlist of the flag (discovered targets are not probe-able by being discovered).
    pub fn allowlist(&self) -> hubble::targets::allowlist::Allowlist {
        hubble::targets::allowlist::Allowlist::new(
            self.allowed_targets.clone(),
            Vec::new(),
            std::sync::Arc::new(Default::default()),
        )
    }
}

/// Serves an exporter of targets until `shutdown`: its own target `single` if any, with `discovery` every
/// target of a file_sd file, and `/probe` through `probes` (idle targets closed as it goes). Everything it
/// started is closed before it returns.
pub async fn serve_targets<E, M, P>(
    exporter: &'static str,
    single: Option<E>,
    discovery: Option<Discovered<M>>,
    probes: hubble::targets::probe::Probes<P>,
    listeners: hubble::Listeners,
    serving: Serving,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    E: hubble::Exporter,
    M: Fn(&hubble::discovery::ServiceAtomic) -> Result<E, String> + Send + Sync + 'static,
    P: hubble::targets::probe::Prober,
{
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(d) = discovery {
        tasks.spawn(file_sd_exporters(
            d.path,
            exporter,
            d.interval,
            d.make,
            cancel.clone(),
        ));
    }
    let probes = std::sync::Arc::new(probes.enable_openmetrics(serving.enable_openmetrics));
    tasks.spawn({
        let (probes, cancel) = (probes.clone(), cancel.clone());
        // Closes every probed target as it ends.
        async move { probes.run_evictions(cancel).await }
    });
    let routes = axum::Router::new()
        .route(
            "/probe",
            axum::routing::get(hubble::targets::probe::handler::<P>),
        )
        .with_state(probes);
    let served = serve_one(single, listeners, serving, routes, shutdown).await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    served
}

/// Runs `--discovery.file` until `cancel`: every target of the Prometheus file_sd file at `path` gets the
/// exporter `make` builds for it (its labels on every series are the caller's to add), registered in the
/// default registry, and is unregistered (closed) when it leaves the file. Errors of `make` are logged once per
/// change and that target is retried with backoff (hubble's dispatcher).
pub async fn file_sd_exporters<E, M>(
    path: std::path::PathBuf,
    exporter: &'static str,
    interval: Duration,
    make: M,
    cancel: tokio_util::sync::CancellationToken,
) where
    E: hubble::Exporter,
    M: Fn(&hubble::discovery::ServiceAtomic) -> Result<E, String>,
{
    let discovery = std::sync::Arc::new(hubble::discovery::Discovery::new(
        hubble::discovery::FileSd::new(path),
        exporter,
    ));
    let dispatcher = hubble::dispatcher::Dispatcher::<E>::new(
        interval,
        "file_sd",
        hubble::default_registry().clone(),
    );
    let source = move || {
        let discovery = discovery.clone();
        async move { discovery.targets(|_| true, &Default::default()).await }
    };
    let factory = |svc: hubble::discovery::ServiceAtomic| {
        let made = make(&svc);
        async move { made }
    };
    dispatcher.manage(source, factory, cancel).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen_address(":9745").unwrap().to_string(),
            "0.0.0.0:9745"
        );
        assert_eq!(
            parse_listen_address("127.0.0.1:1").unwrap().to_string(),
            "127.0.0.1:1"
        );
        assert_eq!(
            parse_listen_address("[::1]:80").unwrap().to_string(),
            "[::1]:80"
        );
        assert!(parse_listen_address("localhost")
            .unwrap_err()
            .contains("host:port"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
