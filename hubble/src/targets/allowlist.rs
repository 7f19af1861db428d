//! Which servers `/probe` may reach: the operator's patterns (`--probe.allowed-targets`, and a file re-read on
//! reload) and the targets the exporter already exports (its single target and the discovered ones).
//! Everything else is refused before any connection is attempted, so a caller can neither send the
//! configured credentials to a server of their choosing nor use the exporter to scan the network.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

/// One allowed target pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: any target (opens `/probe` to every server the exporter can reach).
    Any,
    /// `host:port` or `host:*`; the host compared without regard to case, addresses as addresses.
    Host {
        /// Host name, address, or socket directory.
        host: String,
        /// `None` for `*`.
        port: Option<u16>,
    },
    /// `10.0.0.0/8:5432` or `fd00::/8:*`: addresses in the network (host names are not resolved).
    Network {
        /// Network address.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
        /// `None` for `*`.
        port: Option<u16>,
    },
}

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?}: {reason}; expected host:port, host:*, [ipv6]:port, CIDR:port (10.0.0.0/8:5432), CIDR:* or *")]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PatternError {
            pattern: s.to_owned(),
            reason,
        };
        let s = s.trim();
        if s == "*" {
            return Ok(Pattern::Any);
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| err("unclosed ["))?;
            (host, after.strip_prefix(':').ok_or_else(|| err("no port"))?)
        } else {
            s.rsplit_once(':').ok_or_else(|| err("no port"))?
        };
        let port = match port {
            "*" => None,
            p => Some(
                p.parse::<u16>()
                    .map_err(|_| err("the port is not a number or *"))?,
            ),
        };
        if host.is_empty() || host == "*" {
            return Err(err("no host (write * alone to allow every target)"));
        }
        if let Some((addr, prefix)) = host.split_once('/').filter(|_| !host.starts_with('/')) {
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| err("the network is not an IP address"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| err("the prefix length is out of range"))?;
            return Ok(Pattern::Network { addr, prefix, port });
        }
        Ok(Pattern::Host {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = |p: &Option<u16>| p.map_or("*".to_owned(), |p| p.to_string());
        match self {
            Pattern::Any => f.write_str("*"),
            Pattern::Host { host, port: p } if host.contains(':') => {
                write!(f, "[{host}]:{}", port(p))
            }
            Pattern::Host { host, port: p } => write!(f, "{host}:{}", port(p)),
            Pattern::Network {
                addr,
                prefix,
                port: p,
            } => {
                write!(f, "{addr}/{prefix}:{}", port(p))
            }
        }
    }
}

impl Pattern {
    /// Whether a target at `host`:`port` matches.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            Pattern::Any => true,
            Pattern::Host { host: h, port: p } => {
                port_ok(p)
                    && match (h.parse::<IpAddr>(), host.parse::<IpAddr>()) {
                        (Ok(a), Ok(b)) => a == b,
                        _ => h.eq_ignore_ascii_case(host),
                    }
            }
            Pattern::Network {
                addr,
                prefix,
                port: p,
            } => port_ok(p) && host.parse().is_ok_and(|ip| in_network(ip, *addr, *prefix)),
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    // An IPv4-mapped IPv6 address is the IPv4 address it maps.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Parses a comma or line separated list of patterns; `#` starts a comment. The error names the pattern.
pub fn parse_list(text: &str) -> Result<Vec<Pattern>, PatternError> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

/// Reads a patterns file; the error names the flag, the file and the bad pattern.
pub fn load_file(path: &Path) -> Result<Vec<Pattern>, String> {
    let flag = "--probe.allowed-targets-file";
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    parse_list(&text).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// Servers the exporter exports without `/probe`, counted by how many live exporters name them.
#[derive(Debug, Default)]
pub struct KnownTargets {
    servers: Mutex<HashMap<(String, u16), usize>>,
}

/// Keeps a server known while it lives.
#[derive(Debug)]
pub struct KnownGuard {
    known: Arc<KnownTargets>,
    key: (String, u16),
}

impl KnownTargets {
    fn key(host: &str, port: u16) -> (String, u16) {
        // Addresses in one spelling, so `::1` and `0::1` are one server.
        let host = host
            .parse::<IpAddr>()
            .map_or_else(|_| host.to_ascii_lowercase(), |ip| ip.to_string());
        (host, port)
    }

    /// Marks `host`:`port` known until the guard drops.
    pub fn hold(self: &Arc<Self>, host: &str, port: u16) -> KnownGuard {
        let key = Self::key(host, port);
        *self.lock().entry(key.clone()).or_default() += 1;
        KnownGuard {
            known: self.clone(),
            key,
        }
    }

    /// Whether a live exporter names `host`:`port`.
    pub fn contains(&self, host: &str, port: u16) -> bool {
        self.lock().contains_key(&Self::key(host, port))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u16), usize>> {
        self.servers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for KnownGuard {
    fn drop(&mut self) {
        let mut servers = self.known.lock();
        if let Some(n) = servers.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                servers.remove(&self.key);
            }
        }
    }
}

/// What `/probe` may reach.
#[derive(Debug)]
pub struct Allowlist {
    /// `--probe.allowed-targets`: fixed for the process.
    flag: Vec<Pattern>,
    /// `--probe.allowed-targets-file`: replaced on reload.
    file: RwLock<Vec<Pattern>>,
    known: Arc<KnownTargets>,
}

/// Why a probe was refused (the 403 body); never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target {server} is not allowed: it matches no --probe.allowed-targets pattern and is not a discovered target")]
pub struct NotAllowed {
    server: String,
}

impl Allowlist {
    /// Patterns from the flag and the file, plus the servers in `known`.
    pub fn new(flag: Vec<Pattern>, file: Vec<Pattern>, known: Arc<KnownTargets>) -> Self {
        Allowlist {
            flag,
            file: RwLock::new(file),
            known,
        }
    }

    /// Replaces the file's patterns (on reload).
    pub fn set_file_patterns(&self, patterns: Vec<Pattern>) {
        *self.file.write().unwrap_or_else(|e| e.into_inner()) = patterns;
    }

    /// Whether any pattern is `*`.
    pub fn allows_any(&self) -> bool {
        self.flag.contains(&Pattern::Any)
            || self
                .file
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&Pattern::Any)
    }

    /// Whether `/probe` may reach `host`:`port`.
    pub fn check(&self, host: &str, port: u16) -> Result<(), NotAllowed> {
        let listed = |patterns: &[Pattern]| patterns.iter().any(|p| p.matches(host, port));
        if listed(&self.flag)
            || listed(&self.file.read().unwrap_or_else(|e| e.into_inner()))
            || self.known.contains(host, port)
        {
            Ok(())
        } else {
            Err(NotAllowed {
                server: server(host, port),
            })
        }
    }
}

/// `host:port`, an IPv6 address bracketed.
pub fn server(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_print() {
        for (text, shown) in [
            ("db1:5432", "db1:5432"),
            ("DB1.example:*", "db1.example:*"),
            ("[::1]:5432", "[::1]:5432"),
            ("10.0.0.0/8:5432", "10.0.0.0/8:5432"),
            ("fd00::/8:*", "fd00::/8:*"),
            ("*", "*"),
        ] {
            assert_eq!(text.parse::<Pattern>().unwrap().to_string(), shown);
        }
        for (bad, reason) in [
            ("db1", "no port"),
            ("db1:x", "not a number"),
            ("*:5432", "no host"),
            ("10.0.0.0/33:1", "prefix length"),
            ("db/8:1", "not an IP address"),
            ("[::1:5432", "unclosed"),
        ] {
            let e = bad.parse::<Pattern>().unwrap_err().to_string();
            assert!(e.contains(reason) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn matching() {
        let p = |s: &str| s.parse::<Pattern>().unwrap();
        assert!(p("db1:5432").matches("DB1", 5432));
        assert!(!p("db1:5432").matches("db1", 5433));
        assert!(p("db1:*").matches("db1", 6432));
        assert!(!p("db1:*").matches("db10", 5432));
        assert!(p("[::1]:5432").matches("0:0::1", 5432));
        assert!(p("10.0.0.0/8:5432").matches("10.200.1.2", 5432));
        assert!(!p("10.0.0.0/8:5432").matches("11.0.0.1", 5432));
        assert!(!p("10.0.0.0/8:5432").matches("10.0.0.1", 5433));
        assert!(p("10.0.0.0/8:*").matches("::ffff:10.1.1.1", 1));
        // Names are not resolved: a name in the network is not matched by it.
        assert!(!p("127.0.0.0/8:*").matches("localhost", 5432));
        assert!(p("fd00::/8:*").matches("fd12::1", 1));
        assert!(!p("fd00::/8:*").matches("fe80::1", 1));
        assert!(p("0.0.0.0/0:5432").matches("192.0.2.1", 5432));
        assert!(p("*").matches("anything", 1));
    }

    #[test]
    fn lists_and_files() {
        let list =
            parse_list("db1:5432, db2:*\n# a comment\n\n10.0.0.0/8:5432 # trailing\n").unwrap();
        assert_eq!(list.len(), 3);
        assert!(parse_list("db1:5432,db2")
            .unwrap_err()
            .to_string()
            .contains("\"db2\""));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("allowed");
        std::fs::write(&path, "db1:5432\nnope\n").unwrap();
        let e = load_file(&path).unwrap_err();
        assert!(
            e.starts_with("--probe.allowed-targets-file ") && e.contains("\"nope\""),
            "{e}"
        );
    }

    #[test]
    fn known_targets_are_allowed_while_held() {
        let known = Arc::new(KnownTargets::default());
        let allow = Allowlist::new(vec!["db1:5432".parse().unwrap()], vec![], known.clone());
        assert!(allow.check("db1", 5432).is_ok());
        let refused = allow.check("db2", 5432).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "target db2:5432 is not allowed: it matches no --probe.allowed-targets pattern and is not a discovered target"
        );
        let a = known.hold("db2", 5432);
        let b = known.hold("DB2", 5432);
        assert!(allow.check("db2", 5432).is_ok());
        drop(a);
        assert!(allow.check("db2", 5432).is_ok(), "still held by b");
        drop(b);
        assert!(allow.check("db2", 5432).is_err());
        allow.set_file_patterns(vec!["*".parse().unwrap()]);
        assert!(allow.allows_any() && allow.check("db2", 5432).is_ok());
    }
}
