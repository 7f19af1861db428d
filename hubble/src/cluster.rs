//! Exporter replicas that share discovered targets through etcd, and take over from each other.
//!
//! Each replica holds a membership key, `/hubble/clusters/<cluster>/members/<member>`, attached to a lease
//! it renews every third of the lease's TTL. Every replica watches the members and keeps the targets that
//! rendezvous hashing of their [identity](crate::discovery::ServiceAtomic::identity) over the live members
//! gives it ([`Share::owns`]): all replicas agree without talking to each other, a joining replica takes
//! about `1/n` of the targets from the others, and a leaving one's targets spread over the rest.
//!
//! A replica that stops revokes its lease: the others take its targets at once. One that dies stops
//! renewing: etcd deletes its key when the lease expires, within the TTL. While etcd cannot be reached, a
//! replica keeps the members it last saw (and so its share): an etcd outage does not move targets, and a
//! replica cut off from etcd keeps exporting its share rather than leave it unexported.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::discovery::etcd::{EtcdClient, PrefixMirror};
use crate::discovery::ServiceAtomic;
use crate::registry::Registry;

/// Who this replica is and where the members meet.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster's name: replicas of one name share the targets.
    pub name: String,
    /// This replica's name, unique among the members (a host name and port, say).
    pub member: String,
    /// The lease's TTL: how long a dead replica's targets wait for another.
    pub lease_ttl: Duration,
}

impl ClusterConfig {
    /// The key prefix of the cluster's members.
    pub fn members_prefix(&self) -> String {
        format!("/hubble/clusters/{}/members/", self.name)
    }
}

/// This replica's membership: joined, renewed and watched by [`run`](Self::run).
#[derive(Debug)]
pub struct Membership {
    client: EtcdClient,
    config: ClusterConfig,
    mirror: PrefixMirror,
    changed: Arc<Notify>,
    lease: AtomicI64,
    metrics: Mutex<Option<ClusterMetrics>>,
}

/// One replica's view: the live members and itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// Live members, sorted, this one among them.
    pub members: Vec<String>,
    /// This replica.
    pub me: String,
}

impl Share {
    /// The member that owns `target`.
    pub fn owner(&self, target: &ServiceAtomic) -> &str {
        let identity = target.identity();
        self.members
            .iter()
            .max_by_key(|m| crate::dispatcher::rendezvous_score(&identity, m))
            .map_or(self.me.as_str(), String::as_str)
    }

    /// Whether this replica owns `target`.
    pub fn owns(&self, target: &ServiceAtomic) -> bool {
        self.owner(target) == self.me
    }
}

impl Membership {
    /// A membership of `config.member` in `config.name` through `client`; [`run`](Self::run) joins.
    pub fn new(client: EtcdClient, config: ClusterConfig) -> Arc<Self> {
        let changed = Arc::new(Notify::new());
        Arc::new(Membership {
            mirror: PrefixMirror::new(
                client.clone(),
                config.members_prefix().into_bytes(),
                changed.clone(),
            ),
            client,
            config,
            changed,
            lease: AtomicI64::new(0),
            metrics: Mutex::new(None),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Notified when the members change.
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// The members as last read (kept through an etcd outage), and whether this replica is among them.
    fn seen(&self) -> (Vec<String>, bool) {
        let prefix = self.config.members_prefix();
        let members: Vec<String> = self
            .mirror
            .last_known()
            .keys()
            .filter_map(|k| std::str::from_utf8(k).ok()?.strip_prefix(&prefix))
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        let joined = members.contains(&self.config.member);
        (members, joined)
    }

    /// Whether this replica's key is in etcd (as last seen).
    pub fn joined(&self) -> bool {
        self.seen().1
    }

    /// This replica's share now: the members as last read (this one added while it has not joined yet).
    pub fn share(&self) -> Share {
        let (mut live, joined) = self.seen();
        if !joined {
            live.push(self.config.member.clone());
        }
        live.sort();
        if let Some(m) = &*self.metrics.lock().unwrap_or_else(|e| e.into_inner()) {
            m.members.set(live.len() as i64);
            m.joined.set(i64::from(joined));
        }
        Share {
            members: live,
            me: self.config.member.clone(),
        }
    }

    /// Exports `hubble_cluster_members` and `hubble_cluster_joined` in `registry`.
    pub fn export_metrics(&self, registry: &Registry) {
        let metrics = ClusterMetrics::new(registry, &self.config.name);
        *self.metrics.lock().unwrap_or_else(|e| e.into_inner()) = Some(metrics);
        self.share();
    }

    /// Joins, renews the lease and follows the members until `cancel`; then leaves (revokes the lease, so
    /// the others take this replica's targets at once).
    pub async fn run(&self, cancel: CancellationToken) {
        tokio::join!(self.mirror.run(cancel.clone()), self.keep_joined(&cancel));
        let lease = self.lease.swap(0, Ordering::Relaxed);
        if lease != 0 {
            match self.client.lease_revoke(lease).await {
                Ok(()) => {
                    tracing::info!(cluster = %self.config.name, member = %self.config.member, "left the cluster")
                }
                Err(e) => {
                    tracing::warn!(cluster = %self.config.name, error = %e, "leaving the cluster: the lease will expire instead")
                }
            }
        }
    }

    /// Holds the membership key: a lease, the key on it, renewals every third of the TTL; a new lease
    /// when the old one is gone (expired while etcd was away).
    async fn keep_joined(&self, cancel: &CancellationToken) {
        let ttl = self.config.lease_ttl.max(Duration::from_secs(2));
        let renew = ttl / 3;
        let key = format!("{}{}", self.config.members_prefix(), self.config.member);
        let mut last_error: Option<String> = None;
        loop {
            let step = async {
                let mut lease = self.lease.load(Ordering::Relaxed);
                if lease == 0 {
                    lease = self.client.lease_grant(ttl).await?;
                    self.client
                        .put(key.as_bytes(), self.config.member.as_bytes(), lease)
                        .await?;
                    self.lease.store(lease, Ordering::Relaxed);
                    tracing::info!(cluster = %self.config.name, member = %self.config.member, ttl = ?ttl, "joined the cluster");
                } else if self.client.lease_keep_alive(lease).await? <= 0 {
                    // Expired: its key is gone; join again.
                    self.lease.store(0, Ordering::Relaxed);
                    return Err(crate::discovery::etcd::EtcdError::Refused {
                        path: "/v3/lease/keepalive",
                        message: "the lease expired".into(),
                    });
                }
                Ok(())
            };
            let wait = match step.await {
                Ok(()) => {
                    last_error = None;
                    renew
                }
                Err(e) => {
                    let message = e.to_string();
                    if last_error.as_deref() != Some(&message) {
                        tracing::warn!(cluster = %self.config.name, error = %message, "cluster membership not renewed");
                        last_error = Some(message);
                    }
                    Duration::from_secs(1).min(renew)
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

struct ClusterMetrics {
    members: prometheus::IntGauge,
    joined: prometheus::IntGauge,
}

impl std::fmt::Debug for ClusterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMetrics").finish_non_exhaustive()
    }
}

impl ClusterMetrics {
    fn new(registry: &Registry, cluster: &str) -> Self {
        let gauge = |name: &str, help: &str| {
            prometheus::IntGauge::with_opts(
                prometheus::Opts::new(name, help).const_label("cluster", cluster),
            )
            .expect("valid metric")
        };
        let members = gauge(
            "hubble_cluster_members",
            "Exporter replicas sharing the targets, as this one last saw them.",
        );
        let joined = gauge(
            "hubble_cluster_joined",
            "Whether this replica's membership key is in etcd (1) or not (0).",
        );
        for g in [&members, &joined] {
            if let Err(error) = registry.prometheus().register(Box::new(g.clone())) {
                tracing::warn!(%error, "cluster metrics not registered");
            }
        }
        registry.prometheus_changed();
        ClusterMetrics { members, joined }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Service;
    use std::collections::BTreeMap;

    fn targets(n: usize) -> Vec<ServiceAtomic> {
        (0..n)
            .map(|i| {
                Service {
                    name: format!("db{i}"),
                    addresses: [(format!("node{i}"), format!("10.0.{}.{}", i / 250, i % 250))]
                        .into(),
                    port: 5432,
                    ..Service::default()
                }
                .make_atomic(&BTreeMap::new())
                .remove(0)
            })
            .collect()
    }

    fn share(members: &[&str], me: &str) -> Share {
        Share {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            me: me.to_owned(),
        }
    }

    #[test]
    fn each_target_has_one_owner_and_a_join_moves_about_its_share() {
        let all = targets(900);
        let three = ["a", "b", "c"];
        let owners: Vec<String> = all
            .iter()
            .map(|t| share(&three, "a").owner(t).to_owned())
            .collect();
        for m in three {
            // Every replica computes the same owner; each owns about a third.
            let mine = all.iter().filter(|t| share(&three, m).owns(t)).count();
            assert!((200..400).contains(&mine), "{m} owns {mine}");
        }
        let four = ["a", "b", "c", "d"];
        let moved = all
            .iter()
            .zip(&owners)
            .filter(|(t, o)| share(&four, "a").owner(t) != o.as_str())
            .count();
        // Only the newcomer's share moves, all of it to the newcomer.
        assert!((150..300).contains(&moved), "{moved} moved");
        assert!(all
            .iter()
            .zip(&owners)
            .all(|(t, o)| share(&four, "a").owner(t) == o.as_str() || share(&four, "d").owns(t)));
    }
}
