//! The registry: which exporters are live, collision checks, and the rendered scrape body.
//!
//! A scrape never waits on a collector: it reads each collector's cached, already encoded result. The
//! concatenated body is itself cached (and its gzip form, on first request) until any collector stores a new
//! result, a result expires, or an exporter is registered or removed.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub(crate) use crate::body::Body;
use crate::body::{Plan, Rendered, STREAM_ABOVE};
use crate::cache::{health_lines, CacheSnapshot, SELF_METRICS};
use crate::encode::{encode_prometheus_families, EncodedRun, Format};
use crate::exporter::{status_of, Exporter, ExporterError, ExporterShared, ExporterStatus};
use crate::metric::MetricKind;

/// Why an exporter could not be registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Its setup failed.
    #[error(transparent)]
    Setup(#[from] ExporterError),
    /// Its series would collide with those of an exporter already registered.
    #[error("exporter `{exporter}` collides with registered exporter `{other}`: {reason}")]
    Collision {
        /// The exporter being registered.
        exporter: String,
        /// The registered one.
        other: String,
        /// What collides.
        reason: String,
    },
    /// Its declaration is inconsistent on its own (constant label reused by a collector, reserved name).
    #[error("exporter `{exporter}`: {reason}")]
    Invalid {
        /// The exporter being registered.
        exporter: String,
        /// What is wrong.
        reason: String,
    },
}

type CloseFn = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

struct Registered {
    shared: Arc<ExporterShared>,
    close: CloseFn,
    /// Family names claimed at registration, to check and release. The list is shared by every exporter that
    /// declares the same families (`Live::lists`). (Collector names are read from the exporter when needed:
    /// a copy of them was 1 KB a target.)
    families: Arc<[Arc<str>]>,
}

/// Live exporters, and what their series claim, indexed so that registering one exporter costs time in
/// proportion to its own declarations, not to the number already registered (a dispatcher registers
/// thousands), and memory per exporter rather than per family and exporter.
#[derive(Default)]
struct Live {
    exporters: BTreeMap<u64, Registered>,
    /// Family name → its type and how many live exporters declare it. The name is shared with every
    /// `Registered::families` that holds it.
    families: HashMap<Arc<str>, (MetricKind, usize)>,
    /// Hash of a constant label set → the live exporters with a set of that hash. Series of two exporters
    /// can only collide when their constant labels are equal, so a registration compares itself with these
    /// alone (with distinct labels per target: none).
    by_labels: HashMap<u64, Vec<u64>>,
    hasher: std::collections::hash_map::RandomState,
    /// The family lists of live exporters, each once: a fleet's targets declare the same families, and a list
    /// per target was a third of the registry's memory per target (`benches/heap_profile.sh`).
    lists: std::collections::HashSet<Arc<[Arc<str>]>>,
}

impl Live {
    fn insert(&mut self, shared: Arc<ExporterShared>, close: CloseFn) -> Result<(), RegisterError> {
        let descs = check_own(&shared)?;
        let name = &shared.name;
        let labels = shared.const_labels.labels();
        let collision = |other: &str, reason: String| RegisterError::Collision {
            exporter: name.to_string(),
            other: other.to_owned(),
            reason,
        };
        for d in &descs {
            if let Some((kind, _)) = self.families.get(d.name.as_ref()) {
                if *kind != d.kind {
                    let other = self
                        .exporters
                        .values()
                        .find(|r| r.families.iter().any(|f| **f == *d.name))
                        .map_or("?", |r| &*r.shared.name);
                    return Err(collision(
                        other,
                        format!(
                            "metric `{}` is a {} here and a {kind} there",
                            d.name, d.kind
                        ),
                    ));
                }
            }
        }
        let key = self.hasher.hash_one(labels);
        let same_labels = self
            .by_labels
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.exporters.get(id))
            .filter(|r| r.shared.const_labels.labels() == labels);
        for other in same_labels {
            if let Some(d) = descs
                .iter()
                .find(|d| other.families.iter().any(|f| **f == *d.name))
            {
                return Err(collision(
                    &other.shared.name,
                    format!(
                        "both export `{}` with the same constant labels {labels}",
                        d.name
                    ),
                ));
            }
            let theirs = other.shared.entries();
            let mine = shared.entries();
            if let Some(c) = mine
                .iter()
                .map(|e| e.collector.name())
                .find(|c| theirs.iter().any(|t| t.collector.name() == *c))
            {
                return Err(collision(
                    &other.shared.name,
                    format!(
                        "both have a collector named `{c}` with the same constant labels {labels}"
                    ),
                ));
            }
        }
        let names: Vec<Arc<str>> = descs
            .iter()
            .map(|d| {
                let name: Arc<str> = match self.families.get_key_value(d.name.as_ref()) {
                    Some((shared_name, _)) => shared_name.clone(),
                    None => d.name.as_ref().into(),
                };
                self.families.entry(name.clone()).or_insert((d.kind, 0)).1 += 1;
                name
            })
            .collect();
        let families = match self.lists.get(names.as_slice()) {
            Some(list) => list.clone(),
            None => {
                let list: Arc<[Arc<str>]> = names.into();
                self.lists.insert(list.clone());
                list
            }
        };
        self.by_labels.entry(key).or_default().push(shared.id);
        self.exporters.insert(
            shared.id,
            Registered {
                families,
                shared,
                close,
            },
        );
        Ok(())
    }

    fn remove(&mut self, id: u64) -> Option<Registered> {
        let r = self.exporters.remove(&id)?;
        for f in r.families.iter() {
            if let Some((_, count)) = self.families.get_mut(f) {
                *count -= 1;
                if *count == 0 {
                    self.families.remove(f);
                }
            }
        }
        // Held by the set and by this exporter alone: the last exporter with that list.
        if Arc::strong_count(&r.families) == 2 {
            self.lists.remove(&*r.families);
        }
        let key = self.hasher.hash_one(r.shared.const_labels.labels());
        if let Some(ids) = self.by_labels.get_mut(&key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_labels.remove(&key);
            }
        }
        Some(r)
    }
}

/// How long gathered `prometheus`-crate metrics (process metrics, user instruments) are reused.
const EXTRA_REFRESH: Duration = Duration::from_secs(1);

struct Inner {
    live: RwLock<Live>,
    /// Bumped when an exporter is added or removed.
    membership: AtomicU64,
    prometheus: prometheus::Registry,
    /// Gathered `prometheus`-crate families: when, at which membership, and the bytes in both formats.
    extra: Mutex<Option<(Instant, u64, [Bytes; 2])>>,
    rendered: [Mutex<Option<Arc<Rendered>>>; 2],
    /// Whether a rendered body is kept for the next scrape (see [`Registry::keep_bodies`]).
    keep_bodies: AtomicBool,
    /// Bodies larger than this many bytes are streamed, not cached.
    stream_above: AtomicUsize,
    /// Where collectors of exporters registered from now on run; `None`: the registering task's runtime.
    collect_on: Mutex<Option<tokio::runtime::Handle>>,
}

/// A set of live exporters, rendered together on `/metrics`.
///
/// Most programs use the [default registry](default_registry) through [`register`](crate::register);
/// tests and programs serving several endpoints create their own. Cloning shares the registry.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("exporters", &self.read().exporters.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry that also serves the process metrics (`process_*`, on Linux).
    pub fn new() -> Self {
        let registry = Registry::without_process_metrics();
        #[cfg(target_os = "linux")]
        {
            let _ = registry
                .inner
                .prometheus
                .register(Box::new(crate::process::ProcessMetrics::for_self()));
        }
        registry
    }

    /// An empty registry without the process metrics: for per-target registries (a `/probe` endpoint) whose
    /// output should hold only the target's series.
    pub fn without_process_metrics() -> Self {
        let prometheus = prometheus::Registry::new();
        Registry {
            inner: Arc::new(Inner {
                live: RwLock::new(Live::default()),
                membership: AtomicU64::new(0),
                prometheus,
                extra: Mutex::new(None),
                rendered: [Mutex::new(None), Mutex::new(None)],
                keep_bodies: AtomicBool::new(true),
                stream_above: AtomicUsize::new(STREAM_ABOVE),
                collect_on: Mutex::new(None),
            }),
        }
    }

    /// Runs the collectors of exporters registered from now on in `runtime` (a
    /// [`CollectionRuntime`](crate::runtime::CollectionRuntime)'s), not in the runtime of the task that registers
    /// them.
    pub fn collect_on(&self, runtime: tokio::runtime::Handle) {
        *self
            .inner
            .collect_on
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(runtime);
    }

    /// Whether a rendered body is kept until something changes, for the next scrape (the default), or
    /// dropped once sent.
    ///
    /// Keeping pays when scrapers outnumber changes: many scrapers, or one scraping faster than the collection
    /// interval. A per-target registry behind `/probe` is scraped about once per change, so a kept body is
    /// almost never reused, and a thousand probed targets would hold a thousand bodies (`docs/performance.md`
    /// §2). Bodies above 16 MiB are never kept.
    ///
    /// ```
    /// let per_target = hubble::Registry::without_process_metrics();
    /// per_target.keep_bodies(false);
    /// ```
    pub fn keep_bodies(&self, keep: bool) {
        self.inner.keep_bodies.store(keep, Ordering::Relaxed);
        if !keep {
            for slot in &self.inner.rendered {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
        }
    }

    /// The runtime set by [`collect_on`](Self::collect_on), if any.
    pub fn collection_runtime(&self) -> Option<tokio::runtime::Handle> {
        self.inner
            .collect_on
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The `prometheus` crate registry rendered alongside the exporters: register your own instruments here.
    /// Its families are gathered at most once a second.
    pub fn prometheus(&self) -> &prometheus::Registry {
        &self.inner.prometheus
    }

    /// Makes the next scrape gather the [`prometheus`](Self::prometheus) part again instead of reusing it
    /// for up to a second: call it after changing an instrument whose new value should show at once.
    pub fn prometheus_changed(&self) {
        self.bump_membership();
    }

    pub(crate) fn bump_membership(&self) {
        self.inner.membership.fetch_add(1, Ordering::AcqRel);
    }

    /// Changes whenever the rendered output may change (apart from expiry): versions only grow, so their sum
    /// under an unchanged membership moves with every stored run.
    fn version(&self) -> (u64, u64) {
        let membership = self.inner.membership.load(Ordering::Acquire);
        // Read in place: this runs on every scrape (copies of each exporter's list showed in its profiles).
        let runs = self
            .read()
            .exporters
            .values()
            .map(|r| {
                r.shared
                    .with_entries(|es| es.iter().map(|e| e.cache.version()).sum::<u64>())
            })
            .sum();
        (membership, runs)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.inner.live.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.inner.live.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the exporter up, adds it to the registry and starts its collectors.
    ///
    /// Fails, without starting anything, if setup fails or its series would collide with a registered
    /// exporter's. Returns the exporter, shared, for [`unregister`](Self::unregister).
    pub async fn register<E: Exporter>(&self, mut exporter: E) -> Result<Arc<E>, RegisterError> {
        exporter.setup().await?;
        let exporter = Arc::new(exporter);
        let shared = exporter.as_base().shared().clone();
        let for_close = exporter.clone();
        let close: CloseFn = Box::new(move || {
            let e = for_close.clone();
            Box::pin(async move { e.close().await })
        });
        self.write().insert(shared, close)?;
        self.bump_membership();
        match self.collection_runtime() {
            Some(runtime) => exporter.as_base().start_on(&runtime),
            None => exporter.as_base().start(),
        }
        Ok(exporter)
    }

    /// Removes the exporter, so its series vanish from the next scrape, then closes it. Returns whether it
    /// was registered here.
    pub async fn unregister<E: Exporter>(&self, exporter: &E) -> bool {
        let id = exporter.as_base().shared().id;
        let removed = self.write().remove(id);
        self.bump_membership();
        match removed {
            Some(r) => {
                (r.close)().await;
                true
            }
            None => false,
        }
    }

    /// Unregisters and closes every exporter; returns when all have stopped.
    pub async fn close_all(&self) {
        let all = std::mem::take(&mut *self.write());
        self.bump_membership();
        // Together: every exporter stops collecting at once, and the wait is the slowest close.
        futures_util::future::join_all(all.exporters.into_values().map(|r| (r.close)())).await;
    }

    /// Status of every registered exporter, in registration order.
    pub fn status(&self) -> Vec<ExporterStatus> {
        self.read()
            .exporters
            .values()
            .map(|r| status_of(&r.shared))
            .collect()
    }

    /// Whether every collector of every registered exporter has finished its first run.
    pub fn is_ready(&self) -> bool {
        self.read().exporters.values().all(|r| {
            r.shared
                .with_entries(|es| es.iter().all(|e| e.cache.version() > 0))
        })
    }

    /// Whether a collector of one of `names` is registered.
    pub fn has_collector(&self, names: &[String]) -> bool {
        self.read().exporters.values().any(|r| {
            r.shared.with_entries(|es| {
                es.iter()
                    .any(|e| names.iter().any(|n| n == e.collector.name()))
            })
        })
    }

    /// What a scrape reads of every collector `keep` accepts (by name), in exporter and collector order. Sized
    /// once: a fleet's list is tens of thousands of snapshots, and growing it by doubling showed at the
    /// scrape's peak of memory (`benches/heap_profile.sh`).
    fn snapshots(&self, now: Instant, keep: &dyn Fn(&str) -> bool) -> Vec<CacheSnapshot> {
        let registry = self.read();
        let count = registry
            .exporters
            .values()
            .map(|r| r.shared.with_entries(<[_]>::len))
            .sum();
        let mut snapshots = Vec::with_capacity(count);
        // Every exporter's health lines in one buffer for the scrape, each exporter's run a part of it: as
        // a run each, a fleet's scrape left a thousand small buffers behind among long-lived allocations.
        let mut text = Vec::new();
        let mut health = Vec::with_capacity(registry.exporters.len());
        for r in registry.exporters.values() {
            r.shared.with_entries(|entries| {
                let first = snapshots.len();
                let mut lines = Vec::with_capacity(entries.len());
                for e in entries.iter().filter(|e| keep(e.collector.name())) {
                    let (snapshot, of) = e.cache.snapshot_parts(now);
                    snapshots.push(snapshot);
                    lines.push((e.collector.name(), of));
                }
                // At the exporter's first collector: each family's lines come out in collector order, as
                // one run per collector gave them.
                if !lines.is_empty() {
                    health.push((first, health_lines(&mut text, &lines)));
                }
            });
        }
        let text: Arc<[u8]> = text.into();
        for (first, families) in health {
            snapshots[first].health = EncodedRun::sharing(text.clone(), families);
        }
        snapshots
    }

    /// Renders the current metrics of the collectors `keep` accepts (by name), for a request that selects
    /// some (mysqld_exporter's `collect[]`): each one's series and self-metrics, and the registry's own
    /// instruments. Not kept: a selection is per request.
    pub fn render_only(&self, format: Format, keep: &dyn Fn(&str) -> bool) -> Body {
        let now = Instant::now();
        let (extra_at, extra) = self.extra(now);
        let snapshots = self.snapshots(now, keep);
        let plan = Plan::new(format, snapshots, extra[format as usize].clone());
        if plan.size() > self.inner.stream_above.load(Ordering::Relaxed) {
            return Body::streamed(plan);
        }
        Body::rendered(Arc::new(Rendered::new(
            self.version(),
            extra_at,
            None,
            plan.write_whole(),
        )))
    }

    /// Renders the current metrics. Cheap when nothing changed since the last call: the body is reused
    /// (unless [`keep_bodies`](Self::keep_bodies) is off). A very large body (hundreds of targets) is not kept:
    /// it is written while it is sent.
    pub fn render(&self, format: Format) -> Body {
        let now = Instant::now();
        let (extra_at, extra) = self.extra(now);
        let extra = extra[format as usize].clone();
        let slot = &self.inner.rendered[format as usize];
        let mut cached = slot.lock().unwrap_or_else(|e| e.into_inner());
        let version = self.version();
        if let Some(r) = cached.as_ref() {
            if r.version == version
                && r.extra_at == extra_at
                && r.valid_until.is_none_or(|t| now < t)
            {
                return Body::rendered(r.clone());
            }
        }
        // The previous body's buffer, when no response still holds it, is written again: its pages are
        // mapped already, where a new one faulted each of its pages in on every scrape after a change (a
        // tenth of such a scrape's CPU, `perf record`).
        let reuse = cached
            .take()
            .and_then(|old| Arc::try_unwrap(old).ok())
            .and_then(|old| old.body.try_into_mut().ok());
        let snapshots = self.snapshots(now, &|_| true);
        let valid_until = snapshots.iter().filter_map(|s| s.expires_at).min();
        let plan = Plan::new(format, snapshots, extra);
        if plan.size() > self.inner.stream_above.load(Ordering::Relaxed) {
            return Body::streamed(plan);
        }
        let rendered = Arc::new(Rendered::new(
            version,
            extra_at,
            valid_until,
            plan.write_whole_into(reuse),
        ));
        if self.inner.keep_bodies.load(Ordering::Relaxed) {
            *cached = Some(rendered.clone());
        }
        Body::rendered(rendered)
    }

    /// Gathered `prometheus`-crate families in both formats, refreshed at most every [`EXTRA_REFRESH`], and
    /// at once when exporters were added or removed or an instrument's owner said it changed
    /// ([`prometheus_changed`](Self::prometheus_changed)).
    fn extra(&self, now: Instant) -> (Instant, [Bytes; 2]) {
        let membership = self.inner.membership.load(Ordering::Acquire);
        let mut extra = self.inner.extra.lock().unwrap_or_else(|e| e.into_inner());
        match extra.as_ref() {
            Some((at, m, bytes)) if *m == membership && now.duration_since(*at) < EXTRA_REFRESH => {
                (*at, bytes.clone())
            }
            _ => {
                let families = self.inner.prometheus.gather();
                let bytes = [
                    encode_prometheus_families(&families, Format::Text).into(),
                    encode_prometheus_families(&families, Format::OpenMetrics).into(),
                ];
                *extra = Some((now, membership, bytes.clone()));
                (now, bytes)
            }
        }
    }
}

/// Checks an exporter on its own; returns its families.
fn check_own(new: &ExporterShared) -> Result<Vec<crate::collector::Family>, RegisterError> {
    let invalid = |reason: String| RegisterError::Invalid {
        exporter: new.name.to_string(),
        reason,
    };
    if new.const_labels.labels().contains("collector") {
        return Err(invalid(
            "constant label `collector` is reserved for hubble's self-metrics".into(),
        ));
    }
    let descs = new.families();
    let mut seen: HashMap<&str, MetricKind> = HashMap::new();
    for d in &descs {
        if SELF_METRICS.contains(&d.name.as_ref()) {
            return Err(invalid(format!(
                "metric `{}` is reserved for hubble's self-metrics",
                d.name
            )));
        }
        if let Some(l) = d
            .label_names
            .iter()
            .find(|l| new.const_labels.labels().contains(l))
        {
            return Err(invalid(format!(
                "metric `{}` has label `{l}`, which is also a constant label",
                d.name
            )));
        }
        if seen.insert(&d.name, d.kind).is_some() {
            return Err(invalid(format!(
                "metric `{}` is produced by two collectors",
                d.name
            )));
        }
    }
    Ok(descs)
}

static DEFAULT: OnceLock<Registry> = OnceLock::new();

/// The process-wide registry used by [`register`](crate::register) and [`unregister`](crate::unregister).
pub fn default_registry() -> &'static Registry {
    DEFAULT.get_or_init(Registry::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{CollectError, Collector, Family};
    use crate::exporter::BaseExporter;
    use crate::metric::Sample;

    struct Fixed(&'static str, Vec<Sample>);
    impl Collector for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn families(&self) -> Vec<Family> {
            let mut d: Vec<Family> = self
                .1
                .iter()
                .map(|m| {
                    Family::new(
                        m.name.clone(),
                        m.help.clone(),
                        m.kind,
                        m.labels.iter().map(|(n, _)| n.to_owned()),
                    )
                })
                .collect();
            d.dedup_by(|a, b| a.name == b.name);
            d
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            Ok(self.1.clone())
        }
    }

    fn exporter(target: &str, collector: Fixed) -> BaseExporter {
        BaseExporter::builder("test")
            .const_label("target", target)
            .interval(Duration::from_secs(3600))
            .max_jitter(Duration::ZERO)
            .collector(collector)
            .build()
            .unwrap()
    }

    fn up(v: f64) -> Fixed {
        Fixed("up", vec![Sample::gauge("demo_up", "Up.", v)])
    }

    async fn scrape_until(reg: &Registry, needle: &str) -> String {
        for _ in 0..200 {
            let body = String::from_utf8(reg.render(Format::Text).bytes().to_vec()).unwrap();
            if body.contains(needle) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("`{needle}` never appeared");
    }

    /// Which thread it ran on, as a label.
    struct WhereRun;
    impl Collector for WhereRun {
        fn name(&self) -> &str {
            "where"
        }
        fn families(&self) -> Vec<Family> {
            vec![Family::new(
                "demo_ran",
                "Ran.",
                MetricKind::Gauge,
                ["thread"],
            )]
        }
        async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            Ok(vec![
                Sample::gauge("demo_ran", "Ran.", 1.0).label("thread", thread)
            ])
        }
    }

    #[tokio::test]
    async fn collectors_run_on_the_collection_runtime_when_one_is_set() {
        let collection = crate::runtime::CollectionRuntime::new(1).unwrap();
        let reg = Registry::new();
        reg.collect_on(collection.handle().clone());
        let base = BaseExporter::builder("test")
            .interval(Duration::from_secs(3600))
            .max_jitter(Duration::ZERO)
            .collector(WhereRun)
            .build()
            .unwrap();
        reg.register(base).await.unwrap();
        let body = scrape_until(&reg, "demo_ran{").await;
        assert!(
            body.contains(r#"demo_ran{thread="hubble-collect"} 1"#),
            "{body}"
        );
        // Closing from this runtime waits for the task on the other one.
        tokio::time::timeout(Duration::from_secs(5), reg.close_all())
            .await
            .expect("closed");
    }

    #[tokio::test]
    async fn exporters_declaring_the_same_families_share_one_list() {
        let reg = Registry::new();
        let a = reg.register(exporter("a", up(1.0))).await.unwrap();
        let b = reg.register(exporter("b", up(0.0))).await.unwrap();
        let other = Fixed("other", vec![Sample::gauge("demo_other", "Other.", 1.0)]);
        let c = reg.register(exporter("c", other)).await.unwrap();
        {
            let live = reg.read();
            let list = |e: &BaseExporter| live.exporters[&e.shared().id].families.clone();
            assert!(Arc::ptr_eq(&list(&a), &list(&b)));
            assert!(!Arc::ptr_eq(&list(&a), &list(&c)));
            assert_eq!(live.lists.len(), 2);
        }
        // A list goes with the last exporter holding it.
        reg.unregister(&*a).await;
        assert_eq!(reg.read().lists.len(), 2);
        reg.unregister(&*b).await;
        assert_eq!(reg.read().lists.len(), 1);
        reg.close_all().await;
    }

    // Paused clock: the time the closes take is exact.
    #[tokio::test(start_paused = true)]
    async fn close_all_closes_every_exporter_together() {
        use crate::exporter::SlowToClose;
        let reg = Registry::new();
        let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 0..10 {
            let e = SlowToClose::new(exporter(&format!("t{i}"), up(1.0)), closed.clone());
            reg.register(e).await.unwrap();
        }
        let began = tokio::time::Instant::now();
        reg.close_all().await;
        // One close's two seconds, not ten of them.
        assert!(
            began.elapsed() < Duration::from_secs(3),
            "took {:?}",
            began.elapsed()
        );
        assert_eq!(closed.load(std::sync::atomic::Ordering::SeqCst), 10);
    }

    #[tokio::test]
    async fn colliding_series_are_an_error_not_a_panic() {
        let reg = Registry::new();
        reg.register(exporter("a", up(1.0))).await.unwrap();
        let err = reg.register(exporter("a", up(1.0))).await.unwrap_err();
        assert!(matches!(err, RegisterError::Collision { .. }), "{err}");
        assert!(err.to_string().contains("demo_up"), "{err}");
        // Same labels, another family, but a collector of the same name: its self-metrics would collide.
        let other = || Sample::gauge("demo_other", "Other.", 1.0);
        let err = reg
            .register(exporter("a", Fixed("up", vec![other()])))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("a collector named `up`"), "{err}");
        // Same labels, nothing shared: fine.
        reg.register(exporter("a", Fixed("other", vec![other()])))
            .await
            .unwrap();
        // Other constant labels: fine.
        reg.register(exporter("b", up(1.0))).await.unwrap();
        // Same name, other type: refused whatever the labels.
        let counter = Fixed("up", vec![Sample::counter("demo_up", "Up.", 1.0)]);
        let err = reg.register(exporter("c", counter)).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("is a counter here and a gauge there"),
            "{err}"
        );
        reg.close_all().await;
    }

    #[tokio::test]
    async fn invalid_declarations_are_refused() {
        let reg = Registry::new();
        let labelled = Fixed(
            "x",
            vec![Sample::gauge("demo_x", "X.", 1.0).label("target", "t")],
        );
        let err = reg.register(exporter("a", labelled)).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("label `target`, which is also a constant label"),
            "{err}"
        );
        let reserved = BaseExporter::builder("r")
            .const_label("collector", "x")
            .build()
            .unwrap();
        assert!(reg.register(reserved).await.is_err());
        assert!(reg.status().is_empty());
    }

    #[tokio::test]
    async fn unregister_removes_series_at_once() {
        let reg = Registry::new();
        let a = reg.register(exporter("a", up(1.0))).await.unwrap();
        let _b = reg.register(exporter("b", up(0.0))).await.unwrap();
        scrape_until(&reg, "demo_up{target=\"b\"} 0").await;
        let body = scrape_until(&reg, "demo_up{target=\"a\"} 1").await;
        assert_eq!(body.matches("# TYPE demo_up gauge").count(), 1, "{body}");
        assert!(reg.unregister(&*a).await);
        assert!(a.as_base().is_closed());
        let body = String::from_utf8(reg.render(Format::Text).bytes().to_vec()).unwrap();
        assert!(!body.contains("target=\"a\""), "{body}");
        assert!(body.contains("demo_up{target=\"b\"} 0"), "{body}");
        assert!(!reg.unregister(&*a).await, "second unregister");
        // Its claims were released: the same target can come back.
        reg.register(exporter("a", up(1.0)))
            .await
            .expect("re-register after unregister");
        reg.close_all().await;
    }

    #[tokio::test]
    async fn render_reuses_the_body_until_something_changes() {
        let reg = Registry::new();
        let e = reg.register(exporter("a", up(1.0))).await.unwrap();
        scrape_until(&reg, "demo_up{target=\"a\"} 1").await;
        // The process metrics refresh once a second; everything else stands still (interval: an hour). Two
        // renders within one such second must share one body; a pair that straddles a refresh is taken again.
        let (one, two) = (0..10)
            .map(|_| (reg.render(Format::Text), reg.render(Format::Text)))
            .find(|(a, b)| a.cached().unwrap().extra_at == b.cached().unwrap().extra_at)
            .expect("two renders within one refresh of the process metrics");
        let (one_r, two_r) = (one.cached().unwrap(), two.cached().unwrap());
        assert!(Arc::ptr_eq(one_r, two_r), "body rendered twice");
        reg.register(exporter("b", up(1.0))).await.unwrap();
        assert!(
            !Arc::ptr_eq(two_r, reg.render(Format::Text).cached().unwrap()),
            "stale body after register"
        );
        let gz = two.gzip();
        let mut d = flate2::read::GzDecoder::new(&gz[..]);
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut plain).unwrap();
        assert_eq!(plain, two.bytes());
        let om = String::from_utf8(reg.render(Format::OpenMetrics).bytes().to_vec()).unwrap();
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert_eq!(om.matches("# EOF").count(), 1);
        reg.unregister(&*e).await;
    }

    #[tokio::test]
    async fn a_new_body_is_written_into_the_last_ones_buffer_once_nobody_holds_it() {
        let reg = Registry::without_process_metrics();
        reg.register(exporter("a", up(1.0))).await.unwrap();
        scrape_until(&reg, "demo_up{target=\"a\"} 1").await;
        let first = reg.render(Format::Text);
        let (at, text) = (first.bytes().as_ptr(), first.bytes().to_vec());
        // Held by a response still being sent: the next body has a buffer of its own.
        let b = reg.register(exporter("b", up(1.0))).await.unwrap();
        let second = reg.render(Format::Text);
        assert_ne!(second.bytes().as_ptr(), at);
        assert_eq!(
            first.bytes().to_vec(),
            text,
            "a body in flight was written over"
        );
        drop(first);
        let (at, len) = (second.bytes().as_ptr(), second.bytes().len());
        drop(second);
        // Nobody holds it: the next body (a smaller one) is written where it was.
        reg.unregister(&*b).await;
        let third = reg.render(Format::Text);
        assert_eq!(third.bytes().as_ptr(), at, "the buffer was not reused");
        assert!(third.bytes().len() < len);
        let body = String::from_utf8(third.bytes().to_vec()).unwrap();
        assert!(
            body.contains("demo_up{target=\"a\"} 1") && !body.contains("target=\"b\""),
            "{body}"
        );
        reg.close_all().await;
    }

    #[tokio::test]
    async fn a_body_not_kept_is_written_for_each_scrape() {
        let reg = Registry::without_process_metrics();
        reg.register(exporter("a", up(1.0))).await.unwrap();
        scrape_until(&reg, "demo_up{target=\"a\"} 1").await;
        let held = || {
            reg.inner.rendered[Format::Text as usize]
                .lock()
                .unwrap()
                .is_some()
        };
        let kept = reg.render(Format::Text);
        assert!(held());
        reg.keep_bodies(false);
        assert!(!held(), "the kept body outlived keep_bodies(false)");
        let (one, two) = (reg.render(Format::Text), reg.render(Format::Text));
        let (one_r, two_r) = (one.cached().unwrap(), two.cached().unwrap());
        assert!(!Arc::ptr_eq(one_r, two_r) && !held(), "a body was kept");
        assert_eq!(one.bytes(), kept.bytes());
        assert_eq!(gunzip(&two.gzip()), kept.bytes().to_vec());
        reg.keep_bodies(true);
        let (three, four) = (reg.render(Format::Text), reg.render(Format::Text));
        assert!(Arc::ptr_eq(three.cached().unwrap(), four.cached().unwrap()));
        reg.close_all().await;
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut plain).unwrap();
        plain
    }

    #[tokio::test]
    async fn a_streamed_body_has_the_same_bytes_as_a_cached_one() {
        let reg = Registry::without_process_metrics();
        let many = (0..10_000)
            .map(|i| Sample::gauge("demo_rows", "Rows.", i as f64).label("table", format!("t{i}")))
            .collect();
        let e = reg
            .register(exporter("a", Fixed("rows", many)))
            .await
            .unwrap();
        reg.register(exporter("b", up(1.0))).await.unwrap();
        scrape_until(&reg, "demo_up{target=\"b\"} 1").await;
        scrape_until(&reg, "table=\"t9999\"").await;
        for format in [Format::Text, Format::OpenMetrics] {
            reg.inner.stream_above.store(usize::MAX, Ordering::Relaxed);
            let cached = reg.render(format);
            assert!(cached.cached().is_some());
            // Every body streamed: pieces are 128 KiB, so this one spans several.
            reg.inner.stream_above.store(0, Ordering::Relaxed);
            *reg.inner.rendered[format as usize].lock().unwrap() = None;
            let streamed = reg.render(format);
            assert!(streamed.cached().is_none());
            assert!(cached.bytes().len() > 2 * (128 << 10));
            assert_eq!(streamed.bytes(), cached.bytes(), "{format:?}");
            assert_eq!(
                gunzip(&streamed.gzip()),
                cached.bytes().to_vec(),
                "{format:?}"
            );
        }
        reg.unregister(&*e).await;
        reg.close_all().await;
    }
}
