//! The program: one MySQL or MariaDB server, collected on a schedule and served over HTTP.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::ConnectOptions;

use crate::collectors::Server;
use crate::mycnf::Client;

/// Where and as whom to connect, from the option file and the flags.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `host:port`, or none when a socket is given.
    pub address: Option<(String, u16)>,
    /// A Unix socket path (`socket` in the option file).
    pub socket: Option<String>,
    /// The user.
    pub user: String,
    /// The password; never printed.
    pub password: Option<String>,
    /// The section's TLS keys.
    pub tls: crate::mycnf::Tls,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("address", &self.address)
            .field("socket", &self.socket)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `host:port` (`[v6]:port`), as `--mysqld.address` takes it.
pub fn address(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected host:port, got {s:?}"))?;
    let port = port
        .parse()
        .map_err(|_| format!("expected host:port with a numeric port, got {s:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("expected host:port, got {s:?}"));
    }
    Ok((host.to_owned(), port))
}

impl Target {
    /// The option file's `[client]`, overridden by `--mysqld.address`, `--mysqld.username` and
    /// `MYSQLD_EXPORTER_PASSWORD` where given, as mysqld_exporter 0.15 does.
    pub fn resolve(
        file: Client,
        address_flag: Option<(String, u16)>,
        user_flag: Option<String>,
        password_env: Option<String>,
    ) -> Result<Target, String> {
        let file_address = match (&file.host, file.port) {
            (None, None) => None,
            (host, port) => Some((
                host.clone().unwrap_or_else(|| "localhost".into()),
                port.unwrap_or(3306),
            )),
        };
        let address = address_flag.or(file_address);
        let socket = if address.is_some() { None } else { file.socket };
        let user = user_flag
            .or(file.user)
            .ok_or("no user: give --mysqld.username, or a [client] user in --config.my-cnf")?;
        Ok(Target {
            address: if socket.is_none() {
                Some(address.unwrap_or_else(|| ("localhost".into(), 3306)))
            } else {
                None
            },
            socket,
            user,
            password: password_env.or(file.password),
            tls: file.tls,
        })
    }

    /// [`ssl_mode`](Self::ssl_mode) as `hubble_target_tls` labels it.
    pub fn tls_mode(&self) -> String {
        match self.ssl_mode() {
            MySqlSslMode::Disabled => "disabled",
            MySqlSslMode::Preferred => "preferred",
            MySqlSslMode::Required => "required",
            MySqlSslMode::VerifyCa => "verify-ca",
            MySqlSslMode::VerifyIdentity => "verify-identity",
        }
        .to_owned()
    }

    /// How the connection is encrypted, as mysqld_exporter 0.20 (the Go MySQL driver) reads the keys:
    /// `ssl-skip-verfication` first (encrypted, not verified); then `ssl-ca` (verified by that CA, name
    /// included); then `tls`: `true` verified by the system's CAs, `skip-verify` encrypted only,
    /// `preferred` encrypted when the server offers it, `false` or absent none.
    pub fn ssl_mode(&self) -> MySqlSslMode {
        let t = &self.tls;
        if t.skip_verification == Some(true) {
            return MySqlSslMode::Required;
        }
        if t.ssl_ca.is_some() {
            return MySqlSslMode::VerifyIdentity;
        }
        match t.tls.as_deref() {
            Some("true") => MySqlSslMode::VerifyIdentity,
            Some("skip-verify") => MySqlSslMode::Required,
            Some("preferred") => MySqlSslMode::Preferred,
            _ => MySqlSslMode::Disabled,
        }
    }

    /// sqlx's connection options.
    pub fn options(&self) -> MySqlConnectOptions {
        let mut o = MySqlConnectOptions::new()
            .username(&self.user)
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        if let Some((host, port)) = &self.address {
            o = o.host(host).port(*port);
        }
        if let Some(socket) = &self.socket {
            o = o.socket(socket);
        }
        if let Some(p) = &self.password {
            o = o.password(p);
        }
        o = o.ssl_mode(self.ssl_mode());
        if let Some(ca) = &self.tls.ssl_ca {
            o = o.ssl_ca(ca);
        }
        if let (Some(cert), Some(key)) = (&self.tls.ssl_cert, &self.tls.ssl_key) {
            o = o.ssl_client_cert(cert).ssl_client_key(key);
        }
        o
    }

    /// Where, for logs: `user@host:port` or `user@socket`, no password.
    pub fn describe(&self) -> String {
        match (&self.address, &self.socket) {
            (Some((h, p)), _) => format!("{}@{h}:{p}", self.user),
            (None, Some(s)) => format!("{}@{s}", self.user),
            (None, None) => self.user.clone(),
        }
    }
}

/// What the command line decides.
pub struct Config {
    /// The server of `/metrics`; none when only `/probe` is used (no user configured).
    pub target: Option<Target>,
    /// The collectors turned on.
    pub collectors: hubble::catalogue::Selection,
    /// `--collection.interval`.
    pub interval: Duration,
    /// `--collection.timeout`, at most the interval.
    pub timeout: Duration,
    /// Telemetry path and web config.
    pub serving: hubble_cli::Serving,
    /// `/probe`'s targets and credentials.
    pub probe: crate::probe::ProbeConfig,
    /// `--discovery.file`: servers from a Prometheus file_sd file, each with its own exporter.
    pub discovery_file: Option<std::path::PathBuf>,
    /// `--discovery.interval`.
    pub discovery_interval: Duration,
}

/// The exporter of one discovered server: its address, the credentials of its `__param_auth_module`
/// section (`[client]` by default), its labels on every series.
fn discovered(
    svc: &hubble::discovery::ServiceAtomic,
    probe: &crate::probe::ProbeConfig,
) -> Result<crate::probe::MysqlExporter, String> {
    let module = svc
        .exporter_options
        .get("auth_module")
        .map_or("client", String::as_str);
    let target = probe.target(svc.address.clone(), svc.port, module)?;
    probe.exporter(&target, svc.labels.clone())
}

/// How the exporter's own sessions behave on the server: mysqld_exporter's `--exporter.*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// `--exporter.lock_wait_timeout` seconds, unless `--exporter.enable_lock_wait_timeout=false`: a
    /// metadata lock held by a DDL statement makes the exporter's query wait that long, not forever.
    pub lock_wait_timeout: Option<u32>,
    /// `--exporter.log_slow_filter`: keep the exporter's queries out of the slow query log (MariaDB only).
    pub log_slow_filter: bool,
    /// `--exporter.max_open_connections`: connections per server.
    pub max_open_connections: u32,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            lock_wait_timeout: Some(2),
            log_slow_filter: false,
            max_open_connections: 1,
        }
    }
}

impl Session {
    /// The `SET SESSION` a new connection runs, if any.
    pub fn set_statement(&self) -> Option<String> {
        let mut vars = Vec::new();
        if let Some(s) = self.lock_wait_timeout {
            vars.push(format!("lock_wait_timeout = {s}"));
        }
        if self.log_slow_filter {
            vars.push("log_slow_filter = 'tmp_table_on_disk,filesort_on_disk'".to_owned());
        }
        (!vars.is_empty()).then(|| format!("SET SESSION {}", vars.join(", ")))
    }
}

/// A server's connection, opened when first needed and kept; a refused connection is an error after most of
/// the collection `timeout`.
pub fn connect(target: &Target, timeout: Duration, session: &Session) -> Server {
    let set = session.set_statement();
    let pool = hubble::connections::lazy_pool::<sqlx::MySql>(session.max_open_connections, timeout)
        .after_connect(move |conn, _| {
            let set = set.clone();
            Box::pin(async move {
                if let Some(set) = set {
                    use sqlx::Executor as _;
                    conn.execute(set.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(target.options());
    hubble::connections::Connections::new(pool)
}

/// Serves until `shutdown`.
pub async fn run(
    config: Config,
    listener: impl Into<hubble::Listeners>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let server = config
        .target
        .as_ref()
        .map(|t| connect(t, config.timeout, &config.probe.session));
    let exporter = match (&config.target, &server) {
        (Some(target), Some(server)) => {
            tracing::info!(target = %target.describe(), collectors = ?config.collectors.enabled().collect::<Vec<_>>(), "exporting one MySQL server");
            Some(
                crate::collectors::add(
                    hubble::BaseExporter::builder("mysqld")
                        .interval(config.interval)
                        .timeout(config.timeout),
                    server,
                    config.timeout,
                    &target.tls_mode(),
                    &config.collectors,
                    &config.probe.options,
                )
                .build()
                .context("building the exporter")?,
            )
        }
        _ => {
            tracing::info!("no server of its own: serving /probe and discovered servers");
            None
        }
    };
    // mysqld_exporter's own self-metrics for its dashboards; already there on a second run in one process.
    let _ = hubble::default_registry().prometheus().register(Box::new(
        crate::self_metrics::UpstreamSelfMetrics::new(hubble::default_registry().clone()),
    ));
    let probes = Arc::new(
        crate::probe::Probes::new(
            crate::probe::MysqlProber::new(config.probe.clone()),
            hubble::default_registry(),
        )
        .idle_timeout(config.probe.idle)
        .enable_openmetrics(config.probe.enable_openmetrics)
        // mysqld_exporter's `collect[]`, as on /metrics.
        .collect_param(config.serving.collect_param.clone()),
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let (probes, cancel) = (probes.clone(), cancel.clone());
        async move { probes.run_evictions(cancel).await }
    });
    if let Some(path) = config.discovery_file.clone() {
        let (probe, cancel) = (config.probe.clone(), cancel.clone());
        let interval = config.discovery_interval;
        tasks.spawn(async move {
            // A discovered server's connection closes with its exporter, when it goes.
            let make = |svc: &hubble::discovery::ServiceAtomic| discovered(svc, &probe);
            hubble_cli::file_sd_exporters(path, "mysqld", interval, make, cancel).await;
        });
    }
    let routes = axum::Router::new()
        .route(
            "/probe",
            axum::routing::get(hubble::targets::probe::handler::<crate::probe::MysqlProber>),
        )
        .with_state(probes);
    let served =
        hubble_cli::serve_one(exporter, listener.into(), config.serving, routes, shutdown).await;
    cancel.cancel();
    // The eviction task closes every probed target as it ends.
    while tasks.join_next().await.is_some() {}
    if let Some(server) = server {
        server.close().await;
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_read_as_mysqld_exporter_reads_them() {
        let mode = |section: &str| {
            let c = crate::mycnf::parse(&format!("[client]\nuser = u\n{section}")).unwrap();
            Target::resolve(c, None, None, None).unwrap().ssl_mode()
        };
        assert!(matches!(mode(""), MySqlSslMode::Disabled));
        assert!(matches!(mode("tls = false\n"), MySqlSslMode::Disabled));
        assert!(matches!(mode("tls = preferred\n"), MySqlSslMode::Preferred));
        assert!(matches!(
            mode("tls = skip-verify\n"),
            MySqlSslMode::Required
        ));
        assert!(matches!(mode("tls = true\n"), MySqlSslMode::VerifyIdentity));
        assert!(matches!(
            mode("ssl-ca = /ca.pem\n"),
            MySqlSslMode::VerifyIdentity
        ));
        assert!(matches!(
            mode("ssl-ca = /ca.pem\nssl-skip-verfication = true\n"),
            MySqlSslMode::Required
        ));
        for (bad, says) in [
            ("tls = maybe\n", "tls=maybe is not one of"),
            (
                "tls-min-version = TLSv9\n",
                "tls-min-version=TLSv9 is not allowed",
            ),
            (
                "tls-min-version = TLSv1.3\ntls-max-version = TLSv1.2\n",
                "must not be higher",
            ),
            ("ssl-cert = /c.pem\n", "go together"),
        ] {
            let e = crate::mycnf::parse(&format!("[client]\n{bad}")).unwrap_err();
            assert!(e.contains(says) && e.contains("[client]"), "{e}");
        }
    }

    #[test]
    fn flags_override_the_option_file() {
        let file = Client {
            user: Some("file".into()),
            password: Some("filepw".into()),
            host: Some("db".into()),
            port: None,
            socket: None,
            tls: Default::default(),
        };
        let t = Target::resolve(file.clone(), None, None, None).unwrap();
        assert_eq!(t.address, Some(("db".into(), 3306)));
        assert_eq!(
            (t.user.as_str(), t.password.as_deref()),
            ("file", Some("filepw"))
        );
        let t = Target::resolve(
            file,
            Some(("127.0.0.1".into(), 3307)),
            Some("flag".into()),
            Some("envpw".into()),
        )
        .unwrap();
        assert_eq!(t.address, Some(("127.0.0.1".into(), 3307)));
        assert_eq!(
            (t.user.as_str(), t.password.as_deref()),
            ("flag", Some("envpw"))
        );
        assert!(!format!("{t:?}").contains("envpw"));
        let socket = Client {
            user: Some("u".into()),
            socket: Some("/run/mysqld/mysqld.sock".into()),
            ..Client::default()
        };
        let t = Target::resolve(socket, None, None, None).unwrap();
        assert_eq!(
            (t.address, t.socket.as_deref()),
            (None, Some("/run/mysqld/mysqld.sock"))
        );
        assert!(Target::resolve(Client::default(), None, None, None)
            .unwrap_err()
            .contains("--mysqld.username"));
        assert_eq!(address("[::1]:3306").unwrap(), ("::1".into(), 3306));
        assert!(address("db").is_err());
    }
}
