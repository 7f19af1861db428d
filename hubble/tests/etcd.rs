//! etcd discovery and replica membership against a real etcd (Debian's etcd-server) on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hubble::cluster::{ClusterConfig, Membership};
use hubble::discovery::etcd::{EtcdClient, EtcdConfig, EtcdDiscovery, EtcdForm};
use hubble::discovery::{Service, ServiceAtomic};
use hubble_test_support::etcd::Etcd;
use hubble_test_support::pki::Pki;
use hubble_test_support::wait_for_async;
use tokio_util::sync::CancellationToken;

fn client(etcd: &Etcd) -> EtcdClient {
    EtcdClient::new(EtcdConfig::new([etcd.url()])).unwrap()
}

fn addresses(d: &EtcdDiscovery) -> Option<Vec<String>> {
    let mut a: Vec<String> = d
        .targets(&Default::default())
        .ok()?
        .iter()
        .map(ServiceAtomic::host_port)
        .collect();
    a.sort();
    Some(a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_targets_follow_the_store_and_survive_an_outage() {
    let mut etcd = Etcd::start();
    etcd.put(
        "/monitoring/pg/a",
        r#"{"address":"10.0.0.1:5432","extra_labels":{"team":"shop"}}"#,
    );
    let discovery = Arc::new(EtcdDiscovery::new(
        client(&etcd),
        EtcdForm::Prefix("/monitoring/".into()),
    ));
    // Before the first read: an error (keep what you have), not an empty set.
    assert!(discovery.targets(&Default::default()).is_err());
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (d, c) = (discovery.clone(), cancel.clone());
        async move { d.run(c).await }
    });
    let limit = Duration::from_secs(10);
    wait_for_async(limit, "the first read", || {
        (addresses(&discovery)? == ["10.0.0.1:5432"]).then_some(())
    })
    .await;
    let t = &discovery.targets(&Default::default()).unwrap()[0];
    assert_eq!(
        t.labels.to_string(),
        r#"{host="pg/a",notifiable="false",service="pg",team="shop"}"#
    );

    // A change wakes the dispatcher's notify and is seen in the time of a watch event.
    let changed = discovery.changed();
    let started = Instant::now();
    etcd.put("/monitoring/pg/b", r#"{"address":"10.0.0.2:5432"}"#);
    tokio::time::timeout(Duration::from_secs(5), changed.notified())
        .await
        .expect("a change notified");
    wait_for_async(limit, "the added target", || {
        (addresses(&discovery)?.len() == 2).then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    etcd.delete("/monitoring/pg/a");
    wait_for_async(limit, "the deleted target to go", || {
        (addresses(&discovery)? == ["10.0.0.2:5432"]).then_some(())
    })
    .await;

    // etcd stopped: an error (the dispatcher keeps its set and counts it), the keys kept.
    etcd.stop();
    wait_for_async(limit, "the outage to show", || {
        discovery.targets(&Default::default()).err()
    })
    .await;
    // Started again on its data, with a change made meanwhile by nobody: the same set, then the next change.
    etcd.start_again();
    wait_for_async(Duration::from_secs(20), "recovery", || {
        (addresses(&discovery)? == ["10.0.0.2:5432"]).then_some(())
    })
    .await;
    etcd.put("/monitoring/pg/c", r#"{"address":"10.0.0.3:5432"}"#);
    wait_for_async(limit, "a change after recovery", || {
        (addresses(&discovery)?.len() == 2).then_some(())
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificates_and_passwords_as_etcd_clients_use_them() {
    let pki = Pki::generate();
    let etcd = Etcd::start_tls(&pki);
    etcd.etcdctl(&["user", "add", "root:rootpw"]);
    etcd.etcdctl(&["user", "add", "monitor:monitorpw"]);
    etcd.etcdctl(&["role", "add", "reader"]);
    etcd.etcdctl(&[
        "role",
        "grant-permission",
        "reader",
        "--prefix=true",
        "read",
        "/service/",
    ]);
    etcd.etcdctl(&["user", "grant-role", "monitor", "reader"]);
    etcd.etcdctl(&["auth", "enable"]);
    etcd.etcdctl(&[
        "--user",
        "root:rootpw",
        "put",
        "/service/batman/members/pg1",
        r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","role":"replica"}"#,
    ]);
    let config = |user: Option<(&str, &str)>, cert: bool| {
        let mut c = EtcdConfig::new([etcd.url()]);
        c.ca_file = Some(pki.path("ca.crt"));
        if cert {
            // etcd's JSON gateway refuses certificates with a CommonName (it would not take it as the user,
            // as its gRPC side does): the user comes from the password.
            c.cert_file = Some(pki.path("nameless.crt"));
            c.key_file = Some(pki.path("nameless.key"));
        }
        if let Some((u, p)) = user {
            c.username = Some(u.into());
            c.password = Some(p.into());
        }
        c
    };
    let ok = EtcdClient::new(config(Some(("monitor", "monitorpw")), true)).unwrap();
    let (_, kvs) = ok.range_prefix(b"/service/").await.unwrap();
    assert_eq!(kvs.len(), 1);
    // A watch with the token too.
    let mut watch = ok.watch(b"/service/", 1).await.unwrap();
    let events = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let e = watch.next().await.unwrap();
            if !e.is_empty() {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(events.len(), 1);

    let wrong = EtcdClient::new(config(Some(("monitor", "nope")), true)).unwrap();
    let err = wrong
        .range_prefix(b"/service/")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!err.contains("nope"), "{err}");
    let anonymous = EtcdClient::new(config(None, true)).unwrap();
    let err = anonymous
        .range_prefix(b"/service/")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("permission denied"), "{err}");
    let no_cert = EtcdClient::new(config(Some(("monitor", "monitorpw")), false)).unwrap();
    let err = no_cert
        .range_prefix(b"/service/")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no etcd endpoint answered"), "{err}");
    // Another CA: etcd's certificate is not trusted.
    let mut rogue = config(Some(("monitor", "monitorpw")), true);
    rogue.ca_file = Some(pki.path("rogue.crt"));
    let err = EtcdClient::new(rogue)
        .unwrap()
        .range_prefix(b"/service/")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate"), "{err}");
}

fn targets(n: usize) -> Vec<ServiceAtomic> {
    (0..n)
        .map(|i| {
            Service {
                name: format!("db{i}"),
                addresses: [(format!("node{i}"), "127.0.0.1".to_owned())].into(),
                port: 10_000 + i as u16,
                ..Service::default()
            }
            .make_atomic(&Default::default())
            .remove(0)
        })
        .collect()
}

struct Replica {
    membership: Arc<Membership>,
    task: tokio::task::JoinHandle<()>,
    cancel: CancellationToken,
}

fn replica(etcd: &Etcd, name: &str) -> Replica {
    let membership = Membership::new(
        client(etcd),
        ClusterConfig {
            name: "fleet".into(),
            member: name.into(),
            lease_ttl: Duration::from_secs(3),
        },
    );
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (m, c) = (membership.clone(), cancel.clone());
        async move { m.run(c).await }
    });
    Replica {
        membership,
        task,
        cancel,
    }
}

/// Each target's owners among `replicas`, as each replica sees its own share.
fn owners(replicas: &[&Replica], all: &[ServiceAtomic]) -> Vec<Vec<String>> {
    all.iter()
        .map(|t| {
            replicas
                .iter()
                .filter(|r| r.membership.share().owns(t))
                .map(|r| r.membership.config().member.clone())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_targets_and_take_over_from_each_other() {
    let etcd = Etcd::start();
    let all = targets(300);
    let (a, b, c) = (
        replica(&etcd, "a"),
        replica(&etcd, "b"),
        replica(&etcd, "c"),
    );
    let settled = |rs: &[&Replica], n: usize| {
        rs.iter()
            .all(|r| r.membership.joined() && r.membership.share().members.len() == n)
    };
    wait_for_async(Duration::from_secs(10), "three members", || {
        settled(&[&a, &b, &c], 3).then_some(())
    })
    .await;
    // Exactly one owner each, about a third each.
    let before = owners(&[&a, &b, &c], &all);
    assert!(before.iter().all(|o| o.len() == 1), "{before:?}");
    for r in ["a", "b", "c"] {
        let n = before.iter().filter(|o| o[0] == r).count();
        assert!((60..140).contains(&n), "{r} owns {n}");
    }

    // c dies without leaving (its task aborted: no revoke): a and b take its targets within the TTL.
    let killed = Instant::now();
    c.task.abort();
    wait_for_async(Duration::from_secs(8), "c's lease to expire", || {
        settled(&[&a, &b], 2).then_some(())
    })
    .await;
    // The TTL, etcd's lease check (every 0.5 s), and slack for a loaded machine.
    let takeover = killed.elapsed();
    assert!(takeover <= Duration::from_secs(6), "{takeover:?}");
    let after = owners(&[&a, &b], &all);
    assert!(after.iter().all(|o| o.len() == 1), "{after:?}");
    // Only c's targets moved.
    let moved = before.iter().zip(&after).filter(|(x, y)| x != y).count();
    assert_eq!(moved, before.iter().filter(|o| o[0] == "c").count());

    // d joins: only its share moves, to it.
    let d = replica(&etcd, "d");
    wait_for_async(Duration::from_secs(10), "d to join", || {
        settled(&[&a, &b, &d], 3).then_some(())
    })
    .await;
    let joined = owners(&[&a, &b, &d], &all);
    assert!(joined.iter().all(|o| o.len() == 1), "{joined:?}");
    let moved: Vec<_> = after.iter().zip(&joined).filter(|(x, y)| x != y).collect();
    assert!(moved.iter().all(|(_, y)| y[0] == "d"));
    assert!(moved.len() <= 140, "{} of 300 moved", moved.len());
    println!(
        "takeover after a kill: {:.1} s (TTL 3 s); moved on a join: {} of 300",
        takeover.as_secs_f64(),
        moved.len()
    );

    // d stops: it revokes its lease, and the others see it go at once.
    let left = Instant::now();
    d.cancel.cancel();
    d.task.await.unwrap();
    // Well before its lease (3 s) would have expired.
    wait_for_async(Duration::from_secs(2), "d to leave", || {
        settled(&[&a, &b], 2).then_some(())
    })
    .await;
    assert!(
        left.elapsed() < Duration::from_secs(2),
        "{:?}",
        left.elapsed()
    );
    for r in [a, b] {
        r.cancel.cancel();
        r.task.await.unwrap();
    }
}
