//! Fleets on a real etcd: a Patroni cluster (Debian's patroni, PostgreSQL 15, a primary and two replicas)
//! discovered through `--discovery.etcd.patroni-namespace` and followed through switchovers, a failover, a
//! member's removal and an etcd outage; and exporter replicas sharing 300 targets through `--cluster.*`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hubble_test_support::etcd::Etcd;
use hubble_test_support::patroni::Patroni;
use hubble_test_support::{get, samples, scrape, spawn_exporter, wait_showing, KillOnDrop};

/// `(member, role)` of every `pg_up 1` series of the cluster, sorted.
fn roles(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = samples(body)
        .into_iter()
        .filter(|s| s.name == "pg_up" && s.value == 1.0)
        .filter_map(|s| {
            Some((
                s.labels.get("member")?.clone(),
                s.labels.get("role")?.clone(),
            ))
        })
        .collect();
    out.sort();
    out
}

fn primary(body: &str) -> Option<String> {
    let primaries: Vec<String> = roles(body)
        .into_iter()
        .filter(|(_, r)| r == "primary")
        .map(|(m, _)| m)
        .collect();
    (primaries.len() == 1).then(|| primaries[0].clone())
}

/// The member whose `pg_up` series carries `role="primary"`, when exactly one does (up or not).
fn labelled_primary(body: &str) -> Option<String> {
    let primaries: Vec<String> = samples(body)
        .into_iter()
        .filter(|s| s.name == "pg_up")
        .filter(|s| s.labels.get("role").map(String::as_str) == Some("primary"))
        .filter_map(|s| s.labels.get("member").cloned())
        .collect();
    (primaries.len() == 1).then(|| primaries[0].clone())
}

fn status(addr: SocketAddr, path: &str) -> u16 {
    get(addr, path, &[]).map(|r| r.status).unwrap_or(0)
}

/// When the leader key last changed, as `etcdctl watch` reports it.
struct LeaderWatch {
    changes: Arc<Mutex<Vec<(Instant, String)>>>,
    _process: KillOnDrop,
}

impl LeaderWatch {
    fn start(etcd: &Etcd, key: &str) -> LeaderWatch {
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &etcd.url(), "watch", key])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let seen = changes.clone();
        std::thread::spawn(move || {
            // PUT, the key, the value: one event in three lines.
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            while let Some(op) = lines.next() {
                let (Some(_key), Some(value)) = (lines.next(), lines.next()) else {
                    break;
                };
                if op == "PUT" {
                    seen.lock().unwrap().push((Instant::now(), value));
                }
            }
        });
        LeaderWatch {
            changes,
            _process: KillOnDrop::new(child),
        }
    }

    /// When the key was last set to `leader`.
    fn set_to(&self, leader: &str) -> Option<Instant> {
        self.changes
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, v)| v == leader)
            .map(|(t, _)| *t)
    }
}

/// The two fleet tests each run several servers or exporters: one at a time, so that neither's timings are
/// the other's load.
static FLEET: Mutex<()> = Mutex::new(());

#[test]
fn patroni_members_are_discovered_and_followed_through_failover() {
    let _one_at_a_time = FLEET.lock().unwrap_or_else(|e| e.into_inner());
    let mut etcd = Etcd::start();
    let mut cluster = Patroni::start(&etcd, "batman", 3);
    let (_exporter, addr) = spawn_exporter(env!("CARGO_BIN_EXE_postgres_exporter"), |c| {
        c.args(["--discovery.etcd.endpoints", &etcd.url()])
            .args(["--discovery.etcd.patroni-namespace", "/service/"])
            .args(["--target.user", "postgres"])
            .args(["--target.sslmode", "disable"])
            // Only etcd's watch may move the targets quickly: the interval is left long.
            .args(["--discovery.interval", "5m"])
            .args(["--discovery.etcd.patroni-grace", "2s"]);
    });
    let members: Vec<String> = cluster.members.iter().map(|m| m.name.clone()).collect();
    let leader = cluster.leader().unwrap();
    let body = wait_showing(Duration::from_secs(60), "three members exported", || {
        let body = scrape(addr);
        if roles(&body).len() == 3 && primary(&body).as_deref() == Some(leader.as_str()) {
            Ok(body)
        } else {
            Err(body)
        }
    });
    // Labelled by cluster and member, and the server agrees with the store.
    for m in &cluster.members {
        let labels = [("cluster", "batman"), ("member", m.name.as_str())];
        let is_replica = hubble_test_support::value(&body, "pg_replication_is_replica", &labels);
        assert_eq!(
            is_replica,
            Some(if m.name == leader { 0.0 } else { 1.0 }),
            "{body}"
        );
    }
    let disagreements = |body: &str| {
        hubble_test_support::value(
            body,
            "hubble_patroni_role_disagreements",
            &[("cluster", "batman")],
        )
    };
    wait_showing(Duration::from_secs(10), "no disagreement", || {
        let body = scrape(addr);
        match disagreements(&body) {
            Some(0.0) => Ok(()),
            _ => Err(body),
        }
    });
    let target = |name: &str| {
        cluster
            .members
            .iter()
            .find(|m| m.name == name)
            .unwrap()
            .host_port()
    };
    assert_eq!(
        status(addr, &format!("/primary?target={}", target(&leader))),
        200
    );
    assert_eq!(
        status(addr, &format!("/replica?target={}", target(&leader))),
        404
    );

    // Switchovers: the role label and /primary follow the leader key.
    let watch = LeaderWatch::start(&etcd, "/service/batman/leader");
    let rounds: usize = std::env::var("PATRONI_SWITCHOVERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let mut delays = Vec::new();
    for round in 0..rounds {
        let current = cluster.leader().unwrap();
        let candidate = members
            .iter()
            .filter(|m| **m != current)
            .nth(round % 2)
            .unwrap()
            .clone();
        // patronictl returns a while after the leader key moved: the exporter is watched meanwhile. The
        // label, whatever the value: the old primary restarts as a replica meanwhile, down a moment.
        let seen = std::thread::scope(|scope| {
            let switching = scope.spawn(|| cluster.switchover(&candidate));
            let seen = wait_showing(Duration::from_secs(30), "the role label to follow", || {
                let body = scrape(addr);
                if labelled_primary(&body).as_deref() == Some(candidate.as_str()) {
                    Ok(Instant::now())
                } else {
                    Err(body)
                }
            });
            switching.join().unwrap();
            seen
        });
        let changed = watch.set_to(&candidate).expect("the leader key changed");
        delays.push(seen.saturating_duration_since(changed));
        wait_showing(Duration::from_secs(60), "every member up again", || {
            let body = scrape(addr);
            if primary(&body).as_deref() == Some(candidate.as_str()) && roles(&body).len() == 3 {
                Ok(())
            } else {
                Err(body)
            }
        });
        wait_showing(
            Duration::from_secs(30),
            "/primary to follow",
            || match status(addr, &format!("/primary?target={}", target(&candidate))) {
                200 => Ok(()),
                s => Err(format!("HTTP {s}")),
            },
        );
    }
    delays.sort();
    println!(
        "leader key change to role label, {} switchovers: median {:.0} ms, worst {:.0} ms",
        delays.len(),
        delays[delays.len() / 2].as_secs_f64() * 1e3,
        delays[delays.len() - 1].as_secs_f64() * 1e3,
    );
    assert!(
        delays.iter().all(|d| *d < Duration::from_secs(3)),
        "{delays:?}"
    );

    // Failover: the leader's host dies; Patroni elects another once the leader key expires, and the
    // label follows; the dead member's key expires too, and its target goes.
    let dead = cluster.leader().unwrap();
    let dead_index = members.iter().position(|m| *m == dead).unwrap();
    cluster.kill_member(dead_index);
    let body = wait_showing(
        Duration::from_secs(90),
        "a new primary after failover",
        || {
            let body = scrape(addr);
            match primary(&body) {
                Some(p) if p != dead => Ok(body),
                _ => Err(format!("{body}\n{}", cluster.logs())),
            }
        },
    );
    let survivor = primary(&body).unwrap();
    assert_ne!(survivor, dead);
    wait_showing(
        Duration::from_secs(60),
        "the dead member's target to go",
        || {
            let body = scrape(addr);
            let gone = !samples(&body).iter().any(|s| {
                s.name == "pg_up"
                    && s.labels.get("member").map(String::as_str) == Some(dead.as_str())
            });
            if gone {
                Ok(())
            } else {
                Err(body)
            }
        },
    );

    // etcd stops: the targets are kept and the outage counted; it comes back: the same set.
    // Once the exporter has seen the outage (a failed discovery counted), not after a guessed pause.
    let errors = |body: &str| {
        hubble_test_support::value(
            body,
            "hubble_discovery_errors_total",
            &[("backend", "etcd")],
        )
        .unwrap_or(0.0)
    };
    let before = errors(&scrape(addr));
    etcd.stop();
    let body = wait_showing(Duration::from_secs(30), "the outage counted", || {
        let body = scrape(addr);
        if errors(&body) > before {
            Ok(body)
        } else {
            Err(body)
        }
    });
    let kept = samples(&body)
        .iter()
        .filter(|s| s.name == "pg_up" && s.labels.contains_key("member"))
        .count();
    assert_eq!(kept, 2, "{body}");
    etcd.start_again();
    let body = wait_showing(
        Duration::from_secs(60),
        "the same set after etcd returns",
        || {
            let body = scrape(addr);
            let members: Vec<String> = roles(&body).into_iter().map(|(m, _)| m).collect();
            if members.len() == 2 && !members.contains(&dead) && primary(&body).is_some() {
                Ok(body)
            } else {
                Err(format!("{body}\n{}", cluster.logs()))
            }
        },
    );
    assert!(
        hubble_test_support::value(
            &body,
            "hubble_discovery_errors_total",
            &[("backend", "etcd")]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{body}"
    );

    // A split brain, made by hand: Patroni frozen, the store names the replica leader while the primary
    // still runs as one. After the grace, both members disagree, and the exporter says so.
    // Settled again: the outage may have moved the leadership (a primary that cannot renew its key steps
    // down), so wait until the store's primary is the server's and nothing disagrees. A Patroni frozen in
    // the middle of restarting its server leaves that member no server to disagree with: the cluster runs
    // again and is frozen anew until both servers take connections (three tries, each bounded).
    let mut tries = 0;
    let body = loop {
        let body = wait_showing(
            Duration::from_secs(60),
            "store and servers to agree",
            || {
                let body = scrape(addr);
                let Some(p) = primary(&body) else {
                    return Err(body);
                };
                let is_replica = |m: &str| {
                    hubble_test_support::value(
                        &body,
                        "pg_replication_is_replica",
                        &[("member", m), ("cluster", "batman")],
                    )
                };
                let others_replicate = roles(&body)
                    .iter()
                    .filter(|(m, _)| *m != p)
                    .all(|(m, _)| is_replica(m) == Some(1.0));
                if is_replica(&p) == Some(0.0)
                    && others_replicate
                    && disagreements(&body) == Some(0.0)
                {
                    Ok(body)
                } else {
                    Err(body)
                }
            },
        );
        cluster.pause();
        if cluster.accepting(Duration::from_secs(10)) {
            break body;
        }
        tries += 1;
        assert!(
            tries < 3,
            "a member's server took no connections while Patroni was frozen, three times:\n{}",
            cluster.logs()
        );
        cluster.resume();
    };
    let primary_now = primary(&body).unwrap();
    let replica = members
        .iter()
        .find(|m| **m != primary_now && **m != dead)
        .unwrap()
        .clone();
    // Patroni's keys live on its lease, which a frozen Patroni no longer renews: written again without one.
    let listing = etcd.etcdctl(&["get", "--prefix", "/service/batman/members/"]);
    let lines: Vec<&str> = listing.lines().collect();
    for pair in lines.chunks(2) {
        if let [key, value] = pair {
            etcd.put(key, value);
        }
    }
    etcd.put("/service/batman/leader", &replica);
    let body = wait_showing(Duration::from_secs(30), "two disagreements", || {
        let body = scrape(addr);
        match disagreements(&body) {
            Some(2.0) => Ok(body),
            _ => Err(format!("{body}\n{}", cluster.logs())),
        }
    });
    assert_eq!(labelled_primary(&body).as_deref(), Some(replica.as_str()));
}

/// The `host` label of every `pg_up` series of a replica's scrape.
fn hosts(addr: SocketAddr) -> std::collections::BTreeSet<String> {
    samples(&scrape(addr))
        .into_iter()
        .filter(|s| s.name == "pg_up")
        .filter_map(|s| s.labels.get("host").cloned())
        .collect()
}

#[test]
fn replicas_share_the_targets_through_etcd_and_take_over() {
    let _one_at_a_time = FLEET.lock().unwrap_or_else(|e| e.into_inner());
    const TARGETS: usize = 300;
    let etcd = Etcd::start();
    // Every target at one refused port, each its own key (and so its own identity): pg_up 0, cheaply.
    let (_reserved, port) = hubble_test_support::refused_port();
    let keys: Vec<(String, String)> = (0..TARGETS)
        .map(|i| {
            (
                format!("/targets/db{i:03}"),
                format!("{{\"address\":\"127.0.0.1:{port}\"}}"),
            )
        })
        .collect();
    etcd.put_many(&keys);
    let replica = |name: &str| {
        spawn_exporter(env!("CARGO_BIN_EXE_postgres_exporter"), |c| {
            c.args(["--discovery.etcd.endpoints", &etcd.url()])
                .args(["--discovery.etcd.prefix", "/targets/"])
                .args(["--cluster.etcd.endpoints", &etcd.url()])
                .args(["--cluster.name", "fleet"])
                .args(["--cluster.member", name])
                .args(["--cluster.lease-ttl", "3s"])
                .args(["--target.sslmode", "disable"])
                // pg_up alone: who exports what is the question, not the standard groups.
                .arg("--disable-default-metrics");
        })
    };
    let mut replicas = vec![replica("r1"), replica("r2"), replica("r3")];
    let all: std::collections::BTreeSet<String> =
        (0..TARGETS).map(|i| format!("db{i:03}")).collect();
    // Settled: every target exported by exactly one replica.
    let exactly_once =
        |addrs: &[SocketAddr]| -> Result<Vec<std::collections::BTreeSet<String>>, String> {
            let shares: Vec<_> = addrs.iter().map(|a| hosts(*a)).collect();
            let total: usize = shares.iter().map(|s| s.len()).sum();
            let union: std::collections::BTreeSet<String> =
                shares.iter().flatten().cloned().collect();
            if total == TARGETS && union == all {
                Ok(shares)
            } else {
                Err(format!(
                    "shares {:?}, {} distinct",
                    shares.iter().map(|s| s.len()).collect::<Vec<_>>(),
                    union.len()
                ))
            }
        };
    let addrs: Vec<SocketAddr> = replicas.iter().map(|(_, a)| *a).collect();
    let before = wait_showing(Duration::from_secs(60), "each target exported once", || {
        exactly_once(&addrs)
    });
    for share in &before {
        assert!(
            (60..140).contains(&share.len()),
            "{:?}",
            before.iter().map(|s| s.len()).collect::<Vec<_>>()
        );
    }
    let page = get(addrs[0], "/", &[]).unwrap().text();
    assert!(
        page.contains("r1") && page.contains("r2") && page.contains("r3"),
        "{page}"
    );

    // r3 is killed: r1 and r2 take its targets once its lease expires (3 s).
    let killed = Instant::now();
    drop(replicas.pop());
    let survivors = &addrs[..2];
    wait_showing(Duration::from_secs(20), "r3's targets taken over", || {
        exactly_once(survivors)
    });
    let takeover = killed.elapsed();

    // r4 joins: it takes about a quarter, only from the others.
    let after: Vec<_> = survivors.iter().map(|a| hosts(*a)).collect();
    replicas.push(replica("r4"));
    let mut addrs4 = survivors.to_vec();
    addrs4.push(replicas[2].1);
    let joined = wait_showing(Duration::from_secs(30), "r4's share", || {
        let shares = exactly_once(&addrs4)?;
        if shares[2].is_empty() {
            Err("r4 has nothing yet".into())
        } else {
            Ok(shares)
        }
    });
    let moved = joined[2].len();
    let kept =
        after[0].intersection(&joined[0]).count() + after[1].intersection(&joined[1]).count();
    assert_eq!(kept + moved, TARGETS);
    assert!(moved <= TARGETS * 4 / 10, "{moved} of {TARGETS} moved");
    println!(
        "replicas: takeover after a kill {:.1} s (lease TTL 3 s), {moved} of {TARGETS} targets moved to a new replica",
        takeover.as_secs_f64()
    );
    assert!(takeover < Duration::from_secs(10), "{takeover:?}");
}

#[test]
fn fleet_flags_that_cannot_work_are_one_line_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--discovery.etcd.endpoints", "http://127.0.0.1:2379"],
            "--discovery.etcd.prefix or --discovery.etcd.patroni-namespace",
        ),
        (
            &["--discovery.etcd.endpoints", "127.0.0.1:2379", "--discovery.etcd.prefix", "/t/"],
            "--discovery.etcd.endpoints: etcd endpoint \"127.0.0.1:2379\": expected http://host:port",
        ),
        (
            &["--discovery.consul.url", "http://127.0.0.1:8500"],
            "--discovery.consul.tag or --discovery.consul.patroni-namespace",
        ),
        (
            &[
                "--discovery.file",
                "/dev/null",
                "--shard",
                "0/2",
                "--cluster.etcd.endpoints",
                "http://127.0.0.1:2379",
            ],
            "--shard and --cluster.etcd.endpoints",
        ),
        (
            &[
                "--discovery.file",
                "/dev/null",
                "--cluster.etcd.endpoints",
                "http://127.0.0.1:2379",
                "--cluster.member",
                "a/b",
            ],
            "--cluster.member \"a/b\": expected a name without '/'",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_postgres_exporter"))
            .args(["--web.listen-address", "127.0.0.1:0"])
            .args(*args)
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].contains(want), "{args:?}: {err}");
    }
}
