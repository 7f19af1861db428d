//! The loop that runs an exporter's collectors, each on its interval.
//!
//! One task per exporter drives all its collectors. A collector's run is awaited before its next tick is taken,
//! so runs of one collector never overlap and a slow run skips ticks instead of piling up. Runs of different
//! collectors proceed concurrently, polled by that one task. Each run has a timeout. The exporter's
//! cancellation token ends the loop, also in the middle of runs; a collector's removal ([`Removal`]) ends its
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;
use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cache::{CollectorCache, Transition};
use crate::collector::{CollectError, DynCollector};
use crate::condition::Facts;
use crate::metric::Sample;

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
    /// How much of its interval the first runs spread over, beyond the start jitter: 0 alone, up to 1 in a
    /// crowd of exporters starting together.
    crowd: f64,
    /// First runs at once, without the jitter (a target taken over, not a new one).
    prompt: bool,
}

impl Phase {
    /// A phase starting now; `crowd` (0 to 1) is how much of the interval its first runs spread over (see
    /// [`BaseExporter::start_in_crowd`](crate::BaseExporter::start_in_crowd)); below 0, they come at once
    /// ([`BaseExporter::start_promptly`](crate::BaseExporter::start_promptly)).
    pub(crate) fn now(crowd: f64) -> Self {
        // RandomState is seeded per instance from the OS: enough randomness for a jitter, no extra dependency.
        let r = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Phase {
            origin: Instant::now(),
            // The top 53 bits as a fraction: exact in an f64, and below 1.
            #[allow(clippy::cast_precision_loss)]
            fraction: (r >> 11) as f64 / (1u64 << 53) as f64,
            crowd: crowd.clamp(0.0, 1.0),
            prompt: crowd < 0.0,
        }
    }

    /// When a collector with `schedule` first runs: within the start jitter, so data comes soon; in a crowd
    /// of exporters starting together, within as much of the interval as the crowd is large.
    fn first_run(&self, schedule: &Schedule) -> Instant {
        if self.prompt {
            return self.origin;
        }
        let spread = schedule
            .max_jitter
            .max(schedule.interval.mul_f64(self.crowd));
        self.origin + spread.mul_f64(self.fraction)
    }

    /// The timeout of a run: the schedule's, except that in a crowd a first run may take up to two intervals
    /// (from [`BaseExporter::CROWD`] exporters on; less in a smaller crowd): it may be waiting for the
    /// target's first connection, on a server that a thousand new targets connect to and ask at once, and
    /// that is no failure yet.
    ///
    /// [`BaseExporter::CROWD`]: crate::BaseExporter::CROWD
    fn timeout(&self, schedule: &Schedule, first: bool) -> Duration {
        if first {
            schedule
                .timeout
                .max(schedule.interval.mul_f64(2.0 * self.crowd))
        } else {
            schedule.timeout
        }
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

/// One collector of an exporter: what runs, where its result goes, when, and how to stop it alone.
pub(crate) struct CollectorEntry {
    pub collector: Arc<dyn DynCollector>,
    /// Held in the entry (itself shared), not behind an `Arc` of its own: one allocation a collector less.
    pub cache: CollectorCache,
    pub schedule: Schedule,
    /// Which targets it applies to, and the exporter's facts to check that against.
    pub condition: Option<(crate::Condition, Arc<Facts>)>,
    /// Stops this collector alone.
    pub removal: Removal,
}

/// A collector's removal: set once, and it wakes the collector's run in progress so that it ends there.
/// (A child cancellation token per collector did the same at about 150 bytes each, a lock on every poll of
/// a run, and a list of children in the exporter's token; the exporter's own stop drops every run with the
/// loop that polls them.)
#[derive(Default)]
pub(crate) struct Removal {
    removed: AtomicBool,
    run: AtomicWaker,
}

impl Removal {
    /// Marks the collector removed and wakes its run, if one is waiting.
    pub(crate) fn remove(&self) {
        self.removed.store(true, Ordering::Release);
        self.run.wake();
    }

    /// Ready once the collector is removed; otherwise the run polling this is woken when it is.
    fn poll_removed(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Registered before the check: a removal in between still finds the waker.
        self.run.register(cx.waker());
        if self.removed.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// The run ended: its waker goes. Kept, it held the run's task node in the exporter's
    /// `FuturesUnordered` (about 100 bytes a collector, 2 KB a fleet target, `benches/heap_profile.sh`).
    fn run_ended(&self) {
        drop(self.run.take());
    }
}

/// What the driver reads of the exporter it runs: its name (for logs) and its collectors now.
pub(crate) trait Scheduled: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn entries(&self) -> Vec<Arc<CollectorEntry>>;
}

/// One collector as the driver sees it.
struct Slot {
    entry: Arc<CollectorEntry>,
    /// No run has ended yet.
    first: bool,
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
    result: Option<Result<Vec<Sample>, CollectError>>,
}

type Run = Pin<Box<dyn Future<Output = Ended> + Send>>;

/// Runs every collector of `shared` until `cancel`. `changed` is notified when collectors are added or
/// removed.
pub(crate) async fn run_exporter<S: Scheduled>(
    shared: Arc<S>,
    phase: Phase,
    changed: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut slots = Vec::new();
    let mut reach = Reach::default();
    sync(&mut slots, &*shared, &phase);
    let mut runs: FuturesUnordered<Run> = FuturesUnordered::new();
    loop {
        let wake = slots.iter().filter(|s| !s.running).map(|s| s.next).min();
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = changed.notified() => sync(&mut slots, &*shared, &phase),
            Some(ended) = runs.next(), if !runs.is_empty() => finish(shared.name(), &mut slots, &mut reach, ended),
            () = sleep_until(wake) => {
                let now = Instant::now();
                for slot in slots.iter_mut().filter(|s| !s.running && s.next <= now) {
                    slot.running = true;
                    let timeout = phase.timeout(&slot.entry.schedule, slot.first);
                    runs.push(start(slot.entry.clone(), timeout));
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
fn sync(slots: &mut Vec<Slot>, shared: &impl Scheduled, phase: &Phase) {
    let entries = shared.entries();
    slots.retain(|s| entries.iter().any(|e| Arc::ptr_eq(e, &s.entry)));
    let now = Instant::now();
    // Exactly the room the new ones need: a fleet target keeps its list (grown by doubling, 20 slots took
    // the room of 32).
    let new = entries
        .iter()
        .filter(|e| !slots.iter().any(|s| Arc::ptr_eq(&s.entry, e)))
        .count();
    slots.reserve_exact(new);
    for entry in entries {
        if !slots.iter().any(|s| Arc::ptr_eq(&s.entry, &entry)) {
            slots.push(Slot {
                first: true,
                grid: phase.grid(&entry.schedule),
                next: phase.first_run(&entry.schedule).max(now),
                entry,
                running: false,
            });
        }
    }
}

fn start(entry: Arc<CollectorEntry>, timeout: Duration) -> Run {
    Box::pin(async move {
        let began = Instant::now();
        // A panicking collector fails its run like any error: it must not stop the exporter's other
        // collectors, which share this task. Its state is only the collector's own, so observing it after
        // a panic is no worse than running it again.
        let run = AssertUnwindSafe(async {
            if let Some((condition, facts)) = &entry.condition {
                if let Some(why) = facts.unmet(entry.collector.name(), condition).await {
                    return Err(CollectError::NotApplicable(why.into()));
                }
            }
            entry.collector.collect().await
        })
        .catch_unwind();
        let result = tokio::select! {
            biased;
            () = std::future::poll_fn(|cx| entry.removal.poll_removed(cx)) => None,
            r = tokio::time::timeout(timeout, run) => Some(match r {
                Err(_) => Err(CollectError::Timeout(timeout)),
                Ok(Err(_)) => Err(CollectError::Other("the collector panicked".into())),
                Ok(Ok(r)) => r,
            }),
        };
        entry.removal.run_ended();
        Ended {
            entry,
            began,
            result,
        }
    })
}

/// Whether the exporter's target could be reached, as its collectors last found: a target that cannot be
/// reached fails every collector alike, and is logged once for all of them, when it becomes unreachable.
#[derive(Default)]
struct Reach {
    /// The error logged for the target, while it cannot be reached.
    unreachable: Option<String>,
    /// The collectors whose last failure was the target's: their recovery is the target's too.
    quiet: std::collections::HashSet<String>,
}

/// Stores a run's result and takes the collector's next tick.
fn finish(exporter: &str, slots: &mut [Slot], reach: &mut Reach, ended: Ended) {
    let Ended {
        entry,
        began,
        result,
    } = ended;
    let Some(result) = result else { return };
    let unreachable = match &result {
        Err(CollectError::Unreachable(e)) => Some(e.clone()),
        _ => None,
    };
    // While the target is unreachable its collectors' own lines go to debug: the target's line says it.
    let name = entry.collector.name();
    let quiet = match (&unreachable, result.is_ok()) {
        (Some(e), _) => {
            // Once per episode: the error's wording may alternate (refused, pool timed out) while it lasts.
            match &reach.unreachable {
                None => tracing::warn!(exporter, error = %e, "target unreachable"),
                Some(was) if was != e => {
                    tracing::debug!(exporter, error = %e, "target still unreachable")
                }
                Some(_) => {}
            }
            reach.unreachable = Some(e.clone());
            reach.quiet.insert(name.to_owned());
            true
        }
        (None, ok) => {
            if ok && reach.unreachable.take().is_some() {
                tracing::info!(exporter, "target reachable again");
            }
            reach.quiet.remove(name)
        }
    };
    let finished = Instant::now();
    let schedule = &entry.schedule;
    if let Some(slot) = slots.iter_mut().find(|s| Arc::ptr_eq(&s.entry, &entry)) {
        slot.running = false;
        // The tick after this run's: at once if the run overran it (as tokio's `MissedTickBehavior::Skip`,
        // later missed ticks are not made up), and at least half an interval on when joining the grid.
        slot.next = next_tick(slot.grid, schedule.interval, began + schedule.interval / 2);
    }
    let cache = &entry.cache;
    let transition = cache.store(result, finished - began, finished.into_std());
    if transition == Transition::Unchanged {
        return;
    }
    let health = cache.health();
    match transition {
        Transition::Unchanged => {}
        Transition::Failing if unreachable.is_some() => tracing::debug!(
            exporter,
            collector = name,
            error = health.last_error.as_deref().unwrap_or_default(),
            "collector failing"
        ),
        Transition::Failing => tracing::warn!(
            exporter,
            collector = name,
            error = health.last_error.as_deref().unwrap_or_default(),
            "collector failing"
        ),
        Transition::Recovered if quiet => tracing::debug!(
            exporter,
            collector = name,
            failed_runs = health.errors_total,
            "collector recovered"
        ),
        Transition::Recovered => tracing::info!(
            exporter,
            collector = name,
            failed_runs = health.errors_total,
            "collector recovered"
        ),
        Transition::NotApplicable => tracing::info!(
            exporter,
            collector = name,
            reason = health.not_applicable.as_deref().unwrap_or_default(),
            "collector not applicable"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waker that does nothing: its `Arc`'s count tells who holds it.
    struct Held;
    impl std::task::Wake for Held {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn a_run_that_ended_leaves_no_waker_behind() {
        let held = Arc::new(Held);
        let waker = std::task::Waker::from(held.clone());
        let removal = Removal::default();
        assert!(removal
            .poll_removed(&mut Context::from_waker(&waker))
            .is_pending());
        drop(waker);
        assert_eq!(Arc::strong_count(&held), 2, "registered while running");
        removal.run_ended();
        assert_eq!(Arc::strong_count(&held), 1, "gone once it ended");
        // A removal after the run still marks the collector removed.
        removal.remove();
        let waker = std::task::Waker::from(held.clone());
        assert!(removal
            .poll_removed(&mut Context::from_waker(&waker))
            .is_ready());
    }

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
    fn a_crowd_spreads_first_runs_and_gives_them_time() {
        let s = Schedule {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            max_jitter: default_jitter(Duration::from_secs(15)),
        };
        let origin = Instant::now();
        let offsets = |crowd: f64| -> Vec<Duration> {
            (0..1000)
                .map(|_| Phase {
                    origin,
                    ..Phase::now(crowd)
                })
                .map(|p| p.first_run(&s) - origin)
                .collect()
        };
        // Alone or among a few: within the start jitter.
        assert!(offsets(0.01).iter().all(|d| *d <= s.max_jitter));
        // A full crowd: over the whole interval, a tenth in each tenth of it (give or take).
        let spread = offsets(1.0);
        assert!(spread.iter().all(|d| *d < s.interval));
        for tenth in 0..10 {
            let n = spread
                .iter()
                .filter(|d| {
                    d.as_secs_f64() / 1.5 >= f64::from(tenth)
                        && d.as_secs_f64() / 1.5 < f64::from(tenth + 1)
                })
                .count();
            assert!((50..=150).contains(&n), "{n} first runs in tenth {tenth}");
        }
        let crowd = Phase::now(1.0);
        assert_eq!(crowd.timeout(&s, true), Duration::from_secs(30));
        assert_eq!(
            crowd.timeout(&s, false),
            s.timeout,
            "later runs keep the timeout"
        );
        assert_eq!(Phase::now(0.0).timeout(&s, true), s.timeout);
        // A target taken over (its labels changed): at once, whatever the jitter.
        let prompt = Phase::now(-1.0);
        assert_eq!(prompt.first_run(&s), prompt.origin);
        assert_eq!(prompt.timeout(&s, true), s.timeout);
    }

    #[test]
    fn one_phase_puts_equal_intervals_on_one_grid() {
        let phase = Phase::now(0.0);
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
                    ..Phase::now(0.0)
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

/// The scheduler's behaviour, driven through the exporter API on a paused clock.
#[cfg(test)]
mod behaviour {
    use super::*;
    use crate::collector::CollectError;
    use crate::collector::{Collector, CollectorOptions};
    use crate::exporter::BaseExporter;
    use crate::metric::Sample;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};

    /// Counts runs and concurrent runs; each run takes `delay`.
    struct Probe {
        name: &'static str,
        delay: Duration,
        runs: Arc<AtomicUsize>,
        active: Arc<AtomicUsize>,
        max_active: Arc<AtomicUsize>,
        finished: Arc<AtomicUsize>,
    }

    impl Probe {
        fn new(name: &'static str, delay: Duration) -> Self {
            Probe {
                name,
                delay,
                runs: Arc::default(),
                active: Arc::default(),
                max_active: Arc::default(),
                finished: Arc::default(),
            }
        }
    }

    impl Collector for Probe {
        fn name(&self) -> &str {
            self.name
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            self.runs.fetch_add(1, SeqCst);
            let now = self.active.fetch_add(1, SeqCst) + 1;
            self.max_active.fetch_max(now, SeqCst);
            // Decrement even when the run is cancelled (future dropped).
            struct Guard(Arc<AtomicUsize>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, SeqCst);
                }
            }
            let _g = Guard(self.active.clone());
            tokio::time::sleep(self.delay).await;
            self.finished.fetch_add(1, SeqCst);
            Ok(vec![Sample::gauge("probe_value", "Probe.", 1.0)])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_runs_never_overlap() {
        let probe = Probe::new("slow", Duration::from_millis(2500));
        let (runs, max_active) = (probe.runs.clone(), probe.max_active.clone());
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(1))
            .timeout(Duration::from_secs(10))
            .collector(probe)
            .build()
            .unwrap();
        exporter.start();
        tokio::time::sleep(Duration::from_secs(20)).await;
        exporter.close().await;
        assert_eq!(max_active.load(SeqCst), 1, "runs overlapped");
        let n = runs.load(SeqCst);
        // Timeout is capped at the interval (1 s), so each run times out; ticks are skipped, not queued.
        assert!((15..=21).contains(&n), "{n} runs in 20 s at a 1 s interval");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_beyond_its_timeout_fails_and_is_cancelled() {
        let probe = Probe::new("hang", Duration::from_secs(3600));
        let (finished, active) = (probe.finished.clone(), probe.active.clone());
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(10))
            .timeout(Duration::from_secs(2))
            .collector(probe)
            .build()
            .unwrap();
        exporter.start();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let status = exporter.status();
        let h = &status.collectors[0].health;
        assert_eq!(h.runs, 1);
        assert!(!h.up);
        assert_eq!(h.last_error.as_deref(), Some("timed out after 2s"));
        assert_eq!(active.load(SeqCst), 0, "timed-out run still active");
        assert_eq!(finished.load(SeqCst), 0);
        exporter.close().await;
    }

    /// The target's facts, as a probe returns them: a role that flips once asked.
    struct Flipping(Arc<AtomicUsize>);
    impl crate::FactsProbe for Flipping {
        async fn probe(&self) -> Result<crate::TargetFacts, CollectError> {
            let n = self.0.fetch_add(1, SeqCst);
            Ok(crate::TargetFacts {
                version: Some(150_000),
                role: Some(if n < 1 {
                    crate::Role::Primary
                } else {
                    crate::Role::Replica
                }),
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_condition_that_does_not_hold_skips_the_run_until_it_does() {
        let probes = Arc::new(AtomicUsize::new(0));
        let newer = Probe::new("newer", Duration::ZERO);
        let newer_runs = newer.runs.clone();
        let replica = Probe::new("replica", Duration::ZERO);
        let replica_runs = replica.runs.clone();
        let condition = |c: crate::Condition| CollectorOptions {
            condition: Some(c),
            ..CollectorOptions::default()
        };
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(10))
            .facts(Flipping(probes.clone()))
            .collector_with(
                newer,
                condition(crate::Condition {
                    min_version: Some(170_000),
                    ..crate::Condition::default()
                }),
            )
            .collector_with(
                replica,
                condition(crate::Condition {
                    role: Some(crate::Role::Replica),
                    ..crate::Condition::default()
                }),
            )
            .build()
            .unwrap();
        exporter.start();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let status = exporter.status();
        for c in &status.collectors {
            assert!(!c.health.up, "{}", c.name);
            assert_eq!(c.health.errors_total, 0, "not applicable is no error");
        }
        assert_eq!(
            status.collectors[0].health.not_applicable.as_deref(),
            Some("needs version 170000 or later; the target is version 150000")
        );
        assert_eq!(
            status.collectors[1].health.not_applicable.as_deref(),
            Some("applies to a replica; the target is a primary")
        );
        assert_eq!((newer_runs.load(SeqCst), replica_runs.load(SeqCst)), (0, 0));
        assert_eq!(probes.load(SeqCst), 1, "one probe for both collectors");
        // Half an interval on the facts are stale: probed again, the target is a replica now.
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert!(replica_runs.load(SeqCst) >= 1, "runs once the role holds");
        assert_eq!(newer_runs.load(SeqCst), 0);
        exporter.close().await;
    }

    #[tokio::test(start_paused = true)]
    async fn close_cancels_runs_in_progress_and_waits_for_tasks() {
        let a = Probe::new("a", Duration::from_secs(3600));
        let b = Probe::new("b", Duration::from_millis(1));
        let (a_active, b_runs) = (a.active.clone(), b.runs.clone());
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(7200))
            .collector(a)
            .collector(b)
            .build()
            .unwrap();
        exporter.start();
        tokio::time::sleep(Duration::from_secs(1000)).await;
        assert_eq!(a_active.load(SeqCst), 1);
        exporter.close().await;
        assert_eq!(a_active.load(SeqCst), 0, "run not cancelled by close");
        assert!(exporter.is_closed());
        let before = b_runs.load(SeqCst);
        tokio::time::sleep(Duration::from_secs(100_000)).await;
        assert_eq!(b_runs.load(SeqCst), before, "a collector ran after close");
        // Processing after close is refused.
        exporter.start();
        assert!(!exporter.is_processing());
    }

    #[tokio::test(start_paused = true)]
    async fn collectors_added_while_processing_start_at_once() {
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(1))
            .build()
            .unwrap();
        exporter.start();
        let late = Probe::new("late", Duration::ZERO);
        let runs = late.runs.clone();
        exporter.add_collector(late).unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(runs.load(SeqCst) >= 1);
        let dup = exporter
            .add_collector(Probe::new("late", Duration::ZERO))
            .unwrap_err();
        assert_eq!(
            dup.to_string(),
            "exporter `t` already has a collector named `late`"
        );
        exporter.close().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_collector_stops_and_the_others_run_on() {
        let keep = Probe::new("keep", Duration::from_millis(10));
        let gone = Probe::new("gone", Duration::from_secs(3600));
        let (keep_runs, gone_active, gone_runs) =
            (keep.runs.clone(), gone.active.clone(), gone.runs.clone());
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(1))
            .timeout(Duration::from_secs(7200))
            .collector(keep)
            .build()
            .unwrap();
        exporter.start();
        exporter
            .add_collector_with(
                gone,
                CollectorOptions {
                    interval: Some(Duration::from_secs(7200)),
                    ..CollectorOptions::default()
                },
            )
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(gone_active.load(SeqCst), 1, "a run in progress");
        assert!(exporter.remove_collector("gone"));
        assert!(!exporter.remove_collector("gone"), "already removed");
        assert!(!exporter.has_collector("gone") && exporter.has_collector("keep"));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(gone_active.load(SeqCst), 0, "its run is cancelled");
        let before = keep_runs.load(SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(
            keep_runs.load(SeqCst) >= before + 9,
            "the other collector runs on"
        );
        assert_eq!(gone_runs.load(SeqCst), 1);
        assert_eq!(exporter.status().collectors.len(), 1);
        // The name is free again: a changed definition comes back under it.
        exporter
            .add_collector(Probe::new("gone", Duration::ZERO))
            .unwrap();
        exporter.close().await;
    }

    /// Records when it runs.
    struct Clock {
        name: &'static str,
        at: Arc<Mutex<Vec<tokio::time::Instant>>>,
    }

    impl Collector for Clock {
        fn name(&self) -> &str {
            self.name
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            self.at.lock().unwrap().push(tokio::time::Instant::now());
            Ok(vec![Sample::gauge("clock_value", "Clock.", 1.0)])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn collectors_of_one_exporter_tick_together() {
        let clock = |name| Clock {
            name,
            at: Arc::default(),
        };
        let (a, b, late) = (clock("a"), clock("b"), clock("late"));
        let (a_at, b_at, late_at) = (a.at.clone(), b.at.clone(), late.at.clone());
        let start = tokio::time::Instant::now();
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(10))
            .collector(a)
            .collector(b)
            .build()
            .unwrap();
        exporter.start();
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        exporter.add_collector(late).unwrap();
        tokio::time::sleep(Duration::from_secs(40)).await;
        exporter.close().await;
        let (a_at, b_at, late_at) = (
            a_at.lock().unwrap(),
            b_at.lock().unwrap(),
            late_at.lock().unwrap(),
        );
        assert_eq!(*a_at, *b_at, "same interval, same instants");
        // The first run within the start jitter (a tenth of the interval), then a grid at one random point of
        // the interval, at least half an interval on: the second run comes 5 to 15 s after the first.
        assert!(a_at[0] - start <= Duration::from_secs(1));
        assert!((4..=5).contains(&a_at.len()), "{a_at:?}");
        let second = a_at[1] - a_at[0];
        assert!(second >= Duration::from_secs(5) && second <= Duration::from_secs(15));
        for pair in a_at[1..].windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_secs(10), "{a_at:?}");
        }
        // Added later: runs at once, then on the others' grid.
        assert_eq!(late_at[0] - start, Duration::from_millis(3_500));
        assert!(late_at.len() >= 3, "{late_at:?}");
        assert!(
            late_at[1..].iter().all(|t| a_at.contains(t)),
            "{late_at:?} {a_at:?}"
        );
    }

    /// Panics on its first run.
    struct Panicky(Arc<AtomicUsize>);

    impl Collector for Panicky {
        fn name(&self) -> &str {
            "panicky"
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            if self.0.fetch_add(1, SeqCst) == 0 {
                panic!("first run");
            }
            Ok(vec![Sample::gauge("panicky_value", "Panicky.", 1.0)])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_collector_fails_its_run_and_the_others_run_on() {
        let other = Probe::new("other", Duration::ZERO);
        let (other_runs, panicky_runs) = (other.runs.clone(), Arc::new(AtomicUsize::new(0)));
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(1))
            .collector(other)
            .collector(Panicky(panicky_runs.clone()))
            .build()
            .unwrap();
        exporter.start();
        // The first run comes within the jitter (a tenth of the interval), the second at least half a second
        // later.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = exporter.status();
        let panicky = &status.collectors[1].health;
        assert_eq!(panicky.runs, 1);
        assert!(!panicky.up);
        assert_eq!(
            panicky.last_error.as_deref(),
            Some("the collector panicked")
        );
        // 5.5 s in: the first run, then the grid from 0.5 to 1.5 s after it, then one a second.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(other_runs.load(SeqCst) >= 5, "{}", other_runs.load(SeqCst));
        assert!(
            panicky_runs.load(SeqCst) >= 5,
            "it runs again, and recovers"
        );
        assert!(exporter.status().collectors[1].health.up);
        exporter.close().await;
    }

    #[tokio::test(start_paused = true)]
    async fn per_collector_interval_overrides() {
        let fast = Probe::new("fast", Duration::ZERO);
        let slow = Probe::new("slow", Duration::ZERO);
        let (fast_runs, slow_runs) = (fast.runs.clone(), slow.runs.clone());
        let exporter = BaseExporter::builder("t")
            .interval(Duration::from_secs(10))
            .collector(slow)
            .collector_with(
                fast,
                CollectorOptions {
                    interval: Some(Duration::from_secs(1)),
                    ..CollectorOptions::default()
                },
            )
            .build()
            .unwrap();
        exporter.start();
        tokio::time::sleep(Duration::from_secs(30)).await;
        exporter.close().await;
        assert!(fast_runs.load(SeqCst) >= 25, "{}", fast_runs.load(SeqCst));
        assert!(
            (3..=4).contains(&slow_runs.load(SeqCst)),
            "{}",
            slow_runs.load(SeqCst)
        );
    }
}
