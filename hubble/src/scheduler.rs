//! The loop that runs an exporter's collectors, each on its interval.
//!
//! One task per exporter drives all its collectors. A collector's run is awaited before its next tick is taken,
//! so runs of one collector never overlap and a slow run skips ticks instead of piling up. Runs of different
//! collectors proceed concurrently, polled by that one task. Each run has a timeout. The exporter's
//! cancellation token ends the loop, also in the middle of runs; a collector's own token (removal) ends its
//! run.
//!
//! The collectors of one exporter tick on one grid ([`Phase`]): those with the same interval wake together,
//! so a target's queries go out in one burst per interval: fewer thread wake-ups, so less CPU than spreading
//! them (`benches/collection_cpu.sh`). Targets are spread instead: each exporter's grid
//! sits at a random point of the interval, so a thousand targets started together do not query together
//! every interval, while their first runs still come within the short start jitter. One
//! task per exporter rather than per collector keeps a target's work on one worker thread between wake-ups, and
//! costs one task's memory per target instead of one per group.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cache::Transition;
use crate::collector::CollectError;
use crate::exporter::{CollectorEntry, ExporterShared};
use crate::metric::Metric;

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

/// An exporter's clock: when it started processing, and one random fraction, of the start jitter and of the
/// interval, for all its collectors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    origin: Instant,
    /// In [0, 1).
    fraction: f64,
}

impl Phase {
    pub(crate) fn now() -> Self {
        // RandomState is seeded per instance from the OS: enough randomness for a jitter, no extra dependency.
        let r = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Phase {
            origin: Instant::now(),
            // The top 53 bits as a fraction: exact in an f64, and below 1.
            #[allow(clippy::cast_precision_loss)]
            fraction: (r >> 11) as f64 / (1u64 << 53) as f64,
        }
    }

    /// When a collector with `schedule` first runs: within the start jitter, so data comes soon.
    fn first_run(&self, schedule: &Schedule) -> Instant {
        self.origin + schedule.max_jitter.mul_f64(self.fraction)
    }

    /// Where the grid of a collector with `schedule` starts: the same fraction of its whole interval, so that
    /// many targets do not query in one burst within the start jitter every interval, with all their result
    /// sets in flight at once (`docs/performance.md` §2).
    fn grid(&self, schedule: &Schedule) -> Instant {
        self.origin + schedule.interval.mul_f64(self.fraction)
    }
}

/// The first point of the grid `origin + k·interval` (k ≥ 0) at or after `after`.
fn next_tick(origin: Instant, interval: Duration, after: Instant) -> Instant {
    if after <= origin {
        return origin;
    }
    let step = interval.as_nanos().max(1);
    let k = (after - origin).as_nanos().div_ceil(step);
    // Beyond what an Instant holds (centuries away): `after` itself, rather than a panic.
    u64::try_from(k * step)
        .ok()
        .and_then(|n| origin.checked_add(Duration::from_nanos(n)))
        .unwrap_or(after)
}

/// One collector as the driver sees it.
struct Slot {
    entry: Arc<CollectorEntry>,
    /// Where its grid starts.
    grid: Instant,
    /// Its next run, when not running.
    next: Instant,
    running: bool,
}

/// A run that ended: `None` when it was cancelled (the collector was removed).
struct Ended {
    entry: Arc<CollectorEntry>,
    began: Instant,
    result: Option<Result<Vec<Metric>, CollectError>>,
}

type Run = Pin<Box<dyn Future<Output = Ended> + Send>>;

/// Runs every collector of `shared` until `cancel`. `changed` is notified when collectors are added or
/// removed.
pub(crate) async fn run_exporter(
    shared: Arc<ExporterShared>,
    phase: Phase,
    changed: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut slots = Vec::new();
    sync(&mut slots, &shared, &phase);
    let mut runs: FuturesUnordered<Run> = FuturesUnordered::new();
    loop {
        let wake = slots.iter().filter(|s| !s.running).map(|s| s.next).min();
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = changed.notified() => sync(&mut slots, &shared, &phase),
            Some(ended) = runs.next(), if !runs.is_empty() => finish(&shared.name, &mut slots, ended),
            () = sleep_until(wake) => {
                let now = Instant::now();
                for slot in slots.iter_mut().filter(|s| !s.running && s.next <= now) {
                    slot.running = true;
                    runs.push(start(slot.entry.clone()));
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Brings the slots in line with the exporter's collectors. Each first runs within the start jitter (one
/// added after the start runs at once), then joins the grid.
fn sync(slots: &mut Vec<Slot>, shared: &ExporterShared, phase: &Phase) {
    let entries = shared.entries();
    slots.retain(|s| entries.iter().any(|e| Arc::ptr_eq(e, &s.entry)));
    let now = Instant::now();
    for entry in entries {
        if !slots.iter().any(|s| Arc::ptr_eq(&s.entry, &entry)) {
            slots.push(Slot {
                grid: phase.grid(&entry.schedule),
                next: phase.first_run(&entry.schedule).max(now),
                entry,
                running: false,
            });
        }
    }
}

fn start(entry: Arc<CollectorEntry>) -> Run {
    Box::pin(async move {
        let began = Instant::now();
        let timeout = entry.schedule.timeout;
        // A panicking collector fails its run like any error: it must not stop the exporter's other
        // collectors, which share this task. Its state is only the collector's own, so observing it after
        // a panic is no worse than running it again.
        let run = AssertUnwindSafe(entry.collector.collect()).catch_unwind();
        let result = tokio::select! {
            biased;
            () = entry.cancel.cancelled() => None,
            r = tokio::time::timeout(timeout, run) => Some(match r {
                Err(_) => Err(CollectError::Timeout(timeout)),
                Ok(Err(_)) => Err(CollectError::Other("the collector panicked".into())),
                Ok(Ok(r)) => r,
            }),
        };
        Ended {
            entry,
            began,
            result,
        }
    })
}

/// Stores a run's result and takes the collector's next tick.
fn finish(exporter: &str, slots: &mut [Slot], ended: Ended) {
    let Ended {
        entry,
        began,
        result,
    } = ended;
    let Some(result) = result else { return };
    let finished = Instant::now();
    let schedule = &entry.schedule;
    if let Some(slot) = slots.iter_mut().find(|s| Arc::ptr_eq(&s.entry, &entry)) {
        slot.running = false;
        // The tick after this run's: at once if the run overran it (as tokio's `MissedTickBehavior::Skip`,
        // later missed ticks are not made up), and at least half an interval on when joining the grid.
        slot.next = next_tick(slot.grid, schedule.interval, began + schedule.interval / 2);
    }
    let cache = &entry.cache;
    let (transition, health) = cache.record(result, finished - began, finished.into_std());
    match transition {
        Transition::Unchanged => {}
        Transition::Failing => tracing::warn!(
            exporter,
            collector = cache.name(),
            error = health.last_error.as_deref().unwrap_or_default(),
            "collector failing"
        ),
        Transition::Recovered => tracing::info!(
            exporter,
            collector = cache.name(),
            failed_runs = health.errors_total,
            "collector recovered"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_grid_after_the_given_instant() {
        let origin = Instant::now();
        let s = Duration::from_secs(1);
        assert_eq!(next_tick(origin, s, origin - s), origin);
        assert_eq!(next_tick(origin, s, origin), origin);
        assert_eq!(
            next_tick(origin, s, origin + s),
            origin + s,
            "a tick due now is taken"
        );
        assert_eq!(next_tick(origin, s, origin + s / 2), origin + s);
        assert_eq!(next_tick(origin, s, origin + s * 3), origin + s * 3);
        assert_eq!(
            next_tick(origin, s, origin + s * 3 + s / 10),
            origin + s * 4
        );
        // A zero interval cannot divide by zero.
        assert!(next_tick(origin, Duration::ZERO, origin + s) >= origin + s);
    }

    #[test]
    fn one_phase_puts_equal_intervals_on_one_grid() {
        let phase = Phase::now();
        assert!((0.0..1.0).contains(&phase.fraction));
        let a = Schedule {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            max_jitter: default_jitter(Duration::from_secs(15)),
        };
        let b = Schedule {
            timeout: Duration::from_secs(1),
            ..a
        };
        assert_eq!(
            phase.grid(&a),
            phase.grid(&b),
            "the timeout does not move the grid"
        );
        assert!(phase.first_run(&a) - phase.origin <= a.max_jitter);
        assert!(phase.grid(&a) - phase.origin < a.interval);
    }

    #[test]
    fn exporters_started_together_tick_spread_over_the_interval() {
        let s = Schedule {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            max_jitter: default_jitter(Duration::from_secs(15)),
        };
        let origin = Instant::now();
        let offsets: Vec<Duration> = (0..1000)
            .map(|_| {
                let phase = Phase {
                    origin,
                    ..Phase::now()
                };
                assert!(phase.first_run(&s) - origin <= s.max_jitter);
                phase.grid(&s) - origin
            })
            .collect();
        // Each second of the interval holds some grid: a thousand draws all missing one second has odds of
        // (14/15)^1000, about 1e-30.
        for second in 0..15 {
            let (from, to) = (Duration::from_secs(second), Duration::from_secs(second + 1));
            assert!(
                offsets.iter().any(|o| (from..to).contains(o)),
                "no grid in second {second}"
            );
        }
    }
}
