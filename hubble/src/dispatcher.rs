//! The dispatcher: one exporter per discovered target, registered and unregistered as discovery changes.
//!
//! Every tick (and once at start) it calls the discovery source, keeps the targets of this replica's
//! [`Shard`], and diffs them against the live set by [content hash](ServiceAtomic::content_hash): unseen
//! targets are registered, vanished ones unregistered, and a changed label or option is both. A discovery
//! error or timeout skips the tick: the last good set stays (an empty answer from a broken backend must never
//! unregister everything).
//!
//! Two ways to use it: [`Dispatcher::manage`] with an async factory creates, registers and closes the
//! exporters itself; or [`Dispatcher::watch`] sends the changes on channels and
//! the application, which creates and closes the exporters, reports them with [`Dispatcher::track`] /
//! [`Dispatcher::untrack`]. Both run the same loop.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::discovery::{DiscoveryError, Fnv, ServiceAtomic};
use crate::exporter::Exporter;
use crate::registry::Registry;

/// This replica's share of the targets: replica `index` of `count` (0-based), written `index/count`.
///
/// Targets are assigned by rendezvous hashing of their [identity](ServiceAtomic::identity): every replica
/// computes the same owner without talking to the others, and when `count` changes only about `1/count` of
/// the targets move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This replica, `0..count`.
    pub index: u32,
    /// Number of replicas.
    pub count: u32,
}

impl Shard {
    /// The replica that owns `target`.
    pub fn owner(count: u32, target: &ServiceAtomic) -> u32 {
        let identity = target.identity();
        (0..count.max(1))
            .max_by_key(|replica| rendezvous_score(&identity, &replica.to_string()))
            .unwrap_or(0)
    }

    /// Whether this replica owns `target`.
    pub fn owns(&self, target: &ServiceAtomic) -> bool {
        Shard::owner(self.count, target) == self.index
    }
}

/// Rendezvous hashing's score of `replica` for the target `identity`: the replica scoring highest owns it.
pub(crate) fn rendezvous_score(identity: &str, replica: &str) -> u64 {
    let mut h = Fnv::new();
    h.field(identity);
    h.field(replica);
    // FNV's high bits mix poorly on short suffixes; a final avalanche (splitmix64) fixes that.
    let mut z = h.finish().wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("expected index/count with 0 <= index < count, e.g. 0/3, got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

/// What changed between the live set and a discovery.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Targets to register, with their hash.
    pub added: Vec<(u64, ServiceAtomic)>,
    /// Hashes to unregister.
    pub removed: Vec<u64>,
}

/// Diffs `discovered` against the `live` hashes. Duplicated targets count once.
pub fn diff(live: &HashSet<u64>, discovered: Vec<ServiceAtomic>) -> Diff {
    let mut seen = HashSet::with_capacity(discovered.len());
    let mut added = Vec::new();
    for svc in discovered {
        let h = svc.content_hash();
        if seen.insert(h) && !live.contains(&h) {
            added.push((h, svc));
        }
    }
    let mut removed: Vec<u64> = live.iter().filter(|h| !seen.contains(h)).copied().collect();
    removed.sort_unstable();
    Diff { added, removed }
}

/// A dispatcher's own metrics, labelled with its backend, in its registry's `prometheus` part.
struct DispatcherMetrics {
    discovery_errors: prometheus::IntCounter,
    targets: prometheus::IntGauge,
}

impl DispatcherMetrics {
    fn new(registry: &Registry, backend: &'static str) -> Self {
        let opts = |name: &str, help: &str| {
            prometheus::Opts::new(name, help).const_label("backend", backend)
        };
        let discovery_errors = prometheus::IntCounter::with_opts(opts(
            "hubble_discovery_errors_total",
            "Discovery attempts that failed (the last good target set was kept).",
        ))
        .expect("valid metric");
        let targets = prometheus::IntGauge::with_opts(opts(
            "hubble_dispatcher_targets",
            "Targets with a registered exporter.",
        ))
        .expect("valid metric");
        for c in [
            Box::new(discovery_errors.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(targets.clone()),
        ] {
            if let Err(error) = registry.prometheus().register(c) {
                // A second dispatcher of the same backend on one registry: its counts are not exported.
                tracing::warn!(backend, %error, "dispatcher metrics not registered");
            }
        }
        registry.prometheus_changed();
        DispatcherMetrics {
            discovery_errors,
            targets,
        }
    }
}

/// Tracks a failing thing's error so it is logged once per change, not every tick.
#[derive(Default)]
struct LogOnce(Option<String>);

impl LogOnce {
    /// Records an error; true when it differs from the last one.
    fn failed(&mut self, e: &str) -> bool {
        let changed = self.0.as_deref() != Some(e);
        self.0 = Some(e.to_owned());
        changed
    }
    /// Records a success; true when it follows a failure.
    fn ok(&mut self) -> bool {
        self.0.take().is_some()
    }
}

struct Backoff {
    failures: u32,
    next: Instant,
    log: LogOnce,
}

/// The ticker of a dispatcher loop and its discovery's error state.
struct Tick {
    ticker: tokio::time::Interval,
    log: LogOnce,
}

/// The dispatcher. `E` is the exporter type of the targets.
pub struct Dispatcher<E> {
    interval: Duration,
    timeout: Duration,
    shard: Option<Shard>,
    /// Replicas sharing the targets through etcd: this one's share follows the live members.
    members: Option<Arc<crate::cluster::Membership>>,
    /// Runs discovery as soon as notified (a watched backend's change), besides the ticks.
    wake: Option<Arc<tokio::sync::Notify>>,
    backend: &'static str,
    registry: Registry,
    live: Mutex<HashMap<u64, (ServiceAtomic, Arc<E>)>>,
    metrics: DispatcherMetrics,
}

/// Its series leave with it, so a dispatcher created later for the same backend can register its own.
impl<E> Drop for Dispatcher<E> {
    fn drop(&mut self) {
        let prometheus = self.registry.prometheus();
        let _ = prometheus.unregister(Box::new(self.metrics.discovery_errors.clone()));
        let _ = prometheus.unregister(Box::new(self.metrics.targets.clone()));
        self.registry.prometheus_changed();
    }
}

impl<E> std::fmt::Debug for Dispatcher<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("backend", &self.backend)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

impl<E: Exporter> Dispatcher<E> {
    /// Longest wait before retrying a target whose factory failed.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

    /// A dispatcher ticking every `interval`, registering into `registry`, counting errors of discovery
    /// `backend` (the `backend` label of `hubble_discovery_errors_total`). Discovery times out after the
    /// interval unless [`timeout`](Self::timeout) says otherwise.
    pub fn new(interval: Duration, backend: &'static str, registry: Registry) -> Self {
        let metrics = DispatcherMetrics::new(&registry, backend);
        Dispatcher {
            interval,
            timeout: interval,
            shard: None,
            members: None,
            wake: None,
            backend,
            registry,
            live: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Only handle this replica's share of the targets.
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Only handle the share of the targets that rendezvous hashing over `members`' live replicas gives
    /// this one; its changes wake the dispatcher. Replaces [`shard`](Self::shard).
    pub fn members(mut self, members: Arc<crate::cluster::Membership>) -> Self {
        self.members = Some(members);
        self
    }

    /// Also runs discovery whenever `wake` is notified (a watched backend's change, a member joining or
    /// leaving), not only every interval.
    pub fn wake_on(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Timeout of one discovery.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (ServiceAtomic, Arc<E>)>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live targets.
    pub fn targets(&self) -> Vec<ServiceAtomic> {
        self.live().values().map(|(s, _)| s.clone()).collect()
    }

    /// The exporter registered for `hash`.
    pub fn exporter(&self, hash: u64) -> Option<Arc<E>> {
        self.live().get(&hash).map(|(_, e)| e.clone())
    }

    /// Records that `exporter` now serves `svc` (with [`watch`](Self::watch); it does not register anything).
    pub fn track(&self, svc: &ServiceAtomic, exporter: Arc<E>) {
        if self
            .live()
            .insert(svc.content_hash(), (svc.clone(), exporter))
            .is_none()
        {
            self.metrics.targets.inc();
            // So the next scrape re-gathers the gauge instead of serving it up to a second late.
            self.registry.prometheus_changed();
        }
    }

    /// Forgets the target `hash` and returns its exporter, for the caller to unregister and close (with
    /// [`watch`](Self::watch)).
    pub fn untrack(&self, hash: u64) -> Option<Arc<E>> {
        let removed = self.live().remove(&hash).map(|(_, e)| e);
        if removed.is_some() {
            self.metrics.targets.dec();
            self.registry.prometheus_changed();
        }
        removed
    }

    /// One discovery, timed out and sharded; `None` (logged once per change, counted) when it failed.
    async fn discover<F, Fut>(&self, source: &F, log: &mut LogOnce) -> Option<Vec<ServiceAtomic>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<ServiceAtomic>, DiscoveryError>>,
    {
        let result = match tokio::time::timeout(self.timeout, source()).await {
            Ok(r) => r,
            Err(_) => Err(DiscoveryError::Timeout {
                backend: self.backend,
                after: self.timeout,
            }),
        };
        match result {
            Ok(mut targets) => {
                if log.ok() {
                    tracing::info!(
                        backend = self.backend,
                        targets = targets.len(),
                        "discovery recovered"
                    );
                }
                if let Some(members) = &self.members {
                    let share = members.share();
                    targets.retain(|t| share.owns(t));
                } else if let Some(shard) = self.shard {
                    targets.retain(|t| shard.owns(t));
                }
                Some(targets)
            }
            Err(e) => {
                self.metrics.discovery_errors.inc();
                self.registry.prometheus_changed();
                let msg = e.to_string();
                if log.failed(&msg) {
                    tracing::warn!(backend = self.backend, error = %msg, "discovery failed, keeping the last good targets");
                }
                None
            }
        }
    }

    fn live_hashes(&self) -> HashSet<u64> {
        self.live().keys().copied().collect()
    }

    /// The loop both ways share: waits for the next tick and diffs one discovery against the live targets.
    /// `None` once `cancel` fires; a failed discovery skips the tick.
    async fn next_change<F, Fut>(
        &self,
        tick: &mut Tick,
        source: &F,
        cancel: &CancellationToken,
    ) -> Option<Diff>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<ServiceAtomic>, DiscoveryError>>,
    {
        let never = Arc::new(tokio::sync::Notify::new());
        let wake = self.wake.as_ref().unwrap_or(&never);
        let members = self
            .members
            .as_ref()
            .map_or_else(|| never.clone(), |m| m.changed());
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return None,
                _ = tick.ticker.tick() => {}
                () = wake.notified() => {}
                () = members.notified() => {}
            }
            if let Some(targets) = self.discover(source, &mut tick.log).await {
                return Some(diff(&self.live_hashes(), targets));
            }
        }
    }

    fn tick(&self) -> Tick {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Tick {
            ticker,
            log: LogOnce::default(),
        }
    }

    /// The low-level loop: every tick, each new target is sent on `added` and each vanished
    /// one, with its hash, on `removed`. The application creates and closes the exporters; it calls
    /// [`track`](Self::track) once an exporter serves a target and [`untrack`](Self::untrack) when it is
    /// closed. A target sent but not tracked is sent again next tick. Returns when `cancel` fires or a
    /// receiver is dropped; the caller owns the task it runs in.
    pub async fn watch<F, Fut>(
        &self,
        source: F,
        added: mpsc::Sender<ServiceAtomic>,
        removed: mpsc::Sender<(u64, ServiceAtomic)>,
        cancel: CancellationToken,
    ) where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<ServiceAtomic>, DiscoveryError>>,
    {
        let mut tick = self.tick();
        while let Some(d) = self.next_change(&mut tick, &source, &cancel).await {
            for h in d.removed {
                let svc = self.live().get(&h).map(|(s, _)| s.clone());
                if let Some(svc) = svc {
                    if removed.send((h, svc)).await.is_err() {
                        return;
                    }
                }
            }
            for (_, svc) in d.added {
                if added.send(svc).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Runs discovery until `cancel` fires, creating an exporter with `factory` for each new target and
    /// registering it; vanished or changed targets are unregistered (their series vanish, their exporter is
    /// closed). A factory or registration error is logged (once per change), and that target alone is retried
    /// on later ticks with exponential backoff (from the interval up to [`MAX_BACKOFF`](Self::MAX_BACKOFF)).
    /// On return every managed exporter has been closed.
    pub async fn manage<F, Fut, M, MFut, Err>(
        &self,
        source: F,
        factory: M,
        cancel: CancellationToken,
    ) where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<ServiceAtomic>, DiscoveryError>>,
        M: Fn(ServiceAtomic) -> MFut,
        MFut: Future<Output = Result<E, Err>>,
        Err: std::fmt::Display,
    {
        let mut backoff: HashMap<u64, Backoff> = HashMap::new();
        let mut tick = self.tick();
        while let Some(d) = self.next_change(&mut tick, &source, &cancel).await {
            let wanted: HashSet<u64> = d.added.iter().map(|(h, _)| *h).collect();
            backoff.retain(|h, _| wanted.contains(h));
            // Targets leaving only to come back under new labels or options (a failover's role label).
            let replaced: HashSet<String> = {
                let live = self.live();
                d.removed
                    .iter()
                    .filter_map(|h| live.get(h).map(|(s, _)| s.identity()))
                    .collect()
            };
            let removed: Vec<Arc<E>> = d
                .removed
                .into_iter()
                .filter_map(|h| self.untrack(h))
                .collect();
            self.close_all(&removed).await;
            for exporter in &removed {
                tracing::info!(exporter = exporter.as_base().name(), labels = %exporter.as_base().const_labels(), "target removed");
            }
            let now = Instant::now();
            // Targets added together start as a crowd: their first runs spread out (`start_in_crowd`).
            let crowd = d.added.len();
            for (h, svc) in d.added {
                if cancel.is_cancelled() {
                    break;
                }
                if backoff.get(&h).is_some_and(|b| now < b.next) {
                    continue;
                }
                let target = svc.host_port();
                let outcome = match factory(svc.clone()).await {
                    Ok(exporter) => {
                        if replaced.contains(&svc.identity()) {
                            exporter.as_base().start_promptly();
                        } else {
                            exporter.as_base().start_in_crowd(crowd);
                        }
                        self.registry
                            .register(exporter)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(exporter) => {
                        if backoff.remove(&h).is_some() {
                            tracing::info!(service = %svc.name, target = %target, "target registered after failures");
                        } else {
                            tracing::debug!(service = %svc.name, target = %target, "target registered");
                        }
                        self.track(&svc, exporter);
                    }
                    Err(e) => {
                        let b = backoff.entry(h).or_insert_with(|| Backoff {
                            failures: 0,
                            next: now,
                            log: LogOnce::default(),
                        });
                        b.failures += 1;
                        let delay = self
                            .interval
                            .saturating_mul(1 << (b.failures - 1).min(16))
                            .min(Self::MAX_BACKOFF);
                        b.next = now + delay;
                        if b.log.failed(&e) {
                            tracing::warn!(service = %svc.name, target = %target, error = %e, retry_in = ?delay, "creating exporter failed");
                        }
                    }
                }
            }
        }
        let all: Vec<Arc<E>> = self
            .live_hashes()
            .into_iter()
            .filter_map(|h| self.untrack(h))
            .collect();
        self.close_all(&all).await;
    }

    /// Unregisters and closes `exporters` together: each is cancelled at once, and the wait is the slowest
    /// close, not their sum (one after another, a thousand targets whose server went away took minutes to
    /// stop, collecting all the while).
    async fn close_all(&self, exporters: &[Arc<E>]) {
        futures_util::future::join_all(exporters.iter().map(|e| self.registry.unregister(&**e)))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{CollectError, Collector};
    use crate::discovery::{Service, ServiceParams};
    use crate::exporter::{BaseExporter, SlowToClose};
    use crate::metric::Sample;
    use crate::Format;
    use std::collections::BTreeMap;

    struct Up;
    impl Collector for Up {
        fn name(&self) -> &str {
            "up"
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            Ok(vec![Sample::gauge("t_up", "Up.", 1.0)])
        }
    }

    fn target(name: &str, team: &str) -> ServiceAtomic {
        Service {
            name: name.into(),
            addresses: [(format!("{name}-node"), format!("{name}.example"))].into(),
            port: 5432,
            params: ServiceParams {
                extra_labels: [("team".to_owned(), team.to_owned())].into(),
                ..ServiceParams::default()
            },
            ..Service::default()
        }
        .make_atomic(&BTreeMap::new())
        .remove(0)
    }

    type Source = Arc<Mutex<Result<Vec<ServiceAtomic>, String>>>;

    fn source(
        s: &Source,
    ) -> impl Fn() -> std::future::Ready<Result<Vec<ServiceAtomic>, DiscoveryError>> {
        let s = s.clone();
        move || {
            std::future::ready(s.lock().unwrap().clone().map_err(|message| {
                DiscoveryError::Backend {
                    backend: "test",
                    message,
                }
            }))
        }
    }

    async fn factory(svc: ServiceAtomic) -> Result<BaseExporter, String> {
        if svc.name.starts_with("broken") {
            return Err(format!("cannot connect to {}", svc.host_port()));
        }
        BaseExporter::builder("t")
            .const_labels(svc.labels)
            .interval(Duration::from_millis(20))
            .max_jitter(Duration::ZERO)
            .collector(Up)
            .build()
            .map_err(|e| e.to_string())
    }

    fn scrape(r: &Registry) -> String {
        String::from_utf8(r.render(Format::Text).bytes().to_vec()).unwrap()
    }

    /// The value of the series `series` (name and labels as written) in `body`, if there.
    fn sample(body: &str, series: &str) -> Option<f64> {
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..300 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test]
    async fn manage_follows_discovery() {
        let registry = Registry::new();
        let src: Source = Arc::new(Mutex::new(Ok(vec![
            target("a", "x"),
            target("b", "x"),
            target("broken", "x"),
        ])));
        let d = Arc::new(Dispatcher::<BaseExporter>::new(
            Duration::from_millis(30),
            "test",
            registry.clone(),
        ));
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let (d, src, cancel) = (d.clone(), src.clone(), cancel.clone());
            async move { d.manage(source(&src), factory, cancel).await }
        });

        // First tick registers all that can be; the broken target fails alone.
        until("a and b exported", || {
            let body = scrape(&registry);
            body.contains(r#"t_up{host="a-node""#) && body.contains(r#"t_up{host="b-node""#)
        })
        .await;
        assert_eq!(d.targets().len(), 2);
        assert_eq!(
            sample(
                &scrape(&registry),
                r#"hubble_dispatcher_targets{backend="test"}"#
            ),
            Some(2.0)
        );

        // A removed target is unregistered and its series vanish; a changed one is re-registered.
        let a = d.targets().into_iter().find(|t| t.name == "a").unwrap();
        let a_exporter = d.exporter(a.content_hash()).unwrap();
        *src.lock().unwrap() = Ok(vec![target("b", "y")]);
        until("a removed and b relabelled", || {
            let body = scrape(&registry);
            !body.contains(r#"host="a-node""#)
                && body.contains(r#"team="y""#)
                && !body.contains(r#"team="x""#)
        })
        .await;
        assert!(
            a_exporter.is_closed(),
            "removed target's exporter not closed"
        );

        // A failing backend keeps the set and is counted.
        *src.lock().unwrap() = Err("connection refused".into());
        assert_eq!(
            sample(
                &scrape(&registry),
                r#"hubble_discovery_errors_total{backend="test"}"#
            ),
            Some(0.0),
            "exported from the start"
        );
        until("discovery errors counted", || {
            sample(
                &scrape(&registry),
                r#"hubble_discovery_errors_total{backend="test"}"#,
            )
            .is_some_and(|n| n >= 1.0)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(d.targets().len(), 1);
        assert!(scrape(&registry).contains(r#"team="y""#));

        // Shutdown closes every managed exporter.
        let b = d.exporter(d.targets()[0].content_hash()).unwrap();
        cancel.cancel();
        task.await.unwrap();
        assert!(b.is_closed());
        assert!(d.targets().is_empty());
        assert!(!scrape(&registry).contains("t_up"));
    }

    // Paused clock: the time the closes take is exact.
    #[tokio::test(start_paused = true)]
    async fn targets_are_closed_together_when_they_leave_and_at_shutdown() {
        let registry = Registry::new();
        let named =
            |range: std::ops::Range<i32>| range.map(|i| target(&format!("t{i}"), "x")).collect();
        let src: Source = Arc::new(Mutex::new(Ok(named(0..20))));
        let d = Arc::new(Dispatcher::<SlowToClose>::new(
            Duration::from_millis(30),
            "test",
            registry.clone(),
        ));
        let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = || closed.load(std::sync::atomic::Ordering::SeqCst);
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let (d, src, cancel, closed) = (d.clone(), src.clone(), cancel.clone(), closed.clone());
            async move {
                let slow = |svc| {
                    let closed = closed.clone();
                    async move { factory(svc).await.map(|e| SlowToClose::new(e, closed)) }
                };
                d.manage(source(&src), slow, cancel).await
            }
        });
        until("twenty targets", || d.targets().len() == 20).await;
        let exporters: Vec<_> = d
            .targets()
            .iter()
            .filter_map(|t| d.exporter(t.content_hash()))
            .collect();
        // Ten leave at once: one close's time, not ten (they were closed one after the other).
        *src.lock().unwrap() = Ok(named(10..20));
        let leaving = Instant::now();
        until("ten targets", || d.targets().len() == 10).await;
        until("ten closed", || count() >= 10).await;
        let waited = leaving.elapsed();
        assert!(waited < Duration::from_secs(3), "took {waited:?}");
        // Shutdown: every exporter stops collecting at once, and the wait is the slowest close.
        let stopping = Instant::now();
        cancel.cancel();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(exporters.iter().all(|e| e.as_base().is_closed()));
        task.await.unwrap();
        let waited = stopping.elapsed();
        assert!(waited < Duration::from_secs(3), "took {waited:?}");
        assert_eq!(count(), 20);
        assert!(d.targets().is_empty());
    }

    #[tokio::test]
    async fn file_sd_targets_survive_a_half_written_file() {
        use crate::discovery::{Discovery, FileSd};
        let dir = std::env::temp_dir().join(format!("hubble-dispatch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("targets.yml");
        std::fs::write(
            &path,
            "- targets: ['db1:5432', 'db2:5432']\n  labels: {job: pg, __param_dbname: app}\n",
        )
        .unwrap();
        let discovery = Arc::new(Discovery::new(FileSd::new(&path), "postgres"));
        let registry = Registry::new();
        let d = Arc::new(Dispatcher::<BaseExporter>::new(
            Duration::from_millis(20),
            "file_sd",
            registry.clone(),
        ));
        let cancel = CancellationToken::new();
        let src = {
            let discovery = discovery.clone();
            move || {
                let discovery = discovery.clone();
                async move { discovery.targets(|_| true, &BTreeMap::new()).await }
            }
        };
        let task = tokio::spawn({
            let (d, cancel) = (d.clone(), cancel.clone());
            async move { d.manage(src, factory, cancel).await }
        });
        until("two targets", || d.targets().len() == 2).await;
        assert!(d
            .targets()
            .iter()
            .all(|t| t.exporter_options["dbname"] == "app" && t.labels.get("job") == Some("pg")));
        // Caught half-way through a rewrite: the set stays.
        std::fs::write(&path, "- targets: ['db1:5432', 'db2").unwrap();
        until("the parse error counted", || {
            sample(
                &scrape(&registry),
                r#"hubble_discovery_errors_total{backend="file_sd"}"#,
            )
            .is_some_and(|n| n >= 1.0)
        })
        .await;
        assert_eq!(d.targets().len(), 2);
        // The finished rewrite applies.
        std::fs::write(
            &path,
            "- targets: ['db1:5432']\n  labels: {job: pg, __param_dbname: app}\n",
        )
        .unwrap();
        until("one target", || d.targets().len() == 1).await;
        cancel.cancel();
        task.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    // The clock is paused: time moves only when every task waits, so the attempts' times are exact.
    #[tokio::test(start_paused = true)]
    async fn a_failing_factory_is_retried_with_backoff() {
        let registry = Registry::new();
        let src: Source = Arc::new(Mutex::new(Ok(vec![target("flaky", "x")])));
        let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let interval = Duration::from_millis(10);
        let d = Dispatcher::<BaseExporter>::new(interval, "test", registry.clone());
        let cancel = CancellationToken::new();
        let seen = attempts.clone();
        let flaky = move |svc: ServiceAtomic| {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(Instant::now());
                seen.len()
            };
            async move {
                if n <= 3 {
                    Err("not yet".to_owned())
                } else {
                    factory(svc).await
                }
            }
        };
        let run = d.manage(source(&src), flaky, cancel.clone());
        let stop = async {
            until("registered after retries", || !d.targets().is_empty()).await;
            cancel.cancel();
        };
        tokio::join!(run, stop);
        let times = attempts.lock().unwrap().clone();
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        // Three failures: waits of one, two and four intervals (ticks every interval would give 10, 10, 10).
        assert_eq!(gaps, [interval, interval * 2, interval * 4]);
    }

    #[tokio::test]
    async fn a_dispatcher_takes_its_series_with_it() {
        let registry = Registry::new();
        let series = r#"hubble_dispatcher_targets{backend="file_sd"} 0"#;
        let new =
            || Dispatcher::<BaseExporter>::new(Duration::from_secs(1), "file_sd", registry.clone());
        let first = new();
        assert!(scrape(&registry).contains(series));
        drop(first);
        assert!(!scrape(&registry).contains("hubble_dispatcher_targets"));
        let _second = new();
        assert!(
            scrape(&registry).contains(series),
            "a later dispatcher of the backend is exported"
        );
    }

    #[tokio::test]
    async fn low_level_channels() {
        let registry = Registry::new();
        let src: Source = Arc::new(Mutex::new(Ok(vec![target("a", "x")])));
        let d = Arc::new(Dispatcher::<BaseExporter>::new(
            Duration::from_millis(20),
            "test",
            registry.clone(),
        ));
        let cancel = CancellationToken::new();
        let (added, mut to_register) = mpsc::channel(16);
        let (removed, mut to_unregister) = mpsc::channel(16);
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn({
            let (d, src, cancel) = (d.clone(), src.clone(), cancel.clone());
            async move { d.watch(source(&src), added, removed, cancel).await }
        });
        let svc = to_register.recv().await.unwrap();
        assert_eq!(svc.name, "a");
        let exporter = registry
            .register(factory(svc.clone()).await.unwrap())
            .await
            .unwrap();
        d.track(&svc, exporter);
        *src.lock().unwrap() = Ok(vec![]);
        let (h, gone) = to_unregister.recv().await.unwrap();
        assert_eq!(gone, svc);
        let exporter = d.untrack(h).unwrap();
        registry.unregister(&*exporter).await;
        assert!(d.targets().is_empty());
        cancel.cancel();
        tasks.join_next().await.unwrap().unwrap();
    }

    #[test]
    fn diff_by_content() {
        let (a, b) = (target("a", "x"), target("b", "x"));
        let live: HashSet<u64> = [a.content_hash(), b.content_hash()].into();
        let b2 = target("b", "y");
        let d = diff(&live, vec![a.clone(), b2.clone(), b2.clone()]);
        assert_eq!(d.added, vec![(b2.content_hash(), b2)]);
        assert_eq!(d.removed, vec![b.content_hash()]);
        assert_eq!(diff(&live, vec![a.clone(), b.clone()]), Diff::default());
    }

    #[test]
    fn shards_partition_with_no_overlap_or_gap_and_move_few() {
        let targets: Vec<ServiceAtomic> =
            (0..3000).map(|i| target(&format!("db{i}"), "x")).collect();
        for n in 1..=5u32 {
            let mut per_shard = vec![0usize; n as usize];
            for t in &targets {
                let owners: Vec<u32> = (0..n)
                    .filter(|i| {
                        Shard {
                            index: *i,
                            count: n,
                        }
                        .owns(t)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "target owned by {owners:?} of {n}");
                per_shard[owners[0] as usize] += 1;
            }
            let fair = targets.len() / n as usize;
            assert!(
                per_shard.iter().all(|c| *c > fair * 8 / 10),
                "uneven split {per_shard:?}"
            );
        }
        // Going from 3 to 4 replicas moves about a quarter of the targets, and only to the new replica.
        let moved: Vec<&ServiceAtomic> = targets
            .iter()
            .filter(|t| Shard::owner(3, t) != Shard::owner(4, t))
            .collect();
        assert!(moved.iter().all(|t| Shard::owner(4, t) == 3));
        let share = moved.len() as f64 / targets.len() as f64;
        assert!((0.18..0.32).contains(&share), "{share}");
    }

    #[test]
    fn shard_flag_syntax() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert!("3/3".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().unwrap_err().contains("index/count"));
    }
}
