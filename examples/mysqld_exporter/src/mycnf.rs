//! The `[client]` section of a MySQL option file (`--config.my-cnf`, by default `~/.my.cnf`), as
//! mysqld_exporter reads it: `user`, `password`, `host`, `port`, `socket`.

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
            _ => {}
        }
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
