//! Text format 0.0.4 and OpenMetrics output.
//!
//! A collector's samples are encoded once, when they are collected ([`encode_collection`]): each family becomes
//! an [`EncodedFamily`] holding its sample lines in both formats. A scrape then only concatenates those chunks
//! under one `# HELP`/`# TYPE` header per family ([`FamilyWriter`], in the order `body::Plan` gives), so its
//! cost is mostly copying bytes.

use std::borrow::Cow;
use std::collections::btree_map::{BTreeMap, Entry};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};

use crate::collector::CollectError;
use crate::metric::{is_valid_label_name, is_valid_metric_name, Labels, Metric, MetricKind};

/// Content type of text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// Picks the format a scraper asks for in its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text`, text 0.0.4 otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// The samples of one family from one collector run, encoded (without header lines).
///
/// Sample lines are the same in both formats except for counters not named `_total`, whose OpenMetrics samples
/// must be. Those are not stored twice: the ends of their text lines are kept, and `_total` is inserted after
/// the name when an OpenMetrics body is written.
#[derive(Debug, Clone)]
pub(crate) struct EncodedFamily {
    pub name: Arc<str>,
    pub help: Arc<str>,
    pub kind: MetricKind,
    pub series: usize,
    pub text: Bytes,
    /// For counters not named `_total`: where each line of `text` ends.
    pub line_ends: Option<Box<[u32]>>,
}

impl EncodedFamily {
    /// Length of the sample lines in `format`.
    pub fn len(&self, format: Format) -> usize {
        match (format, &self.line_ends) {
            (Format::OpenMetrics, Some(ends)) => self.text.len() + ends.len() * SUFFIX.len(),
            _ => self.text.len(),
        }
    }

    /// Appends the sample lines in `format`.
    pub fn write_lines(&self, out: &mut BytesMut, format: Format) {
        match (format, &self.line_ends) {
            (Format::OpenMetrics, Some(ends)) => {
                let name = self.name.len();
                let mut start = 0;
                for &end in ends.iter() {
                    let line = &self.text[start..end as usize];
                    out.put_slice(&line[..name]);
                    out.put_slice(SUFFIX);
                    out.put_slice(&line[name..]);
                    start = end as usize;
                }
            }
            _ => out.put_slice(&self.text),
        }
    }
}

/// What OpenMetrics appends to a counter's sample name.
const SUFFIX: &[u8] = b"_total";

struct FamilyBuilder {
    help: Cow<'static, str>,
    kind: MetricKind,
    series: BTreeMap<Labels, f64>,
}

/// Groups a run's samples by family, adds the constant labels, checks names and duplicate series, and encodes.
///
/// The result is sorted by family name, and each family's series by label set, so output is deterministic.
pub(crate) fn encode_collection(
    metrics: Vec<Metric>,
    const_labels: &Labels,
) -> Result<Vec<EncodedFamily>, CollectError> {
    let mut families: BTreeMap<Cow<'static, str>, FamilyBuilder> = BTreeMap::new();
    for m in metrics {
        // Constant labels are merged in when lines are written, not copied into every series.
        let labels = m.labels;
        for (n, _) in const_labels.iter() {
            if labels.contains(n) {
                return Err(CollectError::Other(format!(
                    "metric `{}` sets label `{n}`, which is a constant label of the exporter",
                    m.name
                )));
            }
        }
        if !families.contains_key(m.name.as_ref()) {
            if !is_valid_metric_name(&m.name) {
                return Err(CollectError::Other(format!(
                    "metric name `{}` is invalid: names must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                    m.name
                )));
            }
            families.insert(
                m.name.clone(),
                FamilyBuilder {
                    help: m.help,
                    kind: m.kind,
                    series: BTreeMap::new(),
                },
            );
        }
        let family = families.get_mut(m.name.as_ref()).expect("inserted above");
        if family.kind != m.kind {
            return Err(CollectError::Other(format!(
                "metric `{}` is produced as both {} and {}",
                m.name, family.kind, m.kind
            )));
        }
        match family.series.entry(labels) {
            Entry::Occupied(e) => {
                return Err(CollectError::DuplicateSeries {
                    name: m.name.into_owned(),
                    labels: e.key().to_string(),
                })
            }
            Entry::Vacant(e) => {
                if let Some((bad, _)) = e.key().iter().find(|(n, _)| !is_valid_label_name(n)) {
                    return Err(CollectError::Other(format!(
                        "label name `{bad}` is invalid: names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
                    )));
                }
                e.insert(m.value);
            }
        }
    }
    Ok(encode_families(families, const_labels))
}

/// Writes every family's sample lines into one buffer, so a run costs one allocation however many families it
/// has, and each family holds a slice of it. Names and help texts are interned: a thousand
/// targets exporting the same families share one copy.
fn encode_families(
    families: BTreeMap<Cow<'static, str>, FamilyBuilder>,
    const_labels: &Labels,
) -> Vec<EncodedFamily> {
    let const_len: usize = const_labels
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    let estimate: usize = families
        .iter()
        .map(|(name, f)| f.series.len() * (name.len() + const_len + 64))
        .sum();
    let mut text = Vec::with_capacity(estimate);
    // (text range, line ends if OpenMetrics lines differ)
    let mut ranges = Vec::with_capacity(families.len());
    for (name, f) in &families {
        let start = text.len();
        let differs = openmetrics_sample_name(name, f.kind) != name.as_ref();
        let mut ends = Vec::with_capacity(if differs { f.series.len() } else { 0 });
        for (labels, value) in &f.series {
            write_merged(&mut text, name, labels, const_labels, *value);
            if differs {
                // A run's text stays far below 4 GiB (a scrape of that size would be useless).
                ends.push(u32::try_from(text.len() - start).unwrap_or(u32::MAX));
            }
        }
        ranges.push((start..text.len(), differs.then(|| ends.into_boxed_slice())));
    }
    let text = freeze(text);
    families
        .into_iter()
        .zip(ranges)
        .map(|((name, f), (t, line_ends))| EncodedFamily {
            name: intern(&name),
            help: intern(&f.help),
            kind: f.kind,
            series: f.series.len(),
            text: text.slice(t),
            line_ends,
        })
        .collect()
}

/// A buffer kept until the next run: give back spare capacity first.
fn freeze(mut buf: Vec<u8>) -> Bytes {
    if buf.capacity() - buf.len() > buf.len() / 8 {
        buf.shrink_to_fit();
    }
    Bytes::from(buf)
}

/// Interned family names and help texts.
static STRINGS: Mutex<Interner> = Mutex::new(Interner {
    set: None,
    purge_at: 0,
});

struct Interner {
    set: Option<HashSet<Arc<str>>>,
    /// Size at which strings no longer held by any family are dropped.
    purge_at: usize,
}

fn intern(s: &str) -> Arc<str> {
    let mut interner = STRINGS.lock().unwrap_or_else(|e| e.into_inner());
    let Interner { set, purge_at } = &mut *interner;
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(a) = set.get(s) {
        return a.clone();
    }
    if set.len() >= *purge_at {
        set.retain(|a| Arc::strong_count(a) > 1);
        *purge_at = (set.len() * 2).max(4096);
    }
    let a: Arc<str> = s.into();
    set.insert(a.clone());
    a
}

/// In OpenMetrics a counter family is named without `_total` and its sample carries it.
fn openmetrics_family_name(name: &str, kind: MetricKind) -> &str {
    match kind {
        MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

fn openmetrics_sample_name(name: &str, kind: MetricKind) -> String {
    match kind {
        MetricKind::Counter => format!("{}_total", openmetrics_family_name(name, kind)),
        _ => name.to_owned(),
    }
}

/// A sample line whose labels are the union of two disjoint sets, written in name order.
fn write_merged(out: &mut Vec<u8>, name: &str, own: &Labels, constant: &Labels, value: f64) {
    if constant.is_empty() {
        return write_sample(out, name, own, value);
    }
    out.extend_from_slice(name.as_bytes());
    out.push(b'{');
    let (mut a, mut b) = (own.iter().peekable(), constant.iter().peekable());
    let mut first = true;
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        let (n, v) = next.expect("peeked");
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_label_value(out, v);
        out.push(b'"');
    }
    out.extend_from_slice(b"} ");
    write_value(out, value);
    out.push(b'\n');
}

fn write_sample(out: &mut Vec<u8>, name: &str, labels: &Labels, value: f64) {
    out.extend_from_slice(name.as_bytes());
    if !labels.is_empty() {
        out.push(b'{');
        for (i, (n, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b"=\"");
            escape_label_value(out, v);
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    write_value(out, value);
    out.push(b'\n');
}

fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

fn escape_help(out: &mut impl BufMut, help: &str, format: Format) {
    for b in help.bytes() {
        match b {
            b'\\' => out.put_slice(b"\\\\"),
            b'\n' => out.put_slice(b"\\n"),
            b'"' if format == Format::OpenMetrics => out.put_slice(b"\\\""),
            _ => out.put_u8(b),
        }
    }
}

pub(crate) fn write_value(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9e18 {
        // Integral values (most counters) print without a fraction, as the Go client does.
        #[allow(clippy::cast_possible_truncation)]
        let _ = write!(out, "{}", v as i64);
    } else {
        // Debug prints the shortest round-tripping form, with an exponent for very large or small values.
        let _ = write!(out, "{v:?}");
    }
}

/// `# HELP` and `# TYPE` lines of one family.
fn write_header(out: &mut impl BufMut, family: &str, help: &str, kind_word: &str, format: Format) {
    out.put_slice(b"# HELP ");
    out.put_slice(family.as_bytes());
    out.put_u8(b' ');
    escape_help(out, help, format);
    out.put_slice(b"\n# TYPE ");
    out.put_slice(family.as_bytes());
    out.put_u8(b' ');
    out.put_slice(kind_word.as_bytes());
    out.put_u8(b'\n');
}

/// Writes families in name order, one header per family however many chunks (collectors, exporters) hold
/// samples of it.
pub(crate) struct FamilyWriter {
    format: Format,
    pub out: BytesMut,
    current: Option<Arc<str>>,
}

impl FamilyWriter {
    pub fn new(format: Format, capacity: usize) -> Self {
        FamilyWriter {
            format,
            out: BytesMut::with_capacity(capacity),
            current: None,
        }
    }

    /// Writes every chunk; `chunks` may come in any order. (Scrapes order chunks with `body::Plan`.)
    #[cfg(test)]
    pub fn write_all(&mut self, mut chunks: Vec<&EncodedFamily>) {
        chunks.sort_by(|a, b| a.name.cmp(&b.name));
        for chunk in chunks {
            self.write(chunk);
        }
    }

    /// Writes one chunk, after a header if it starts a family. Chunks must come sorted by family name.
    pub fn write(&mut self, chunk: &EncodedFamily) {
        if self.current.as_ref() != Some(&chunk.name) {
            self.header(&chunk.name, &chunk.help, chunk.kind);
            self.current = Some(chunk.name.clone());
        }
        chunk.write_lines(&mut self.out, self.format);
    }

    fn header(&mut self, name: &str, help: &str, kind: MetricKind) {
        let (family, kind_word) = match self.format {
            Format::Text => (name, kind.as_text()),
            Format::OpenMetrics => (openmetrics_family_name(name, kind), kind.as_openmetrics()),
        };
        write_header(&mut self.out, family, help, kind_word, self.format);
    }

    /// Ends the exposition (OpenMetrics has an end marker).
    pub fn end(&mut self) {
        if self.format == Format::OpenMetrics {
            self.out.extend_from_slice(b"# EOF\n");
        }
    }

    #[cfg(test)]
    pub fn finish(mut self) -> Vec<u8> {
        self.end();
        self.out.to_vec()
    }
}

/// Encodes families gathered from a `prometheus` crate registry (process metrics, user instruments).
pub(crate) fn encode_prometheus_families(
    families: &[prometheus::proto::MetricFamily],
    format: Format,
) -> Vec<u8> {
    use prometheus::proto::MetricType;
    let mut out = Vec::new();
    for mf in families {
        let name = mf.name();
        let (kind, om_kind) = match mf.get_field_type() {
            MetricType::COUNTER => ("counter", "counter"),
            MetricType::GAUGE => ("gauge", "gauge"),
            MetricType::HISTOGRAM => ("histogram", "histogram"),
            MetricType::SUMMARY => ("summary", "summary"),
            MetricType::UNTYPED => ("untyped", "unknown"),
        };
        let is_counter = mf.get_field_type() == MetricType::COUNTER;
        let family = match format {
            Format::OpenMetrics if is_counter => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let kind_word = if format == Format::Text {
            kind
        } else {
            om_kind
        };
        write_header(&mut out, family, mf.help(), kind_word, format);
        for m in mf.get_metric() {
            let labels: Labels = m
                .get_label()
                .iter()
                .map(|l| (l.name().to_owned(), l.value().to_owned()))
                .collect();
            match mf.get_field_type() {
                MetricType::COUNTER => {
                    let sample = if format == Format::OpenMetrics {
                        format!("{family}_total")
                    } else {
                        name.to_owned()
                    };
                    write_sample(&mut out, &sample, &labels, m.get_counter().get_value());
                }
                MetricType::GAUGE => {
                    write_sample(&mut out, name, &labels, m.get_gauge().get_value())
                }
                MetricType::UNTYPED => {
                    // Deprecated only because the crate itself never produces untyped metrics.
                    #[allow(deprecated)]
                    let v = m.get_untyped().get_value();
                    write_sample(&mut out, name, &labels, v);
                }
                MetricType::HISTOGRAM => {
                    let h = m.get_histogram();
                    let bucket = format!("{name}_bucket");
                    for b in h.get_bucket() {
                        let mut l = labels.clone();
                        l.insert("le", format_le(b.upper_bound()));
                        write_sample(&mut out, &bucket, &l, b.cumulative_count() as f64);
                    }
                    if h.get_bucket()
                        .last()
                        .is_none_or(|b| b.upper_bound() != f64::INFINITY)
                    {
                        let mut l = labels.clone();
                        l.insert("le", "+Inf");
                        write_sample(&mut out, &bucket, &l, h.get_sample_count() as f64);
                    }
                    write_sample(
                        &mut out,
                        &format!("{name}_sum"),
                        &labels,
                        h.get_sample_sum(),
                    );
                    write_sample(
                        &mut out,
                        &format!("{name}_count"),
                        &labels,
                        h.get_sample_count() as f64,
                    );
                }
                MetricType::SUMMARY => {
                    let s = m.get_summary();
                    for q in s.get_quantile() {
                        let mut l = labels.clone();
                        l.insert("quantile", format_le(q.quantile()));
                        write_sample(&mut out, name, &l, q.value());
                    }
                    write_sample(&mut out, &format!("{name}_sum"), &labels, s.sample_sum());
                    write_sample(
                        &mut out,
                        &format!("{name}_count"),
                        &labels,
                        s.sample_count() as f64,
                    );
                }
            }
        }
    }
    out
}

fn format_le(v: f64) -> String {
    let mut out = Vec::new();
    write_value(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(families: &[EncodedFamily], format: Format) -> String {
        let mut w = FamilyWriter::new(format, 0);
        w.write_all(families.iter().collect());
        String::from_utf8(w.finish()).unwrap()
    }

    #[test]
    fn groups_sorts_and_adds_constant_labels() {
        let metrics = vec![
            Metric::gauge("b_size_bytes", "Size.", 3.0).label("db", "z"),
            Metric::counter("a_commits_total", "Commits.", 10.0).label("db", "x"),
            Metric::gauge("b_size_bytes", "Size.", 1.5).label("db", "a"),
        ];
        let consts = Labels::new().with("instance", "pg1");
        let enc = encode_collection(metrics, &consts).unwrap();
        assert_eq!(
            render(&enc, Format::Text),
            "# HELP a_commits_total Commits.\n# TYPE a_commits_total counter\n\
             a_commits_total{db=\"x\",instance=\"pg1\"} 10\n\
             # HELP b_size_bytes Size.\n# TYPE b_size_bytes gauge\n\
             b_size_bytes{db=\"a\",instance=\"pg1\"} 1.5\n\
             b_size_bytes{db=\"z\",instance=\"pg1\"} 3\n"
        );
    }

    #[test]
    fn openmetrics_names_counters_and_ends_with_eof() {
        let enc = encode_collection(
            vec![
                Metric::counter("x_total", "X \"q\".", 1.0),
                Metric::counter("y", "Y.", 2.0),
                Metric::new("z", "Z.", MetricKind::Untyped, 3.0),
            ],
            &Labels::new(),
        )
        .unwrap();
        assert_eq!(
            render(&enc, Format::OpenMetrics),
            "# HELP x X \\\"q\\\".\n# TYPE x counter\nx_total 1\n\
             # HELP y Y.\n# TYPE y counter\ny_total 2\n\
             # HELP z Z.\n# TYPE z unknown\nz 3\n# EOF\n"
        );
        assert!(render(&enc, Format::Text).contains("# TYPE z untyped\nz 3\n"));
    }

    #[test]
    fn constant_labels_merge_in_order_and_counter_lines_gain_total_in_openmetrics() {
        let metrics = vec![
            Metric::counter("c", "C.", 1.0)
                .label("a", "1")
                .label("z", "9"),
            Metric::counter("c", "C.", 2.0)
                .label("a", "2")
                .label("z", "8"),
            Metric::gauge("g", "G.", 3.0),
        ];
        let consts = Labels::new().with("m", "mid").with("b", "x");
        let enc = encode_collection(metrics, &consts).unwrap();
        assert_eq!(
            render(&enc, Format::Text),
            "# HELP c C.\n# TYPE c counter\n\
             c{a=\"1\",b=\"x\",m=\"mid\",z=\"9\"} 1\n\
             c{a=\"2\",b=\"x\",m=\"mid\",z=\"8\"} 2\n\
             # HELP g G.\n# TYPE g gauge\ng{b=\"x\",m=\"mid\"} 3\n"
        );
        assert_eq!(
            render(&enc, Format::OpenMetrics),
            "# HELP c C.\n# TYPE c counter\n\
             c_total{a=\"1\",b=\"x\",m=\"mid\",z=\"9\"} 1\n\
             c_total{a=\"2\",b=\"x\",m=\"mid\",z=\"8\"} 2\n\
             # HELP g G.\n# TYPE g gauge\ng{b=\"x\",m=\"mid\"} 3\n# EOF\n"
        );
        // Lengths used to size bodies agree with what is written.
        for f in &enc {
            for format in [Format::Text, Format::OpenMetrics] {
                let mut out = BytesMut::new();
                f.write_lines(&mut out, format);
                assert_eq!(out.len(), f.len(format));
            }
        }
    }

    #[test]
    fn escapes_label_values_and_help() {
        let enc = encode_collection(
            vec![Metric::gauge("g", "line1\nback\\slash", 1.0).label("l", "a\"b\\c\nd é")],
            &Labels::new(),
        )
        .unwrap();
        assert_eq!(
            render(&enc, Format::Text),
            "# HELP g line1\\nback\\\\slash\n# TYPE g gauge\ng{l=\"a\\\"b\\\\c\\nd é\"} 1\n"
        );
    }

    #[test]
    fn special_values() {
        let mut out = Vec::new();
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1,
            -2.0,
            1e20,
            1e-7,
        ] {
            write_value(&mut out, v);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NaN +Inf -Inf 0.1 -2 1e20 1e-7 "
        );
    }

    #[test]
    fn duplicate_series_are_an_error() {
        let err = encode_collection(
            vec![
                Metric::gauge("g", "G.", 1.0).label("a", "1"),
                Metric::gauge("g", "G.", 2.0).label("a", "1"),
            ],
            &Labels::new(),
        )
        .unwrap_err();
        assert!(matches!(err, CollectError::DuplicateSeries { .. }), "{err}");
    }

    #[test]
    fn bad_names_and_label_clashes_are_errors() {
        let bad_name = encode_collection(vec![Metric::gauge("2xx", "", 1.0)], &Labels::new());
        assert!(bad_name
            .unwrap_err()
            .to_string()
            .contains("`2xx` is invalid"));
        let bad_label = encode_collection(
            vec![Metric::gauge("g", "", 1.0).label("__x", "1")],
            &Labels::new(),
        );
        assert!(bad_label
            .unwrap_err()
            .to_string()
            .contains("`__x` is invalid"));
        let clash = encode_collection(
            vec![Metric::gauge("g", "", 1.0).label("instance", "1")],
            &Labels::new().with("instance", "2"),
        );
        assert!(clash.unwrap_err().to_string().contains("constant label"));
        let kinds = encode_collection(
            vec![
                Metric::gauge("g", "", 1.0),
                Metric::counter("g", "", 1.0).label("a", "b"),
            ],
            &Labels::new(),
        );
        assert!(kinds
            .unwrap_err()
            .to_string()
            .contains("both gauge and counter"));
    }

    #[test]
    fn one_header_for_chunks_of_many_collectors() {
        let a = encode_collection(
            vec![Metric::gauge("up", "Up.", 1.0)],
            &Labels::new().with("t", "a"),
        )
        .unwrap();
        let b = encode_collection(
            vec![Metric::gauge("up", "Up.", 0.0)],
            &Labels::new().with("t", "b"),
        )
        .unwrap();
        let mut w = FamilyWriter::new(Format::Text, 0);
        w.write_all(a.iter().chain(b.iter()).collect());
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            "# HELP up Up.\n# TYPE up gauge\nup{t=\"a\"} 1\nup{t=\"b\"} 0\n"
        );
    }
}
