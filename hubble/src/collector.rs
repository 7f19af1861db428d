//! The collector trait: one group of metrics, collected on a schedule.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::metric::{MetricKind, Sample, ValueError};

/// Why one run of a collector failed. The run's results are discarded; other collectors are unaffected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// The source (database, service) could not be reached or answered with an error.
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// No connection to the target: refused, unresolvable, a failed TLS handshake, refused credentials. Every
    /// collector of the target fails alike, so the scheduler logs it once per target, not once per collector.
    #[error("target unreachable: {0}")]
    Unreachable(String),
    /// A column's value could not become a sample value.
    #[error("column `{column}`: {source}")]
    Value {
        /// The column (field) that failed.
        column: Cow<'static, str>,
        /// What was wrong with it.
        source: ValueError,
    },
    /// A row could not be decoded into the declared group.
    #[error("decoding row: {0}")]
    Decode(String),
    /// The run did not finish within its timeout.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// Two samples of one run had the same name and labels.
    #[error("duplicate series {name}{labels}: add a label column that tells the rows apart")]
    DuplicateSeries {
        /// Metric name.
        name: String,
        /// Full label set.
        labels: String,
    },
    /// The run produced more series than the collector may export; none of them are exported.
    #[error("produced {produced} series, more than the limit of {limit}: the run is dropped (narrow the query or raise {setting})")]
    TooManySeries {
        /// The limit.
        limit: usize,
        /// What sets it, as the user knows it (a flag such as `--collection.max-series`).
        setting: &'static str,
        /// Series the run produced.
        produced: usize,
    },
    /// Anything else, in words.
    #[error("{0}")]
    Other(String),
    /// The collector does not apply to this target (a server version, a role, a missing extension): not a
    /// failure. Its series are dropped, it is shown as not applicable with the reason, and
    /// `hubble_collector_up` is left out for it.
    #[error("not applicable: {0}")]
    NotApplicable(Cow<'static, str>),
    /// Not a failure: the source says its answer cannot have changed since the collector's last successful
    /// run (PostgreSQL's settings while `pg_conf_load_time()` stands still), so it was not asked again. That
    /// run's result stays exported, renewed as if it had just been collected. With no result kept (the
    /// first run, or one dropped meanwhile), it counts as a failed run.
    #[error("the source has not changed since the last run, and no result of that run is kept")]
    Unchanged,
}

impl CollectError {
    /// Wraps any error of the source.
    pub fn source(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        CollectError::Source(Box::new(e))
    }
}

/// So `?` works on I/O inside a collector: the source failed.
impl From<std::io::Error> for CollectError {
    fn from(e: std::io::Error) -> Self {
        CollectError::source(e)
    }
}

/// So `?` works on queries inside a collector: the database failed.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql")))
)]
impl From<sqlx::Error> for CollectError {
    fn from(e: sqlx::Error) -> Self {
        CollectError::source(e)
    }
}

/// Per-collector overrides (a derived group's `interval`, `timeout`, `min_version`, `max_version` and `role`
/// attributes land here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorOptions {
    /// Run interval; the exporter's when `None`.
    pub interval: Option<Duration>,
    /// Per-run timeout; the exporter's when `None`.
    pub timeout: Option<Duration>,
    /// Most series one run may export; the exporter's when `None`.
    pub max_series: Option<usize>,
    /// The targets it applies to, checked against the exporter's
    /// [`facts`](crate::BaseExporterBuilder::facts); every target when `None`.
    pub condition: Option<crate::Condition>,
}

/// Describes one metric family a collector produces. The registry uses families to refuse collisions
/// before an exporter starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Family name.
    pub name: Cow<'static, str>,
    /// Help text.
    pub help: Cow<'static, str>,
    /// Type.
    pub kind: MetricKind,
    /// Names of the labels the collector sets on its samples (not the constant labels).
    pub label_names: Vec<Cow<'static, str>>,
}

impl Family {
    /// A descriptor.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricKind,
        label_names: impl IntoIterator<Item = impl Into<Cow<'static, str>>>,
    ) -> Self {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            label_names: label_names.into_iter().map(Into::into).collect(),
        }
    }
}

/// One group of metrics: the unit the runtime schedules. Collected on the exporter's schedule, its results
/// cached until the next run.
///
/// A struct with `#[derive(MetricGroup)]` declares a [`MetricGroup`](crate::MetricGroup); wrapped by
/// [`SqlCollector`](crate::SqlCollector) (its query) or [`group_fn`](crate::group_fn) (code) it becomes a
/// collector. A hand-written one is a few lines:
///
/// ```
/// use hubble::{CollectError, Collector, Sample};
///
/// struct Uptime(std::time::Instant);
///
/// impl Collector for Uptime {
///     fn name(&self) -> &str {
///         "uptime"
///     }
///     async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
///         let secs = self.0.elapsed().as_secs_f64();
///         Ok(vec![Sample::gauge("demo_uptime_seconds", "Seconds since start.", secs)])
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `hubble::Collector`",
    note = "where `{Self}` is a metric group (#[derive(MetricGroup)]), collect it with \
            `SqlCollector::<{Self}, sqlx::Sqlite>::new(pool)` (its query) or `hubble::group_fn(...)` (code)",
    note = "a `SqlCollector<G, DB>` is a `Collector` only when `G` declares a `query` and `DB` is a database \
            hubble is built for (its features `sqlite`, `postgres`, `mysql`) with every field decodable from it"
)]
pub trait Collector: Send + Sync + 'static {
    /// A stable name, used as the `collector` label of the self-metrics and in logs.
    fn name(&self) -> &str;

    /// The families this collector produces, when known in advance (checked for collisions at registration).
    /// Collectors whose family names depend on the data (one family per setting, say) may list fewer.
    fn families(&self) -> Vec<Family> {
        Vec::new()
    }

    /// Interval and timeout of this collector when they differ from the exporter's.
    fn options(&self) -> CollectorOptions {
        CollectorOptions::default()
    }

    /// Runs one collection.
    fn collect(&self) -> impl Future<Output = Result<Vec<Sample>, CollectError>> + Send;
}

/// Object-safe form of [`Collector`], so an exporter can hold collectors of many types.
pub(crate) trait DynCollector: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn families(&self) -> Vec<Family>;
    fn options(&self) -> CollectorOptions;
    fn collect(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Sample>, CollectError>> + Send + '_>>;
}

impl<C: Collector> DynCollector for C {
    fn name(&self) -> &str {
        Collector::name(self)
    }
    fn families(&self) -> Vec<Family> {
        Collector::families(self)
    }
    fn options(&self) -> CollectorOptions {
        Collector::options(self)
    }
    fn collect(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Sample>, CollectError>> + Send + '_>> {
        Box::pin(Collector::collect(self))
    }
}
