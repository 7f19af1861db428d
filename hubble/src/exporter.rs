//! `BaseExporter` (a set of collectors with their schedule and constant labels) and the `Exporter` trait.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cache::{CollectorCache, CollectorHealth};
use crate::collector::{Collector, CollectorOptions, DynCollector, Family};
use crate::condition::{Facts, FactsProbe};
use crate::encode::ConstLabels;
use crate::metric::Labels;
use crate::scheduler::{default_jitter, run_exporter, CollectorEntry, Phase, Schedule, Scheduled};

/// Why an exporter could not be set up or a collector added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// Two collectors of one exporter share a name.
    #[error("exporter `{exporter}` already has a collector named `{collector}`")]
    DuplicateCollector {
        /// Exporter name.
        exporter: String,
        /// Collector name.
        collector: String,
    },
    /// Setting up the exporter failed (connecting to its target, say).
    #[error("setting up exporter `{exporter}`: {source}")]
    Setup {
        /// Exporter name.
        exporter: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// What the registry and the HTTP server read of an exporter.
pub(crate) struct ExporterShared {
    pub id: u64,
    pub name: Arc<str>,
    pub const_labels: Arc<ConstLabels>,
    pub collectors: RwLock<Vec<Arc<CollectorEntry>>>,
}

impl Scheduled for ExporterShared {
    fn name(&self) -> &str {
        &self.name
    }

    fn entries(&self) -> Vec<Arc<CollectorEntry>> {
        ExporterShared::entries(self)
    }
}

impl ExporterShared {
    pub(crate) fn entries(&self) -> Vec<Arc<CollectorEntry>> {
        self.collectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `f` of the collectors' entries, read in place (a scrape of a fleet would otherwise copy each
    /// target's list).
    pub(crate) fn with_entries<R>(&self, f: impl FnOnce(&[Arc<CollectorEntry>]) -> R) -> R {
        f(&self.collectors.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn families(&self) -> Vec<Family> {
        self.entries()
            .iter()
            .flat_map(|e| e.collector.families())
            .collect()
    }
}

/// An exporter's status, for landing pages and tests.
#[derive(Debug, Clone)]
pub struct ExporterStatus {
    /// Exporter name.
    pub name: String,
    /// Its constant labels.
    pub const_labels: Labels,
    /// Its collectors, in the order they were added.
    pub collectors: Vec<CollectorStatus>,
}

/// One collector's status.
#[derive(Debug, Clone)]
pub struct CollectorStatus {
    /// Collector name.
    pub name: String,
    /// Run interval.
    pub interval: Duration,
    /// Health after the last run.
    pub health: CollectorHealth,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A named set of collectors with constant labels, each collector run on its own schedule into a cache.
///
/// Build one with [`BaseExporter::builder`], add collectors, then [`register`](crate::register) it (which
/// starts processing) or call [`start`](Self::start) yourself.
///
/// ```
/// # use hubble::{BaseExporter, CollectError, Collector, Sample};
/// # struct Up;
/// # impl Collector for Up {
/// #     fn name(&self) -> &str { "up" }
/// #     async fn collect(&self) -> Result<Vec<Sample>, CollectError> { Ok(vec![]) }
/// # }
/// use std::time::Duration;
/// let exporter = BaseExporter::builder("demo")
///     .const_label("instance", "db1:5432")
///     .interval(Duration::from_secs(15))
///     .collector(Up)
///     .build()
///     .unwrap();
/// assert_eq!(exporter.name(), "demo");
/// ```
pub struct BaseExporter {
    shared: Arc<ExporterShared>,
    interval: Duration,
    timeout: Duration,
    ttl: Option<Duration>,
    max_jitter: Option<Duration>,
    max_series: usize,
    max_series_setting: &'static str,
    /// The target's facts, for collectors with a condition.
    facts: Option<Arc<Facts>>,
    /// `start_in_crowd`'s fraction, as f64 bits.
    crowd: AtomicU64,
    cancel: CancellationToken,
    /// The task driving the collectors, once processing.
    tasks: Mutex<Option<JoinSet<()>>>,
    /// Tells the task that collectors were added or removed.
    changed: Arc<Notify>,
}

/// Builder of a [`BaseExporter`]; defaults are the `DEFAULT_*` constants.
pub struct BaseExporterBuilder {
    name: String,
    const_labels: Labels,
    interval: Duration,
    timeout: Option<Duration>,
    ttl: Option<Duration>,
    max_jitter: Option<Duration>,
    max_series: usize,
    max_series_setting: &'static str,
    /// Makes the facts once the interval is known.
    facts: Option<Box<dyn FnOnce(Duration) -> Facts + Send>>,
    collectors: Vec<(Arc<dyn DynCollector>, CollectorOptions)>,
    /// The interval of collectors added next by [`Self::add`].
    pub(crate) adding_every: Option<Duration>,
}

impl std::fmt::Debug for BaseExporterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseExporterBuilder")
            .field("name", &self.name)
            .field("const_labels", &self.const_labels)
            .field("interval", &self.interval)
            .field("collectors", &self.collectors.len())
            .finish_non_exhaustive()
    }
}

impl BaseExporterBuilder {
    /// Default collection interval.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
    /// Default for [`Self::max_series`].
    pub const DEFAULT_MAX_SERIES: usize = 10_000;

    /// Adds a constant label, set on every series of the exporter (the target's labels, say).
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.const_labels.insert(name.into(), value);
        self
    }

    /// Replaces the constant labels.
    pub fn const_labels(mut self, labels: Labels) -> Self {
        self.const_labels = labels;
        self
    }

    /// Collection interval of every collector without its own (default [`Self::DEFAULT_INTERVAL`]).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Per-run timeout (default: the interval, so a run ends before the next is due).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long a result stays exported without a newer successful run (default: twice the collector's
    /// interval plus its timeout, so one late or failed run does not make series blink).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Upper bound of the random delay before the first runs, so that many targets started together do not
    /// query at the same instant (default: a tenth of the interval, at most 5 s). One random fraction is drawn
    /// per exporter: of this bound for the first runs, then of the interval for where its ticks fall, so its
    /// collectors with equal intervals still run together while targets spread over the interval.
    pub fn max_jitter(mut self, max_jitter: Duration) -> Self {
        self.max_jitter = Some(max_jitter);
        self
    }

    /// Most series one run of a collector may export (default [`Self::DEFAULT_MAX_SERIES`]). A run producing
    /// more fails with [`CollectError::TooManySeries`](crate::CollectError::TooManySeries): nothing of it is
    /// exported, and the collector shows as down in its self-metrics, so a query gone wrong (a label that took
    /// a per-row value) cannot flood Prometheus.
    pub fn max_series(mut self, max_series: usize) -> Self {
        self.max_series = max_series;
        self
    }

    /// Names what sets [`Self::max_series`] in the error of a run over it, as the user knows it: a flag
    /// such as `--collection.max-series` (default `max_series`).
    pub fn max_series_setting(mut self, setting: &'static str) -> Self {
        self.max_series_setting = setting;
        self
    }

    /// How the exporter learns its target's version and role, for collectors with a
    /// [`Condition`](crate::Condition): probed on the first run that needs it, and again once older than
    /// half the interval (so a failover or an upgrade is followed). Without it, conditions are not checked.
    pub fn facts(mut self, probe: impl FactsProbe) -> Self {
        self.facts = Some(Box::new(move |max_age| Facts::new(probe, max_age)));
        self
    }

    /// Adds a collector on the exporter's schedule.
    pub fn collector(self, collector: impl Collector) -> Self {
        self.collector_with(collector, CollectorOptions::default())
    }

    /// Adds a collector to a builder held by reference (an exporter assembled by a
    /// [`Catalogue`](crate::catalogue::Catalogue), say).
    pub fn add(&mut self, collector: impl Collector) -> &mut Self {
        let options = CollectorOptions {
            interval: self.adding_every,
            ..CollectorOptions::default()
        };
        self.collectors.push((Arc::new(collector), options));
        self
    }

    /// Collectors added from now on by [`Self::add`] run every `interval` (`None`: their own interval, or
    /// the exporter's). A [`Catalogue`](crate::catalogue::Catalogue) sets it for each collector it builds.
    pub fn adding_every(&mut self, interval: Option<Duration>) -> &mut Self {
        self.adding_every = interval;
        self
    }

    /// The exporter's collection interval, as set so far.
    pub fn collection_interval(&self) -> Duration {
        self.interval
    }

    /// Adds a collector with its own interval or timeout (these win over the collector's own options).
    pub fn collector_with(mut self, collector: impl Collector, options: CollectorOptions) -> Self {
        self.collectors.push((Arc::new(collector), options));
        self
    }

    /// Builds the exporter; fails if two collectors share a name.
    pub fn build(self) -> Result<BaseExporter, ExporterError> {
        let exporter = BaseExporter {
            shared: Arc::new(ExporterShared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                name: self.name.into(),
                const_labels: Arc::new(ConstLabels::new(self.const_labels)),
                collectors: RwLock::new(Vec::new()),
            }),
            interval: self.interval,
            timeout: self.timeout.unwrap_or(self.interval),
            ttl: self.ttl,
            max_jitter: self.max_jitter,
            max_series: self.max_series,
            max_series_setting: self.max_series_setting,
            facts: self.facts.map(|make| Arc::new(make(self.interval / 2))),
            crowd: AtomicU64::new(0),
            cancel: CancellationToken::new(),
            tasks: Mutex::new(None),
            changed: Arc::new(Notify::new()),
        };
        for (c, options) in self.collectors {
            exporter.add_dyn(c, options)?;
        }
        Ok(exporter)
    }
}

impl BaseExporter {
    /// Starts building an exporter named `name` (used in logs and on the landing page).
    pub fn builder(name: impl Into<String>) -> BaseExporterBuilder {
        BaseExporterBuilder {
            name: name.into(),
            const_labels: Labels::new(),
            interval: BaseExporterBuilder::DEFAULT_INTERVAL,
            timeout: None,
            ttl: None,
            max_jitter: None,
            max_series: BaseExporterBuilder::DEFAULT_MAX_SERIES,
            max_series_setting: "max_series",
            facts: None,
            collectors: Vec::new(),
            adding_every: None,
        }
    }

    /// The exporter's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The constant labels.
    pub fn const_labels(&self) -> &Labels {
        self.shared.const_labels.labels()
    }

    /// Adds a collector. If the exporter is already processing, the collector starts at once.
    pub fn add_collector(&self, collector: impl Collector) -> Result<(), ExporterError> {
        self.add_dyn(Arc::new(collector), CollectorOptions::default())
    }

    /// Adds a collector with its own interval or timeout.
    pub fn add_collector_with(
        &self,
        collector: impl Collector,
        options: CollectorOptions,
    ) -> Result<(), ExporterError> {
        self.add_dyn(Arc::new(collector), options)
    }

    fn add_dyn(
        &self,
        collector: Arc<dyn DynCollector>,
        options: CollectorOptions,
    ) -> Result<(), ExporterError> {
        // Explicit options first, then the collector's own (a group's attributes), then the exporter's.
        let own = collector.options();
        let interval = options.interval.or(own.interval).unwrap_or(self.interval);
        let timeout = options
            .timeout
            .or(own.timeout)
            .unwrap_or(self.timeout)
            .min(interval);
        let schedule = Schedule {
            interval,
            timeout,
            // The start jitter follows the exporter's interval: a collector that runs every few minutes still
            // has its first run with the others, not minutes later.
            max_jitter: self
                .max_jitter
                .unwrap_or_else(|| default_jitter(interval.min(self.interval))),
        };
        let ttl = self.ttl.unwrap_or(interval * 2 + timeout);
        let entry = Arc::new(CollectorEntry {
            cache: CollectorCache::new(self.shared.const_labels.clone(), ttl).max_series(
                options
                    .max_series
                    .or(own.max_series)
                    .unwrap_or(self.max_series),
                self.max_series_setting,
            ),
            condition: options.condition.or(own.condition).zip(self.facts.clone()),
            collector,
            schedule,
            removal: crate::scheduler::Removal::default(),
        });
        {
            let mut list = self
                .shared
                .collectors
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if list
                .iter()
                .any(|e| e.collector.name() == entry.collector.name())
            {
                return Err(ExporterError::DuplicateCollector {
                    exporter: self.name().to_owned(),
                    collector: entry.collector.name().to_owned(),
                });
            }
            list.push(entry);
        }
        // A running driver picks it up; one not started yet reads the list when it starts.
        self.changed.notify_one();
        Ok(())
    }

    /// Removes the collector named `name`: it stops running (a run in progress is cancelled) and its series
    /// leave the next scrape. Returns whether there was one. For reloads that change the set of groups.
    pub fn remove_collector(&self, name: &str) -> bool {
        let mut list = self
            .shared
            .collectors
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let Some(i) = list.iter().position(|e| e.collector.name() == name) else {
            return false;
        };
        list.remove(i).removal.remove();
        self.changed.notify_one();
        true
    }

    /// Every collector's name with the families it declares (without running anything): for a listing
    /// such as postgres_exporter's `--dumpmaps`.
    pub fn families(&self) -> Vec<(String, Vec<crate::Family>)> {
        self.shared
            .entries()
            .iter()
            .map(|e| (e.collector.name().to_owned(), e.collector.families()))
            .collect()
    }

    /// Whether a collector named `name` is present.
    pub fn has_collector(&self, name: &str) -> bool {
        self.shared
            .entries()
            .iter()
            .any(|e| e.collector.name() == name)
    }

    /// Says the exporter starts among `exporters` others started at the same time (a discovery change adding
    /// them all): their first runs then spread over as much of the interval as the crowd is large (all of it
    /// from [`CROWD`](Self::CROWD) on), not only the start jitter, so one server answering a thousand new
    /// targets is not asked everything at once and their first runs do not time out. Call before
    /// [`start`](Self::start); the dispatcher does.
    pub fn start_in_crowd(&self, exporters: usize) {
        #[allow(clippy::cast_precision_loss)]
        let crowd = (exporters as f64 / Self::CROWD as f64).min(1.0);
        self.crowd.store(crowd.to_bits(), Ordering::Relaxed);
    }

    /// Says the exporter takes over a target that was being exported until now (the same server under new
    /// labels, such as a Patroni member whose role changed): its first runs come at once, without the start
    /// jitter, so its series are back after one run. The server was being asked already: there is no burst
    /// to spread. Call before [`start`](Self::start); the dispatcher does.
    pub fn start_promptly(&self) {
        self.crowd.store((-1.0f64).to_bits(), Ordering::Relaxed);
    }

    /// Exporters starting together past which their first runs spread over a whole interval.
    pub const CROWD: usize = 100;

    /// Starts running the collectors (one task for all of them). Calling it again, or after
    /// [`close`](Self::close), does nothing. Must be called within a tokio runtime.
    pub fn start(&self) {
        self.start_on(&tokio::runtime::Handle::current());
    }

    /// [`start`](Self::start), with the collectors' task in `runtime`.
    pub fn start_on(&self, runtime: &tokio::runtime::Handle) {
        if self.cancel.is_cancelled() {
            return;
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks.is_some() {
            return;
        }
        let mut set = JoinSet::new();
        let (shared, changed, cancel) = (
            self.shared.clone(),
            self.changed.clone(),
            self.cancel.clone(),
        );
        let crowd = f64::from_bits(self.crowd.load(Ordering::Relaxed));
        // The phase is read in the task: its clock is the collecting runtime's.
        set.spawn_on(
            async move { run_exporter(shared, Phase::now(crowd), changed, cancel).await },
            runtime,
        );
        *tasks = Some(set);
    }

    /// Whether the exporter's task runs (tests).
    #[cfg(test)]
    pub(crate) fn is_processing(&self) -> bool {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Stops running the collectors and returns once their task has stopped. Runs in progress are cancelled.
    pub async fn close(&self) {
        self.cancel.cancel();
        let set = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut set) = set {
            while let Some(res) = set.join_next().await {
                if let Err(e) = res {
                    if e.is_panic() {
                        tracing::error!(exporter = self.name(), "collector driver task panicked");
                    }
                }
            }
        }
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The status of the exporter and its collectors.
    pub fn status(&self) -> ExporterStatus {
        status_of(&self.shared)
    }

    /// Calls `f` with each collector's name and health, in registration order: what [`status`](Self::status)
    /// gives without collecting it into a list, for a collector that reports its neighbours' health on every
    /// run (each health is copied for the call; its strings only when it has an error, a reason or a link).
    /// `f` runs under the exporter's list lock: keep it short, and do not call back into the exporter.
    ///
    /// ```
    /// # use hubble::{BaseExporter, CollectError, Collector, Sample};
    /// # struct Up;
    /// # impl Collector for Up {
    /// #     fn name(&self) -> &str { "up" }
    /// #     async fn collect(&self) -> Result<Vec<Sample>, CollectError> { Ok(vec![]) }
    /// # }
    /// let exporter = BaseExporter::builder("demo").collector(Up).build().unwrap();
    /// let mut seen = Vec::new();
    /// exporter.each_collector_health(|name, health| seen.push((name.to_owned(), health.runs)));
    /// assert_eq!(seen, [("up".to_owned(), 0)], "not run yet: not started");
    /// ```
    pub fn each_collector_health(&self, mut f: impl FnMut(&str, &CollectorHealth)) {
        self.shared.with_entries(|entries| {
            for e in entries {
                f(e.collector.name(), &e.cache.health());
            }
        });
    }

    pub(crate) fn shared(&self) -> &Arc<ExporterShared> {
        &self.shared
    }
}

pub(crate) fn status_of(shared: &ExporterShared) -> ExporterStatus {
    ExporterStatus {
        name: shared.name.to_string(),
        const_labels: shared.const_labels.labels().clone(),
        collectors: shared
            .entries()
            .iter()
            .map(|e| CollectorStatus {
                name: e.collector.name().to_owned(),
                interval: e.schedule.interval,
                health: e.cache.health(),
            })
            .collect(),
    }
}

impl std::fmt::Debug for BaseExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseExporter")
            .field("name", &self.shared.name)
            .field("const_labels", self.shared.const_labels.labels())
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field(
                "collectors",
                &self
                    .shared
                    .entries()
                    .iter()
                    .map(|e| e.collector.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Drop for BaseExporter {
    fn drop(&mut self) {
        // Tasks must not outlive their exporter; `close` is the graceful path, this the safety net.
        self.cancel.cancel();
    }
}

/// An exporter: something that owns a [`BaseExporter`] and may need setting up (connections, collectors)
/// before it is registered, and tearing down after.
///
/// ```
/// use hubble::{BaseExporter, Exporter, ExporterError};
///
/// struct MyExporter {
///     base: BaseExporter,
/// }
///
/// impl Exporter for MyExporter {
///     fn as_base(&self) -> &BaseExporter {
///         &self.base
///     }
///     async fn setup(&mut self) -> Result<(), ExporterError> {
///         // open connections, add collectors
///         Ok(())
///     }
/// }
/// ```
pub trait Exporter: Send + Sync + 'static {
    /// The base exporter holding the collectors.
    fn as_base(&self) -> &BaseExporter;

    /// Prepares the exporter; called by [`register`](crate::register) before it is added to the registry.
    fn setup(&mut self) -> impl Future<Output = Result<(), ExporterError>> + Send {
        async { Ok(()) }
    }

    /// Stops the exporter; called by [`unregister`](crate::unregister) after its series are removed.
    /// Override to close connections as well, calling `self.as_base().close()` first.
    fn close(&self) -> impl Future<Output = ()> + Send {
        self.as_base().close()
    }
}

/// An exporter whose close takes two seconds, as one whose server went away does (its pool waits for a
/// connection that will not come back); `closed` counts the closes that finished. For tests of shutdown.
#[cfg(test)]
pub(crate) struct SlowToClose {
    base: BaseExporter,
    closed: Arc<std::sync::atomic::AtomicUsize>,
}

#[cfg(test)]
impl SlowToClose {
    pub(crate) fn new(base: BaseExporter, closed: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        SlowToClose { base, closed }
    }
}

#[cfg(test)]
impl Exporter for SlowToClose {
    fn as_base(&self) -> &BaseExporter {
        &self.base
    }
    async fn close(&self) {
        self.base.close().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.closed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Exporter for BaseExporter {
    fn as_base(&self) -> &BaseExporter {
        self
    }
}
