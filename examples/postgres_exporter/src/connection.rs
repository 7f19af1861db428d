//! Data source names and connection pools: URL or `key=value` DSNs, passwords never shown, a small pool per
//! target with `application_name` and a server-side `statement_timeout`.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, PgPool};

/// A target's connections, kept between collector runs (one round trip per query).
pub type PgConnections = hubble::connections::Connections<sqlx::Postgres>;

/// What connections are called in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "hubble_postgres_exporter";

/// A parsed data source name.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Dsn {
    /// Host name or address (or a socket directory).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: Option<String>,
    /// Password; never printed.
    pub password: Option<String>,
    /// Database.
    pub dbname: Option<String>,
    /// `sslmode`, as libpq reads it: `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`.
    pub sslmode: Option<String>,
    /// `sslrootcert`: the CA certificates (PEM file) that verify the server, or `system` for the system's.
    pub sslrootcert: Option<String>,
    /// `sslcert`: a client certificate (PEM file), for `cert` authentication.
    pub sslcert: Option<String>,
    /// `sslkey`: its private key (PEM file).
    pub sslkey: Option<String>,
}

/// The `Dsn` fields a connection's exporter options (`__param_<name>`, Consul KV, auth modules) may set.
pub const TLS_OPTIONS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

impl std::fmt::Debug for Dsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Dsn {
    /// `host:port` (IPv6 bracketed): the `server` label.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The DSN as a URL with the password replaced: safe for logs and errors.
    pub fn redacted(&self) -> String {
        let user = match (&self.user, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (Some(u), None) => format!("{u}@"),
            _ => String::new(),
        };
        let mut s = format!(
            "postgresql://{user}{}/{}",
            self.server(),
            self.dbname.as_deref().unwrap_or("")
        );
        let params: Vec<String> = [
            ("sslmode", &self.sslmode),
            ("sslrootcert", &self.sslrootcert),
            ("sslcert", &self.sslcert),
            ("sslkey", &self.sslkey),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        if !params.is_empty() {
            s.push('?');
            s.push_str(&params.join("&"));
        }
        s
    }

    /// Fills fields still unset from `defaults`.
    pub fn or_defaults(mut self, defaults: &Dsn) -> Self {
        self.user = self.user.or_else(|| defaults.user.clone());
        self.password = self.password.or_else(|| defaults.password.clone());
        self.dbname = self.dbname.or_else(|| defaults.dbname.clone());
        self.sslmode = self.sslmode.or_else(|| defaults.sslmode.clone());
        self.sslrootcert = self.sslrootcert.or_else(|| defaults.sslrootcert.clone());
        self.sslcert = self.sslcert.or_else(|| defaults.sslcert.clone());
        self.sslkey = self.sslkey.or_else(|| defaults.sslkey.clone());
        self
    }

    /// Fills unset fields from `options` (`user`, `password`, `dbname`, `sslmode`, as discovery gives them).
    pub fn with_options(mut self, options: &BTreeMap<String, String>) -> Self {
        let pick =
            |current: Option<String>, key: &str| current.or_else(|| options.get(key).cloned());
        self.user = pick(self.user, "user");
        self.password = pick(self.password, "password");
        self.dbname = pick(self.dbname, "dbname");
        self.sslmode = pick(self.sslmode, "sslmode");
        self.sslrootcert = pick(self.sslrootcert, "sslrootcert");
        self.sslcert = pick(self.sslcert, "sslcert");
        self.sslkey = pick(self.sslkey, "sslkey");
        self
    }

    /// Connection options with the application name and a server-side statement timeout, sent in the
    /// startup packet: for connections used for one round (no extra round trip to set it).
    pub fn connect_options(&self, statement_timeout: Duration) -> Result<PgConnectOptions, String> {
        // Enforced by the server: a slow query is cancelled there, not only abandoned by us.
        Ok(self.session_options()?.options([(
            "statement_timeout",
            format!("{}", statement_timeout.as_millis()),
        )]))
    }

    /// The options every connection of the exporter has, without a statement timeout. Nothing here changes
    /// a numeric or boolean setting's reset value: `pg_settings_*` report `reset_val`, what the server
    /// gives a session of this user and database, not what the exporter changed in its own.
    fn session_options(&self) -> Result<PgConnectOptions, String> {
        let mut o = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .application_name(APPLICATION_NAME)
            // sqlx sends extra_float_digits=2 by default; since PostgreSQL 12 every value above 0 prints
            // floats exactly, and leaving it out keeps the server's own value in pg_settings_extra_float_digits.
            .extra_float_digits(None);
        // sqlx warns on every statement over a second; under load that floods the log once per query.
        // hubble_collector_duration_seconds shows slow groups, and failures are logged once per change.
        o = o.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        if let Some(u) = &self.user {
            o = o.username(u);
        }
        if let Some(p) = &self.password {
            o = o.password(p);
        }
        if let Some(d) = &self.dbname {
            o = o.database(d);
        }
        self.with_tls(o)
    }

    /// libpq's TLS settings on `o`. `sslrootcert=system` verifies with the system's CA certificates and, as
    /// in libpq 16, means `verify-full` unless a weaker mode is asked for, which is refused.
    pub fn with_tls(&self, mut o: PgConnectOptions) -> Result<PgConnectOptions, String> {
        let system = self.sslrootcert.as_deref() == Some("system");
        let mode = match (&self.sslmode, system) {
            (Some(m), _) => Some(PgSslMode::from_str(m).map_err(|_| {
                format!("unknown sslmode {m:?}; expected disable, allow, prefer, require, verify-ca or verify-full")
            })?),
            (None, true) => Some(PgSslMode::VerifyFull),
            // sqlx's default, as libpq's: prefer (or PGSSLMODE).
            (None, false) => None,
        };
        if system && !matches!(mode, Some(PgSslMode::VerifyFull)) {
            return Err(format!(
                "sslrootcert=system needs sslmode=verify-full (not {}): the system's CAs vouch for names",
                self.sslmode.as_deref().unwrap_or_default()
            ));
        }
        if let Some(mode) = mode {
            o = o.ssl_mode(mode);
        }
        if let Some(ca) = self.sslrootcert.as_deref().filter(|_| !system) {
            o = o.ssl_root_cert(ca);
        }
        match (&self.sslcert, &self.sslkey) {
            (Some(cert), Some(key)) => o = o.ssl_client_cert(cert).ssl_client_key(key),
            (None, None) => {}
            _ => return Err("sslcert and sslkey go together: give both or neither".to_owned()),
        }
        Ok(o)
    }

    /// The `sslmode` connections use, for `hubble_target_tls{mode}`: through `/probe`'s password guard
    /// `disable` (it relays in clear), else the DSN's, `verify-full` for `sslrootcert=system`, or `prefer`.
    pub fn tls_mode(&self, guarded: bool) -> String {
        if guarded {
            return "disable".to_owned();
        }
        match (&self.sslmode, self.sslrootcert.as_deref()) {
            (Some(m), _) => m.clone(),
            (None, Some("system")) => "verify-full".to_owned(),
            (None, _) => "prefer".to_owned(),
        }
    }

    /// Whether connections must be encrypted (`require`, `verify-ca`, `verify-full`, or
    /// `sslrootcert=system`).
    pub fn requires_tls(&self) -> bool {
        matches!(
            self.sslmode.as_deref(),
            Some("require" | "verify-ca" | "verify-full")
        ) || (self.sslmode.is_none() && self.sslrootcert.as_deref() == Some("system"))
    }

    /// [`pool`](Self::pool) with its connections kept between runs: every collector of a target shares them.
    /// With `via`, connections go through the Unix socket in that directory (an
    /// [`AuthGuard`](super::auth_guard::AuthGuard) relaying to this DSN's server) instead of straight to it.
    pub fn connections(
        &self,
        max: u32,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnections, String> {
        let options = self.through(self.session_options()?, via)?;
        Ok(PgConnections::new(Self::pool_with(
            max,
            statement_timeout,
            options,
        )))
    }

    /// [`connect_options`](Self::connect_options), through the Unix socket in `via` when given.
    pub fn options(
        &self,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnectOptions, String> {
        self.through(self.connect_options(statement_timeout)?, via)
    }

    /// `options` through the password guard's relay in `via`, if any. The relay reads the server's side of
    /// the handshake, so it speaks to the server in clear: a DSN that requires TLS is refused rather than
    /// sent in clear, and `prefer` means no TLS there (as it did before TLS was built).
    fn through(
        &self,
        options: PgConnectOptions,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnectOptions, String> {
        let Some(dir) = via else {
            return Ok(options);
        };
        if self.requires_tls() {
            return Err(format!(
                "{} requires TLS, which /probe's password guard cannot relay yet (it reads the handshake in \
                 clear): probe it with --probe.allow-insecure-auth, or export it with --dsn or discovery",
                self.server()
            ));
        }
        Ok(options.socket(dir).ssl_mode(PgSslMode::Disable))
    }

    /// A lazy pool of at most `max` connections: creating it never fails on a target that is down, the first
    /// query connects (and reconnects after a restart).
    fn pool_with(max: u32, statement_timeout: Duration, options: PgConnectOptions) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .min_connections(0)
            // sqlx retries a refused connection until the acquire timeout: ending it before the run's own
            // timeout lets a run against a server that is down end with pg_up 0, not "timed out".
            .acquire_timeout(statement_timeout.mul_f64(0.8))
            .idle_timeout(Duration::from_secs(300))
            // No ping before each query: that doubles the round trips of every collection. A connection that
            // died fails one query (that run only, shown in the self-metrics) and the pool replaces it.
            .test_before_acquire(false)
            // A busy server makes every acquire slow; sqlx would warn on each one. The failing collector is
            // already logged once and shown in hubble_collector_up, so keep sqlx's note at debug level.
            .acquire_slow_level(log::LevelFilter::Debug)
            // SET, not a startup option: a startup option becomes the session's reset value, and
            // pg_settings_statement_timeout_seconds would show the exporter's timeout instead of the server's.
            // One round trip per new connection of a pool that keeps them.
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    use sqlx::Executor as _;
                    let set = format!("SET statement_timeout = {}", statement_timeout.as_millis());
                    conn.execute(set.as_str()).await.map(|_| ())
                })
            })
            .connect_lazy_with(options)
    }
}

/// Why a DSN could not be parsed; never contains the password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid data source name: {0}")]
pub struct DsnError(String);

impl FromStr for Dsn {
    type Err = DsnError;

    /// `postgresql://user:pass@host:port/db?sslmode=...` or `host=... port=... user=... password=... dbname=...`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            parse_url(s)
        } else if s.contains('=') {
            parse_key_values(s)
        } else if let Some((scheme, _)) = s.split_once("://") {
            // Only the scheme is quoted: the rest may hold a password.
            Err(DsnError(format!(
                "unsupported scheme {scheme:?}; expected postgres:// or postgresql://"
            )))
        } else if s.contains('@') || s.contains('/') {
            Err(DsnError(
                "expected a postgres:// URL, key=value pairs or host:port".into(),
            ))
        } else {
            // A bare host:port, as /probe targets and discovery addresses are written.
            let (host, port) = match s.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() => (
                    h,
                    p.parse()
                        .map_err(|_| DsnError("expected host:port with a numeric port".into()))?,
                ),
                _ => (s, 5432),
            };
            if host.is_empty() {
                return Err(DsnError("empty host".into()));
            }
            Ok(Dsn {
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port,
                ..Dsn::default()
            })
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_url(s: &str) -> Result<Dsn, DsnError> {
    let rest = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut dsn = Dsn {
        port: 5432,
        ..Dsn::default()
    };
    if let Some(u) = userinfo {
        let (user, pass) = match u.split_once(':') {
            Some((user, pass)) => (user, Some(pass)),
            None => (u, None),
        };
        dsn.user = Some(percent_decode(user)).filter(|u| !u.is_empty());
        dsn.password = pass.map(percent_decode);
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| DsnError("unclosed [ in host".into()))?;
        (h, p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    dsn.host = if host.is_empty() {
        "localhost".into()
    } else {
        percent_decode(host)
    };
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        dsn.port = p.parse().map_err(|_| DsnError(format!("bad port {p:?}")))?;
    }
    dsn.dbname = Some(percent_decode(path)).filter(|d| !d.is_empty());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "sslmode" => dsn.sslmode = Some(v),
            "sslrootcert" => dsn.sslrootcert = Some(v),
            "sslcert" => dsn.sslcert = Some(v),
            "sslkey" => dsn.sslkey = Some(v),
            "user" => dsn.user = Some(v),
            "password" => dsn.password = Some(v),
            "dbname" => dsn.dbname = Some(v),
            "host" => dsn.host = v,
            "port" => dsn.port = v.parse().map_err(|_| DsnError(format!("bad port {v:?}")))?,
            // application_name, connect_timeout and others are set by the exporter itself.
            _ => {}
        }
    }
    Ok(dsn)
}

fn parse_key_values(s: &str) -> Result<Dsn, DsnError> {
    let mut dsn = Dsn {
        host: "localhost".into(),
        port: 5432,
        ..Dsn::default()
    };
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim().to_owned();
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '\'') => break,
                    (_, c) => {
                        value.push(c);
                        escaped = false;
                    }
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        match key.as_str() {
            "host" => dsn.host = value,
            "port" => {
                dsn.port = value
                    .parse()
                    .map_err(|_| DsnError(format!("bad port {value:?}")))?
            }
            "user" => dsn.user = Some(value),
            "password" => dsn.password = Some(value),
            "dbname" => dsn.dbname = Some(value),
            "sslmode" => dsn.sslmode = Some(value),
            "sslrootcert" => dsn.sslrootcert = Some(value),
            "sslcert" => dsn.sslcert = Some(value),
            "sslkey" => dsn.sslkey = Some(value),
            "" => return Err(DsnError("expected key=value".into())),
            _ => {}
        }
    }
    Ok(dsn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let d: Dsn = "postgresql://mon:p%40ss@db1.example:6432/app?sslmode=disable"
            .parse()
            .unwrap();
        assert_eq!(d.host, "db1.example");
        assert_eq!(d.port, 6432);
        assert_eq!(d.user.as_deref(), Some("mon"));
        assert_eq!(d.password.as_deref(), Some("p@ss"));
        assert_eq!(d.dbname.as_deref(), Some("app"));
        assert_eq!(d.sslmode.as_deref(), Some("disable"));
        assert_eq!(
            d.redacted(),
            "postgresql://mon:***@db1.example:6432/app?sslmode=disable"
        );
        assert!(!format!("{d:?}").contains("p@ss"));
        let v6: Dsn = "postgres://[::1]:5433/x".parse().unwrap();
        assert_eq!(v6.server(), "[::1]:5433");
    }

    #[test]
    fn key_values() {
        let d: Dsn = "host=127.0.0.1 port=5433 user=postgres password='it\\'s a secret' dbname=postgres sslmode=disable"
            .parse()
            .unwrap();
        assert_eq!(d.server(), "127.0.0.1:5433");
        assert_eq!(d.user.as_deref(), Some("postgres"));
        assert_eq!(d.dbname.as_deref(), Some("postgres"));
        assert_eq!(d.password.as_deref(), Some("it's a secret"));
        assert!("port=x"
            .parse::<Dsn>()
            .unwrap_err()
            .to_string()
            .contains("bad port"));
    }

    #[test]
    fn errors_never_quote_a_password() {
        for bad in [
            "mysql://app:hunter2@db/x",
            "app:hunter2@db",
            "db:hunter2",
            "postgres://app:hunter2@db:x/y",
        ] {
            let e = bad.parse::<Dsn>().unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{bad} → {e}");
        }
        let e = "mysql://app:hunter2@db/x"
            .parse::<Dsn>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported scheme \"mysql\""), "{e}");
    }

    #[test]
    fn host_port_and_options() {
        let d: Dsn = "10.0.0.5:6432".parse().unwrap();
        assert_eq!(d.server(), "10.0.0.5:6432");
        let opts: BTreeMap<String, String> = [
            ("dbname".to_owned(), "orders".to_owned()),
            ("password".to_owned(), "pw".to_owned()),
        ]
        .into();
        let d = d.with_options(&opts);
        assert_eq!(d.dbname.as_deref(), Some("orders"));
        assert_eq!(d.redacted(), "postgresql://10.0.0.5:6432/orders");
    }
}
