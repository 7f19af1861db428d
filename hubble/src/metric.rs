//! The metric model: what a collector hands to the cache.
//!
//! A [`Sample`] is one sample: a family name, its help text and kind, a value and the sample's own labels.
//! The exporter's constant labels are added when the sample is encoded, so collectors never copy them.
//! [`MetricValue`] and [`LabelValue`] convert the Rust types a database row yields.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::histogram::Histogram;
use crate::summary::Summary;

/// The Prometheus type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// A value that only goes up (resets on restart). Its name should end in `_total`.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// A value of unknown type (`untyped` in text format 0.0.4, `unknown` in OpenMetrics).
    Untyped,
    /// Observations counted in buckets: `_bucket` series (label `le`), `_sum` and `_count`.
    Histogram,
    /// Quantiles of observations computed by the source (label `quantile`), `_sum` and `_count`.
    Summary,
}

impl MetricKind {
    /// The `# TYPE` word in text format 0.0.4.
    pub fn as_text(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }

    /// The `# TYPE` word in OpenMetrics.
    pub fn as_openmetrics(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "unknown",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_text())
    }
}

/// A set of labels, kept sorted by name so that equal sets compare equal whatever order they were built in.
/// Ordered pair by pair, name then value.
///
/// A set is its own until [`shared`](Self::shared) is called; then its clones share it (a reference count)
/// until one of them changes. A derived group shares each row's set among the samples of the row's value
/// columns, and the encoder writes such a set once per run (`docs/performance.md`, issue #27 item 3).
#[derive(Clone)]
pub struct Labels(Repr);

#[derive(Clone)]
enum Repr {
    Own(Vec<Pair>),
    Shared(Arc<Vec<Pair>>),
}

type Pair = (Cow<'static, str>, String);

impl Default for Labels {
    fn default() -> Self {
        Labels::new()
    }
}

impl Labels {
    fn pairs(&self) -> &[Pair] {
        match &self.0 {
            Repr::Own(pairs) => pairs,
            Repr::Shared(pairs) => pairs,
        }
    }

    /// The set's own pairs to change: copied first when shared.
    fn pairs_mut(&mut self) -> &mut Vec<Pair> {
        match &mut self.0 {
            Repr::Own(pairs) => pairs,
            Repr::Shared(pairs) => Arc::make_mut(pairs),
        }
    }

    /// This set, its clones sharing it rather than each a copy: for a set that several samples carry (a
    /// row's, given to each of its columns' samples). The encoder writes a shared set once per run.
    ///
    /// ```
    /// use hubble::{Labels, Sample};
    ///
    /// let row = Labels::new().with("datname", "app").shared();
    /// let reads = Sample::counter("reads_total", "Reads.", 3.0);
    /// let writes = Sample::counter("writes_total", "Writes.", 1.0);
    /// let samples: Vec<Sample> = [reads, writes]
    ///     .into_iter()
    ///     .map(|mut s| {
    ///         s.labels = row.clone();
    ///         s
    ///     })
    ///     .collect();
    /// assert!(samples[0].labels.is_clone_of(&samples[1].labels));
    /// ```
    pub fn shared(self) -> Labels {
        match self.0 {
            Repr::Own(pairs) if !pairs.is_empty() => Labels(Repr::Shared(Arc::new(pairs))),
            repr => Labels(repr),
        }
    }

    /// Whether this set was [`shared`](Self::shared): its clones share it.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared(_))
    }

    /// Where this set's pairs are stored, when other clones of it live: equal for those clones. `None` for a
    /// set of its own (the encoder then spares itself the lookup).
    pub(crate) fn shared_id(&self) -> Option<usize> {
        match &self.0 {
            Repr::Shared(p) if Arc::strong_count(p) > 1 => Some(Arc::as_ptr(p) as usize),
            _ => None,
        }
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Labels").field(&self.pairs()).finish()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.is_clone_of(other) || self.pairs() == other.pairs()
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pairs().hash(state);
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering::Equal;
        if self.is_clone_of(other) {
            return Equal;
        }
        let (mine, theirs) = (self.pairs(), other.pairs());
        for ((a_name, a_value), (b_name, b_value)) in mine.iter().zip(theirs) {
            // Label names of one family are mostly the same `&'static str`: equal without reading them (a
            // run's sort compares them tens of thousands of times).
            let same_name = std::ptr::eq(a_name.as_ref(), b_name.as_ref());
            let names = if same_name {
                Equal
            } else {
                a_name.as_ref().cmp(b_name.as_ref())
            };
            match names.then_with(|| a_value.cmp(b_value)) {
                Equal => {}
                order => return order,
            }
        }
        mine.len().cmp(&theirs.len())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Labels {
    /// An empty set.
    pub const fn new() -> Self {
        Labels(Repr::Own(Vec::new()))
    }

    /// An empty set with room for `n` labels.
    pub fn with_capacity(n: usize) -> Self {
        Labels(Repr::Own(Vec::with_capacity(n)))
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        let pairs = self.pairs_mut();
        match pairs.binary_search_by(|(n, _)| n.as_ref().cmp(name.as_ref())) {
            Ok(i) => pairs[i].1 = value,
            Err(i) => pairs.insert(i, (name, value)),
        }
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        let pairs = self.pairs();
        pairs
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| pairs[i].1.as_str())
    }

    /// Whether a label of this name is set.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Iterates `(name, value)` in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.pairs().iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// Whether `other` is a clone of this [`shared`](Self::shared) set (one storage, so equal), as the
    /// samples of a derived group's row are: for code that changes every sample's labels alike and wants
    /// such samples to share the changed set too (the encoder writes a shared set once per run).
    pub fn is_clone_of(&self, other: &Labels) -> bool {
        matches!((&self.0, &other.0), (Repr::Shared(a), Repr::Shared(b)) if Arc::ptr_eq(a, b))
    }

    /// Whether `other` has the same label names (values aside).
    pub(crate) fn same_names(&self, other: &Labels) -> bool {
        let (mine, theirs) = (self.pairs(), other.pairs());
        mine.len() == theirs.len()
            && mine.iter().zip(theirs).all(|((a, _), (b, _))| {
                // A family's label names are mostly the same `&'static str`: equal without reading them.
                std::ptr::eq(a.as_ref(), b.as_ref()) || a == b
            })
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }
}

impl<N: Into<Cow<'static, str>>, V: Into<String>> FromIterator<(N, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut labels = Labels::new();
        for (n, v) in iter {
            labels.insert(n, v);
        }
        labels
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One sample of one metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Family name, e.g. `pg_stat_database_xact_commit_total`.
    pub name: Cow<'static, str>,
    /// Help text of the family.
    pub help: Cow<'static, str>,
    /// Type of the family.
    pub kind: MetricKind,
    /// The sample value (a histogram's count).
    pub value: f64,
    /// The sample's own labels (the exporter's constant labels are added when encoding).
    pub labels: Labels,
    /// The buckets, sum and count of a [`MetricKind::Histogram`] sample; `None` for other kinds.
    pub histogram: Option<Box<Histogram>>,
    /// The quantiles, sum and count of a [`MetricKind::Summary`] sample; `None` for other kinds.
    pub summary: Option<Box<Summary>>,
}

impl Sample {
    /// A sample without labels.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricKind,
        value: f64,
    ) -> Self {
        Sample {
            name: name.into(),
            help: help.into(),
            kind,
            value,
            labels: Labels::new(),
            histogram: None,
            summary: None,
        }
    }

    /// A histogram sample without labels: its `_bucket`, `_sum` and `_count` series are written together.
    pub fn histogram(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        histogram: Histogram,
    ) -> Self {
        // Precision beyond 2^53 observations is not a concern for a sample value.
        #[allow(clippy::cast_precision_loss)]
        let count = histogram.count() as f64;
        Sample {
            histogram: Some(Box::new(histogram)),
            ..Sample::new(name, help, MetricKind::Histogram, count)
        }
    }

    /// A summary sample without labels: its quantile, `_sum` and `_count` series are written together.
    ///
    /// ```
    /// use hubble::{Sample, Summary};
    ///
    /// let latency = Summary::new([(0.99, 0.25)], 12.5, 400).unwrap();
    /// let s = Sample::summary("query_latency_seconds", "Query latency.", latency).label("db", "app");
    /// assert_eq!(s.series(), 3);
    /// ```
    pub fn summary(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        summary: Summary,
    ) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let count = summary.count() as f64;
        Sample {
            summary: Some(Box::new(summary)),
            ..Sample::new(name, help, MetricKind::Summary, count)
        }
    }

    /// A gauge sample without labels.
    pub fn gauge(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        value: f64,
    ) -> Self {
        Sample::new(name, help, MetricKind::Gauge, value)
    }

    /// A counter sample without labels.
    pub fn counter(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        value: f64,
    ) -> Self {
        Sample::new(name, help, MetricKind::Counter, value)
    }

    /// Series this sample is written as: 1, for a histogram its buckets (with `+Inf`), `_sum` and `_count`,
    /// for a summary its quantiles, `_sum` and `_count`.
    pub fn series(&self) -> usize {
        match (&self.histogram, &self.summary) {
            (Some(h), _) => h.buckets().len() + 3,
            (None, Some(s)) => s.quantiles().len() + 2,
            (None, None) => 1,
        }
    }

    /// Adds a label (builder form).
    pub fn label(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.labels.insert(name, value);
        self
    }
}

/// Why a value could not become a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A string column that does not hold a number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// Histogram columns that do not make a histogram.
    #[error("not a histogram: {0}")]
    Histogram(String),
    /// Quantiles that do not make a summary.
    #[error("not a summary: {0}")]
    Summary(String),
}

/// A Rust value that can become a sample value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a metric value",
    label = "not a number-like type",
    note = "value fields take integers, f32/f64, bool, numeric strings, SystemTime, Duration and Option<T> of \
            those; rust_decimal::Decimal and chrono timestamps with hubble's `decimal` and `chrono` features"
)]
///
/// `Ok(None)` means "no sample" (SQL NULL), never NaN. Integers, floats and `bool` (1/0) convert as they are;
/// strings must parse as numbers (`"NaN"`, `"+Inf"` and `"-Inf"` included); timestamps become Unix seconds.
pub trait MetricValue {
    /// Converts to a sample value; `Ok(None)` for no sample.
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError>;
}

macro_rules! lossless_value {
    ($($t:ty),*) => {$(
        impl MetricValue for $t {
            #[inline]
            fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
                Ok(Some(f64::from(*self)))
            }
        }
    )*};
}
lossless_value!(i8, i16, i32, u8, u16, u32, f32, f64);

macro_rules! wide_value {
    ($($t:ty),*) => {$(
        impl MetricValue for $t {
            #[inline]
            fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
                // Prometheus values are f64: integers beyond 2^53 round, as in every exporter.
                #[allow(clippy::cast_precision_loss)]
                Ok(Some(*self as f64))
            }
        }
    )*};
}
wide_value!(i64, u64, i128, u128, isize, usize);

impl MetricValue for bool {
    #[inline]
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        Ok(Some(if *self { 1.0 } else { 0.0 }))
    }
}

impl MetricValue for str {
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        parse_number(self).map(Some)
    }
}

impl MetricValue for String {
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        self.as_str().to_metric_value()
    }
}

impl<T: MetricValue + ?Sized> MetricValue for &T {
    #[inline]
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        (**self).to_metric_value()
    }
}

impl<T: MetricValue> MetricValue for Option<T> {
    #[inline]
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        match self {
            Some(v) => v.to_metric_value(),
            None => Ok(None),
        }
    }
}

impl MetricValue for std::time::SystemTime {
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        Ok(Some(match self.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }))
    }
}

impl MetricValue for std::time::Duration {
    /// Durations are exported in seconds, the base unit.
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        Ok(Some(self.as_secs_f64()))
    }
}

#[cfg(feature = "decimal")]
impl MetricValue for rust_decimal::Decimal {
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        use rust_decimal::prelude::ToPrimitive;
        Ok(Some(self.to_f64().unwrap_or(f64::NAN)))
    }
}

#[cfg(feature = "chrono")]
impl<Tz: chrono::TimeZone> MetricValue for chrono::DateTime<Tz> {
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        Ok(Some(self.timestamp_micros() as f64 / 1e6))
    }
}

#[cfg(feature = "chrono")]
impl MetricValue for chrono::NaiveDateTime {
    /// A timestamp without time zone is taken as UTC.
    fn to_metric_value(&self) -> Result<Option<f64>, ValueError> {
        Ok(Some(self.and_utc().timestamp_micros() as f64 / 1e6))
    }
}

fn parse_number(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    // Rust's parser accepts "inf"/"infinity"/"nan" in any case; Prometheus spells "+Inf", so accept both.
    t.strip_prefix('+')
        .unwrap_or(t)
        .parse::<f64>()
        .map_err(|_| ValueError::NotANumber(s.to_owned()))
}

/// A Rust value that can become a label value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a label value",
    label = "not a string-like type",
    note = "label fields take String, &str, Cow<str>, integers, bool, char and Option<T> of those"
)]
///
/// `Option::None` (SQL NULL) becomes the empty string, which Prometheus treats as "label not set".
pub trait LabelValue {
    /// The label value.
    fn to_label_value(&self) -> Cow<'_, str>;

    /// The label value, taken from a row that is done with: a `String` gives its own, without a copy.
    fn take_label_value(&mut self) -> String {
        self.to_label_value().into_owned()
    }
}

impl LabelValue for str {
    fn to_label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl LabelValue for String {
    fn to_label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
    }

    fn take_label_value(&mut self) -> String {
        std::mem::take(self)
    }
}

impl LabelValue for Cow<'_, str> {
    fn to_label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_ref())
    }
}

impl LabelValue for bool {
    fn to_label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}

impl LabelValue for char {
    fn to_label_value(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

macro_rules! int_label {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            fn to_label_value(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}
int_label!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl<T: LabelValue + ?Sized> LabelValue for &T {
    fn to_label_value(&self) -> Cow<'_, str> {
        (**self).to_label_value()
    }
}

impl<T: LabelValue> LabelValue for Option<T> {
    fn to_label_value(&self) -> Cow<'_, str> {
        match self {
            Some(v) => v.to_label_value(),
            None => Cow::Borrowed(""),
        }
    }

    fn take_label_value(&mut self) -> String {
        match self {
            Some(v) => v.take_label_value(),
            None => String::new(),
        }
    }
}

pub use hubble_names::{is_reserved_label_name, is_valid_label_name, is_valid_metric_name};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_a_set_until_one_changes() {
        let own = Labels::with_capacity(2)
            .with("db", "app")
            .with("table", "t");
        // A set of its own is copied by a clone.
        assert!(!own.clone().is_clone_of(&own) && own.shared_id().is_none() && !own.is_shared());
        let row = own.shared();
        assert!(row.is_shared());
        let copy = row.clone();
        assert_eq!(copy.shared_id(), row.shared_id());
        assert!(copy.is_clone_of(&row) && !Labels::new().is_clone_of(&Labels::new()));
        // A change copies the set: the other clones keep theirs.
        let changed = copy.clone().with("datname", "x");
        assert_ne!(changed.shared_id(), row.shared_id());
        assert!(!changed.is_clone_of(&row));
        assert_eq!(row.to_string(), "{db=\"app\",table=\"t\"}");
        assert_eq!(copy, row);
        assert_eq!(changed.get("datname"), Some("x"));
        // Equal sets are equal whether or not they share storage, and an empty set however made.
        assert_eq!(Labels::new().with("db", "app").with("table", "t"), row);
        assert_eq!(Labels::with_capacity(3), Labels::new());
        // A set emptied in place is the empty set, hash included.
        use std::hash::BuildHasher;
        let state = std::hash::RandomState::new();
        let mut emptied = Labels::new().with("x", "1");
        emptied.pairs_mut().clear();
        assert_eq!(emptied, Labels::new());
        assert_eq!(state.hash_one(&emptied), state.hash_one(Labels::new()));
    }

    #[test]
    fn integers_floats_and_bools_convert() {
        assert_eq!(7i8.to_metric_value(), Ok(Some(7.0)));
        assert_eq!((-3i16).to_metric_value(), Ok(Some(-3.0)));
        assert_eq!(70_000i32.to_metric_value(), Ok(Some(70_000.0)));
        assert_eq!(
            (1i64 << 40).to_metric_value(),
            Ok(Some(1_099_511_627_776.0))
        );
        assert_eq!(
            u64::MAX.to_metric_value(),
            Ok(Some(18_446_744_073_709_551_615.0))
        );
        assert_eq!(2.5f32.to_metric_value(), Ok(Some(2.5)));
        assert_eq!(0.125f64.to_metric_value(), Ok(Some(0.125)));
        assert_eq!(true.to_metric_value(), Ok(Some(1.0)));
        assert_eq!(false.to_metric_value(), Ok(Some(0.0)));
        assert_eq!(42usize.to_metric_value(), Ok(Some(42.0)));
    }

    #[test]
    fn none_is_no_sample_not_nan() {
        assert_eq!(None::<i64>.to_metric_value(), Ok(None));
        assert_eq!(Some(3i64).to_metric_value(), Ok(Some(3.0)));
        assert_eq!(None::<String>.to_metric_value(), Ok(None));
    }

    #[test]
    fn strings_must_be_numbers() {
        assert_eq!("12".to_metric_value(), Ok(Some(12.0)));
        assert_eq!(" 1.5e3 ".to_string().to_metric_value(), Ok(Some(1500.0)));
        assert_eq!("+Inf".to_metric_value(), Ok(Some(f64::INFINITY)));
        assert_eq!("-Inf".to_metric_value(), Ok(Some(f64::NEG_INFINITY)));
        assert!("NaN".to_metric_value().unwrap().unwrap().is_nan());
        assert_eq!(
            "8kB".to_metric_value(),
            Err(ValueError::NotANumber("8kB".into()))
        );
        assert_eq!("".to_metric_value(), Err(ValueError::NotANumber("".into())));
    }

    #[test]
    fn times_are_seconds() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        assert_eq!(t.to_metric_value(), Ok(Some(1.5)));
        assert_eq!(
            std::time::Duration::from_millis(250).to_metric_value(),
            Ok(Some(0.25))
        );
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn chrono_timestamps_are_unix_seconds() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
        assert_eq!(t.to_metric_value(), Ok(Some(1_700_000_000.5)));
        assert_eq!(t.naive_utc().to_metric_value(), Ok(Some(1_700_000_000.5)));
    }

    #[cfg(feature = "decimal")]
    #[test]
    fn decimals_convert() {
        let d = rust_decimal::Decimal::new(12345, 2);
        assert_eq!(d.to_metric_value(), Ok(Some(123.45)));
    }

    #[test]
    fn label_values() {
        assert_eq!("a".to_label_value(), "a");
        assert_eq!(String::from("b").to_label_value(), "b");
        assert_eq!(42u16.to_label_value(), "42");
        assert_eq!(true.to_label_value(), "true");
        assert_eq!(None::<String>.to_label_value(), "");
        assert_eq!(Some("x".to_string()).to_label_value(), "x");
    }

    #[test]
    fn label_sets_are_sorted_and_replace() {
        let a = Labels::new().with("b", "2").with("a", "1");
        let b = Labels::new().with("a", "1").with("b", "0").with("b", "2");
        assert_eq!(a, b);
        assert_eq!(a.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(a.get("b"), Some("2"));
        assert_eq!(a.to_string(), r#"{a="1",b="2"}"#);
    }

    #[test]
    fn name_rules() {
        assert!(is_valid_metric_name("pg_up"));
        assert!(is_valid_metric_name("a:b_c9"));
        assert!(!is_valid_metric_name("2xx"));
        assert!(!is_valid_metric_name("a-b"));
        assert!(!is_valid_metric_name(""));
        assert!(is_valid_label_name("datname"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("9"));
    }
}
