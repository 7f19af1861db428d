//! The latest result of each collector, encoded, plus the collector's health.
//!
//! A collector's run replaces its previous result as a whole (series that vanished from the source vanish from
//! the scrape). A result older than its TTL is dropped, so a collector that keeps failing stops exporting stale
//! values, while its health self-metrics (`hubble_collector_up 0`) stay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::collector::CollectError;
use crate::encode::{
    encode_collection, escape_label_value, intern, ConstLabels, EncodedRun, FamilyMeta, LineRun,
    Span,
};
use crate::metric::Sample;
use crate::targets::up::TargetTls;

/// Health of one collector, as shown in self-metrics and on the landing page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectorHealth {
    /// Runs finished (successful or not).
    pub runs: u64,
    /// Whether the last run succeeded.
    pub up: bool,
    /// Duration of the last run.
    pub last_duration: Duration,
    /// Failed runs so far.
    pub errors_total: u64,
    /// When the last successful run finished.
    pub last_success: Option<SystemTime>,
    /// The error of the last run, when it failed.
    pub last_error: Option<String>,
    /// Series stored by the last successful run.
    pub series: usize,
    /// Why the collector does not apply to the target, when its last run said so
    /// ([`CollectError::NotApplicable`]).
    pub not_applicable: Option<String>,
    /// The link to the target, when the collector reports it (the `up` collector's `hubble_target_tls`):
    /// as of its last successful run.
    pub tls: Option<TargetTls>,
}

/// What changed in a collector's health with one run; the scheduler logs only changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Same state as before (still up, or still failing with the same error).
    Unchanged,
    /// First failure, or a different error than last time.
    Failing,
    /// Succeeded after failing.
    Recovered,
    /// Does not apply to the target (first time, or for another reason than last time).
    NotApplicable,
}

#[derive(Default)]
struct Entry {
    data: EncodedRun,
    expires_at: Option<Instant>,
    health: KeptHealth,
}

/// A collector's health as its cache keeps it: what every run sets inline, what few collectors have (an
/// error, a reason it does not apply, a link) boxed, so that a collector keeps 72 bytes of it rather than
/// [`CollectorHealth`]'s 144 (a fleet target has about 20 collectors).
#[derive(Default)]
struct KeptHealth {
    runs: u64,
    errors_total: u64,
    last_duration: Duration,
    last_success: Option<SystemTime>,
    series: usize,
    up: bool,
    /// `None` while all three are.
    rare: Option<Box<RareHealth>>,
}

#[derive(Default)]
struct RareHealth {
    last_error: Option<String>,
    not_applicable: Option<String>,
    tls: Option<TargetTls>,
}

impl KeptHealth {
    fn last_error(&self) -> Option<&str> {
        self.rare.as_ref()?.last_error.as_deref()
    }

    fn not_applicable(&self) -> Option<&str> {
        self.rare.as_ref()?.not_applicable.as_deref()
    }

    /// Sets the rare fields, boxing them only when one is there (in the box already there, if any: the `up`
    /// collector sets its link on every run).
    fn set_rare(
        &mut self,
        last_error: Option<String>,
        not_applicable: Option<String>,
        tls: Option<TargetTls>,
    ) {
        if last_error.is_none() && not_applicable.is_none() && tls.is_none() {
            self.rare = None;
            return;
        }
        let fields = RareHealth {
            last_error,
            not_applicable,
            tls,
        };
        match &mut self.rare {
            Some(rare) => **rare = fields,
            None => self.rare = Some(Box::new(fields)),
        }
    }

    fn tls(&mut self) -> Option<TargetTls> {
        self.rare.as_mut()?.tls.take()
    }

    fn to_public(&self) -> CollectorHealth {
        let rare = self.rare.as_deref();
        CollectorHealth {
            runs: self.runs,
            up: self.up,
            last_duration: self.last_duration,
            errors_total: self.errors_total,
            last_success: self.last_success,
            last_error: rare.and_then(|r| r.last_error.clone()),
            series: self.series,
            not_applicable: rare.and_then(|r| r.not_applicable.clone()),
            tls: rare.and_then(|r| r.tls.clone()),
        }
    }
}

/// The cached state of one collector.
pub(crate) struct CollectorCache {
    /// The exporter's, shared by its collectors.
    const_labels: Arc<ConstLabels>,
    ttl: Duration,
    max_series: usize,
    max_series_setting: &'static str,
    entry: Mutex<Entry>,
    /// Bumped on every stored run, so a rendered scrape body can be reused until a collector changes.
    version: AtomicU64,
}

/// What a scrape reads of one collector.
pub(crate) struct CacheSnapshot {
    /// Encoded data, empty when expired or never collected.
    pub data: EncodedRun,
    pub health: EncodedRun,
    /// The exporter's constant labels, spliced into every line when written.
    pub consts: Arc<ConstLabels>,
    /// When `data` stops being valid; `None` when there is nothing to expire.
    pub expires_at: Option<Instant>,
}

impl CollectorCache {
    /// (Its collector's name is the collector's to keep: a fleet has about 20 collectors a target.)
    pub(crate) fn new(const_labels: Arc<ConstLabels>, ttl: Duration) -> Self {
        CollectorCache {
            const_labels,
            ttl,
            max_series: usize::MAX,
            max_series_setting: "the limit",
            entry: Mutex::new(Entry::default()),
            version: AtomicU64::new(0),
        }
    }

    /// Refuses runs of more than `max_series` series; the error names `setting` as what raises it.
    pub(crate) fn max_series(mut self, max_series: usize, setting: &'static str) -> Self {
        self.max_series = max_series;
        self.max_series_setting = setting;
        self
    }

    /// Records one run: on success its samples replace the previous result; on failure the previous result
    /// is kept until it expires. Health is updated either way (its self-metrics are encoded by scrapes).
    #[cfg_attr(not(any(test, feature = "bench")), allow(dead_code))]
    pub(crate) fn record(
        &self,
        result: Result<Vec<Sample>, CollectError>,
        duration: Duration,
        finished: Instant,
    ) -> (Transition, CollectorHealth) {
        let transition = self.store(result, duration, finished);
        (transition, self.health())
    }

    /// [`record`](Self::record) without a copy of the health: what the scheduler calls every run (it reads
    /// the health only for a transition it logs).
    pub(crate) fn store(
        &self,
        result: Result<Vec<Sample>, CollectError>,
        duration: Duration,
        finished: Instant,
    ) -> Transition {
        // Encoding happens here, once per run, outside the lock: a scrape only copies bytes.
        let mut tls = None;
        let encoded = result.and_then(|metrics| {
            tls = TargetTls::find(&metrics);
            // Checked before encoding: an oversized run costs no more than its own allocation.
            let produced: usize = metrics.iter().map(Sample::series).sum();
            if produced > self.max_series {
                return Err(CollectError::TooManySeries {
                    limit: self.max_series,
                    setting: self.max_series_setting,
                    produced,
                });
            }
            encode_collection(metrics, self.const_labels.labels())
        });
        let mut entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        // An unchanged source renews what the last run exported, while it is still exported.
        let renew = matches!(encoded, Err(CollectError::Unchanged))
            && entry.expires_at.is_some_and(|t| finished < t);
        let h = &mut entry.health;
        // What the transition is judged by, as it was before this run.
        let (was_up, was_runs, was_not_applicable) = (h.up, h.runs, h.not_applicable().is_some());
        h.runs += 1;
        h.last_duration = duration;
        let transition = match &encoded {
            Err(CollectError::NotApplicable(reason)) => {
                h.up = false;
                let tls = h.tls();
                // The reason is copied only when it changed.
                if h.not_applicable() != Some(reason) {
                    h.set_rare(None, Some(reason.to_string()), tls);
                    Transition::NotApplicable
                } else {
                    let reason = h.rare.as_mut().and_then(|r| r.not_applicable.take());
                    h.set_rare(None, reason, tls);
                    Transition::Unchanged
                }
            }
            Err(e) if !renew => {
                h.up = false;
                h.errors_total += 1;
                let msg = crate::redact::secrets(&e.to_string()).into_owned();
                let changed = was_up || was_runs == 0 || h.last_error() != Some(msg.as_str());
                let tls = h.tls();
                h.set_rare(Some(msg), None, tls);
                if changed {
                    Transition::Failing
                } else {
                    Transition::Unchanged
                }
            }
            // A run that succeeded, or an unchanged source whose result was renewed.
            _ => {
                h.up = true;
                let tls = if renew { h.tls() } else { tls };
                h.last_success = Some(SystemTime::now());
                h.set_rare(None, None, tls);
                if was_runs > 0 && !was_up && !was_not_applicable {
                    Transition::Recovered
                } else {
                    Transition::Unchanged
                }
            }
        };
        match encoded {
            Ok(run) => {
                entry.health.series = run.series();
                entry.data = run;
                entry.expires_at = Some(finished + self.ttl);
            }
            Err(CollectError::Unchanged) if renew => entry.expires_at = Some(finished + self.ttl),
            // It no longer applies (a failover, a dropped extension): what it exported goes at once.
            Err(CollectError::NotApplicable(_)) => {
                entry.health.series = 0;
                entry.data = EncodedRun::default();
                entry.expires_at = None;
            }
            Err(_) => {}
        }
        drop(entry);
        self.version.fetch_add(1, Ordering::Release);
        transition
    }

    /// What a scrape reads of this collector (named `name`) alone, its health included.
    #[cfg_attr(not(any(test, feature = "bench")), allow(dead_code))]
    pub(crate) fn snapshot(&self, name: &str, now: Instant) -> CacheSnapshot {
        let (mut snapshot, health) = self.snapshot_parts(now);
        snapshot.health = encode_health(&[(name, health)]);
        snapshot
    }

    /// What a scrape reads of this collector, without its health (`health` empty), and what its health
    /// lines show, for [`encode_health`] to encode with the exporter's other collectors'.
    pub(crate) fn snapshot_parts(&self, now: Instant) -> (CacheSnapshot, HealthLines) {
        let entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        let live = entry.expires_at.is_some_and(|t| now < t);
        let data = if live {
            entry.data.clone()
        } else {
            EncodedRun::default()
        };
        let snapshot = CacheSnapshot {
            data,
            health: EncodedRun::default(),
            consts: self.const_labels.clone(),
            expires_at: entry.expires_at.filter(|_| live),
        };
        (snapshot, HealthLines::of_kept(&entry.health))
    }

    /// Number of runs stored so far; changes whenever what a scrape reads of this collector changes.
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub(crate) fn health(&self) -> CollectorHealth {
        self.entry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .health
            .to_public()
    }
}

/// Names of the self-metrics, reserved for hubble.
pub(crate) const SELF_METRICS: [&str; 5] = [
    "hubble_collector_up",
    "hubble_collector_duration_seconds",
    "hubble_collector_errors_total",
    "hubble_collector_last_success_timestamp_seconds",
    "hubble_collector_not_applicable",
];

/// Help texts of [`SELF_METRICS`], in its order.
const SELF_METRICS_HELP: [&str; 5] = [
    "Whether the last run of the collector succeeded (1) or failed (0).",
    "Duration of the last run of the collector in seconds.",
    "Failed runs of the collector.",
    "Unix time of the last successful run of the collector.",
    "Present (1) while the collector does not apply to the target (version, role, extension).",
];

/// The family records of [`SELF_METRICS`], in its order: made once per process.
fn self_metric_records() -> &'static [Arc<FamilyMeta>; 5] {
    static RECORDS: std::sync::OnceLock<[Arc<FamilyMeta>; 5]> = std::sync::OnceLock::new();
    RECORDS.get_or_init(|| {
        std::array::from_fn(|i| {
            let kind = if i == 2 {
                crate::MetricKind::Counter
            } else {
                crate::MetricKind::Gauge
            };
            intern(SELF_METRICS[i], SELF_METRICS_HELP[i], kind).expect("valid names")
        })
    })
}

/// What a collector's self-metrics show of its health: copied under the cache's lock, encoded outside it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HealthLines {
    up: bool,
    not_applicable: bool,
    duration: f64,
    errors: u64,
    last_success: Option<f64>,
}

impl HealthLines {
    #[cfg(test)]
    pub(crate) fn of(h: &CollectorHealth) -> Self {
        Self::new(
            h.up,
            h.not_applicable.is_some(),
            h.last_duration,
            h.errors_total,
            h.last_success,
        )
    }

    fn of_kept(h: &KeptHealth) -> Self {
        Self::new(
            h.up,
            h.not_applicable().is_some(),
            h.last_duration,
            h.errors_total,
            h.last_success,
        )
    }

    fn new(
        up: bool,
        not_applicable: bool,
        duration: Duration,
        errors: u64,
        last_success: Option<SystemTime>,
    ) -> Self {
        HealthLines {
            up,
            not_applicable,
            duration: duration.as_secs_f64(),
            errors,
            last_success: last_success.map(|t| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
            }),
        }
    }

    /// The value of the `i`th of [`SELF_METRICS`], when the collector has that line. A collector that does
    /// not apply is neither up nor down; the last success is there once there was one.
    fn value(&self, i: usize) -> Option<f64> {
        match i {
            0 => (!self.not_applicable).then_some(f64::from(u8::from(self.up))),
            1 => Some(self.duration),
            2 => Some(self.errors as f64),
            3 => self.last_success,
            _ => self.not_applicable.then_some(1.0),
        }
    }
}

/// The self-metrics of an exporter's collectors (`collectors`, in their order), each line labelled with its
/// collector's name, as one run: each family's lines in collector order, as the collectors' runs one after
/// another would give them, in one run per exporter rather than one per collector. Encoded for each scrape,
/// not kept (a fleet's collectors held 4.4 KB a target of them, `benches/heap_profile.sh`). A constant label
/// named `collector` is refused at registration.
pub(crate) fn encode_health(collectors: &[(&str, HealthLines)]) -> EncodedRun {
    let mut text = Vec::new();
    let families = health_lines(&mut text, collectors);
    EncodedRun::new(text, families)
}

/// [`encode_health`]'s lines written at the end of `text` (which other exporters' share, for one scrape):
/// their families, for [`EncodedRun::sharing`] once `text` is whole.
pub(crate) fn health_lines(
    text: &mut Vec<u8>,
    collectors: &[(&str, HealthLines)],
) -> Vec<(Arc<FamilyMeta>, Span)> {
    let records = self_metric_records();
    // Each collector's set, as written, one after another.
    let mut sets = Vec::with_capacity(collectors.len() * 32);
    let mut ends = Vec::with_capacity(collectors.len());
    for (name, _) in collectors {
        sets.extend_from_slice(b"{collector=\"");
        escape_label_value(&mut sets, name);
        sets.extend_from_slice(b"\"}");
        ends.push(sets.len());
    }
    let mut run = LineRun::new(text, collectors.len());
    // In name order: duration, errors, last success, not applicable, up.
    for family in [1, 2, 3, 4, 0] {
        run.family(&records[family]);
        for (i, (_, h)) in collectors.iter().enumerate() {
            if let Some(v) = h.value(family) {
                let start = i.checked_sub(1).map_or(0, |before| ends[before]);
                run.line(i, &sets[start..ends[i]], v);
            }
        }
    }
    run.finish()
}

/// A collector's health as its self-metrics.
#[cfg(test)]
fn health_families(name: &str, h: &CollectorHealth) -> EncodedRun {
    encode_health(&[(name, HealthLines::of(h))])
}

/// What [`health_families`] encodes, as samples: the reference it is tested against.
#[cfg(test)]
fn health_samples(name: &str, h: &CollectorHealth) -> Vec<Sample> {
    let mut metrics = Vec::new();
    if h.not_applicable.is_some() {
        metrics.push(Sample::gauge(SELF_METRICS[4], SELF_METRICS_HELP[4], 1.0));
    } else {
        metrics.push(Sample::gauge(
            SELF_METRICS[0],
            SELF_METRICS_HELP[0],
            if h.up { 1.0 } else { 0.0 },
        ));
    }
    metrics.extend([
        Sample::gauge(
            SELF_METRICS[1],
            SELF_METRICS_HELP[1],
            h.last_duration.as_secs_f64(),
        ),
        Sample::counter(SELF_METRICS[2], SELF_METRICS_HELP[2], h.errors_total as f64),
    ]);
    if let Some(t) = h.last_success {
        metrics.push(Sample::gauge(
            SELF_METRICS[3],
            SELF_METRICS_HELP[3],
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
        ));
    }
    metrics
        .into_iter()
        .map(|m| m.label("collector", name.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{FamilyWriter, Format};
    use crate::metric::Labels;

    /// Health in each state a collector can be in.
    fn health_states() -> [CollectorHealth; 4] {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_569_001_629);
        [
            CollectorHealth::default(),
            CollectorHealth {
                runs: 3,
                up: true,
                last_duration: Duration::from_nanos(4_216_157),
                errors_total: 2,
                last_success: Some(t),
                ..CollectorHealth::default()
            },
            CollectorHealth {
                runs: 1,
                last_duration: Duration::from_secs(30),
                errors_total: 1,
                last_error: Some("timed out".into()),
                ..CollectorHealth::default()
            },
            CollectorHealth {
                runs: 9,
                not_applicable: Some("needs v17.0 or later".into()),
                last_success: Some(t),
                ..CollectorHealth::default()
            },
        ]
    }

    #[test]
    fn health_is_encoded_as_its_samples_would_be() {
        for name in ["pg_stat_database", "", "odd \"name\"\\\n"] {
            for h in &health_states() {
                let fast = health_families(name, h);
                let reference = encode_collection(health_samples(name, h), &Labels::new()).unwrap();
                assert_eq!(fast.text, reference.text, "{name:?} {h:?}");
                assert_eq!(fast.records(), reference.records(), "{name:?} {h:?}");
            }
        }
    }

    #[test]
    fn an_exporters_health_in_one_run_writes_what_a_run_per_collector_wrote() {
        let names = [
            "stat_database",
            "",
            "locks",
            "odd \"name\"\\\n",
            "wal",
            "settings",
        ];
        let states = health_states();
        let collectors: Vec<(&str, CollectorHealth)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, states[i % states.len()].clone()))
            .collect();
        let consts = ConstLabels::new(Labels::new().with("instance", "db-1:5432"));
        let apart: Vec<EncodedRun> = collectors
            .iter()
            .map(|(n, h)| health_families(n, h))
            .collect();
        let lines: Vec<(&str, HealthLines)> = collectors
            .iter()
            .map(|(n, h)| (*n, HealthLines::of(h)))
            .collect();
        let together = encode_health(&lines);
        assert_eq!(together.family_count(), 5);
        for format in [Format::Text, Format::OpenMetrics] {
            let write = |runs: &[&EncodedRun]| {
                let runs: Vec<_> = runs.iter().map(|r| (*r, &consts)).collect();
                let mut w = FamilyWriter::new(format, 0);
                w.write_all(&runs);
                String::from_utf8(w.finish()).unwrap()
            };
            let want = write(&apart.iter().collect::<Vec<_>>());
            assert_eq!(write(&[&together]), want, "{format:?}");
            assert_eq!(want.matches("collector=\"locks\"").count(), 3, "{want}");
        }
        assert_eq!(encode_health(&[]).family_count(), 0);

        // Two exporters' runs in one buffer, as a scrape writes them: each writes what it wrote alone.
        let (one, two) = lines.split_at(2);
        let mut text = Vec::new();
        let (f1, f2) = (health_lines(&mut text, one), health_lines(&mut text, two));
        let text: Arc<[u8]> = text.into();
        let shared = [
            EncodedRun::sharing(text.clone(), f1),
            EncodedRun::sharing(text, f2),
        ];
        for (run, alone) in shared.iter().zip([encode_health(one), encode_health(two)]) {
            let write = |run: &EncodedRun| {
                let mut w = FamilyWriter::new(Format::Text, 0);
                w.write_all(&[(run, &consts)]);
                w.finish()
            };
            assert_eq!(write(run), write(&alone));
        }
    }

    fn text(cache: &CollectorCache, now: Instant) -> String {
        let snap = cache.snapshot("c", now);
        let mut w = FamilyWriter::new(Format::Text, 0);
        w.write_all(&[(&snap.data, &snap.consts)]);
        String::from_utf8(w.finish()).unwrap()
    }

    fn cache(consts: Labels, ttl: Duration) -> CollectorCache {
        CollectorCache::new(Arc::new(ConstLabels::new(consts)), ttl)
    }

    fn sample(db: &str, v: f64) -> Sample {
        Sample::gauge("t_size_bytes", "Size.", v).label("db", db)
    }

    /// A cache that has just recorded databases `a` (1) and `b` (2).
    fn holding_a_and_b() -> (CollectorCache, Instant) {
        let cache = cache(Labels::new(), Duration::from_secs(60));
        let now = Instant::now();
        cache.record(
            Ok(vec![sample("a", 1.0), sample("b", 2.0)]),
            Duration::ZERO,
            now,
        );
        (cache, now)
    }

    #[test]
    fn series_are_keyed_by_name_and_labels() {
        let (cache, now) = holding_a_and_b();
        let out = text(&cache, now);
        assert!(out.contains("t_size_bytes{db=\"a\"} 1\n"), "{out}");
        assert!(out.contains("t_size_bytes{db=\"b\"} 2\n"), "{out}");
    }

    #[test]
    fn a_run_over_the_series_limit_fails_and_keeps_the_previous_result() {
        let cache = cache(Labels::new(), Duration::from_secs(60)).max_series(2, "the limit");
        let now = Instant::now();
        cache.record(Ok(vec![sample("a", 1.0)]), Duration::ZERO, now);
        let (_, h) = cache.record(
            Ok(vec![sample("a", 1.0), sample("b", 2.0), sample("c", 3.0)]),
            Duration::ZERO,
            now,
        );
        assert!(!h.up);
        assert_eq!(
            h.last_error.as_deref(),
            Some("produced 3 series, more than the limit of 2: the run is dropped (narrow the query or raise the limit)")
        );
        assert_eq!(
            text(&cache, now),
            "# HELP t_size_bytes Size.\n# TYPE t_size_bytes gauge\nt_size_bytes{db=\"a\"} 1\n"
        );
    }

    #[test]
    fn a_collector_keeps_its_health_in_half_the_public_form() {
        // 64-bit targets: a fleet keeps one a collector, about 20 a target.
        if std::mem::size_of::<usize>() == 8 {
            assert!(std::mem::size_of::<KeptHealth>() <= 72);
            assert!(std::mem::size_of::<CollectorHealth>() >= 2 * 72);
        }
        // Boxed only while an error, a reason or a link is there.
        let cache = CollectorCache::new(Arc::new(ConstLabels::default()), Duration::from_secs(60));
        let t0 = Instant::now();
        cache.store(Err(CollectError::Decode("down".into())), Duration::ZERO, t0);
        assert!(cache.entry.lock().unwrap().health.rare.is_some());
        assert_eq!(
            cache.health().last_error.as_deref(),
            Some("decoding row: down")
        );
        cache.store(Ok(vec![]), Duration::ZERO, t0);
        assert!(cache.entry.lock().unwrap().health.rare.is_none());
        assert_eq!(cache.health().last_error, None);
    }

    #[test]
    fn the_link_a_run_reports_is_kept_in_the_health() {
        let cache = cache(Labels::new(), Duration::from_secs(60));
        let now = Instant::now();
        let tls =
            |v: f64| Sample::gauge("hubble_target_tls", "TLS.", v).label("mode", "verify-full");
        let (_, h) = cache.record(Ok(vec![tls(1.0)]), Duration::ZERO, now);
        let link = h.tls.expect("reported");
        assert!(link.verified());
        assert_eq!(link.describe(), "encrypted, verified (verify-full)");
        // A failed run says nothing new of the link: the last one seen stays.
        let (_, h) = cache.record(Err(CollectError::Other("down".into())), Duration::ZERO, now);
        assert_eq!(h.tls, Some(link));
        let (_, h) = cache.record(Ok(vec![tls(0.0)]), Duration::ZERO, now);
        assert_eq!(h.tls.unwrap().describe(), "plaintext (verify-full)");
        let (_, h) = cache.record(Ok(vec![sample("a", 1.0)]), Duration::ZERO, now);
        assert_eq!(h.tls, None, "a run without the family clears it");
    }

    #[test]
    fn an_unchanged_source_renews_the_last_result_and_without_one_fails() {
        let ttl = Duration::from_secs(30);
        let cache = cache(Labels::new(), ttl);
        let t0 = Instant::now();
        let (_, h) = cache.record(Err(CollectError::Unchanged), Duration::ZERO, t0);
        assert!(!h.up && h.errors_total == 1, "nothing kept: a failed run");
        cache.record(Ok(vec![sample("a", 1.0)]), Duration::ZERO, t0);
        let t1 = t0 + ttl - Duration::from_secs(1);
        let (transition, h) = cache.record(Err(CollectError::Unchanged), Duration::ZERO, t1);
        assert!(h.up && h.errors_total == 1 && h.series == 1);
        assert_eq!(transition, Transition::Unchanged);
        // Renewed: still exported a TTL after the first run, until a TTL after the renewal.
        assert!(text(&cache, t0 + ttl).contains("t_size_bytes{db=\"a\"} 1\n"));
        assert_eq!(text(&cache, t1 + ttl), "");
        // Once expired, there is nothing to renew.
        let (_, h) = cache.record(Err(CollectError::Unchanged), Duration::ZERO, t1 + ttl);
        assert!(!h.up && h.errors_total == 2);
    }

    #[test]
    fn a_run_replaces_the_previous_result() {
        let (cache, now) = holding_a_and_b();
        cache.record(Ok(vec![sample("b", 3.0)]), Duration::ZERO, now);
        let out = text(&cache, now);
        assert!(
            !out.contains("db=\"a\""),
            "vanished series still exported: {out}"
        );
        assert!(out.contains("t_size_bytes{db=\"b\"} 3\n"), "{out}");
    }

    #[test]
    fn a_failed_run_keeps_the_result_until_the_ttl_then_drops_it() {
        let ttl = Duration::from_secs(30);
        let cache = cache(Labels::new(), ttl);
        let t0 = Instant::now();
        cache.record(Ok(vec![sample("a", 1.0)]), Duration::ZERO, t0);
        let (tr, h) = cache.record(Err(CollectError::Other("boom".into())), Duration::ZERO, t0);
        assert_eq!(tr, Transition::Failing);
        assert!(!h.up);
        assert!(text(&cache, t0 + Duration::from_secs(29)).contains("db=\"a\""));
        assert_eq!(text(&cache, t0 + ttl), "");
        // Health stays visible while data is gone.
        assert!(cache.snapshot("c", t0 + ttl).health.series() > 0);
    }

    #[test]
    fn transitions_are_reported_once() {
        let cache = cache(Labels::new(), Duration::from_secs(30));
        let now = Instant::now();
        let fail = |m: &str| Err(CollectError::Other(m.into()));
        assert_eq!(
            cache.record(Ok(vec![]), Duration::ZERO, now).0,
            Transition::Unchanged
        );
        assert_eq!(
            cache.record(fail("x"), Duration::ZERO, now).0,
            Transition::Failing
        );
        assert_eq!(
            cache.record(fail("x"), Duration::ZERO, now).0,
            Transition::Unchanged
        );
        assert_eq!(
            cache.record(fail("y"), Duration::ZERO, now).0,
            Transition::Failing
        );
        assert_eq!(
            cache.record(Ok(vec![]), Duration::ZERO, now).0,
            Transition::Recovered
        );
        assert_eq!(
            cache.record(Ok(vec![]), Duration::ZERO, now).0,
            Transition::Unchanged
        );
        assert_eq!(cache.health().errors_total, 3);
    }

    #[test]
    fn health_self_metrics_carry_collector_and_constant_labels() {
        let cache = cache(Labels::new().with("instance", "a"), Duration::from_secs(30));
        cache.record(
            Err(CollectError::Other("x".into())),
            Duration::from_millis(250),
            Instant::now(),
        );
        let snap = cache.snapshot("jobs", Instant::now());
        let mut w = FamilyWriter::new(Format::Text, 0);
        w.write_all(&[(&snap.health, &snap.consts)]);
        let out = String::from_utf8(w.finish()).unwrap();
        assert!(
            out.contains("hubble_collector_up{instance=\"a\",collector=\"jobs\"} 0\n"),
            "{out}"
        );
        assert!(out.contains(
            "hubble_collector_duration_seconds{instance=\"a\",collector=\"jobs\"} 0.25\n"
        ));
        assert!(
            out.contains("hubble_collector_errors_total{instance=\"a\",collector=\"jobs\"} 1\n")
        );
        assert!(!out.contains("last_success"), "no success yet: {out}");
    }

    #[test]
    fn a_collector_that_does_not_apply_is_neither_up_nor_down() {
        let cache = cache(Labels::new(), Duration::from_secs(30));
        let now = Instant::now();
        cache.record(Ok(vec![Sample::gauge("x", "X.", 1.0)]), Duration::ZERO, now);
        let why = || {
            Err(CollectError::NotApplicable(
                "needs PostgreSQL 17 or later".into(),
            ))
        };
        let (tr, h) = cache.record(why(), Duration::ZERO, now);
        assert_eq!(tr, Transition::NotApplicable);
        assert_eq!(
            (h.up, h.errors_total, h.series, h.not_applicable.as_deref()),
            (false, 0, 0, Some("needs PostgreSQL 17 or later"))
        );
        assert_eq!(
            cache.record(why(), Duration::ZERO, now).0,
            Transition::Unchanged
        );
        let snap = cache.snapshot("ckpt", now);
        assert_eq!(snap.data.series(), 0, "what it exported is gone at once");
        let mut w = FamilyWriter::new(Format::Text, 0);
        w.write_all(&[(&snap.health, &snap.consts)]);
        let out = String::from_utf8(w.finish()).unwrap();
        assert!(
            out.contains("hubble_collector_not_applicable{collector=\"ckpt\"} 1\n"),
            "{out}"
        );
        assert!(!out.contains("hubble_collector_up"), "{out}");
        // Applying again (an upgrade, a failover) is neither a recovery nor a failure.
        let (tr, h) = cache.record(Ok(vec![]), Duration::ZERO, now);
        assert_eq!(
            (tr, h.up, h.not_applicable),
            (Transition::Unchanged, true, None)
        );
    }
}
