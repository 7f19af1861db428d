//! A small etcd v3 client over etcd's JSON gateway: the `/v3/...` HTTP endpoints etcd serves on its client
//! port beside gRPC (keys and values base64, 64-bit numbers as strings). It needs no gRPC stack, which would
//! double the exporter's dependencies for the five calls discovery and membership make: range, put, delete,
//! leases and watch.
//!
//! Each call opens its own HTTP/1.1 connection (these calls are seconds apart); a watch holds one open and
//! reads the events etcd streams on it. Endpoints are tried in order from the last one that answered.
//! With a user and password, the token `/v3/auth/authenticate` gives is sent in `Authorization` and
//! renewed when etcd says it expired; neither appears in a log or error.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};

/// How to reach etcd.
#[derive(Clone, Default)]
pub struct EtcdConfig {
    /// Client URLs, `http://host:port` or `https://host:port`, tried in order.
    pub endpoints: Vec<String>,
    /// User for etcd's authentication; with [`password`](Self::password).
    pub username: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// CA certificates (PEM) that sign etcd's certificate, for `https://` endpoints; the system's when `None`.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for etcd's `--client-cert-auth`; with [`key_file`](Self::key_file).
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    pub key_file: Option<PathBuf>,
    /// Timeout of each call (a watch's connection and first answer; not the watch itself).
    pub timeout: Duration,
}

impl std::fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl EtcdConfig {
    /// `endpoints` with no authentication, no client certificate and a 5 s timeout.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            timeout: Duration::from_secs(5),
            ..EtcdConfig::default()
        }
    }
}

/// Why an etcd call failed. Messages never hold the password or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    /// The configuration cannot work (a bad endpoint URL, an unreadable certificate).
    #[error("{0}")]
    Config(String),
    /// No endpoint could be reached, or the connection broke.
    #[error("{0}")]
    Unreachable(String),
    /// etcd answered with an error.
    #[error("{path}: {message}")]
    Refused {
        /// The call.
        path: &'static str,
        /// etcd's message.
        message: String,
    },
    /// The watched revision was compacted: the caller must read the keys again.
    #[error("watch: revision compacted (now {0})")]
    Compacted(i64),
    /// The call took longer than the timeout.
    #[error("{path}: timed out after {after:?}")]
    Timeout {
        /// The call.
        path: &'static str,
        /// The timeout.
        after: Duration,
    },
}

/// A key and its value, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// One change a watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The key was created or changed.
    Put(KeyValue),
    /// The key was deleted (or its lease expired).
    Delete(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Self, EtcdError> {
        let bad = |why: &str| EtcdError::Config(format!("etcd endpoint {url:?}: {why}"));
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("expected http://host:port or https://host:port"));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            _ => (rest, if tls { 443 } else { 80 }),
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad("expected http://host:port or https://host:port"));
        }
        Ok(Endpoint {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }

    fn authority(&self) -> String {
        crate::discovery::join_host_port(&self.host, self.port)
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Connection = hyper::client::conn::http1::Connection<TokioIo<Box<dyn Io>>, Full<Bytes>>;

/// An etcd client. Cloning shares it.
#[derive(Clone)]
pub struct EtcdClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EtcdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: EtcdConfig,
    endpoints: Vec<Endpoint>,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: Mutex<Option<String>>,
    /// The endpoint that answered last: tried first.
    current: AtomicUsize,
}

/// etcd's number fields arrive as strings (64-bit integers in JSON); absent means 0.
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    v.as_str()
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .unwrap_or_default()
}

/// The end of the range of keys starting with `prefix`: the prefix with its last byte that is not 0xff
/// incremented (etcd's convention; `\0` means every key when the prefix is empty or all 0xff).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn key_value(kv: &Value) -> KeyValue {
    KeyValue {
        key: unb64(&kv["key"]),
        value: unb64(&kv["value"]),
    }
}

impl EtcdClient {
    /// A client for `config`; refused when an endpoint is not a URL or a certificate cannot be read.
    pub fn new(config: EtcdConfig) -> Result<Self, EtcdError> {
        if config.endpoints.is_empty() {
            return Err(EtcdError::Config("no etcd endpoint given".into()));
        }
        let endpoints = config
            .endpoints
            .iter()
            .map(|e| Endpoint::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        if config.username.is_some() != config.password.is_some() {
            return Err(EtcdError::Config(
                "etcd authentication needs both a user and a password".into(),
            ));
        }
        let client_cert = match (&config.cert_file, &config.key_file) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            (None, None) => None,
            _ => {
                return Err(EtcdError::Config(
                    "an etcd client certificate needs both its certificate and key files".into(),
                ))
            }
        };
        let tls = if endpoints.iter().any(|e| e.tls) || client_cert.is_some() {
            let roots = match &config.ca_file {
                Some(path) => crate::targets::tls::Roots::File(path.clone()),
                None => crate::targets::tls::Roots::System,
            };
            let tls = crate::targets::tls::client_config(
                crate::targets::tls::Verify::ChainAndName,
                Some(&roots),
                client_cert,
            )
            .map_err(|e| EtcdError::Config(format!("etcd TLS: {e}")))?;
            Some(tls)
        } else {
            None
        };
        Ok(EtcdClient {
            inner: Arc::new(Inner {
                config,
                endpoints,
                tls,
                token: Mutex::new(None),
                current: AtomicUsize::new(0),
            }),
        })
    }

    /// Opens a connection to `endpoint` (TLS for `https://`).
    async fn connect(&self, endpoint: &Endpoint) -> Result<Box<dyn Io>, String> {
        let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|e| format!("{}: {e}", endpoint.authority()))?;
        let _ = tcp.set_nodelay(true);
        if !endpoint.tls {
            return Ok(Box::new(tcp));
        }
        let config = self
            .inner
            .tls
            .clone()
            .ok_or_else(|| "TLS not configured".to_owned())?;
        let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
            .map_err(|e| format!("{}: {e}", endpoint.authority()))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{}: TLS: {e}", endpoint.authority()))?;
        Ok(Box::new(tls))
    }

    /// Sends `body` to `path` on the first endpoint that takes the connection: the response head, its body
    /// and the connection that carries it (to be polled while the body is read).
    async fn open(
        &self,
        path: &'static str,
        body: &Value,
    ) -> Result<(StatusCode, Incoming, Pin<Box<Connection>>), EtcdError> {
        let n = self.inner.endpoints.len();
        let first = self.inner.current.load(Ordering::Relaxed) % n;
        let mut errors = Vec::new();
        for i in (0..n).map(|k| (first + k) % n) {
            let endpoint = &self.inner.endpoints[i];
            let io = match self.connect(endpoint).await {
                Ok(io) => io,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let (mut sender, conn) =
                match hyper::client::conn::http1::handshake(TokioIo::new(io)).await {
                    Ok(pair) => pair,
                    Err(e) => {
                        errors.push(format!("{}: {e}", endpoint.authority()));
                        continue;
                    }
                };
            let mut conn = Box::pin(conn);
            let mut request = hyper::Request::post(path)
                .header(hyper::header::HOST, endpoint.authority())
                .header(hyper::header::CONTENT_TYPE, "application/json");
            let token = self
                .inner
                .token
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(token) = token {
                request = request.header(hyper::header::AUTHORIZATION, token);
            }
            let request = request
                .body(Full::new(Bytes::from(body.to_string())))
                .map_err(|e| EtcdError::Config(format!("{path}: {e}")))?;
            let sent = tokio::select! {
                biased;
                r = sender.send_request(request) => r.map_err(|e| e.to_string()),
                r = &mut conn => Err(r.err().map_or_else(|| "connection closed".to_owned(), |e| e.to_string())),
            };
            match sent {
                Ok(response) => {
                    self.inner.current.store(i, Ordering::Relaxed);
                    let (head, body) = response.into_parts();
                    return Ok((head.status, body, conn));
                }
                Err(e) => errors.push(format!("{}: {e}", endpoint.authority())),
            }
        }
        Err(EtcdError::Unreachable(format!(
            "{path}: no etcd endpoint answered: {}",
            errors.join("; ")
        )))
    }

    /// One call: its JSON answer, or etcd's error.
    async fn call_once(&self, path: &'static str, body: &Value) -> Result<Value, EtcdError> {
        let (status, body, mut conn) = self.open(path, body).await?;
        let mut collect = std::pin::pin!(body.collect());
        let read = tokio::select! {
            biased;
            r = &mut collect => r.map(|b| b.to_bytes()).map_err(|e| e.to_string()),
            r = &mut conn => match r {
                // Closed by etcd once it answered: the answer is read, not lost.
                Ok(()) => collect.await.map(|b| b.to_bytes()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        };
        let bytes = read.map_err(|e| EtcdError::Unreachable(format!("{path}: {e}")))?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| EtcdError::Refused {
            path,
            message: format!(
                "HTTP {status}: not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
        })?;
        if !status.is_success() || answer.get("error").is_some() {
            let message = answer["message"]
                .as_str()
                .or_else(|| answer["error"].as_str())
                .map_or_else(|| format!("HTTP {status}"), str::to_owned);
            return Err(EtcdError::Refused { path, message });
        }
        Ok(answer)
    }

    /// A call with the timeout, authenticating first (and again when etcd says the token expired).
    async fn call(&self, path: &'static str, body: Value) -> Result<Value, EtcdError> {
        let after = self.inner.config.timeout;
        let attempt = async {
            if self.needs_token() {
                self.authenticate().await?;
            }
            match self.call_once(path, &body).await {
                Err(EtcdError::Refused { message, .. })
                    if self.inner.config.username.is_some() && is_token_error(&message) =>
                {
                    self.authenticate().await?;
                    self.call_once(path, &body).await
                }
                other => other,
            }
        };
        tokio::time::timeout(after, attempt)
            .await
            .map_err(|_| EtcdError::Timeout { path, after })?
    }

    fn needs_token(&self) -> bool {
        self.inner.config.username.is_some()
            && self
                .inner
                .token
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
    }

    async fn authenticate(&self) -> Result<(), EtcdError> {
        let (Some(name), Some(password)) = (
            self.inner.config.username.clone(),
            self.inner.config.password.clone(),
        ) else {
            return Ok(());
        };
        *self.inner.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let answer = self
            .call_once(
                "/v3/auth/authenticate",
                &json!({"name": name, "password": password}),
            )
            .await?;
        let token = answer["token"]
            .as_str()
            .ok_or_else(|| EtcdError::Refused {
                path: "/v3/auth/authenticate",
                message: "no token in the answer".into(),
            })?
            .to_owned();
        *self.inner.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(())
    }

    /// Every key starting with `prefix`, in key order, and the store's revision they were read at.
    pub async fn range_prefix(&self, prefix: &[u8]) -> Result<(i64, Vec<KeyValue>), EtcdError> {
        let answer = self
            .call(
                "/v3/kv/range",
                json!({"key": b64(prefix), "range_end": b64(&prefix_end(prefix))}),
            )
            .await?;
        let revision = int(&answer["header"]["revision"]);
        let kvs = answer["kvs"]
            .as_array()
            .map(|kvs| kvs.iter().map(key_value).collect())
            .unwrap_or_default();
        Ok((revision, kvs))
    }

    /// Sets `key` to `value`, attached to `lease` (0 for none: the key stays until deleted).
    pub async fn put(&self, key: &[u8], value: &[u8], lease: i64) -> Result<(), EtcdError> {
        let mut body = json!({"key": b64(key), "value": b64(value)});
        if lease != 0 {
            body["lease"] = Value::String(lease.to_string());
        }
        self.call("/v3/kv/put", body).await.map(drop)
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &[u8]) -> Result<(), EtcdError> {
        self.call("/v3/kv/deleterange", json!({"key": b64(key)}))
            .await
            .map(drop)
    }

    /// A lease of `ttl`: its id.
    pub async fn lease_grant(&self, ttl: Duration) -> Result<i64, EtcdError> {
        let answer = self
            .call(
                "/v3/lease/grant",
                json!({"TTL": ttl.as_secs().max(1).to_string()}),
            )
            .await?;
        Ok(int(&answer["ID"]))
    }

    /// Renews `lease`: the seconds it has left, 0 when it expired (its keys are gone).
    pub async fn lease_keep_alive(&self, lease: i64) -> Result<i64, EtcdError> {
        let answer = self
            .call("/v3/lease/keepalive", json!({"ID": lease.to_string()}))
            .await?;
        Ok(int(&answer["result"]["TTL"]))
    }

    /// Ends `lease` now: its keys are deleted.
    pub async fn lease_revoke(&self, lease: i64) -> Result<(), EtcdError> {
        self.call("/v3/lease/revoke", json!({"ID": lease.to_string()}))
            .await
            .map(drop)
    }

    /// Watches the keys starting with `prefix` from `revision` on: [`Watch::next`] gives their changes
    /// as etcd commits them.
    pub async fn watch(&self, prefix: &[u8], revision: i64) -> Result<Watch, EtcdError> {
        const PATH: &str = "/v3/watch";
        let after = self.inner.config.timeout;
        let body = json!({"create_request": {
            "key": b64(prefix),
            "range_end": b64(&prefix_end(prefix)),
            "start_revision": revision.to_string(),
        }});
        let opened = async {
            if self.needs_token() {
                self.authenticate().await?;
            }
            self.open(PATH, &body).await
        };
        let (status, body, conn) = tokio::time::timeout(after, opened)
            .await
            .map_err(|_| EtcdError::Timeout { path: PATH, after })??;
        let mut watch = Watch {
            body,
            conn: Some(conn),
            buffer: Vec::new(),
        };
        if !status.is_success() {
            let message = match watch.next_value().await {
                Ok(Some(v)) => v["message"].as_str().unwrap_or_default().to_owned(),
                _ => String::new(),
            };
            if self.inner.config.username.is_some() && is_token_error(&message) {
                *self.inner.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            return Err(EtcdError::Refused {
                path: PATH,
                message: format!("HTTP {status}: {message}"),
            });
        }
        Ok(watch)
    }
}

/// etcd's messages when the token is missing or expired.
fn is_token_error(message: &str) -> bool {
    message.contains("invalid auth token") || message.contains("user name is empty")
}

/// An open watch.
pub struct Watch {
    body: Incoming,
    /// The connection, polled while the body is read; `None` once it closed cleanly.
    conn: Option<Pin<Box<Connection>>>,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl Watch {
    /// The next JSON document etcd streams; `None` when the stream ends.
    async fn next_value(&mut self) -> Result<Option<Value>, EtcdError> {
        loop {
            let mut values =
                serde_json::Deserializer::from_slice(&self.buffer).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.buffer.drain(..used);
                    return Ok(Some(value));
                }
                Some(Err(e)) if !e.is_eof() => {
                    return Err(EtcdError::Unreachable(format!("watch: bad answer: {e}")))
                }
                _ => {}
            }
            let frame = match &mut self.conn {
                Some(conn) => tokio::select! {
                    biased;
                    f = self.body.frame() => f,
                    r = conn => {
                        if let Err(e) = r {
                            return Err(EtcdError::Unreachable(format!("watch: {e}")));
                        }
                        // Closed cleanly: what it carried is still to be read.
                        self.conn = None;
                        continue;
                    }
                },
                None => self.body.frame().await,
            };
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(EtcdError::Unreachable(format!("watch: {e}"))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next changes etcd reports (possibly none: the watch's creation, a progress notice). An error
    /// ends the watch: the caller reads the keys again and watches from there.
    pub async fn next(&mut self) -> Result<Vec<Event>, EtcdError> {
        let Some(value) = self.next_value().await? else {
            return Err(EtcdError::Unreachable(
                "watch: etcd closed the stream".into(),
            ));
        };
        if let Some(message) = value.get("error").and_then(|e| e["message"].as_str()) {
            return Err(EtcdError::Refused {
                path: "/v3/watch",
                message: message.to_owned(),
            });
        }
        let result = &value["result"];
        let compacted = int(&result["compact_revision"]);
        if compacted > 0 {
            return Err(EtcdError::Compacted(compacted));
        }
        if result["canceled"].as_bool() == Some(true) {
            let reason = result["cancel_reason"].as_str().unwrap_or("canceled");
            return Err(EtcdError::Refused {
                path: "/v3/watch",
                message: reason.to_owned(),
            });
        }
        let events = result["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| {
                        let kv = key_value(&e["kv"]);
                        // PUT is the enum's zero value: the gateway leaves it out.
                        if e["type"].as_str() == Some("DELETE") {
                            Event::Delete(kv.key)
                        } else {
                            Event::Put(kv)
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_or_say_what_is_expected() {
        let e = Endpoint::parse("https://etcd-1.example:2379/").unwrap();
        assert!(e.tls);
        assert_eq!(e.authority(), "etcd-1.example:2379");
        let e = Endpoint::parse("http://[::1]:2379").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 2379));
        assert_eq!(e.authority(), "[::1]:2379");
        for (bad, why) in [
            (
                "127.0.0.1:2379",
                "expected http://host:port or https://host:port",
            ),
            ("http://", "expected http://host:port or https://host:port"),
            ("http://h:x", "the port is not a number"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert_eq!(err, format!("etcd endpoint {bad:?}: {why}"));
        }
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/service/"), b"/service0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[test]
    fn half_a_configuration_is_refused() {
        let mut c = EtcdConfig::new(["http://127.0.0.1:2379"]);
        c.username = Some("u".into());
        assert!(EtcdClient::new(c)
            .unwrap_err()
            .to_string()
            .contains("password"));
        assert!(EtcdClient::new(EtcdConfig::new(Vec::<String>::new())).is_err());
        let mut c = EtcdConfig::new(["http://127.0.0.1:2379"]);
        c.password = Some("secret".into());
        assert!(!format!("{c:?}").contains("secret"));
    }
}
