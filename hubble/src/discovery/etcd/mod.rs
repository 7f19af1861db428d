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

use super::patroni::{patroni_members, PatroniMember};
use super::{split_host_port, DiscoveryError, ServiceAtomic, ServiceParams};
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::discovery::test_keys as keys;

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
