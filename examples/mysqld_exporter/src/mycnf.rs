//! The `[client]` section of a MySQL option file (`--config.my-cnf`, by default `~/.my.cnf`), as
//! mysqld_exporter reads it: `user`, `password`, `host`, `port`, `socket`, and the TLS keys `ssl-ca`,
//! `ssl-cert`, `ssl-key`, `ssl-skip-verfication` (upstream's spelling), `tls`, `tls-min-version`,
//! `tls-max-version`, `tls-server-name`.

use std::collections::BTreeMap;
use std::path::Path;

/// What a `[client]` section says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Client {
    /// `user`.
    pub user: Option<String>,
    /// `password`; never printed.
    pub password: Option<String>,
    /// `host`.
    pub host: Option<String>,
    /// `port`.
    pub port: Option<u16>,
    /// `socket`: a Unix socket path.
    pub socket: Option<String>,
    /// The TLS keys.
    pub tls: Tls,
}

/// A section's TLS keys, as mysqld_exporter 0.20 reads them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tls {
    /// `ssl-ca`: CA certificates (PEM file); TLS is then required and the server verified by them.
    pub ssl_ca: Option<String>,
    /// `ssl-cert`: a client certificate (PEM file).
    pub ssl_cert: Option<String>,
    /// `ssl-key`: its key.
    pub ssl_key: Option<String>,
    /// `ssl-skip-verfication` (or `--tls.insecure-skip-verify`): encrypted, the server not verified.
    pub skip_verification: Option<bool>,
    /// `tls`: `true` (verified), `false` (none, the default), `skip-verify`, `preferred`.
    pub tls: Option<String>,
    /// `tls-min-version`, `tls-max-version`: `TLSv1.0` to `TLSv1.3`.
    pub min_version: Option<String>,
    /// See `min_version`.
    pub max_version: Option<String>,
    /// `tls-server-name`: the name the certificate must carry.
    pub server_name: Option<String>,
}

/// The TLS versions the keys name, oldest first.
const TLS_VERSIONS: [&str; 4] = ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

impl Tls {
    /// Refuses what cannot be honoured as written; `Ok` otherwise.
    fn validate(&self) -> Result<(), String> {
        if let Some(t) = &self.tls {
            if !["true", "false", "skip-verify", "preferred"].contains(&t.as_str()) {
                return Err(format!(
                    "tls={t} is not one of true, false, skip-verify, preferred"
                ));
            }
        }
        let rank = |v: &Option<String>, key: &str| -> Result<Option<usize>, String> {
            v.as_ref()
                .map(|v| {
                    TLS_VERSIONS.iter().position(|t| t == v).ok_or_else(|| {
                        format!(
                            "{key}={v} is not allowed, use one of: {}",
                            TLS_VERSIONS.join(", ")
                        )
                    })
                })
                .transpose()
        };
        let min = rank(&self.min_version, "tls-min-version")?;
        let max = rank(&self.max_version, "tls-max-version")?;
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                return Err("tls-min-version must not be higher than tls-max-version".to_owned());
            }
        }
        // rustls speaks TLS 1.2 and 1.3 and cannot be held to 1.3 alone here: refused rather than weakened.
        if min == Some(3) {
            return Err(
                "tls-min-version=TLSv1.3 cannot be enforced by this exporter yet".to_owned(),
            );
        }
        if self.server_name.is_some() {
            return Err(
                "tls-server-name is not supported yet: connect by the name the certificate carries"
                    .to_owned(),
            );
        }
        if self.ssl_cert.is_some() != self.ssl_key.is_some() {
            return Err("ssl-cert and ssl-key go together: give both or neither".to_owned());
        }
        Ok(())
    }
}

/// Reads `path`'s `[client]` section. Errors name the file and the line, never a value.
pub fn read(path: &Path) -> Result<Client, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads every `[client]` and `[client.<name>]` section of `path` (the `auth_module`s of `/probe`), by name.
pub fn read_sections(path: &Path) -> Result<BTreeMap<String, Client>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_sections(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses an option file's text: its `[client]` section.
pub fn parse(text: &str) -> Result<Client, String> {
    Ok(parse_sections(text)?.remove("client").unwrap_or_default())
}

/// Parses an option file's text: every `[client]` and `[client.<name>]` section.
pub fn parse_sections(text: &str) -> Result<BTreeMap<String, Client>, String> {
    let mut sections: BTreeMap<String, Client> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let section = section
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: expected [section]", n + 1))?;
            let section = section.trim();
            current =
                (section == "client" || section.starts_with("client.")).then(|| section.to_owned());
            continue;
        }
        let Some(section) = &current else {
            continue;
        };
        let client = sections.entry(section.clone()).or_default();
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), unquote(v.trim())),
            None => (line, String::new()),
        };
        // Option files spell keys with - or _ alike.
        match key.replace('-', "_").as_str() {
            "user" => client.user = Some(value),
            "password" => client.password = Some(value),
            "host" => client.host = Some(value),
            "port" => {
                client.port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("line {}: port must be a number", n + 1))?,
                )
            }
            "socket" => client.socket = Some(value),
            "ssl_ca" => client.tls.ssl_ca = Some(value),
            "ssl_cert" => client.tls.ssl_cert = Some(value),
            "ssl_key" => client.tls.ssl_key = Some(value),
            // Upstream's spelling, and the right one.
            "ssl_skip_verfication" | "ssl_skip_verification" => {
                client.tls.skip_verification = Some(matches!(
                    value.to_ascii_lowercase().as_str(),
                    "" | "1" | "true" | "on" | "yes"
                ))
            }
            "tls" => client.tls.tls = Some(value),
            "tls_min_version" => client.tls.min_version = Some(value),
            "tls_max_version" => client.tls.max_version = Some(value),
            "tls_server_name" => client.tls.server_name = Some(value),
            _ => {}
        }
    }
    for (name, client) in &sections {
        client
            .tls
            .validate()
            .map_err(|e| format!("[{name}]: {e}"))?;
    }
    Ok(sections)
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    v.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_section() {
        let c = parse(
            "# exporter\n[mysqld]\nuser = mysql\n[client]\nuser = exporter\npassword = \"p w#1\"\n\
             host=db.internal\nport = 3307\n[mysqldump]\nuser = other\n",
        )
        .unwrap();
        assert_eq!(c.user.as_deref(), Some("exporter"));
        assert_eq!(c.password.as_deref(), Some("p w#1"));
        assert_eq!(c.host.as_deref(), Some("db.internal"));
        assert_eq!(c.port, Some(3307));
        let all = parse_sections(
            "[client]\nuser = a\n[client.replicas]\nuser = b\npassword = pw\n[clientx]\nuser = c\n",
        )
        .unwrap();
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            ["client", "client.replicas"]
        );
        assert_eq!(all["client.replicas"].password.as_deref(), Some("pw"));
        let err = parse("[client]\nport = secret\n").unwrap_err();
        assert!(err.contains("line 2") && !err.contains("secret"), "{err}");
    }
}
