//! Conditions on collectors: which targets a collector applies to, by version range and role.
//!
//! A collector declares a [`Condition`] (the derive's `min_version`, `max_version` and `role` attributes, or
//! [`CollectorOptions::condition`](crate::CollectorOptions) in code). The exporter learns its target's
//! [`TargetFacts`] from a [`FactsProbe`] it is given ([`BaseExporterBuilder::facts`]), on the first run that
//! needs them and again when they are older than half an interval, so an upgrade or a failover is followed
//! without a restart. A run whose condition does not hold is not made: the collector shows as not applicable,
//! with the reason, instead of up with nothing or failing. What a version number means and how the role is
//! found are the exporter's (a database's version number, a broker's protocol level, ...).
//!
//! [`BaseExporterBuilder::facts`]: crate::BaseExporterBuilder::facts
//!
//! ```
//! use hubble::{BaseExporter, CollectError, FactsProbe, Role, TargetFacts};
//!
//! struct Probe;
//! impl FactsProbe for Probe {
//!     async fn probe(&self) -> Result<TargetFacts, CollectError> {
//!         Ok(TargetFacts { version: Some(150_000), role: Some(Role::Primary) })
//!     }
//! }
//! let exporter = BaseExporter::builder("db").facts(Probe).build().unwrap();
//! # drop(exporter);
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::CollectError;

/// A target's role, for collectors that apply to one only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts writes (a primary, a leader).
    Primary,
    /// Follows another (a standby, a replica).
    Replica,
}

impl Role {
    /// `primary` or `replica`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

/// What a probe learnt of a target. `None`: not known (a condition on it is then not checked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// The target's version, as the exporter numbers versions.
    pub version: Option<u64>,
    /// Its role.
    pub role: Option<Role>,
}

/// Which targets a collector applies to: versions from `min_version` up to, not including, `max_version`,
/// and `role`. Every part is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Condition {
    /// First version it applies to.
    pub min_version: Option<u64>,
    /// First version it no longer applies to.
    pub max_version: Option<u64>,
    /// The role it applies to.
    pub role: Option<Role>,
}

impl Condition {
    /// Why the condition does not hold for `facts`, or `None` when it holds (or what it needs is not known).
    pub fn unmet(
        &self,
        facts: &TargetFacts,
        version_name: &dyn Fn(u64) -> String,
    ) -> Option<String> {
        if let Some(version) = facts.version {
            let low = self.min_version.is_some_and(|min| version < min);
            let high = self.max_version.is_some_and(|max| version >= max);
            if low || high {
                let range = match (self.min_version, self.max_version) {
                    (Some(min), Some(max)) => format!(
                        "{} up to {} (excluded)",
                        version_name(min),
                        version_name(max)
                    ),
                    (Some(min), None) => format!("{} or later", version_name(min)),
                    (None, Some(max)) => format!("before {}", version_name(max)),
                    (None, None) => unreachable!("out of an unbounded range"),
                };
                return Some(format!(
                    "needs {range}; the target is {}",
                    version_name(version)
                ));
            }
        }
        match (self.role, facts.role) {
            (Some(want), Some(is)) if want != is => Some(format!(
                "applies to a {}; the target is a {}",
                want.as_str(),
                is.as_str()
            )),
            _ => None,
        }
    }
}

/// How an exporter learns its target's [`TargetFacts`]: a query of its version and role, typically.
pub trait FactsProbe: Send + Sync + 'static {
    /// Asks the target.
    fn probe(&self) -> impl Future<Output = Result<TargetFacts, CollectError>> + Send;

    /// A version as people write it, for the reasons shown (`150018` → `PostgreSQL 15.18`, say); `version
    /// 150018` by default.
    fn version_name(&self, version: u64) -> String {
        format!("version {version}")
    }
}

type Probed<'a> = Pin<Box<dyn Future<Output = Result<TargetFacts, CollectError>> + Send + 'a>>;

trait DynProbe: Send + Sync {
    fn probe(&self) -> Probed<'_>;
    fn version_name(&self, version: u64) -> String;
}

impl<P: FactsProbe> DynProbe for P {
    fn probe(&self) -> Probed<'_> {
        Box::pin(FactsProbe::probe(self))
    }
    fn version_name(&self, version: u64) -> String {
        FactsProbe::version_name(self, version)
    }
}

/// An exporter's probe and what it last learnt.
pub(crate) struct Facts {
    probe: Box<dyn DynProbe>,
    /// Probed again when older than this.
    max_age: Duration,
    last: std::sync::Mutex<Option<(TargetFacts, Instant)>>,
    /// One probe at a time.
    probing: tokio::sync::Mutex<()>,
    /// A probe in the background is under way.
    refreshing: AtomicBool,
}

impl Facts {
    pub(crate) fn new(probe: impl FactsProbe, max_age: Duration) -> Self {
        Facts {
            probe: Box::new(probe),
            max_age,
            last: std::sync::Mutex::new(None),
            probing: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }

    fn known(&self) -> Option<(TargetFacts, Instant)> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The facts. The first time they are probed and the collectors wait; once known, stale facts are
    /// answered at once and probed again in the background, so the collectors of a tick never wait for a
    /// probe (and where the target's statements are batched, the probe goes out with theirs). A change is
    /// thus followed from the tick after the one that found it facts stale: within one and a half intervals.
    /// A failed probe keeps what was known before (`None` at first): the collectors then run and fail as the
    /// target does.
    async fn current(self: &Arc<Self>, collector: &str) -> Option<TargetFacts> {
        match self.known() {
            Some((facts, at)) if at.elapsed() < self.max_age => Some(facts),
            Some((facts, _)) => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let this = Arc::clone(self);
                    let collector = collector.to_owned();
                    // Bounded by the probe's own query timeout; it holds only this exporter's facts.
                    tokio::spawn(async move {
                        this.probe_now(&collector).await;
                        this.refreshing.store(false, Ordering::Release);
                    });
                }
                Some(facts)
            }
            None => self.probe_now(collector).await,
        }
    }

    /// Probes, unless another caller did meanwhile.
    async fn probe_now(&self, collector: &str) -> Option<TargetFacts> {
        let _one = self.probing.lock().await;
        let before = self.known();
        if let Some((facts, at)) = before {
            if at.elapsed() < self.max_age {
                return Some(facts);
            }
        }
        match self.probe.probe().await {
            Ok(facts) => {
                let before = before.map(|(f, _)| f);
                if before.is_some_and(|b| b != facts) {
                    tracing::info!(collector, before = ?before, now = ?facts, "target facts changed");
                }
                *self.last.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((facts, Instant::now()));
                Some(facts)
            }
            Err(error) => {
                tracing::debug!(collector, %error, "facts probe failed");
                before.map(|(f, _)| f)
            }
        }
    }

    /// Why `condition` does not hold for the target now, if it does not; `collector` is the one asking (for
    /// the log).
    pub(crate) async fn unmet(
        self: &Arc<Self>,
        collector: &str,
        condition: &Condition,
    ) -> Option<String> {
        let facts = self.current(collector).await?;
        condition.unmet(&facts, &|v| self.probe.version_name(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_say_why() {
        let name = |v: u64| format!("v{}.{}", v / 10_000, v % 10_000);
        let pg15 = TargetFacts {
            version: Some(150_018),
            role: Some(Role::Primary),
        };
        let since17 = Condition {
            min_version: Some(170_000),
            ..Condition::default()
        };
        assert_eq!(
            since17.unmet(&pg15, &name).as_deref(),
            Some("needs v17.0 or later; the target is v15.18")
        );
        let range = Condition {
            min_version: Some(130_000),
            max_version: Some(150_000),
            ..Condition::default()
        };
        assert!(range
            .unmet(&pg15, &name)
            .unwrap()
            .contains("needs v13.0 up to v15.0 (excluded)"));
        let replica = Condition {
            role: Some(Role::Replica),
            ..Condition::default()
        };
        assert_eq!(
            replica.unmet(&pg15, &name).as_deref(),
            Some("applies to a replica; the target is a primary")
        );
        // Unknown facts are not held against a collector.
        assert_eq!(since17.unmet(&TargetFacts::default(), &name), None);
        assert_eq!(Condition::default().unmet(&pg15, &name), None);
    }

    struct Counting(std::sync::Arc<std::sync::atomic::AtomicU32>);
    impl FactsProbe for Counting {
        async fn probe(&self) -> Result<TargetFacts, CollectError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(TargetFacts {
                version: None,
                role: Some(if n == 0 { Role::Primary } else { Role::Replica }),
            })
        }
    }

    // Paused time: staleness is what is tested, so the clock is the test's, not the machine's.
    #[tokio::test(start_paused = true)]
    async fn facts_are_probed_again_when_stale() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let facts = Arc::new(Facts::new(
            Counting(calls.clone()),
            Duration::from_millis(50),
        ));
        let replica = Condition {
            role: Some(Role::Replica),
            ..Condition::default()
        };
        assert!(facts.unmet("x", &replica).await.is_some());
        assert!(facts.unmet("x", &replica).await.is_some(), "cached");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Stale: answered at once with what was known, probed again in the background (once).
        assert!(
            facts.unmet("x", &replica).await.is_some(),
            "the stale facts"
        );
        assert!(
            facts.unmet("x", &replica).await.is_some(),
            "the stale facts"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(
            facts.unmet("x", &replica).await,
            None,
            "probed again: a replica now"
        );
    }
}
