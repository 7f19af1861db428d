//! The Consul backend against an in-process server that answers Consul's documented HTTP API:
//! `/v1/catalog/services`, `/v1/catalog/service/<name>`, `/v1/kv/<key>` (base64 values, 404 for missing keys;
//! `?recurse` for every key under a prefix), `X-Consul-Index`, `X-Consul-Token`, `?dc=`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use hubble::discovery::{ConsulBackend, ConsulConfig, ConsulPatroni, Discovery, ServiceLister};
use hubble::dispatcher::Dispatcher;
use hubble::{BaseExporter, Collector, Format, Registry, Sample};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "3f1c-secret-token";

/// (node, node address, service address, port)
type Node = (String, String, String, u16);
/// A service's tags and nodes.
type Entry = (Vec<String>, Vec<Node>);

#[derive(Default)]
struct Consul {
    /// service → (tags, nodes)
    services: Mutex<BTreeMap<String, Entry>>,
    kv: Mutex<BTreeMap<String, Option<String>>>,
    index: AtomicU64,
    /// How it misbehaves: [`HEALTHY`], [`ERRORS`], [`GARBAGE`] or [`HANGS`].
    mode: AtomicU8,
    /// Paths requested, and whether each carried the right token.
    requests: Mutex<Vec<(String, bool)>>,
}

type St = State<Arc<Consul>>;

const HEALTHY: u8 = 0;
/// 500 with Consul's text, as during a leader election.
const ERRORS: u8 = 1;
/// 200 with a body that is not the documented JSON (a proxy's error page).
const GARBAGE: u8 = 2;
/// Accepts the request and never answers.
const HANGS: u8 = 3;

/// `Some(error response)` when the request must fail, as Consul would fail it.
async fn check(
    c: &Consul,
    path: &str,
    headers: &HeaderMap,
    q: &BTreeMap<String, String>,
) -> Option<Response> {
    let authorized = headers.get("X-Consul-Token").and_then(|v| v.to_str().ok()) == Some(TOKEN);
    c.requests
        .lock()
        .unwrap()
        .push((path.to_owned(), authorized));
    match c.mode.load(Ordering::SeqCst) {
        ERRORS => {
            return Some(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "rpc error making call: EOF",
                )
                    .into_response(),
            )
        }
        GARBAGE => {
            return Some(
                (
                    [("X-Consul-Index", "1"), ("Content-Type", "text/html")],
                    "<html><body>502 Bad Gateway</body></html>",
                )
                    .into_response(),
            )
        }
        HANGS => std::future::pending::<()>().await,
        _ => {}
    }
    if q.get("dc").is_some_and(|dc| dc != "dc1") {
        return Some((StatusCode::INTERNAL_SERVER_ERROR, "No path to datacenter").into_response());
    }
    if !authorized {
        return Some((StatusCode::FORBIDDEN, "ACL not found").into_response());
    }
    None
}

fn with_index(c: &Consul, body: Value) -> Response {
    let index = c.index.load(Ordering::SeqCst).to_string();
    (
        [
            ("X-Consul-Index", index),
            ("Content-Type", "application/json".to_owned()),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn catalog_services(
    State(c): St,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = check(&c, "/v1/catalog/services", &headers, &q).await {
        return r;
    }
    let body: BTreeMap<String, Vec<String>> = c
        .services
        .lock()
        .unwrap()
        .iter()
        .map(|(n, (tags, _))| (n.clone(), tags.clone()))
        .collect();
    with_index(&c, json!(body))
}

async fn catalog_service(
    State(c): St,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = check(&c, &format!("/v1/catalog/service/{name}"), &headers, &q).await {
        return r;
    }
    let services = c.services.lock().unwrap();
    let nodes: Vec<Value> = services
        .get(&name)
        .map(|(tags, nodes)| {
            nodes
                .iter()
                .enumerate()
                .map(|(i, (node, addr, svc_addr, port))| {
                    json!({
                        "ID": format!("40e4a748-2192-161a-0510-9bf59fe950b{i}"),
                        "Node": node,
                        "Address": addr,
                        "Datacenter": "dc1",
                        "TaggedAddresses": {"lan": addr, "wan": addr},
                        "NodeMeta": {"somekey": "somevalue"},
                        "CreateIndex": 51,
                        "ModifyIndex": 60 + i,
                        "ServiceAddress": svc_addr,
                        "ServiceEnableTagOverride": false,
                        "ServiceID": name,
                        "ServiceName": name,
                        "ServicePort": port,
                        "ServiceMeta": {},
                        "ServiceTaggedAddresses": {},
                        "ServiceTags": tags,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    drop(services);
    with_index(&c, json!(nodes))
}

async fn kv(
    State(c): St,
    Path(key): Path<String>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = check(&c, &format!("/v1/kv/{key}"), &headers, &q).await {
        return r;
    }
    if q.contains_key("recurse") {
        // Every key under the prefix, as one array; 404 when there is none.
        let entries: Vec<Value> = c
            .kv
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&key))
            .map(|(k, v)| json!({"LockIndex": 0, "Key": k, "Flags": 0, "Value": v, "CreateIndex": 100, "ModifyIndex": 200}))
            .collect();
        if entries.is_empty() {
            return (
                StatusCode::NOT_FOUND,
                [("X-Consul-Index", c.index.load(Ordering::SeqCst).to_string())],
            )
                .into_response();
        }
        return with_index(&c, json!(entries));
    }
    let value = c.kv.lock().unwrap().get(&key).cloned();
    match value {
        None => (
            StatusCode::NOT_FOUND,
            [("X-Consul-Index", c.index.load(Ordering::SeqCst).to_string())],
        )
            .into_response(),
        Some(v) => with_index(
            &c,
            json!([{"LockIndex": 0, "Key": key, "Flags": 0, "Value": v, "CreateIndex": 100, "ModifyIndex": 200}]),
        ),
    }
}

async fn start(
    consul: Arc<Consul>,
) -> (
    String,
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let app = Router::new()
        .route("/v1/catalog/services", get(catalog_services))
        .route("/v1/catalog/service/{name}", get(catalog_service))
        .route("/v1/kv/{*key}", get(kv))
        .with_state(consul);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        hubble::serve(listener, app, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (format!("http://{addr}"), server, tx)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn fixture() -> Arc<Consul> {
    let c = Consul::default();
    c.index.store(7, Ordering::SeqCst);
    {
        let mut s = c.services.lock().unwrap();
        s.insert(
            "orders-db".into(),
            (
                vec!["postgres".into(), "primary".into()],
                vec![
                    ("node-1".into(), "10.0.0.1".into(), "".into(), 5432),
                    (
                        "node-2".into(),
                        "10.0.0.2".into(),
                        "192.168.1.2".into(),
                        5432,
                    ),
                ],
            ),
        );
        s.insert(
            "users-db".into(),
            (
                vec!["postgres".into()],
                vec![("node-3".into(), "10.0.0.3".into(), "".into(), 5433)],
            ),
        );
        s.insert(
            "Billing-DB".into(),
            (
                vec!["postgres".into()],
                vec![("node-4".into(), "10.0.0.4".into(), "".into(), 5432)],
            ),
        );
        s.insert(
            "redis".into(),
            (
                vec!["redis".into()],
                vec![("node-5".into(), "10.0.0.5".into(), "".into(), 6379)],
            ),
        );
    }
    {
        let mut kv = c.kv.lock().unwrap();
        kv.insert(
            "monitoring/orders-db/postgres".into(),
            Some(b64(r#"{"notifiable": true, "extra_labels": {"team": "shop"}, "exporter_options": {"dbname": "orders", "user": "monitor", "password": "hunter2"}}"#)),
        );
        // Malformed: valid base64 of invalid JSON. That service gets default params; others are unaffected.
        kv.insert(
            "monitoring/users-db/postgres".into(),
            Some(b64("{\"notifiable\": tru")),
        );
        // billing-db: no key at all (lower-cased lookup of Billing-DB) -> defaults.
    }
    Arc::new(c)
}

fn config(addr: &str) -> ConsulConfig {
    let mut c = ConsulConfig::new(addr);
    c.token = Some(TOKEN.into());
    c.datacenter = Some("dc1".into());
    c.timeout = Duration::from_secs(5);
    c
}

#[tokio::test]
async fn services_nodes_params_and_index() {
    let consul = fixture();
    let (addr, server, stop) = start(consul.clone()).await;
    let backend = ConsulBackend::new(config(&addr));
    let discovery = Discovery::with_params(backend.clone(), backend.clone(), "Postgres");
    let services = discovery
        .services(|s| s.tags.iter().any(|t| t == "postgres"))
        .await
        .unwrap();
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Billing-DB", "orders-db", "users-db"]);

    let orders = &services[1];
    assert_eq!(orders.port, 5432);
    assert_eq!(orders.modify_index, 61);
    // ServiceAddress empty -> node Address; non-empty -> ServiceAddress.
    assert_eq!(orders.addresses["node-1"], "10.0.0.1");
    assert_eq!(orders.addresses["node-2"], "192.168.1.2");
    assert!(orders.params.notifiable);
    assert_eq!(orders.params.exporter_options["dbname"], "orders");
    assert_eq!(orders.params.extra_labels["team"], "shop");
    // Malformed KV and missing KV: default params.
    assert_eq!(services[2].params, Default::default());
    assert_eq!(services[0].params, Default::default());

    let atoms = orders.make_atomic(&[("dc".to_owned(), "dc1".to_owned())].into());
    assert_eq!(atoms.len(), 2);
    assert_eq!(
        atoms[1].labels.to_string(),
        r#"{dc="dc1",host="node-2",modify_index="61",notifiable="true",service="orders-db",team="shop"}"#
    );

    let requests = consul.requests.lock().unwrap().clone();
    assert!(
        requests.iter().all(|(_, authorized)| *authorized),
        "a request without the token: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|(p, _)| p == "/v1/kv/monitoring/billing-db/postgres"),
        "params key not lower-cased"
    );

    // Same X-Consul-Index: the listing is reused without per-service calls.
    let before = consul.requests.lock().unwrap().len();
    backend.list().await.unwrap();
    let after: Vec<String> = consul.requests.lock().unwrap()[before..]
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(after, ["/v1/catalog/services"]);
    // A new index: nodes are fetched again.
    consul.index.store(8, Ordering::SeqCst);
    backend.list().await.unwrap();
    assert!(consul.requests.lock().unwrap().len() > before + 2);

    let _ = stop.send(());
    server.await.unwrap();
}

#[tokio::test]
async fn errors_are_clear_and_never_show_the_token() {
    let consul = fixture();
    let (addr, server, stop) = start(consul.clone()).await;
    consul.mode.store(ERRORS, Ordering::SeqCst);
    let err = ConsulBackend::new(config(&addr))
        .list()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("consul: GET /v1/catalog/services: HTTP 500"),
        "{err}"
    );
    assert!(!err.contains(TOKEN));
    consul.mode.store(HEALTHY, Ordering::SeqCst);

    let mut wrong_dc = config(&addr);
    wrong_dc.datacenter = Some("mars".into());
    let err = ConsulBackend::new(wrong_dc)
        .list()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("No path to datacenter"), "{err}");

    let mut no_token = config(&addr);
    no_token.token = None;
    let err = ConsulBackend::new(no_token)
        .list()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 403"), "{err}");

    // Nothing listening: a connection error, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = ConsulBackend::new(config(&format!("http://{closed}")))
        .list()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("consul: GET /v1/catalog/services"), "{err}");

    let _ = stop.send(());
    server.await.unwrap();
}

struct Up;
impl Collector for Up {
    fn name(&self) -> &str {
        "up"
    }
    async fn collect(&self) -> Result<Vec<Sample>, hubble::CollectError> {
        Ok(vec![Sample::gauge("target_up", "Up.", 1.0)])
    }
}

#[tokio::test]
async fn a_consul_outage_keeps_the_registered_targets() {
    let consul = fixture();
    let (addr, server, stop) = start(consul.clone()).await;
    let mut cfg = config(&addr);
    cfg.timeout = Duration::from_millis(200);
    let backend = ConsulBackend::new(cfg);
    let discovery = Arc::new(Discovery::with_params(backend.clone(), backend, "postgres"));
    let registry = Registry::new();
    let dispatcher = Arc::new(Dispatcher::<BaseExporter>::new(
        Duration::from_millis(50),
        "consul",
        registry.clone(),
    ));
    let cancel = CancellationToken::new();
    let source = {
        let discovery = discovery.clone();
        move || {
            let discovery = discovery.clone();
            async move {
                discovery
                    .targets(|s| s.tags.iter().any(|t| t == "postgres"), &BTreeMap::new())
                    .await
            }
        }
    };
    let factory = |svc: hubble::discovery::ServiceAtomic| async move {
        BaseExporter::builder("pg")
            .const_labels(svc.labels)
            .interval(Duration::from_millis(50))
            .max_jitter(Duration::ZERO)
            .collector(Up)
            .build()
    };
    let task = tokio::spawn({
        let (d, c) = (dispatcher.clone(), cancel.clone());
        async move { d.manage(source, factory, c).await }
    });
    let scrape = || String::from_utf8(registry.render(Format::Text).bytes().to_vec()).unwrap();
    hubble_test_support::wait_for_async(Duration::from_secs(4), "four targets", || {
        (scrape().matches("target_up{").count() == 4).then_some(())
    })
    .await;
    assert_eq!(dispatcher.targets().len(), 4);

    // Each way a backend breaks: an error, a body that is not Consul's JSON, no answer at all. Every one
    // counts as a failed discovery and keeps the last good target set.
    let errors = || {
        scrape()
            .lines()
            .find_map(|l| l.strip_prefix(r#"hubble_discovery_errors_total{backend="consul"} "#))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    for mode in [ERRORS, GARBAGE, HANGS] {
        consul.mode.store(mode, Ordering::SeqCst);
        let before = errors();
        hubble_test_support::wait_for_async(
            Duration::from_secs(4),
            &format!("mode {mode}: two discovery errors counted"),
            || (errors() >= before + 2).then_some(()),
        )
        .await;
        let body = scrape();
        assert_eq!(
            body.matches("target_up{").count(),
            4,
            "mode {mode}: targets lost during the outage:\n{body}"
        );
        assert!(
            !body.contains("hunter2") && !body.contains(TOKEN),
            "a secret in the metrics"
        );
    }
    // And it heals by itself: once Consul answers again, no more errors. Discoveries run one after another,
    // each opening with a catalog listing: two listings after the switch mean the one that hung has ended
    // (timed out, counted); two more mean a whole discovery ran against the healthy Consul since.
    consul.mode.store(HEALTHY, Ordering::SeqCst);
    let listings = || {
        consul
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path == "/v1/catalog/services")
            .count()
    };
    let switched = listings();
    hubble_test_support::wait_for_async(Duration::from_secs(4), "two listings", || {
        (listings() >= switched + 2).then_some(())
    })
    .await;
    let healed = errors();
    let from = listings();
    hubble_test_support::wait_for_async(Duration::from_secs(4), "two more listings", || {
        (listings() >= from + 2).then_some(())
    })
    .await;
    assert_eq!(errors(), healed, "no more errors once Consul is back");
    assert_eq!(dispatcher.targets().len(), 4);

    cancel.cancel();
    task.await.unwrap();
    let _ = stop.send(());
    server.await.unwrap();
}

#[tokio::test]
async fn patroni_members_from_consuls_kv_store() {
    let consul = fixture();
    {
        // As Patroni's consul store writes them (namespace /service/: keys without the leading slash).
        let mut kv = consul.kv.lock().unwrap();
        kv.insert("service/batman/leader".into(), Some(b64("pg1")));
        for (name, port, role) in [("pg1", 5433, "master"), ("pg2", 5434, "replica")] {
            kv.insert(
                format!("service/batman/members/{name}"),
                Some(b64(&format!(
                    r#"{{"conn_url":"postgres://10.0.0.9:{port}/postgres","role":"{role}","state":"running"}}"#
                ))),
            );
        }
        kv.insert("service/batman/config".into(), Some(b64("{}")));
    }
    let (addr, server, stop) = start(consul.clone()).await;
    let patroni = ConsulPatroni::new(ConsulBackend::new(config(&addr)), "/service/");
    let labels = |targets: &[hubble::discovery::ServiceAtomic]| -> Vec<String> {
        targets.iter().map(|t| t.labels.to_string()).collect()
    };
    let targets = patroni.targets().await.unwrap();
    assert_eq!(
        labels(&targets),
        [
            r#"{cluster="batman",member="pg1",role="primary"}"#,
            r#"{cluster="batman",member="pg2",role="replica"}"#,
        ]
    );
    assert_eq!(targets[1].host_port(), "10.0.0.9:5434");
    // A switchover: the leader key moves, and the next discovery says so.
    consul
        .kv
        .lock()
        .unwrap()
        .insert("service/batman/leader".into(), Some(b64("pg2")));
    let targets = patroni.targets().await.unwrap();
    assert_eq!(
        targets[1].labels.to_string(),
        r#"{cluster="batman",member="pg2",role="primary"}"#
    );
    assert_eq!(patroni.members().len(), 2);
    // The token went along.
    assert!(consul
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|(p, authorized)| p.starts_with("/v1/kv/service/") && *authorized));
    // An empty namespace is no targets, not an error.
    let none = ConsulPatroni::new(ConsulBackend::new(config(&addr)), "/elsewhere/");
    assert!(none.targets().await.unwrap().is_empty());
    stop.send(()).unwrap();
    server.await.unwrap();
}
