//! Text format 0.0.4 and OpenMetrics output.
//!
//! A collector's samples are encoded once, when they are collected ([`encode_collection`]), into an
//! [`EncodedRun`]: one buffer of sample lines for the whole run, each family a range of it.
//!
//! A stored line holds neither the metric name nor the exporter's constant labels: it is `{own labels} value\n`
//! (or ` value\n`), after the line's length. Name and constant labels are the same on every line of a chunk,
//! and with many targets they are most of the bytes (`docs/performance.md` §2). A scrape splices them back in as
//! it copies the lines ([`Chunk::write_lines`]), under one `# HELP`/`# TYPE` header per family (in the order
//! and layout `body::Plan` gives).
//!
//! Constant labels come first in a written line, then the series' own labels (each set in name order):
//! label order carries no meaning in either format.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, BytesMut};

use crate::collector::CollectError;
use crate::metric::{is_valid_metric_name, Labels, Metric, MetricKind};

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

/// What a family's header and sample names need. Interned: the chunks of one family from a thousand targets
/// share one.
#[derive(Debug)]
pub(crate) struct FamilyMeta {
    pub name: Box<str>,
    pub help: Box<str>,
    pub kind: MetricKind,
    /// OpenMetrics sample names need `_total` appended (counters not named `_total`).
    om_total: bool,
}

/// One family's lines within an [`EncodedRun`].
#[derive(Debug)]
pub(crate) struct FamilyChunk {
    pub meta: Arc<FamilyMeta>,
    /// Where the chunk's first line starts in the run's buffer.
    start: u32,
    /// Bytes of its lines, not counting their length prefixes.
    written: u32,
    pub series: u32,
    /// Series without labels of their own.
    bare: u32,
}

/// A collector run, encoded: the sample lines of all its families in one buffer, sorted by family name.
///
/// Cloning shares both parts. They are held directly (not behind one more pointer) because a large scrape
/// visits every run in family order, jumping between runs: each indirection there is a cache miss.
#[derive(Debug, Default, Clone)]
pub(crate) struct EncodedRun {
    text: Arc<[u8]>,
    pub families: Arc<[FamilyChunk]>,
}

impl EncodedRun {
    /// Series in the run.
    pub(crate) fn series(&self) -> usize {
        self.families.iter().map(|f| f.series as usize).sum()
    }

    /// Reads the `i`th family's record, bringing it into the cache.
    pub(crate) fn touch(&self, i: usize) -> u32 {
        self.families.get(i).map_or(0, |f| f.start)
    }

    /// Bytes stored for the run's lines.
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The `i`th family as written for an exporter whose constant labels are `consts`.
    pub(crate) fn chunk<'a>(&'a self, i: usize, consts: &'a ConstLabels) -> Chunk<'a> {
        let f = &self.families[i];
        Chunk {
            meta: &f.meta,
            lines: &self.text[f.start as usize..],
            written: f.written as usize,
            series: f.series as usize,
            bare: f.bare as usize,
            prefix: &consts.prefix,
        }
    }
}

/// An exporter's constant labels, with the bytes every one of its sample lines starts its label set with.
#[derive(Debug, Default)]
pub(crate) struct ConstLabels {
    labels: Labels,
    /// `{a="x",b="y"` (no closing brace), or empty when there are no constant labels.
    prefix: Box<[u8]>,
}

impl ConstLabels {
    pub(crate) fn new(labels: Labels) -> Self {
        let mut prefix = Vec::new();
        for (i, (n, v)) in labels.iter().enumerate() {
            prefix.push(if i == 0 { b'{' } else { b',' });
            prefix.extend_from_slice(n.as_bytes());
            prefix.extend_from_slice(b"=\"");
            escape_label_value(&mut prefix, v);
            prefix.push(b'"');
        }
        ConstLabels {
            labels,
            prefix: prefix.into(),
        }
    }

    pub(crate) fn labels(&self) -> &Labels {
        &self.labels
    }
}

/// One family's lines from one collector, ready to write.
pub(crate) struct Chunk<'a> {
    pub meta: &'a Arc<FamilyMeta>,
    /// From the chunk's first line to the end of the run: `series` lines are the chunk's.
    lines: &'a [u8],
    written: usize,
    series: usize,
    bare: usize,
    prefix: &'a [u8],
}

impl Chunk<'_> {
    /// Length of the sample lines written in `format`.
    pub(crate) fn len(&self, format: Format) -> usize {
        // Constant labels replace a line's `{`, or come with a `}` before a bare line.
        let spliced = if self.prefix.is_empty() {
            0
        } else {
            self.series * self.prefix.len() + self.bare
        };
        self.written + self.series * self.name_len(format) + spliced
    }

    /// Reads the first byte of the chunk's lines and of its constant labels, bringing them into the cache.
    pub(crate) fn touch(&self) -> u8 {
        self.lines.first().copied().unwrap_or(0) ^ self.prefix.first().copied().unwrap_or(0)
    }

    fn name_len(&self, format: Format) -> usize {
        self.meta.name.len()
            + if self.om_total(format) {
                SUFFIX.len()
            } else {
                0
            }
    }

    fn om_total(&self, format: Format) -> bool {
        format == Format::OpenMetrics && self.meta.om_total
    }

    /// Appends the sample lines in `format`, exactly [`Chunk::len`] bytes (reserve them first, so the buffer
    /// grows once): name and constant labels spliced into each stored line. `head` is scratch space, reused
    /// across chunks.
    pub(crate) fn write_lines(&self, out: &mut BytesMut, format: Format, head: &mut Vec<u8>) {
        // What precedes a stored line: the name, then the constant labels and `,` before the line's own
        // labels (the line's `{` dropped), or `}` closing the set before a line that has none.
        head.clear();
        head.extend_from_slice(self.meta.name.as_bytes());
        if self.om_total(format) {
            head.extend_from_slice(SUFFIX);
        }
        let plain = head.len();
        if !self.prefix.is_empty() {
            head.extend_from_slice(self.prefix);
            head.push(b',');
        }
        for line in lines(self.lines).take(self.series) {
            if self.prefix.is_empty() {
                out.put_slice(&head[..plain]);
                out.put_slice(line);
            } else if let Some((b'{', own)) = line.split_first() {
                out.put_slice(head);
                out.put_slice(own);
            } else {
                out.put_slice(&head[..head.len() - 1]);
                out.put_u8(b'}');
                out.put_slice(line);
            }
        }
    }
}

/// The stored lines of a chunk. Each is prefixed with its length (LEB128: one byte below 128), so a scrape
/// finds line ends without scanning for them; scanning for them showed in profiles of large scrapes.
fn lines(mut buf: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    std::iter::from_fn(move || {
        let (mut len, mut shift, mut i) = (0usize, 0, 0);
        loop {
            let b = *buf.get(i)?;
            len |= usize::from(b & 0x7f) << shift;
            i += 1;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let line = buf.get(i..i + len)?;
        buf = &buf[i + len..];
        Some(line)
    })
}

/// Appends `line` to `out`, after its length.
fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    let mut len = line.len();
    while len >= 0x80 {
        out.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(line);
}

/// The end of an OpenMetrics exposition.
pub(crate) const EOF: &[u8] = b"# EOF\n";

/// What OpenMetrics appends to a counter's sample name.
const SUFFIX: &[u8] = b"_total";

/// Sorts a run's samples by family and label set, checks names, types, duplicate series and clashes with the
/// constant labels, and encodes.
///
/// The result is sorted by family name, and each family's series by label set, so output is deterministic.
/// One sort of the samples in place, rather than a tree of families and series: a run allocates its two
/// buffers and little else (allocation showed in profiles of collection).
pub(crate) fn encode_collection(
    mut metrics: Vec<Metric>,
    const_labels: &Labels,
) -> Result<EncodedRun, CollectError> {
    metrics.sort_unstable_by(|a, b| a.name.cmp(&b.name).then_with(|| a.labels.cmp(&b.labels)));
    let mut text = Vec::with_capacity(metrics.len() * 24);
    let mut line = Vec::with_capacity(64);
    let mut chunks = Vec::new();
    // Offsets are u32 to keep chunk records small; a run of 4 GiB would be a useless scrape anyway.
    let offset = |n: usize| {
        u32::try_from(n).map_err(|_| {
            CollectError::Other("the run's encoded series exceed 4 GiB: the run is dropped".into())
        })
    };
    for family in metrics.chunk_by(|a, b| a.name == b.name) {
        let first = &family[0];
        if !is_valid_metric_name(&first.name) {
            return Err(CollectError::Other(format!(
                "metric name `{}` is invalid: names must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                first.name
            )));
        }
        let start = offset(text.len())?;
        let (mut bare, mut written) = (0, 0);
        let mut previous: Option<&Labels> = None;
        for m in family {
            if m.kind != first.kind {
                // In a fixed order: the sort is unstable, so which came first says nothing.
                let (a, b) = (first.kind.min(m.kind), first.kind.max(m.kind));
                return Err(CollectError::Other(format!(
                    "metric `{}` is produced as both {a} and {b}",
                    m.name
                )));
            }
            if previous == Some(&m.labels) {
                return Err(CollectError::DuplicateSeries {
                    name: m.name.to_string(),
                    labels: m.labels.to_string(),
                });
            }
            previous = Some(&m.labels);
            check_labels(&m.name, &m.labels, const_labels)?;
            bare += u32::from(m.labels.is_empty());
            line.clear();
            write_line(&mut line, &m.labels, m.value);
            push_line(&mut text, &line);
            written += line.len();
        }
        chunks.push(FamilyChunk {
            meta: intern(&first.name, &first.help, first.kind),
            start,
            written: offset(written)?,
            series: offset(family.len())?,
            bare,
        });
    }
    Ok(EncodedRun {
        text: text.into(),
        families: chunks.into(),
    })
}

/// A series' own labels: valid names, none that is also a constant label.
fn check_labels(metric: &str, labels: &Labels, const_labels: &Labels) -> Result<(), CollectError> {
    for (n, _) in labels.iter() {
        if let Err(why) = hubble_names::check_label_name(n) {
            return Err(CollectError::Other(format!(
                "metric `{metric}` sets label `{n}`, which a collector may not: {why}"
            )));
        }
        if const_labels.contains(n) {
            return Err(CollectError::Other(format!(
                "metric `{metric}` sets label `{n}`, which is a constant label of the exporter"
            )));
        }
    }
    Ok(())
}

/// Interned family records, by name.
static FAMILIES: Mutex<Interner> = Mutex::new(Interner {
    map: None,
    len: 0,
    purge_at: 0,
});

struct Interner {
    /// Name → the records with that name (more than one only if help texts or types differ).
    map: Option<HashMap<Box<str>, Vec<Arc<FamilyMeta>>>>,
    len: usize,
    /// Size at which records no longer held by any run are dropped.
    purge_at: usize,
}

fn intern(name: &str, help: &str, kind: MetricKind) -> Arc<FamilyMeta> {
    let mut interner = FAMILIES.lock().unwrap_or_else(|e| e.into_inner());
    let Interner { map, len, purge_at } = &mut *interner;
    let map = map.get_or_insert_with(HashMap::new);
    if let Some(found) = map
        .get(name)
        .and_then(|v| v.iter().find(|m| m.kind == kind && &*m.help == help))
    {
        return found.clone();
    }
    if *len >= *purge_at {
        map.retain(|_, v| {
            v.retain(|m| Arc::strong_count(m) > 1);
            !v.is_empty()
        });
        *len = map.values().map(Vec::len).sum();
        *purge_at = (*len * 2).max(4096);
    }
    let meta = Arc::new(FamilyMeta {
        name: name.into(),
        help: help.into(),
        kind,
        om_total: openmetrics_sample_name(name, kind) != name,
    });
    map.entry(name.into()).or_default().push(meta.clone());
    *len += 1;
    meta
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

fn write_sample(out: &mut Vec<u8>, name: &str, labels: &Labels, value: f64) {
    out.extend_from_slice(name.as_bytes());
    write_line(out, labels, value);
}

/// A sample line after its name: `{labels} value\n`, or ` value\n` without labels.
fn write_line(out: &mut Vec<u8>, labels: &Labels, value: f64) {
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

/// `# HELP` and `# TYPE` lines of the family `meta` describes, in `format`.
pub(crate) fn write_family_header(out: &mut impl BufMut, meta: &FamilyMeta, format: Format) {
    let (family, kind_word) = match format {
        Format::Text => (&*meta.name, meta.kind.as_text()),
        Format::OpenMetrics => (
            openmetrics_family_name(&meta.name, meta.kind),
            meta.kind.as_openmetrics(),
        ),
    };
    write_header(out, family, &meta.help, kind_word, format);
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
/// samples of it. The tests' reference: scrapes write with `body::Plan`, which must give the same bytes.
#[cfg(test)]
pub(crate) struct FamilyWriter {
    format: Format,
    pub out: BytesMut,
    current: Option<Arc<FamilyMeta>>,
    head: Vec<u8>,
}

#[cfg(test)]
impl FamilyWriter {
    pub(crate) fn new(format: Format, capacity: usize) -> Self {
        FamilyWriter {
            format,
            out: BytesMut::with_capacity(capacity),
            current: None,
            head: Vec::new(),
        }
    }

    /// Writes every family of `runs` (each with its exporter's constant labels); they may come in any order.
    pub(crate) fn write_all(&mut self, runs: &[(&EncodedRun, &ConstLabels)]) {
        let mut chunks: Vec<Chunk<'_>> = runs
            .iter()
            .flat_map(|(run, consts)| (0..run.families.len()).map(|i| run.chunk(i, consts)))
            .collect();
        chunks.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        for chunk in &chunks {
            self.write(chunk);
        }
    }

    /// Writes one chunk, after a header if it starts a family. Chunks must come sorted by family name.
    pub(crate) fn write(&mut self, chunk: &Chunk<'_>) {
        let same = self
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, chunk.meta) || c.name == chunk.meta.name);
        if !same {
            self.header(chunk.meta);
            self.current = Some(chunk.meta.clone());
        }
        self.out.reserve(chunk.len(self.format));
        chunk.write_lines(&mut self.out, self.format, &mut self.head);
    }

    fn header(&mut self, meta: &FamilyMeta) {
        write_family_header(&mut self.out, meta, self.format);
    }

    /// Ends the exposition (OpenMetrics has an end marker).
    pub(crate) fn end(&mut self) {
        if self.format == Format::OpenMetrics {
            self.out.extend_from_slice(EOF);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
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

    fn render(run: &EncodedRun, consts: &Labels, format: Format) -> String {
        let consts = ConstLabels::new(consts.clone());
        let mut w = FamilyWriter::new(format, 0);
        w.write_all(&[(run, &consts)]);
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
            render(&enc, &consts, Format::Text),
            "# HELP a_commits_total Commits.\n# TYPE a_commits_total counter\n\
             a_commits_total{instance=\"pg1\",db=\"x\"} 10\n\
             # HELP b_size_bytes Size.\n# TYPE b_size_bytes gauge\n\
             b_size_bytes{instance=\"pg1\",db=\"a\"} 1.5\n\
             b_size_bytes{instance=\"pg1\",db=\"z\"} 3\n"
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
            render(&enc, &Labels::new(), Format::OpenMetrics),
            "# HELP x X \\\"q\\\".\n# TYPE x counter\nx_total 1\n\
             # HELP y Y.\n# TYPE y counter\ny_total 2\n\
             # HELP z Z.\n# TYPE z unknown\nz 3\n# EOF\n"
        );
        assert!(render(&enc, &Labels::new(), Format::Text).contains("# TYPE z untyped\nz 3\n"));
    }

    #[test]
    fn constant_labels_come_first_and_counter_lines_gain_total_in_openmetrics() {
        let metrics = vec![
            Metric::counter("c", "C.", 1.0)
                .label("a", "1")
                .label("z", "9"),
            Metric::counter("c", "C.", 2.0)
                .label("a", "2")
                .label("z", "8"),
            Metric::gauge("g", "G.", 4.0).label("k", "v"),
            Metric::gauge("g", "G.", 3.0),
        ];
        let consts = Labels::new().with("m", "mid").with("b", "x\"y");
        let enc = encode_collection(metrics, &consts).unwrap();
        assert_eq!(
            render(&enc, &consts, Format::Text),
            "# HELP c C.\n# TYPE c counter\n\
             c{b=\"x\\\"y\",m=\"mid\",a=\"1\",z=\"9\"} 1\n\
             c{b=\"x\\\"y\",m=\"mid\",a=\"2\",z=\"8\"} 2\n\
             # HELP g G.\n# TYPE g gauge\ng{b=\"x\\\"y\",m=\"mid\"} 3\n\
             g{b=\"x\\\"y\",m=\"mid\",k=\"v\"} 4\n"
        );
        assert_eq!(
            render(&enc, &consts, Format::OpenMetrics),
            "# HELP c C.\n# TYPE c counter\n\
             c_total{b=\"x\\\"y\",m=\"mid\",a=\"1\",z=\"9\"} 1\n\
             c_total{b=\"x\\\"y\",m=\"mid\",a=\"2\",z=\"8\"} 2\n\
             # HELP g G.\n# TYPE g gauge\ng{b=\"x\\\"y\",m=\"mid\"} 3\n\
             g{b=\"x\\\"y\",m=\"mid\",k=\"v\"} 4\n# EOF\n"
        );
        // Lines are stored without name and constant labels, each after its length.
        assert_eq!(
            std::str::from_utf8(&enc.text).unwrap(),
            "\x10{a=\"1\",z=\"9\"} 1\n\x10{a=\"2\",z=\"8\"} 2\n\x03 3\n\x0a{k=\"v\"} 4\n"
        );
        // Lengths used to size bodies agree with what is written, with and without constant labels.
        for consts in [ConstLabels::new(consts.clone()), ConstLabels::default()] {
            for i in 0..enc.families.len() {
                let chunk = enc.chunk(i, &consts);
                for format in [Format::Text, Format::OpenMetrics] {
                    let mut out = BytesMut::new();
                    chunk.write_lines(&mut out, format, &mut Vec::new());
                    assert_eq!(out.len(), chunk.len(format));
                }
            }
        }
    }

    #[test]
    fn lines_of_any_length_round_trip() {
        let values = [
            "a".repeat(100),
            "b".repeat(200),
            "c".repeat(20_000),
            String::new(),
        ];
        let metrics = values
            .iter()
            .enumerate()
            .map(|(i, v)| Metric::gauge("g", "G.", i as f64).label("v", v.as_str()))
            .chain([Metric::gauge("h", "H.", 5.0)])
            .collect();
        let consts = Labels::new().with("t", "x");
        let enc = encode_collection(metrics, &consts).unwrap();
        let mut want: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("g{{t=\"x\",v=\"{v}\"}} {i}"))
            .collect();
        want.sort();
        let text = render(&enc, &consts, Format::Text);
        let got: Vec<&str> = text.lines().filter(|l| l.starts_with("g{")).collect();
        assert_eq!(got, want);
        assert!(text.ends_with("# TYPE h gauge\nh{t=\"x\"} 5\n"), "{text}");
    }

    #[test]
    fn escapes_label_values_and_help() {
        let enc = encode_collection(
            vec![Metric::gauge("g", "line1\nback\\slash", 1.0).label("l", "a\"b\\c\nd é")],
            &Labels::new(),
        )
        .unwrap();
        assert_eq!(
            render(&enc, &Labels::new(), Format::Text),
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
        for (label, why) in [
            ("__x", "for Prometheus' internal use"),
            ("le", "reserved for histograms and summaries"),
            ("quantile", "reserved for histograms and summaries"),
            ("a-b", "must match"),
        ] {
            let bad_label = encode_collection(
                vec![Metric::gauge("g", "", 1.0).label(label, "1")],
                &Labels::new(),
            );
            let e = bad_label.unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "metric `g` sets label `{label}`, which a collector may not: "
                )) && e.contains(why),
                "{e}"
            );
        }
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
            .contains("both counter and gauge"));
    }

    #[test]
    fn one_header_for_chunks_of_many_collectors() {
        let (la, lb) = (
            ConstLabels::new(Labels::new().with("t", "a")),
            ConstLabels::new(Labels::new().with("t", "b")),
        );
        let a = encode_collection(vec![Metric::gauge("up", "Up.", 1.0)], la.labels()).unwrap();
        let b = encode_collection(vec![Metric::gauge("up", "Up.", 0.0)], lb.labels()).unwrap();
        let mut w = FamilyWriter::new(Format::Text, 0);
        w.write_all(&[(&a, &la), (&b, &lb)]);
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            "# HELP up Up.\n# TYPE up gauge\nup{t=\"a\"} 1\nup{t=\"b\"} 0\n"
        );
    }
}
