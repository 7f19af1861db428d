//! Service discovery: the service model, backends (Consul, etcd, file_sd, static) and [`Discovery::services`].
//!
//! A [`Service`] is what a backend lists: one name, its nodes with their addresses, a port, tags and the
//! parameters stored for it. [`Service::make_atomic`] splits it into one [`ServiceAtomic`] per node: the unit
//! the [dispatcher](crate::dispatcher) creates one exporter for.

mod consul;
pub mod etcd;
mod file_sd;
pub mod patroni;
mod static_sd;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;

pub use consul::{ConsulBackend, ConsulConfig, ConsulPatroni};
pub use file_sd::{parse_file_sd, FileSd};
pub use static_sd::StaticServices;

use crate::metric::Labels;

/// Why discovery failed. A failed discovery never unregisters anything: the dispatcher keeps the last good set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The backend could not be reached or answered with an error status.
    #[error("{backend}: {message}")]
    Backend {
        /// Backend name (`consul`, `file_sd`, ...).
        backend: &'static str,
        /// What went wrong (never contains a token).
        message: String,
    },
    /// A file could not be read or parsed.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What is wrong, with the position when known.
        message: String,
    },
    /// Discovery took longer than its timeout.
    #[error("{backend}: timed out after {after:?}")]
    Timeout {
        /// Backend name.
        backend: &'static str,
        /// The timeout.
        after: std::time::Duration,
    },
}

/// Parameters stored for a service and exporter (in Consul's KV store at `monitoring/<service>/<exporter>`):
/// `{"notifiable": bool, "extra_labels": {..}, "exporter_options": {..}}`. Missing fields take defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(default)]
pub struct ServiceParams {
    /// Whether alerts for this service should notify someone (exported as the `notifiable` label).
    pub notifiable: bool,
    /// Labels added to every series of the service's exporters.
    #[serde(deserialize_with = "string_map")]
    pub extra_labels: BTreeMap<String, String>,
    /// Options for the exporter (database name, user, password, ...).
    #[serde(deserialize_with = "string_map")]
    pub exporter_options: BTreeMap<String, String>,
}

/// A map whose values may be strings, numbers or booleans in the JSON; all kept as strings.
fn string_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, serde_json::Value>> = Option::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in raw.unwrap_or_default() {
        let s = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => String::new(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "value of `{k}` must be a string, number or boolean, not {other}"
                )))
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

impl ServiceParams {
    /// Parses the JSON document stored for a service.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

/// A discovered service: one name, one or more nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    /// Service name.
    pub name: String,
    /// Node name → address to reach the service on that node.
    pub addresses: BTreeMap<String, String>,
    /// Service port.
    pub port: u16,
    /// Service tags.
    pub tags: Vec<String>,
    /// The backend's modification index for the service (Consul's `ModifyIndex`; 0 where there is none).
    pub modify_index: u64,
    /// Parameters for the exporter.
    pub params: ServiceParams,
}

/// One node of a service: the unit the dispatcher creates an exporter for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceAtomic {
    /// Service name.
    pub name: String,
    /// Node name.
    pub node: String,
    /// Address to reach the service.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Tags.
    pub tags: Vec<String>,
    /// Exporter options (from the service's params).
    pub exporter_options: BTreeMap<String, String>,
    /// Labels for every series of this target: `service`, `host`, `notifiable`, `modify_index`, then the
    /// caller's extra labels, then the params' extra labels (later ones win).
    pub labels: Labels,
}

impl ServiceAtomic {
    /// `address:port` (IPv6 addresses bracketed).
    pub fn host_port(&self) -> String {
        join_host_port(&self.address, self.port)
    }

    /// A hash of the whole content, stable across processes and Rust versions (FNV-1a over a canonical
    /// encoding): a changed label or option gives another hash.
    pub fn content_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.field(&self.name);
        h.field(&self.node);
        h.field(&self.address);
        h.field(&self.port.to_string());
        let mut tags = self.tags.clone();
        tags.sort();
        for t in &tags {
            h.field(t);
        }
        h.field("\u{1}options");
        for (k, v) in &self.exporter_options {
            h.field(k);
            h.field(v);
        }
        h.field("\u{1}labels");
        for (k, v) in self.labels.iter() {
            h.field(k);
            h.field(v);
        }
        h.finish()
    }

    /// The target's identity for sharding (name, node, address, port): unlike the content hash, it does not
    /// change when labels or options do, so an edit does not move a target to another replica.
    pub fn identity(&self) -> String {
        format!("{}\u{0}{}\u{0}{}", self.name, self.node, self.host_port())
    }
}

/// `host:port` (IPv6 in brackets) split; `None` without a numeric port.
pub(crate) fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

/// `host:port`, an IPv6 host bracketed (unless it already is).
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Keys and values from pairs of text, as a store's snapshot holds them.
#[cfg(test)]
pub(crate) fn test_keys(pairs: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// FNV-1a, 64 bit: tiny, stable, good enough to tell targets apart (not for adversarial input).
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        for byte in b {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    /// A field followed by a separator, so ("ab","c") and ("a","bc") differ.
    pub(crate) fn field(&mut self, s: &str) {
        self.bytes(s.as_bytes());
        self.bytes(&[0xff]);
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

impl Service {
    /// One [`ServiceAtomic`] per node, labelled `service`, `host` (the node), `notifiable`, `modify_index`,
    /// then `extra_labels`, then the params' extra labels.
    pub fn make_atomic(&self, extra_labels: &BTreeMap<String, String>) -> Vec<ServiceAtomic> {
        self.addresses
            .iter()
            .map(|(node, address)| {
                let mut labels = Labels::new()
                    .with("service", self.name.clone())
                    .with("host", node.clone())
                    .with("notifiable", self.params.notifiable.to_string())
                    .with("modify_index", self.modify_index.to_string());
                for (k, v) in extra_labels.iter().chain(&self.params.extra_labels) {
                    labels.insert(k.clone(), v.clone());
                }
                ServiceAtomic {
                    name: self.name.clone(),
                    node: node.clone(),
                    address: address.clone(),
                    port: self.port,
                    tags: self.tags.clone(),
                    exporter_options: self.params.exporter_options.clone(),
                    labels,
                }
            })
            .collect()
    }
}

/// Lists services (without params).
pub trait ServiceLister: Send + Sync + 'static {
    /// Backend name, the `backend` label of `hubble_discovery_errors_total`.
    fn backend(&self) -> &'static str;
    /// All services.
    fn list(&self) -> impl Future<Output = Result<Vec<Service>, DiscoveryError>> + Send;
}

/// Fetches the params stored for a service and exporter.
pub trait ParamsSource: Send + Sync + 'static {
    /// Params of `service` for `exporter`; `Ok(None)` when none are stored (defaults apply).
    fn params(
        &self,
        service: &str,
        exporter: &str,
    ) -> impl Future<Output = Result<Option<ServiceParams>, DiscoveryError>> + Send;

    /// Whether this source never has params (lets [`Discovery`] skip one task per service).
    fn is_empty(&self) -> bool {
        false
    }
}

/// No params source: every service keeps the params its lister gave it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoParams;

impl ParamsSource for NoParams {
    async fn params(&self, _: &str, _: &str) -> Result<Option<ServiceParams>, DiscoveryError> {
        Ok(None)
    }

    fn is_empty(&self) -> bool {
        true
    }
}

/// Discovery for one exporter: a lister, a params source, and the exporter name params are stored under.
pub struct Discovery<L, P = NoParams> {
    lister: L,
    params: Arc<P>,
    exporter: String,
    concurrency: usize,
}

impl<L: ServiceLister, P> std::fmt::Debug for Discovery<L, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("backend", &self.lister.backend())
            .field("exporter", &self.exporter)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl<L: ServiceLister> Discovery<L, NoParams> {
    /// Discovery from `lister` alone (file_sd and static carry their params in the listing).
    pub fn new(lister: L, exporter: impl Into<String>) -> Self {
        Discovery::with_params(lister, NoParams, exporter)
    }
}

impl<L: ServiceLister, P: ParamsSource> Discovery<L, P> {
    /// Params fetches in flight at once.
    pub const DEFAULT_CONCURRENCY: usize = 10;

    /// Discovery from `lister`, with params from `params` under `exporter` (lower-cased).
    pub fn with_params(lister: L, params: P, exporter: impl Into<String>) -> Self {
        Discovery {
            lister,
            params: Arc::new(params),
            exporter: exporter.into().to_lowercase(),
            concurrency: Self::DEFAULT_CONCURRENCY,
        }
    }

    /// Sets how many params fetches run at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The backend name of the lister.
    pub fn backend(&self) -> &'static str {
        self.lister.backend()
    }

    /// Lists services, keeps those `filter` accepts, and fetches their params (at most
    /// [`concurrency`](Self::concurrency) at a time). A params fetch that fails fails the whole listing, so
    /// the dispatcher keeps its last good set rather than acting on partial data.
    pub async fn services(
        &self,
        filter: impl Fn(&Service) -> bool,
    ) -> Result<Vec<Service>, DiscoveryError> {
        let mut services: Vec<Service> = self
            .lister
            .list()
            .await?
            .into_iter()
            .filter(|s| filter(s))
            .collect();
        if self.params.is_empty() {
            return Ok(services);
        }
        let semaphore = Arc::new(tokio::sync::Semaphore::new(self.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for (i, s) in services.iter().enumerate() {
            let (params, sem, name, exporter) = (
                self.params.clone(),
                semaphore.clone(),
                s.name.to_lowercase(),
                self.exporter.clone(),
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, params.params(&name, &exporter).await)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((i, result)) = joined else { continue };
            if let Some(p) = result? {
                services[i].params = p;
            }
        }
        Ok(services)
    }

    /// [`services`](Self::services) split into targets, each with `extra_labels` added.
    pub async fn targets(
        &self,
        filter: impl Fn(&Service) -> bool,
        extra_labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ServiceAtomic>, DiscoveryError> {
        Ok(self
            .services(filter)
            .await?
            .iter()
            .flat_map(|s| s.make_atomic(extra_labels))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            name: "orders-db".into(),
            addresses: [
                ("node-a".to_owned(), "10.0.0.1".to_owned()),
                ("node-b".to_owned(), "10.0.0.2".to_owned()),
            ]
            .into(),
            port: 5432,
            tags: vec!["postgres".into()],
            modify_index: 42,
            params: ServiceParams::from_json(
                br#"{"notifiable": true, "extra_labels": {"team": "shop", "env": "prod"},
                     "exporter_options": {"dbname": "orders", "port_override": 6432}}"#,
            )
            .unwrap(),
        }
    }

    #[test]
    fn params_parse_with_defaults() {
        let p = ServiceParams::from_json(b"{}").unwrap();
        assert_eq!(p, ServiceParams::default());
        let p = service().params;
        assert!(p.notifiable);
        assert_eq!(p.exporter_options["port_override"], "6432");
        assert!(ServiceParams::from_json(b"{\"extra_labels\": {\"a\": [1]}}").is_err());
        assert!(ServiceParams::from_json(b"not json").is_err());
    }

    #[test]
    fn make_atomic_splits_by_node_and_layers_labels() {
        let extra: BTreeMap<String, String> = [
            ("env".to_owned(), "staging".to_owned()),
            ("dc".to_owned(), "eu1".to_owned()),
        ]
        .into();
        let atoms = service().make_atomic(&extra);
        assert_eq!(atoms.len(), 2);
        let a = &atoms[0];
        assert_eq!(
            (a.node.as_str(), a.address.as_str(), a.host_port().as_str()),
            ("node-a", "10.0.0.1", "10.0.0.1:5432")
        );
        assert_eq!(
            a.labels.to_string(),
            r#"{dc="eu1",env="prod",host="node-a",modify_index="42",notifiable="true",service="orders-db",team="shop"}"#
        );
        assert_eq!(a.exporter_options["dbname"], "orders");
        assert_ne!(atoms[0].content_hash(), atoms[1].content_hash());
    }

    /// `content_hash` of the first atom of `service()`, computed once and written down.
    const PINNED_CONTENT_HASH: u64 = 0x89c3_e9f3_3fdb_d1bb;

    #[test]
    fn content_hash_is_stable_and_sensitive() {
        let a = service().make_atomic(&BTreeMap::new()).remove(0);
        // A pinned value: the hash must not change between builds or versions, or replicas would disagree.
        assert_eq!(
            a.content_hash(),
            PINNED_CONTENT_HASH,
            "{:#x}",
            a.content_hash()
        );
        let mut b = a.clone();
        b.labels.insert("team", "other");
        assert_ne!(a.content_hash(), b.content_hash());
        let mut c = a.clone();
        c.exporter_options.insert("password".into(), "x".into());
        assert_ne!(a.content_hash(), c.content_hash());
        assert_eq!(a.identity(), c.identity());
        let mut fnv = Fnv::new();
        fnv.bytes(b"a");
        assert_eq!(fnv.finish(), 0xaf63_dc4c_8601_ec8c, "FNV-1a test vector");
    }
}
