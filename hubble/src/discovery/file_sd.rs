//! Prometheus `file_sd` files (JSON or YAML lists of `{targets, labels}`), read on every listing.
//!
//! Each target becomes one service with one node (the target as written). Labels named `__param_<name>`
//! become exporter options (`__param_dbname` → `dbname`), other labels starting with `__` are dropped, and the
//! rest are extra labels; the service name is the `service` label, else `job`, else the target's host. The
//! same file stays valid for Prometheus itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{DiscoveryError, Service, ServiceLister, ServiceParams};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A `file_sd` file as a service lister.
/// It keeps no parsed copy between listings: a copy cost 1.6 KB a target (three small maps a service, each
/// a whole B-tree node), where parsing a thousand targets again takes about 5 ms a discovery interval.
pub struct FileSd {
    path: PathBuf,
}

impl std::fmt::Debug for FileSd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSd")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileSd {
    /// Watches `path` (read and parsed on every listing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSd { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn file_error(path: &Path, message: impl Into<String>) -> DiscoveryError {
    DiscoveryError::File {
        file: path.display().to_string(),
        message: message.into(),
    }
}

/// Parses `file_sd` content; `path` names the file in errors and picks the format by extension
/// (`.json`, `.yml`/`.yaml`; otherwise JSON when the content starts with `[`).
pub fn parse_file_sd(path: &Path, content: &[u8]) -> Result<Vec<Service>, DiscoveryError> {
    let text =
        std::str::from_utf8(content).map_err(|e| file_error(path, format!("not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        // Also what a reader sees while the file is being rewritten: never read it as "no targets".
        return Err(file_error(path, "file is empty (write [] for no targets)"));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let json = match ext {
        "json" => true,
        "yml" | "yaml" => false,
        _ => text.trim_start().starts_with('['),
    };
    let groups: Vec<Group> = if json {
        serde_json::from_str(text).map_err(|e| {
            file_error(
                path,
                format!("line {} column {}: {e}", e.line(), e.column()),
            )
        })?
    } else {
        yaml_serde::from_str(text)
            .map_err(|e| file_error(path, crate::yaml::error_message(text, &e)))?
    };
    let mut services = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        let mut params = ServiceParams::default();
        for (k, v) in &g.labels {
            if !hubble_names::is_label_name_syntax(k) {
                // As Prometheus's own file_sd: a bad name would break every scrape of the target.
                return Err(file_error(
                    path,
                    format!(
                        "{}entry {i}: label {k:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                        line_of(text, &[&format!("\"{k}\""), &format!("{k}: "), &format!("{k}:")])
                    ),
                ));
            }
            if let Some(option) = k.strip_prefix("__param_") {
                params.exporter_options.insert(option.to_owned(), v.clone());
            } else if !k.starts_with("__") {
                params.extra_labels.insert(k.clone(), v.clone());
            }
        }
        for target in &g.targets {
            let (host, port) = split_target(target).ok_or_else(|| {
                file_error(
                    path,
                    format!(
                        "{}entry {i}: target {target:?} is not host:port",
                        line_of(
                            text,
                            &[&format!("\"{target}\""), &format!("'{target}'"), target]
                        )
                    ),
                )
            })?;
            let name = g
                .labels
                .get("service")
                .or_else(|| g.labels.get("job"))
                .cloned()
                .unwrap_or_else(|| host.to_owned());
            services.push(Service {
                name,
                addresses: [(target.clone(), host.to_owned())].into(),
                port,
                tags: Vec::new(),
                modify_index: 0,
                params: params.clone(),
            });
        }
    }
    Ok(services)
}

/// `line N: ` for the first line holding one of `needles`, tried most specific first (serde has no positions
/// left once the file parsed; a label value or host may also contain the text).
fn line_of(text: &str, needles: &[&str]) -> String {
    needles
        .iter()
        .filter(|n| !n.is_empty())
        .find_map(|n| text.lines().position(|l| l.contains(n)))
        .map(|i| format!("line {}: ", i + 1))
        .unwrap_or_default()
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`; `__` names (`__param_*`, `__meta_*`) are allowed here and dropped later.
fn split_target(target: &str) -> Option<(&str, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return None;
    }
    Some((host, port.parse().ok().filter(|p| *p > 0)?))
}

impl ServiceLister for FileSd {
    fn backend(&self) -> &'static str {
        "file_sd"
    }

    async fn list(&self) -> Result<Vec<Service>, DiscoveryError> {
        let content = tokio::fs::read(&self.path)
            .await
            .map_err(|e| file_error(&self.path, format!("reading: {e}")))?;
        parse_file_sd(&self.path, &content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"[
      {"targets": ["db1:5432", "[::1]:5433"],
       "labels": {"job": "postgres", "env": "prod", "__param_dbname": "orders", "__meta_x": "dropped"}},
      {"targets": ["db2:5432"], "labels": {"service": "billing"}}
    ]"#;

    const YAML: &str = "
- targets: ['db1:5432', '[::1]:5433']
  labels:
    job: postgres
    env: prod
    __param_dbname: orders
    __meta_x: dropped
- targets: ['db2:5432']
  labels:
    service: billing
";

    #[test]
    fn json_and_yaml_give_the_same_services() {
        let j = parse_file_sd(Path::new("t.json"), JSON.as_bytes()).unwrap();
        let y = parse_file_sd(Path::new("t.yml"), YAML.as_bytes()).unwrap();
        assert_eq!(j, y);
        assert_eq!(j.len(), 3);
        assert_eq!(j[0].name, "postgres");
        assert_eq!(j[0].port, 5432);
        assert_eq!(j[0].addresses["db1:5432"], "db1");
        assert_eq!(j[1].addresses["[::1]:5433"], "::1");
        assert_eq!(j[0].params.exporter_options["dbname"], "orders");
        assert_eq!(
            j[0].params.extra_labels,
            [
                ("env".to_owned(), "prod".to_owned()),
                ("job".to_owned(), "postgres".to_owned())
            ]
            .into()
        );
        assert_eq!(j[2].name, "billing");
        let atom = &j[1].make_atomic(&BTreeMap::new())[0];
        assert_eq!(atom.host_port(), "[::1]:5433");
    }

    #[test]
    fn errors_name_the_file_and_position() {
        let e = parse_file_sd(
            Path::new("/etc/sd/pg.json"),
            br#"[{"targets": ["db1:5432"],"#,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("/etc/sd/pg.json: line 1 column "), "{msg}");
        let e =
            parse_file_sd(Path::new("pg.yml"), b"- targets: [db1:5432\n  labels: {").unwrap_err();
        assert!(e.to_string().starts_with("pg.yml: line "), "{e}");
        let e = parse_file_sd(Path::new("pg.json"), b"").unwrap_err();
        assert!(e.to_string().contains("file is empty"), "{e}");
        let e = parse_file_sd(Path::new("pg.json"), br#"[{"targets": ["nohost"]}]"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pg.json: line 1: entry 0: target \"nohost\" is not host:port"
        );
        let e =
            parse_file_sd(Path::new("pg.json"), br#"[{"targets": [], "lables": {}}]"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `lables`"), "{e}");
        let yaml =
            "- targets: [bad-name:5432]\n- targets: [db2:5432]\n  labels:\n    bad-name: x\n";
        let e = parse_file_sd(Path::new("pg.yml"), yaml.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("pg.yml: line 4: entry 1: label \"bad-name\""),
            "{e}"
        );
    }

    #[tokio::test]
    async fn rereads_on_change_and_keeps_nothing_from_a_broken_write() {
        let dir = tempfile_dir();
        let path = dir.join("targets.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#).unwrap();
        let sd = FileSd::new(&path);
        assert_eq!(sd.list().await.unwrap().len(), 1);
        std::fs::write(&path, r#"[{"targets": ["a:1", "b:2"]}]"#).unwrap();
        assert_eq!(sd.list().await.unwrap().len(), 2);
        // Truncated mid-write: an error (the dispatcher keeps its set), not an empty list.
        std::fs::write(&path, r#"[{"targets": ["a:1", "#).unwrap();
        assert!(sd.list().await.is_err());
        std::fs::remove_file(&path).unwrap();
        assert!(sd.list().await.unwrap_err().to_string().contains("reading"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "hubble-file-sd-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
