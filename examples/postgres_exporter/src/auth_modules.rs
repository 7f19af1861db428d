//! `--config.file`: postgres_exporter's `auth_modules`, named credentials for `/probe?auth_module=NAME`, so a
//! probe request carries a module's name rather than a password, and the operator decides which credentials
//! exist. The file format is postgres_exporter's:
//!
//! ```yaml
//! auth_modules:
//!   monitoring:
//!     type: userpass
//!     userpass:
//!       username: exporter
//!       password: s3cret
//!     options:          # DSN parameters
//!       sslmode: disable
//!       dbname: postgres
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::connection::Dsn;

/// DSN parameters a module's `options` may set. Others are refused at load rather than ignored: a dropped
/// `sslrootcert` would silently weaken a connection.
const OPTIONS: [&str; 5] = ["dbname", "sslmode", "sslrootcert", "sslcert", "sslkey"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    auth_modules: BTreeMap<String, ModuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    userpass: UserPass,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UserPass {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// One module: credentials and DSN parameters, or why it cannot be used.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthModule {
    usable: Result<(String, String), String>,
    options: BTreeMap<String, String>,
}

impl std::fmt::Debug for AuthModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("AuthModule")
            .field("username", &self.usable.as_ref().map(|(u, _)| u))
            .field("options", &self.options)
            .finish()
    }
}

impl AuthModule {
    /// `target` with this module's user, password and options; they override what the target names.
    pub fn apply(&self, mut target: Dsn) -> Result<Dsn, String> {
        let (user, password) = self.usable.clone()?;
        target.user = Some(user);
        target.password = Some(password);
        if let Some(d) = self.options.get("dbname") {
            target.dbname = Some(d.clone());
        }
        for (key, field) in [
            ("sslmode", &mut target.sslmode),
            ("sslrootcert", &mut target.sslrootcert),
            ("sslcert", &mut target.sslcert),
            ("sslkey", &mut target.sslkey),
        ] {
            if let Some(v) = self.options.get(key) {
                *field = Some(v.clone());
            }
        }
        Ok(target)
    }
}

/// Parses the file's text; errors name the module and key, never a password.
pub fn parse(path: &Path, text: &str) -> Result<BTreeMap<String, AuthModule>, String> {
    let at = |e: String| format!("{}: {e}", path.display());
    let file: File = if text.trim().is_empty() {
        File {
            auth_modules: BTreeMap::new(),
        }
    } else {
        hubble::yaml::from_str(text).map_err(|e| at(e.to_string()))?
    };
    let mut modules = BTreeMap::new();
    for (name, m) in file.auth_modules {
        if let Some(key) = m.options.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(at(format!(
                "auth_modules.{name}.options.{key}: not supported (supported: {})",
                OPTIONS.join(", ")
            )));
        }
        // As postgres_exporter: a module it cannot use is refused when a probe names it, not at start.
        let usable = if m.kind != "userpass" {
            Err(format!(
                "auth_module {name} has type {:?}; only userpass is supported",
                m.kind
            ))
        } else if m.userpass.username.is_empty() || m.userpass.password.is_empty() {
            Err(format!("auth_module {name} has no username or password"))
        } else {
            Ok((m.userpass.username, m.userpass.password))
        };
        if let Err(reason) = &usable {
            tracing::warn!(file = %path.display(), %reason, "auth module cannot be used");
        }
        modules.insert(
            name,
            AuthModule {
                usable,
                options: m.options,
            },
        );
    }
    Ok(modules)
}

/// Reads and parses the file; the error names the flag and the file.
pub fn load(path: &Path) -> Result<BTreeMap<String, AuthModule>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--config.file {}: {e}", path.display()))?;
    parse(path, &text).map_err(|e| format!("--config.file {e}"))
}

/// The modules in force, replaced on reload.
#[derive(Debug, Default)]
pub struct AuthModules {
    modules: RwLock<Arc<BTreeMap<String, AuthModule>>>,
}

impl AuthModules {
    /// The modules of a loaded file.
    pub fn new(modules: BTreeMap<String, AuthModule>) -> Self {
        AuthModules {
            modules: RwLock::new(Arc::new(modules)),
        }
    }

    /// Replaces the modules (on reload).
    pub fn replace(&self, modules: BTreeMap<String, AuthModule>) {
        *self.modules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(modules);
    }

    /// The module called `name`.
    pub fn get(&self, name: &str) -> Option<AuthModule> {
        self.modules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<BTreeMap<String, AuthModule>, String> {
        parse(Path::new("cfg.yml"), text)
    }

    #[test]
    fn postgres_exporters_format() {
        let modules = parse_str(
            "auth_modules:\n  first:\n    type: userpass\n    userpass:\n      username: first\n      password: firstpass\n    options:\n      sslmode: disable\n",
        )
        .unwrap();
        let target: Dsn = "postgresql://caller:callerpw@db1:5433/app".parse().unwrap();
        let dsn = modules["first"].apply(target).unwrap();
        assert_eq!(dsn.user.as_deref(), Some("first"));
        assert_eq!(dsn.password.as_deref(), Some("firstpass"));
        assert_eq!(dsn.sslmode.as_deref(), Some("disable"));
        assert_eq!(
            (dsn.server().as_str(), dsn.dbname.as_deref()),
            ("db1:5433", Some("app"))
        );
        assert!(!format!("{:?}", modules["first"]).contains("firstpass"));
        assert!(parse_str("").unwrap().is_empty());
    }

    #[test]
    fn refused_files_name_what_is_wrong() {
        // postgres_exporter's own bad examples: an unknown module key, an unknown field.
        let e = parse_str("auth_modules:\n  foo:\n    pretendauth:\n      username: test\n")
            .unwrap_err();
        assert!(
            e.starts_with("cfg.yml: ") && e.contains("pretendauth"),
            "{e}"
        );
        let e = parse_str("auth_modules:\n  foo:\n    userpass:\n      username: t\n      password: secretpw\n    doesNotExist: test\n").unwrap_err();
        assert!(e.contains("doesNotExist") && !e.contains("secretpw"), "{e}");
        let e = parse_str(
            "auth_modules:\n  foo:\n    type: userpass\n    options:\n      sslcrl: /crl.pem\n",
        )
        .unwrap_err();
        assert!(
            e.contains("auth_modules.foo.options.sslcrl: not supported"),
            "{e}"
        );
    }

    #[test]
    fn tls_options_reach_the_target() {
        let modules = parse_str(
            "auth_modules:\n  tls:\n    type: userpass\n    userpass:\n      username: u\n      password: p\n    options:\n      sslmode: verify-full\n      sslrootcert: /ca.pem\n      sslcert: /c.pem\n      sslkey: /k.pem\n",
        )
        .unwrap();
        let dsn = modules["tls"].apply("db1:5432".parse().unwrap()).unwrap();
        assert_eq!(dsn.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(dsn.sslrootcert.as_deref(), Some("/ca.pem"));
        assert_eq!(
            (dsn.sslcert.as_deref(), dsn.sslkey.as_deref()),
            (Some("/c.pem"), Some("/k.pem"))
        );
    }

    #[test]
    fn unusable_modules_are_refused_when_named() {
        let modules = parse_str(
            "auth_modules:\n  nopass:\n    type: userpass\n    userpass:\n      username: u\n  other:\n    type: tls\n",
        )
        .unwrap();
        let target: Dsn = "db1:5432".parse().unwrap();
        assert_eq!(
            modules["nopass"].apply(target.clone()).unwrap_err(),
            "auth_module nopass has no username or password"
        );
        assert!(modules["other"]
            .apply(target)
            .unwrap_err()
            .contains("only userpass"));
    }
}
