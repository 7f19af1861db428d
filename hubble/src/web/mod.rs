//! `--web.config.file`: TLS (with client certificates), basic auth, extra response headers and a rate limit,
//! in the Prometheus exporter-toolkit format, so an exporter drops into an existing fleet's configuration.
//! A file the toolkit accepts loads with the same meaning; where rustls cannot honour a setting exactly
//! (TLS 1.0, CBC suites) the difference is in [`WebConfig::warnings`].
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # paths are relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash
//! rate_limit:
//!   burst: 10
//!   interval: 1s
//! ```
//!
//! [`WebConfigHandle`] holds the configuration in force; [`WebConfigHandle::reload`] swaps in a new one only
//! when the file is valid, so a bad edit never disables TLS or auth.

mod auth;
mod client_cert;
mod crypto;
mod rate_limit;
mod ring_provider;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

pub(crate) use auth::guard;
use auth::AuthCache;
pub(crate) use client_cert::system_roots;
pub(crate) use ring_provider::ring_provider;

/// Why a web config file was refused. The message names the file and, when one is to blame, the field.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("web config {}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not YAML of the expected shape (the message carries line and column).
    #[error("web config {}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser said, with the position.
        message: String,
    },
    /// A field holds a value that cannot be used.
    #[error("web config {}: {field}: {message}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// The field, dotted (`tls_server_config.cert_file`).
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// The file as written. Unknown keys are refused: a misspelt `basic_auth_user` must not leave the endpoint
/// open.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WebFile {
    #[serde(default)]
    tls_server_config: Option<tls::TlsFile>,
    #[serde(default)]
    http_server_config: Option<HttpFile>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<rate_limit::RateLimitFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    /// hubble serves HTTP/1.1, which is what Prometheus scrapes with; the value matters only for the cipher
    /// suites the toolkit then requires.
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Headers the exporter toolkit lets a config add, with the values it accepts (`None`: any value).
const ALLOWED_HEADERS: [(&str, Option<&[&str]>); 5] = [
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
    ("Content-Security-Policy", None),
];

/// A loaded, validated web configuration.
#[derive(Default)]
pub struct WebConfig {
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// User name → bcrypt hash.
    users: BTreeMap<String, String>,
    /// Checked for unknown users: same cost as the real hashes.
    dummy_hash: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    rate_limit: Option<rate_limit::RateLimiter>,
    /// Settings served differently from the toolkit, and why (logged when the file is loaded).
    warnings: Vec<String>,
}

impl fmt::Debug for WebConfig {
    // Never the hashes: they are secrets too (offline guessing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("rate_limit", &self.rate_limit)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl WebConfig {
    /// Reads and validates `path`: certificates and keys are loaded, hashes and headers checked.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (relative certificate paths resolve against its directory).
    pub fn parse(text: &str, path: &Path) -> Result<Self, WebConfigError> {
        let file: WebFile = if text.trim().is_empty() {
            WebFile::default()
        } else {
            yaml_serde::from_str(text).map_err(|e| WebConfigError::Syntax {
                path: path.to_owned(),
                message: crate::yaml::error_message(text, &e),
            })?
        };
        let field = |field: &str, message: String| WebConfigError::Field {
            path: path.to_owned(),
            field: field.to_owned(),
            message,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut warnings = Vec::new();
        let http = file.http_server_config.unwrap_or_default();
        let tls = match &file.tls_server_config {
            Some(t) if t.enabled() => Some(Arc::new(tls::server_config(
                t,
                http.http2.unwrap_or(true),
                dir,
                &field,
                &mut warnings,
            )?)),
            Some(_) => {
                warnings.push(
                    "tls_server_config has no certificate, key, client CA or client_auth_type: \
                     TLS is off, serving plain HTTP (as the toolkit does)"
                        .into(),
                );
                None
            }
            None => None,
        };
        let rate_limit = match &file.rate_limit {
            Some(r) => r
                .limiter(&mut warnings)
                .map_err(|m| field("rate_limit.interval", m))?,
            None => None,
        };
        let users = file.basic_auth_users.unwrap_or_default();
        let mut costs = BTreeMap::<u32, usize>::new();
        for (user, hash) in &users {
            if user.contains(':') {
                // Accepted as the toolkit does, though basic auth splits at the first ':'.
                warnings.push(format!(
                    "basic_auth_users.{user}: a user name with ':' can never log in"
                ));
            }
            let Ok(parts) = hash.parse::<bcrypt::HashParts>() else {
                // The value is not shown: it may be a plain password pasted by mistake.
                return Err(field(
                    &format!("basic_auth_users.{user}"),
                    "expected a bcrypt hash ($2y$..., e.g. from `htpasswd -nBC 10 \"\" | tr -d ':'`)"
                        .into(),
                ));
            };
            *costs.entry(parts.get_cost()).or_default() += 1;
        }
        // Unknown users are checked against a hash of the users' usual cost, so they take as long as a
        // wrong password and response times do not reveal which names exist.
        let dummy_hash = match costs.into_iter().max_by_key(|&(_, n)| n) {
            Some((cost, _)) => bcrypt::hash_with_salt(b"hubble: no such user", cost, [0x5a; 16])
                .map(|h| h.format_for_version(bcrypt::Version::TwoY))
                .map_err(|e| field("basic_auth_users", e.to_string()))?,
            None => String::new(),
        };
        let mut headers = Vec::new();
        // Names and values compare exactly, as in the toolkit.
        for (name, value) in http.headers {
            let f = format!("http_server_config.headers.{name}");
            let Some((canonical, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| *n == name)
            else {
                let names: Vec<_> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
                return Err(field(
                    &f,
                    format!("header not allowed; expected one of {}", names.join(", ")),
                ));
            };
            if let Some(values) = allowed {
                if !values.contains(&value.as_str()) {
                    return Err(field(
                        &f,
                        format!("expected one of {}, got {value:?}", values.join(", ")),
                    ));
                }
            }
            let value = HeaderValue::from_str(&value)
                .map_err(|_| field(&f, format!("not a valid header value: {value:?}")))?;
            let name =
                HeaderName::from_bytes(canonical.as_bytes()).expect("allowed names are valid");
            headers.push((name, value));
        }
        Ok(WebConfig {
            tls,
            users,
            dummy_hash,
            headers,
            rate_limit,
            warnings,
        })
    }

    /// Whether connections are served over TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need basic auth.
    pub fn basic_auth_enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Settings this file asks for that are served differently from the exporter toolkit, each with what
    /// hubble does instead (TLS 1.0/1.1, CBC suites, a `tls_server_config` without a certificate, ...).
    /// [`WebConfigHandle`] logs them when it loads the file.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// The web configuration in force and the file it comes from; shared by the server and whoever reloads.
#[derive(Debug, Default)]
pub struct WebConfigHandle {
    path: Option<PathBuf>,
    current: RwLock<Arc<WebConfig>>,
    auth: AuthCache,
}

impl WebConfigHandle {
    /// Plain HTTP, no auth: what an exporter without `--web.config.file` serves.
    pub fn plain() -> Self {
        Self::default()
    }

    /// Loads `path`; fails if it is unreadable or invalid.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, WebConfigError> {
        let path = path.into();
        let config = WebConfig::load(&path)?;
        log_warnings(&path, &config);
        Ok(WebConfigHandle {
            path: Some(path),
            current: RwLock::new(Arc::new(config)),
            auth: AuthCache::default(),
        })
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<WebConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Re-reads the file. On error the configuration in force stays; new connections and requests use the
    /// new one, connections already open keep their TLS session.
    pub fn reload(&self) -> Result<(), WebConfigError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        self.replace(WebConfig::load(path)?);
        Ok(())
    }

    /// Puts `config` in force (one loaded from [`path`](Self::path) by a caller that checks several files
    /// before applying any), logging its [warnings](WebConfig::warnings).
    pub fn replace(&self, config: WebConfig) {
        log_warnings(self.path.as_deref().unwrap_or(Path::new("")), &config);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self.auth.clear();
    }
}

fn log_warnings(path: &Path, config: &WebConfig) {
    for warning in config.warnings() {
        tracing::warn!(file = %path.display(), %warning, "web config served differently from the exporter toolkit");
    }
}

#[cfg(test)]
mod tests;
