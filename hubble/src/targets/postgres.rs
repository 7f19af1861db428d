//! PostgreSQL connection descriptions as libpq reads them: a URL (`postgresql://user:pass@host:port/db?sslmode=...`),
//! `key=value` pairs, or a bare `host:port`; TLS settings with libpq's meaning (`sslmode`, `sslrootcert`,
//! `sslcert`, `sslkey`); the password never shown (in [`Debug`], [`Dsn::redacted`] or a parse error).
//!
//! ```
//! use hubble::targets::postgres::Dsn;
//!
//! let dsn: Dsn = "postgresql://mon:secret@db1:5432/app?sslmode=verify-full&sslrootcert=/etc/ca.pem".parse()?;
//! assert_eq!(dsn.server(), "db1:5432");
//! assert_eq!(dsn.redacted(), "postgresql://mon:***@db1:5432/app?sslmode=verify-full&sslrootcert=/etc/ca.pem");
//! assert!(dsn.requires_tls());
//! let options = dsn.connect_options()?; // sqlx's, TLS included
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

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

    /// sqlx's options for this DSN: host, port, user, password, database and TLS; no `.pgpass` is read.
    pub fn connect_options(&self) -> Result<PgConnectOptions, String> {
        let mut o = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port);
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

    /// The `sslmode` connections use, for `hubble_target_tls{mode}`: the DSN's, `verify-full` for
    /// `sslrootcert=system`, or `prefer` (libpq's default).
    pub fn tls_mode(&self) -> String {
        match (&self.sslmode, self.sslrootcert.as_deref()) {
            (Some(m), _) => m.clone(),
            (None, Some("system")) => "verify-full".to_owned(),
            (None, _) => "prefer".to_owned(),
        }
    }

    /// The TLS a client that makes the connection itself (the Postgres exporter's password guard) needs for
    /// this DSN, as libpq reads it: `None` under `disable`; encrypted if the server offers it under `allow`
    /// and `prefer`; required from `require` on, with the chain checked under `verify-ca` (and under
    /// `require` when `sslrootcert` is a file, as libpq does) and the name too under `verify-full`.
    pub fn tls_client(&self) -> Result<Option<TlsClient>, String> {
        use super::tls::{client_config, server_name, Roots, Verify};
        // The same checks (mode spelling, sslrootcert=system, sslcert with sslkey) as sqlx's options.
        self.with_tls(PgConnectOptions::new_without_pgpass())?;
        let roots = match self.sslrootcert.as_deref() {
            None => None,
            Some("system") => Some(Roots::System),
            Some(path) => Some(Roots::File(path.into())),
        };
        let mode = self.tls_mode();
        let (required, verify) = match mode.as_str() {
            "disable" => return Ok(None),
            "allow" | "prefer" => (false, Verify::Nothing),
            "require" if matches!(roots, Some(Roots::File(_))) => (true, Verify::Chain),
            "require" => (true, Verify::Nothing),
            "verify-ca" => (true, Verify::Chain),
            _ => (true, Verify::ChainAndName),
        };
        let client = match (&self.sslcert, &self.sslkey) {
            (Some(cert), Some(key)) => {
                Some((std::path::Path::new(cert), std::path::Path::new(key)))
            }
            _ => None,
        };
        Ok(Some(TlsClient {
            config: client_config(verify, roots.as_ref(), client)?,
            server_name: server_name(&self.host)?,
            required,
            verify,
            mode,
        }))
    }

    /// Whether connections must be encrypted (`require`, `verify-ca`, `verify-full`, or
    /// `sslrootcert=system`).
    pub fn requires_tls(&self) -> bool {
        matches!(
            self.sslmode.as_deref(),
            Some("require" | "verify-ca" | "verify-full")
        ) || (self.sslmode.is_none() && self.sslrootcert.as_deref() == Some("system"))
    }
}

/// `sslmode` as libpq spells it.
pub fn ssl_mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// Whether a link that connected under `mode` is encrypted, where the mode alone settles it (for a server
/// that cannot say so itself, such as a pooler's console): yes from `require` on, no under `disable`,
/// unknown under `allow` and `prefer`.
pub fn encrypted_by_mode(mode: PgSslMode) -> Option<bool> {
    match mode {
        PgSslMode::Disable => Some(false),
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => Some(true),
        PgSslMode::Allow | PgSslMode::Prefer => None,
    }
}

/// The TLS of a connection a client makes itself: see [`Dsn::tls_client`].
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// rustls's client configuration: what is verified, the client certificate.
    pub config: std::sync::Arc<rustls::ClientConfig>,
    /// The name the server's certificate is checked against (under `verify-full`).
    pub server_name: rustls::pki_types::ServerName<'static>,
    /// Whether a server that does not offer TLS is refused (`require` and stronger).
    pub required: bool,
    /// What is checked of the server's certificate.
    pub verify: super::tls::Verify,
    /// The `sslmode` it stands for.
    pub mode: String,
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
