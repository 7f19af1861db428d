//! etcd: targets kept under a key prefix, or the members of Patroni clusters, followed by a watch.
//!
//! Two forms ([`EtcdForm`]):
//! - **Prefix**: each key under the prefix is one target, its value a JSON document
//!   `{"address": "host:port", "service": "...", "notifiable": bool, "extra_labels": {..},
//!   "exporter_options": {..}}` (the Consul KV form's fields, plus the address). The key below the prefix
//!   names the target (label `host`); `service` defaults to its first segment.
//! - **Patroni**: every member of every cluster under a Patroni namespace (`/service/` by default):
//!   `<namespace><scope>/members/<name>` holds the member's `conn_url` and `role`, `<namespace><scope>/leader`
//!   the leader's name. Each member is a target labelled `cluster` (the scope), `member` and `role`:
//!   `primary` for the leader, `standby_leader` for the leader of a standby cluster, `replica` otherwise.
//!   The `conn_url`'s host, port, database and user are the target's; credentials come from the exporter's
//!   defaults.
//!
//! [`EtcdDiscovery::run`] keeps the prefix in memory ([`PrefixMirror`]) and wakes the dispatcher on every
//! change, so a failover moves the `role` label in the time of one watch event. While etcd cannot be
//! followed, [`EtcdDiscovery::targets`] fails: the dispatcher keeps the last good set and counts the error.

mod client;
mod mirror;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use client::{EtcdClient, EtcdConfig, EtcdError, Event, KeyValue, Watch};
pub use mirror::PrefixMirror;

use super::{DiscoveryError, ServiceAtomic, ServiceParams};
use crate::metric::Labels;

const BACKEND: &str = "etcd";

/// What the keys under the prefix are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdForm {
    /// One target per key, a JSON document each.
    Prefix(String),
    /// Patroni's namespace: one target per cluster member.
    Patroni(String),
}

impl EtcdForm {
    /// The key prefix watched.
    pub fn prefix(&self) -> &str {
        match self {
            EtcdForm::Prefix(p) | EtcdForm::Patroni(p) => p,
        }
    }

    /// A Patroni namespace as Patroni writes it: leading and trailing `/`.
    pub fn patroni(namespace: &str) -> Self {
        let trimmed = namespace.trim_matches('/');
        EtcdForm::Patroni(if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        })
    }
}

/// Discovery from etcd: a [`PrefixMirror`] of the form's prefix, read as targets.
#[derive(Debug)]
pub struct EtcdDiscovery {
    form: EtcdForm,
    mirror: PrefixMirror,
    changed: Arc<Notify>,
    /// Keys whose bad value was already logged.
    warned: Mutex<HashSet<Vec<u8>>>,
}

impl EtcdDiscovery {
    /// Discovery of `form` through `client`.
    pub fn new(client: EtcdClient, form: EtcdForm) -> Self {
        let changed = Arc::new(Notify::new());
        EtcdDiscovery {
            mirror: PrefixMirror::new(client, form.prefix().as_bytes(), changed.clone()),
            form,
            changed,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Notified on every change of the keys (and when etcd is lost): the dispatcher's wake-up
    /// ([`Dispatcher::wake_on`](crate::dispatcher::Dispatcher::wake_on)).
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Follows etcd until `cancel` (a task of the caller's).
    pub async fn run(&self, cancel: CancellationToken) {
        self.mirror.run(cancel).await;
    }

    /// Waits until etcd was read once, or could not be.
    pub async fn ready(&self) {
        self.mirror.ready().await;
    }

    /// The targets now, `extra_labels` added to each; an error while etcd cannot be followed.
    pub fn targets(
        &self,
        extra_labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ServiceAtomic>, DiscoveryError> {
        let keys = self
            .mirror
            .snapshot()
            .map_err(|message| DiscoveryError::Backend {
                backend: BACKEND,
                message,
            })?;
        let mut bad = Vec::new();
        let mut targets = match &self.form {
            EtcdForm::Prefix(prefix) => prefix_targets(prefix, &keys, &mut bad),
            EtcdForm::Patroni(namespace) => patroni_members(namespace, &keys, &mut bad)
                .into_iter()
                .map(PatroniMember::into_target)
                .collect(),
        };
        for t in &mut targets {
            for (k, v) in extra_labels {
                t.labels.insert(k.clone(), v.clone());
            }
        }
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        for (key, why) in bad {
            if warned.insert(key.clone()) {
                tracing::warn!(key = %String::from_utf8_lossy(&key), error = %why, "etcd key skipped");
            }
        }
        Ok(targets)
    }

    /// The Patroni members now (empty for the prefix form), for checks against the servers' own view.
    pub fn patroni_members(&self) -> Vec<PatroniMember> {
        match &self.form {
            EtcdForm::Patroni(namespace) => {
                patroni_members(namespace, &self.mirror.last_known(), &mut Vec::new())
            }
            EtcdForm::Prefix(_) => Vec::new(),
        }
    }
}

/// A target document of the prefix form.
#[derive(Deserialize)]
struct TargetDocument {
    address: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(flatten)]
    params: ServiceParams,
}

/// `host:port` (IPv6 in brackets) split; `None` without a numeric port.
fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

fn prefix_targets(
    prefix: &str,
    keys: &BTreeMap<Vec<u8>, Vec<u8>>,
    bad: &mut Vec<(Vec<u8>, String)>,
) -> Vec<ServiceAtomic> {
    let mut out = Vec::new();
    for (key, value) in keys {
        let Some(name) = key
            .strip_prefix(prefix.as_bytes())
            .and_then(|k| std::str::from_utf8(k).ok())
            .filter(|k| !k.is_empty())
        else {
            continue;
        };
        let doc: TargetDocument = match serde_json::from_slice(value) {
            Ok(d) => d,
            Err(e) => {
                bad.push((key.clone(), format!("not a target document: {e}")));
                continue;
            }
        };
        let Some((address, port)) = split_host_port(&doc.address) else {
            bad.push((
                key.clone(),
                format!("address {:?} is not host:port", doc.address),
            ));
            continue;
        };
        let service = doc
            .service
            .unwrap_or_else(|| name.split('/').next().unwrap_or(name).to_owned());
        let mut labels = Labels::new()
            .with("service", service.clone())
            .with("host", name.to_owned())
            .with("notifiable", doc.params.notifiable.to_string());
        for (k, v) in &doc.params.extra_labels {
            labels.insert(k.clone(), v.clone());
        }
        out.push(ServiceAtomic {
            name: service,
            node: name.to_owned(),
            address,
            port,
            tags: Vec::new(),
            exporter_options: doc.params.exporter_options,
            labels,
        });
    }
    out
}

/// A Patroni cluster member as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatroniMember {
    /// The cluster (Patroni's scope).
    pub cluster: String,
    /// The member's name.
    pub member: String,
    /// `primary`, `standby_leader` or `replica`, from the leader key.
    pub role: &'static str,
    /// Host and port of its `conn_url`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database and user of its `conn_url`, when it has them.
    pub options: BTreeMap<String, String>,
}

impl PatroniMember {
    /// The member as a target labelled `cluster`, `member` and `role`.
    pub fn into_target(self) -> ServiceAtomic {
        let labels = Labels::new()
            .with("cluster", self.cluster.clone())
            .with("member", self.member.clone())
            .with("role", self.role);
        ServiceAtomic {
            name: self.cluster,
            node: self.member,
            address: self.host,
            port: self.port,
            tags: Vec::new(),
            exporter_options: self.options,
            labels,
        }
    }

    /// `host:port`, as `/primary?target=` takes it.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Deserialize)]
struct MemberDocument {
    conn_url: String,
    #[serde(default)]
    role: String,
}

/// `postgres://[user[:password]@]host[:port][/dbname][?...]`: host, port (5432 when absent), and the user
/// and database as exporter options (a password in it is not taken: credentials are the exporter's).
fn parse_conn_url(url: &str) -> Option<(String, u16, BTreeMap<String, String>)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut options = BTreeMap::new();
    let host_port = match authority.rsplit_once('@') {
        Some((user, hp)) => {
            let user = user.split(':').next().unwrap_or(user);
            if !user.is_empty() {
                options.insert("user".to_owned(), user.to_owned());
            }
            hp
        }
        None => authority,
    };
    let (host, port) = if host_port.ends_with(']') || !host_port.contains(':') {
        (
            host_port
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            5432,
        )
    } else {
        split_host_port(host_port)?
    };
    if host.is_empty() {
        return None;
    }
    if !path.is_empty() {
        options.insert("dbname".to_owned(), path.to_owned());
    }
    Some((host, port, options))
}

/// Every member of every cluster under `namespace`, in key order.
fn patroni_members(
    namespace: &str,
    keys: &BTreeMap<Vec<u8>, Vec<u8>>,
    bad: &mut Vec<(Vec<u8>, String)>,
) -> Vec<PatroniMember> {
    let relative = |key: &[u8]| -> Option<String> {
        let k = key.strip_prefix(namespace.as_bytes())?;
        std::str::from_utf8(k).ok().map(str::to_owned)
    };
    let mut leaders: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in keys {
        if let Some(scope) =
            relative(key).and_then(|k| k.strip_suffix("/leader").map(str::to_owned))
        {
            if !scope.contains('/') {
                leaders.insert(scope, String::from_utf8_lossy(value).trim().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for (key, value) in keys {
        let Some(rel) = relative(key) else { continue };
        let Some((scope, member)) = rel.split_once("/members/") else {
            continue;
        };
        if scope.contains('/') || member.is_empty() || member.contains('/') {
            continue;
        }
        let doc: MemberDocument = match serde_json::from_slice(value) {
            Ok(d) => d,
            Err(e) => {
                bad.push((key.clone(), format!("not a Patroni member: {e}")));
                continue;
            }
        };
        let Some((host, port, options)) = parse_conn_url(&doc.conn_url) else {
            bad.push((
                key.clone(),
                format!(
                    "conn_url {:?} is not postgres://host:port/...",
                    doc.conn_url
                ),
            ));
            continue;
        };
        let leads = leaders.get(scope).is_some_and(|l| l == member);
        let role = match (leads, doc.role.as_str()) {
            (true, "standby_leader" | "standby-leader") => "standby_leader",
            (true, _) => "primary",
            (false, _) => "replica",
        };
        out.push(PatroniMember {
            cluster: scope.to_owned(),
            member: member.to_owned(),
            role,
            host,
            port,
            options,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn patroni_members_take_their_role_from_the_leader_key() {
        let store = keys(&[
            ("/service/batman/config", "{}"),
            ("/service/batman/leader", "pg1"),
            (
                "/service/batman/members/pg1",
                r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","role":"master","state":"running"}"#,
            ),
            (
                "/service/batman/members/pg2",
                r#"{"conn_url":"postgres://127.0.0.1:5434/postgres","role":"replica"}"#,
            ),
            ("/service/robin/leader", "r1"),
            (
                "/service/robin/members/r1",
                r#"{"conn_url":"postgresql://mon@[::1]/app","role":"standby_leader"}"#,
            ),
            ("/service/robin/members/r2", "not json"),
            ("/service/robin/members/r3", r#"{"conn_url":"mysql://x"}"#),
        ]);
        let mut bad = Vec::new();
        let members = patroni_members("/service/", &store, &mut bad);
        let seen: Vec<(&str, &str, &str, String)> = members
            .iter()
            .map(|m| (m.cluster.as_str(), m.member.as_str(), m.role, m.host_port()))
            .collect();
        assert_eq!(
            seen,
            [
                ("batman", "pg1", "primary", "127.0.0.1:5433".to_owned()),
                ("batman", "pg2", "replica", "127.0.0.1:5434".to_owned()),
                ("robin", "r1", "standby_leader", "[::1]:5432".to_owned()),
            ]
        );
        assert_eq!(members[2].options["user"], "mon");
        assert_eq!(members[2].options["dbname"], "app");
        assert_eq!(bad.len(), 2, "{bad:?}");
        let target = members[0].clone().into_target();
        assert_eq!(
            target.labels.to_string(),
            r#"{cluster="batman",member="pg1",role="primary"}"#
        );
        // No leader key (an election under way): everyone is a replica.
        let store = keys(&[(
            "/service/batman/members/pg1",
            r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","role":"master"}"#,
        )]);
        assert_eq!(
            patroni_members("/service/", &store, &mut bad)[0].role,
            "replica"
        );
    }

    #[test]
    fn prefix_documents_are_targets() {
        let store = keys(&[
            (
                "/monitoring/pg/orders-1",
                r#"{"address":"10.0.0.1:5432","notifiable":true,"extra_labels":{"team":"shop"},"exporter_options":{"dbname":"orders"}}"#,
            ),
            ("/monitoring/pg/bad", r#"{"address":"10.0.0.2"}"#),
            (
                "/monitoring/other",
                r#"{"address":"[::1]:6432","service":"bouncer"}"#,
            ),
        ]);
        let mut bad = Vec::new();
        let targets = prefix_targets("/monitoring/", &store, &mut bad);
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].host_port(), "[::1]:6432");
        assert_eq!(targets[0].name, "bouncer");
        assert_eq!(targets[1].host_port(), "10.0.0.1:5432");
        assert_eq!(
            targets[1].labels.to_string(),
            r#"{host="pg/orders-1",notifiable="true",service="pg",team="shop"}"#
        );
        assert_eq!(targets[1].exporter_options["dbname"], "orders");
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn namespaces_are_normalised() {
        assert_eq!(EtcdForm::patroni("service").prefix(), "/service/");
        assert_eq!(EtcdForm::patroni("/service/").prefix(), "/service/");
        assert_eq!(EtcdForm::patroni("/").prefix(), "/");
    }
}
