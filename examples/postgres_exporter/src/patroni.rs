//! Patroni's view of its clusters against the servers' own: the store names a leader, each server knows
//! whether it is in recovery. Where they disagree for longer than a failover takes (a member the store
//! calls primary still in recovery, or one it calls a replica that is not), something is wrong that no
//! single target's metrics show: two primaries (a split brain) or a failover stuck halfway.
//! `hubble_patroni_role_disagreements{cluster}` counts such members; an alert on it being above 0 is the
//! point.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use hubble::discovery::patroni::PatroniMember;
use hubble::Registry;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::live::Live;

/// Servers asked at once.
const ASKED_AT_ONCE: usize = 16;

/// The store's members as last read.
pub type Members = Arc<dyn Fn() -> Vec<PatroniMember> + Send + Sync>;

/// Compares the store's roles with the servers' every `interval`.
pub struct RoleCheck {
    members: Members,
    live: Arc<Live>,
    /// How long a disagreement lasts before it counts: longer than a failover.
    grace: Duration,
    gauge: prometheus::IntGaugeVec,
    registry: Registry,
}

/// Whether a member's store role and its server's recovery state agree.
fn agrees(role: &str, in_recovery: bool) -> bool {
    match role {
        "primary" => !in_recovery,
        // A standby cluster's leader replicates from elsewhere.
        _ => in_recovery,
    }
}

impl RoleCheck {
    /// A check of the Patroni `members` (etcd's or Consul's) through `live`'s connections, exported in
    /// `registry`.
    pub fn new(members: Members, live: Arc<Live>, grace: Duration, registry: &Registry) -> Self {
        let gauge = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "hubble_patroni_role_disagreements",
                "Members whose role in Patroni's store and their server's own (pg_is_in_recovery) have \
                 disagreed for longer than a failover takes: above 0 is a split brain or a stuck failover.",
            ),
            &["cluster"],
        )
        .expect("valid metric");
        if let Err(error) = registry.prometheus().register(Box::new(gauge.clone())) {
            tracing::warn!(%error, "Patroni role metric not registered");
        }
        RoleCheck {
            members,
            live,
            grace,
            gauge,
            registry: registry.clone(),
        }
    }

    /// Every member's recovery state, asked a few at a time (each within `timeout`): a fleet of unreachable
    /// members costs one timeout per batch, not one per member.
    async fn recovery_states(
        &self,
        members: &[PatroniMember],
        timeout: Duration,
    ) -> Vec<Option<bool>> {
        let mut states = vec![None; members.len()];
        let mut asking = tokio::task::JoinSet::new();
        let mut next = members.iter().enumerate();
        loop {
            while asking.len() < ASKED_AT_ONCE {
                let Some((i, m)) = next.next() else { break };
                let connections = self.live.connections_of(Some(&m.host_port())).ok();
                asking.spawn(async move {
                    let connections = connections?;
                    // In the member's batch, over its own connection: no second backend for it.
                    let answer = tokio::time::timeout(
                        timeout,
                        connections.fetch_text("SELECT pg_is_in_recovery()"),
                    )
                    .await
                    .ok()?
                    .ok()?;
                    let row = answer.first_row().ok()?;
                    Some((i, hubble::text_rows::cell::<bool>(&row, 0).ok()?))
                });
            }
            match asking.join_next().await {
                Some(Ok(Some((i, state)))) => states[i] = Some(state),
                Some(_) => {}
                None => return states,
            }
        }
    }

    /// Runs until `cancel`, every `interval`, each server asked within `timeout`.
    pub async fn run(self, interval: Duration, timeout: Duration, cancel: CancellationToken) {
        let mut since: HashMap<(String, String), Instant> = HashMap::new();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let members = (self.members)();
            let now = Instant::now();
            let mut counts: BTreeMap<String, i64> =
                members.iter().map(|m| (m.cluster.clone(), 0)).collect();
            let states = tokio::select! {
                () = cancel.cancelled() => return,
                states = self.recovery_states(&members, timeout) => states,
            };
            let mut seen = Vec::with_capacity(members.len());
            for (m, state) in members.iter().zip(states) {
                let key = (m.cluster.clone(), m.member.clone());
                match state {
                    Some(in_recovery) if !agrees(m.role, in_recovery) => {
                        let first = *since.entry(key.clone()).or_insert(now);
                        if now.duration_since(first) >= self.grace {
                            *counts.entry(m.cluster.clone()).or_default() += 1;
                        }
                        if first == now {
                            tracing::info!(cluster = %m.cluster, member = %m.member, store = m.role, in_recovery, "Patroni's store and the server disagree on its role");
                        }
                    }
                    // Agreeing, or unreachable (pg_up says so): no disagreement.
                    _ => {
                        since.remove(&key);
                    }
                }
                seen.push(key);
            }
            since.retain(|k, _| seen.contains(k));
            self.gauge.reset();
            for (cluster, n) in counts {
                self.gauge.with_label_values(&[&cluster]).set(n);
            }
            self.registry.prometheus_changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::agrees;

    #[test]
    fn roles_and_recovery() {
        assert!(agrees("primary", false));
        assert!(!agrees("primary", true));
        assert!(agrees("replica", true));
        assert!(!agrees("replica", false));
        assert!(agrees("standby_leader", true));
    }
}
