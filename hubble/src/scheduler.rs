//! The loop that runs one collector on its interval.
//!
//! One task per collector: a run is awaited before the next tick is taken, so runs of one collector never
//! overlap and a slow run skips ticks instead of piling up. Each run has a timeout; the exporter's
//! cancellation token ends the loop, also in the middle of a run.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::cache::{CollectorCache, Transition};
use crate::collector::{CollectError, DynCollector};

/// How one collector is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
    /// Upper bound of the random delay before the first run.
    pub max_jitter: Duration,
}

/// Jitter bound for an interval: a tenth of it, at most 5 s, so many targets started together spread out
/// without delaying the first collection much.
pub(crate) fn default_jitter(interval: Duration) -> Duration {
    (interval / 10).min(Duration::from_secs(5))
}

fn random_below(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    // RandomState is seeded per instance from the OS: enough randomness for a jitter, no extra dependency.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(r % nanos)
}

pub(crate) async fn run_collector(
    exporter: Arc<str>,
    collector: Arc<dyn DynCollector>,
    cache: Arc<CollectorCache>,
    schedule: Schedule,
    cancel: CancellationToken,
) {
    let start = Instant::now() + random_below(schedule.max_jitter);
    let mut ticker = tokio::time::interval_at(start, schedule.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let began = Instant::now();
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            r = tokio::time::timeout(schedule.timeout, collector.collect()) => match r {
                Ok(r) => r,
                Err(_) => Err(CollectError::Timeout(schedule.timeout)),
            },
        };
        let finished = Instant::now();
        let (transition, health) = cache.record(result, finished - began, finished.into_std());
        match transition {
            Transition::Unchanged => {}
            Transition::Failing => tracing::warn!(
                exporter = %exporter,
                collector = cache.name(),
                error = health.last_error.as_deref().unwrap_or_default(),
                "collector failing"
            ),
            Transition::Recovered => tracing::info!(
                exporter = %exporter,
                collector = cache.name(),
                failed_runs = health.errors_total,
                "collector recovered"
            ),
        }
    }
}
