//! Consul: services from the catalog, params from the KV store.
//!
//! `/v1/catalog/services` lists names and tags; `/v1/catalog/service/<name>` gives each service's nodes
//! (`ServiceAddress`, falling back to the node's `Address`); params live at `/v1/kv/monitoring/<service>/<exporter>`
//! as a base64 JSON document. The token goes in `X-Consul-Token` and never into a log or an error.
//!
//! Blocking queries: the dispatcher polls on its interval, and a long-held blocking query would hold a tick
//! hostage. Instead, the catalog listing's `X-Consul-Index` is remembered: when it has not moved since the last
//! tick, the per-service node queries are skipped and the last listing is reused.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::StatusCode;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::{DiscoveryError, ParamsSource, Service, ServiceLister, ServiceParams};

const BACKEND: &str = "consul";

/// How to reach Consul.
#[derive(Clone)]
pub struct ConsulConfig {
    /// Base URL, e.g. `http://127.0.0.1:8500` (plain HTTP).
    pub address: String,
    /// Datacenter (`?dc=`); the agent's own when `None`.
    pub datacenter: Option<String>,
    /// ACL token, sent as `X-Consul-Token`.
    pub token: Option<String>,
    /// Only fetch nodes of services carrying this tag (saves one request per other service).
    pub tag: Option<String>,
    /// Timeout of each request.
    pub timeout: Duration,
    /// Per-service requests in flight at once.
    pub concurrency: usize,
}

impl std::fmt::Debug for ConsulConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulConfig")
            .field("address", &self.address)
            .field("datacenter", &self.datacenter)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tag", &self.tag)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ConsulConfig {
    /// Defaults for `address`: no datacenter, no token, no tag, 10 s timeout, 10 requests at once.
    pub fn new(address: impl Into<String>) -> Self {
        ConsulConfig {
            address: address.into().trim_end_matches('/').to_owned(),
            datacenter: None,
            token: None,
            tag: None,
            timeout: Duration::from_secs(10),
            concurrency: 10,
        }
    }
}

/// The Consul backend: a [`ServiceLister`] and a [`ParamsSource`]. Cloning shares the client and caches.
#[derive(Clone)]
pub struct ConsulBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ConsulBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ConsulConfig's Debug redacts the token.
        f.debug_struct("ConsulBackend")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: ConsulConfig,
    /// The token in force: `config.token` until [`ConsulBackend::set_token`] (a rotated token file).
    token: std::sync::RwLock<Option<String>>,
    client: Client<HttpConnector, Empty<Bytes>>,
    /// The last catalog listing and its `X-Consul-Index`.
    catalog: Mutex<Option<(u64, Vec<Service>)>>,
    /// KV keys whose malformed value was already logged.
    warned: Mutex<HashSet<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CatalogNode {
    node: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    service_address: String,
    #[serde(default)]
    service_port: u16,
    #[serde(default)]
    service_tags: Option<Vec<String>>,
    #[serde(default)]
    modify_index: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KvPair {
    #[serde(default)]
    value: Option<String>,
}

/// Percent-encodes a path segment (service names, KV key parts).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ConsulBackend {
    /// A backend for `config`.
    pub fn new(config: ConsulConfig) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        ConsulBackend {
            inner: Arc::new(Inner {
                token: std::sync::RwLock::new(config.token.clone()),
                config,
                client,
                catalog: Mutex::new(None),
                warned: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Replaces the ACL token for the next requests (a reload after the token file was rotated).
    pub fn set_token(&self, token: Option<String>) {
        *self.inner.token.write().unwrap_or_else(|e| e.into_inner()) = token;
    }

    async fn get(&self, path: &str) -> Result<(StatusCode, Option<u64>, Bytes), DiscoveryError> {
        let cfg = &self.inner.config;
        let mut url = format!("{}{path}", cfg.address);
        if let Some(dc) = &cfg.datacenter {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("dc=");
            url.push_str(&encode_segment(dc));
        }
        let err = |message: String| DiscoveryError::Backend {
            backend: BACKEND,
            message,
        };
        let mut req = hyper::Request::get(&url);
        let token = self
            .inner
            .token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(token) = token {
            req = req.header("X-Consul-Token", token);
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| err(format!("bad request for {path}: {e}")))?;
        let fut = async {
            let resp = self
                .inner
                .client
                .request(req)
                .await
                .map_err(|e| err(format!("GET {path}: {e}")))?;
            let status = resp.status();
            let index = resp
                .headers()
                .get("X-Consul-Index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| err(format!("GET {path}: reading body: {e}")))?
                .to_bytes();
            Ok((status, index, body))
        };
        tokio::time::timeout(cfg.timeout, fut)
            .await
            .map_err(|_| DiscoveryError::Timeout {
                backend: BACKEND,
                after: cfg.timeout,
            })?
    }

    async fn get_ok(&self, path: &str) -> Result<(Option<u64>, Bytes), DiscoveryError> {
        let (status, index, body) = self.get(path).await?;
        if !status.is_success() {
            return Err(http_error(path, status, &body));
        }
        Ok((index, body))
    }

    async fn service(&self, name: String) -> Result<Option<Service>, DiscoveryError> {
        let path = format!("/v1/catalog/service/{}", encode_segment(&name));
        let (_, body) = self.get_ok(&path).await?;
        let nodes: Vec<CatalogNode> =
            serde_json::from_slice(&body).map_err(|e| DiscoveryError::Backend {
                backend: BACKEND,
                message: format!("GET {path}: {e}"),
            })?;
        let Some(first) = nodes.first() else {
            return Ok(None);
        };
        let mut service = Service {
            name: name.clone(),
            port: first.service_port,
            tags: first.service_tags.clone().unwrap_or_default(),
            ..Service::default()
        };
        for n in &nodes {
            let address = if n.service_address.is_empty() {
                &n.address
            } else {
                &n.service_address
            };
            service.addresses.insert(n.node.clone(), address.clone());
            service.modify_index = service.modify_index.max(n.modify_index);
        }
        Ok(Some(service))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KvEntry {
    key: String,
    #[serde(default)]
    value: Option<String>,
}

impl ConsulBackend {
    /// Every key under `prefix` in the KV store (`/v1/kv/<prefix>?recurse`) with its value; empty when
    /// there is none.
    pub async fn kv_prefix(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, DiscoveryError> {
        let encoded: Vec<String> = prefix.split('/').map(encode_segment).collect();
        let path = format!("/v1/kv/{}?recurse", encoded.join("/"));
        let (status, _, body) = self.get(&path).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(BTreeMap::new());
        }
        if !status.is_success() {
            return Err(http_error(&path, status, &body));
        }
        let entries: Vec<KvEntry> =
            serde_json::from_slice(&body).map_err(|e| DiscoveryError::Backend {
                backend: BACKEND,
                message: format!("GET {path}: {e}"),
            })?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let value = e
                    .value
                    .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                    .unwrap_or_default();
                (e.key.into_bytes(), value)
            })
            .collect())
    }
}

/// Patroni clusters kept in Consul's KV store (Patroni's `consul:` store): every member under the namespace
/// is a target labelled `cluster`, `member` and `role`, as [`EtcdDiscovery`](super::etcd::EtcdDiscovery)'s
/// Patroni form has them. Read on each discovery (one request), so a failover shows within the discovery
/// interval.
#[derive(Debug)]
pub struct ConsulPatroni {
    backend: ConsulBackend,
    /// The namespace as Consul's keys spell it: no leading `/`, a trailing one.
    namespace: String,
    last: Mutex<Vec<super::patroni::PatroniMember>>,
    warned: Mutex<HashSet<Vec<u8>>>,
}

impl ConsulPatroni {
    /// The members under Patroni's `namespace` (`/service/` by default) through `backend`.
    pub fn new(backend: ConsulBackend, namespace: &str) -> Self {
        let trimmed = namespace.trim_matches('/');
        ConsulPatroni {
            backend,
            namespace: if trimmed.is_empty() {
                String::new()
            } else {
                format!("{trimmed}/")
            },
            last: Mutex::new(Vec::new()),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// The members now, as targets.
    pub async fn targets(&self) -> Result<Vec<super::ServiceAtomic>, DiscoveryError> {
        let keys = self.backend.kv_prefix(&self.namespace).await?;
        let mut bad = Vec::new();
        let members = super::patroni::patroni_members(&self.namespace, &keys, &mut bad);
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        for (key, why) in bad {
            if warned.insert(key.clone()) {
                tracing::warn!(key = %String::from_utf8_lossy(&key), error = %why, "Consul key skipped");
            }
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = members.clone();
        Ok(members
            .into_iter()
            .map(super::patroni::PatroniMember::into_target)
            .collect())
    }

    /// The members as last read.
    pub fn members(&self) -> Vec<super::patroni::PatroniMember> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ServiceLister for ConsulBackend {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn list(&self) -> Result<Vec<Service>, DiscoveryError> {
        let (index, body) = self.get_ok("/v1/catalog/services").await?;
        if let (Some(index), Some((cached, services))) = (
            index,
            self.inner
                .catalog
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref(),
        ) {
            if index == *cached {
                return Ok(services.clone());
            }
        }
        let catalog: BTreeMap<String, Vec<String>> =
            serde_json::from_slice(&body).map_err(|e| DiscoveryError::Backend {
                backend: BACKEND,
                message: format!("GET /v1/catalog/services: {e}"),
            })?;
        let names: Vec<String> = catalog
            .into_iter()
            .filter(|(_, tags)| {
                self.inner
                    .config
                    .tag
                    .as_ref()
                    .is_none_or(|t| tags.contains(t))
            })
            .map(|(name, _)| name)
            .collect();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(
            self.inner.config.concurrency.max(1),
        ));
        let mut set = tokio::task::JoinSet::new();
        for name in names {
            let (this, sem) = (self.clone(), semaphore.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                this.service(name).await
            });
        }
        let mut services = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(result) = joined {
                services.extend(result?);
            }
        }
        services.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(index) = index {
            *self.inner.catalog.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((index, services.clone()));
        }
        Ok(services)
    }
}

impl ParamsSource for ConsulBackend {
    /// A missing key means default params. A malformed value (bad base64 or JSON) also gives default params,
    /// logged once per key until it is fixed, so one bad key never hides the other services.
    async fn params(
        &self,
        service: &str,
        exporter: &str,
    ) -> Result<Option<ServiceParams>, DiscoveryError> {
        let key = format!(
            "monitoring/{}/{}",
            service.to_lowercase(),
            exporter.to_lowercase()
        );
        let path = format!(
            "/v1/kv/monitoring/{}/{}",
            encode_segment(&service.to_lowercase()),
            encode_segment(&exporter.to_lowercase())
        );
        let (status, _, body) = self.get(&path).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(DiscoveryError::Backend {
                backend: BACKEND,
                message: format!("GET {path}: HTTP {status}"),
            });
        }
        let parsed = serde_json::from_slice::<Vec<KvPair>>(&body)
            .map_err(|e| format!("KV response: {e}"))
            .and_then(
                |pairs| match pairs.into_iter().next().and_then(|p| p.value) {
                    None => Ok(None),
                    Some(v) => base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .map_err(|e| format!("value is not base64: {e}"))
                        .and_then(|json| {
                            ServiceParams::from_json(&json).map_err(|e| format!("value: {e}"))
                        })
                        .map(Some),
                },
            );
        let mut warned = self.inner.warned.lock().unwrap_or_else(|e| e.into_inner());
        match parsed {
            Ok(p) => {
                if warned.remove(&key) {
                    tracing::info!(key = %key, "service params valid again");
                }
                Ok(p)
            }
            Err(e) => {
                if warned.insert(key.clone()) {
                    tracing::warn!(key = %key, error = %e, "malformed service params, using defaults");
                }
                Ok(None)
            }
        }
    }
}

/// A refusal from Consul, with what it said.
fn http_error(path: &str, status: StatusCode, body: &[u8]) -> DiscoveryError {
    DiscoveryError::Backend {
        backend: BACKEND,
        message: format!(
            "GET {path}: HTTP {status}: {}",
            String::from_utf8_lossy(body).trim()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("orders-db_1.x"), "orders-db_1.x");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn debug_hides_the_token() {
        let mut c = ConsulConfig::new("http://127.0.0.1:8500/");
        c.token = Some("s3cr3t".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(c.address, "http://127.0.0.1:8500");
    }
}
