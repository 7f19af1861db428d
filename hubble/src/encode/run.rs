//! A collector run encoded once: its sample lines in one buffer, each family a range of it, and the chunks a
//! scrape copies them from.

use super::*;

/// What a family's header and sample names need. Interned: the chunks of one family from a thousand targets
/// share one.
#[derive(Debug)]
pub(crate) struct FamilyMeta {
    pub name: Box<str>,
    pub help: Box<str>,
    pub kind: MetricKind,
    /// OpenMetrics sample names need `_total` appended (counters not named `_total`).
    pub(crate) om_total: bool,
    /// The `# HELP` and `# TYPE` lines in each [`Format`], made on first use: every scrape writes each
    /// family's (it showed in profiles of scrapes).
    pub(crate) headers: [std::sync::OnceLock<Box<[u8]>>; 2],
}

impl FamilyMeta {
    /// The family's header lines in `format`.
    pub(crate) fn header(&self, format: Format) -> &[u8] {
        self.headers[format as usize].get_or_init(|| {
            let mut out = Vec::new();
            write_family_header(&mut out, self, format);
            out.into()
        })
    }
}

/// One family's lines within an [`EncodedRun`], as the encoder finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Where the family's first line starts in the run's buffer.
    pub(crate) start: u32,
    /// Bytes of its lines, not counting their length prefixes.
    pub(crate) written: u32,
    pub(crate) series: u32,
    /// Series without labels of their own.
    pub(crate) bare: u32,
}

/// How a run's `spans` are laid out, in their first word. Most families of a fleet's runs are one line each
/// (a target's ~340 `pg_settings` families, every collector's health), and for them two words a family do.
mod layout {
    /// `[start, written, series, bare]` a family.
    pub(super) const SPANS: u32 = 0;
    /// `[start, written]` a family, each one line with labels of its own.
    pub(super) const ONE_LINE: u32 = 1;
    /// `[start, written]` a family, each one line without labels of its own.
    pub(super) const ONE_BARE_LINE: u32 = 2;
}

/// A collector run, encoded: the sample lines of all its families in one buffer, sorted by family name.
///
/// Cloning shares its parts. They are held directly (not behind one more pointer) because a large scrape
/// visits every run in family order, jumping between runs: each indirection there is a cache miss.
#[derive(Debug, Default, Clone)]
pub(crate) struct EncodedRun {
    pub(crate) text: Arc<[u8]>,
    /// The families' records in name order: one list shared by every run of the same families, so that a
    /// fleet's targets hold one (a record per family and run was a third of the cache).
    pub(super) metas: Arc<[Arc<FamilyMeta>]>,
    /// Where each family's lines are: a layout word (see [`layout`]), then the families' spans in it.
    pub(super) spans: Arc<[u32]>,
}

impl EncodedRun {
    /// The run of `text` whose families are `families`, in name order.
    pub(crate) fn new(text: Vec<u8>, families: Vec<(Arc<FamilyMeta>, Span)>) -> Self {
        Self::sharing(text.into(), families)
    }

    /// The run whose families are `families` (in name order), their lines in `text`, which other runs may
    /// share: spans and references are positions in all of it.
    pub(crate) fn sharing(text: Arc<[u8]>, families: Vec<(Arc<FamilyMeta>, Span)>) -> Self {
        if families.is_empty() {
            return EncodedRun {
                text,
                ..EncodedRun::default()
            };
        }
        let one_line = families.iter().all(|(_, s)| s.series == 1);
        let bare = families.iter().all(|(_, s)| s.bare == 1);
        let labelled = families.iter().all(|(_, s)| s.bare == 0);
        let layout = match (one_line, bare, labelled) {
            (true, true, _) => layout::ONE_BARE_LINE,
            (true, _, true) => layout::ONE_LINE,
            _ => layout::SPANS,
        };
        let stride = if layout == layout::SPANS { 4 } else { 2 };
        let mut spans = Vec::with_capacity(1 + stride * families.len());
        spans.push(layout);
        let mut metas = Vec::with_capacity(families.len());
        for (meta, s) in families {
            metas.push(meta);
            spans.extend_from_slice(&[s.start, s.written, s.series, s.bare][..stride]);
        }
        EncodedRun {
            text,
            metas: intern_list(metas),
            spans: spans.into(),
        }
    }

    /// Families in the run.
    pub(crate) fn family_count(&self) -> usize {
        self.metas.len()
    }

    /// The `i`th family's lines.
    #[inline]
    fn span(&self, i: usize) -> Span {
        let spans = &*self.spans;
        if spans[0] == layout::SPANS {
            let at = 1 + 4 * i;
            let [start, written, series, bare] =
                <[u32; 4]>::try_from(&spans[at..at + 4]).expect("a slice of four");
            Span {
                start,
                written,
                series,
                bare,
            }
        } else {
            let at = 1 + 2 * i;
            let [start, written] =
                <[u32; 2]>::try_from(&spans[at..at + 2]).expect("a slice of two");
            Span {
                start,
                written,
                series: 1,
                bare: u32::from(spans[0] == layout::ONE_BARE_LINE),
            }
        }
    }

    /// Series in the run.
    pub(crate) fn series(&self) -> usize {
        (0..self.family_count())
            .map(|i| self.span(i).series as usize)
            .sum()
    }

    /// Reads the `i`th family's span, bringing it into the cache.
    pub(crate) fn touch(&self, i: usize) -> u32 {
        if i < self.family_count() {
            self.span(i).start
        } else {
            0
        }
    }

    /// Bytes stored for the run's lines.
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Each family's record and span, in order (what tests compare).
    #[cfg(test)]
    pub(crate) fn records(&self) -> Vec<(*const FamilyMeta, Span)> {
        (0..self.family_count())
            .map(|i| (Arc::as_ptr(&self.metas[i]), self.span(i)))
            .collect()
    }

    /// The `i`th family as written for an exporter whose constant labels are `consts`.
    pub(crate) fn chunk<'a>(&'a self, i: usize, consts: &'a ConstLabels) -> Chunk<'a> {
        let f = self.span(i);
        Chunk {
            meta: &self.metas[i],
            run: &self.text,
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
    pub(crate) labels: Labels,
    /// `{a="x",b="y"` (no closing brace), or empty when there are no constant labels.
    pub(crate) prefix: Box<[u8]>,
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
    /// The run's whole buffer, where shared label sets are found.
    run: &'a [u8],
    /// From the chunk's first line to the end of the run: `series` lines are the chunk's.
    pub(crate) lines: &'a [u8],
    pub(crate) written: usize,
    pub(crate) series: usize,
    pub(crate) bare: usize,
    pub(crate) prefix: &'a [u8],
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
        if matches!(self.meta.kind, MetricKind::Histogram | MetricKind::Summary) {
            self.write_histogram_lines(out, head, plain);
            return;
        }
        for (line, rest) in lines(self.lines, self.run).take(self.series) {
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
            if !rest.is_empty() {
                out.put_slice(rest);
            }
        }
    }
}

impl Chunk<'_> {
    /// [`Chunk::write_lines`] for a histogram or summary: each stored line starts with the code of its name's
    /// suffix.
    fn write_histogram_lines(&self, out: &mut BytesMut, head: &[u8], plain: usize) {
        // Their lines are stored whole (`Stored`): `lines` gives nothing after them.
        for (line, _) in lines(self.lines, self.run).take(self.series) {
            let Some((&code, line)) = line.split_first() else {
                continue;
            };
            out.put_slice(&head[..plain]);
            out.put_slice(HISTOGRAM_SUFFIXES[usize::from(code)]);
            if self.prefix.is_empty() {
                out.put_slice(line);
            } else if let Some((b'{', own)) = line.split_first() {
                out.put_slice(&head[plain..]);
                out.put_slice(own);
            } else {
                out.put_slice(&head[plain..head.len() - 1]);
                out.put_u8(b'}');
                out.put_slice(line);
            }
        }
    }
}

/// The suffixes of a histogram's or summary's sample names, by the code its stored lines start with (a
/// summary's quantile lines have none).
pub(crate) const HISTOGRAM_SUFFIXES: [&[u8]; 4] = [b"_bucket", b"_sum", b"_count", b""];

/// The code of a summary's quantile lines in [`HISTOGRAM_SUFFIXES`].
const QUANTILE: u8 = 3;

/// The stored lines of a chunk, each as two parts to write one after the other; `run` is the run's whole
/// buffer.
///
/// A line is stored whole after its length (LEB128: one byte below 128), so a scrape finds line ends without
/// scanning for them (scanning showed in profiles of large scrapes); the second part is then empty. A line
/// whose label set an earlier line of the run already stored is a zero length, then the length of its
/// ` value\n` (one byte), where that label set starts in `run` (four bytes) and its length (two), then the
/// ` value\n`. A query's rows share their label sets across the query's families (one per column), and those
/// copies were a third of the cache ("Memory per target" in `docs/performance.md`).
pub(crate) fn lines<'a>(
    mut buf: &'a [u8],
    run: &'a [u8],
) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
    std::iter::from_fn(move || {
        let len = read_len(&mut buf)?;
        if len > 0 {
            let line = buf.get(..len)?;
            buf = &buf[len..];
            return Some((line, &[][..]));
        }
        // Fixed widths after the marker: read without the length loop (this is the scrape's inner loop).
        let (&rest, tail) = buf.split_first()?;
        let (at, tail) = tail.split_first_chunk::<4>()?;
        let (labels, tail) = tail.split_first_chunk::<2>()?;
        let (value, tail) = tail.split_at_checked(usize::from(rest))?;
        buf = tail;
        let at = u32::from_le_bytes(*at) as usize;
        Some((
            run.get(at..at + usize::from(u16::from_le_bytes(*labels)))?,
            value,
        ))
    })
}

/// Reads a LEB128 length off the front of `buf`.
fn read_len(buf: &mut &[u8]) -> Option<usize> {
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
    *buf = &buf[i..];
    Some(len)
}

fn push_len(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// Appends `line` to `out`, after its length.
pub(crate) fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    push_len(out, line.len());
    out.extend_from_slice(line);
}

/// The label sets a run has stored whole, so later lines with the same set point at it ([`lines`]).
#[derive(Default)]
struct SharedLabels {
    /// Where each set starts in the run's buffer and its length, by a hash of its bytes.
    stored: HashMap<u64, (usize, usize), foldhash::fast::RandomState>,
    /// The same, by the identity of a shared [`Labels`] (a row's samples share theirs): a later line of that
    /// set is a reference without its labels being written or hashed again.
    by_id: HashMap<usize, (usize, usize), foldhash::fast::RandomState>,
    hasher: foldhash::fast::FixedState,
}

impl SharedLabels {
    /// Shorter sets are stored whole again: a reference takes seven bytes more than a line's length does.
    const MIN: usize = 12;

    /// Whether a line of a `labels`-byte set and a `value`-byte ` value\n` may point at a stored copy of its
    /// set: the reference's widths (u16 set length, u8 value length), and sets long enough to be worth it.
    fn referable(labels: usize, value: usize) -> bool {
        (Self::MIN..=usize::from(u16::MAX)).contains(&labels) && value <= usize::from(u8::MAX)
    }

    /// Appends the line of `labels` and `value` to `text` (`line` is scratch space), pointing at an earlier
    /// copy of its label set when there is one. Returns the bytes the line writes.
    fn push_sample(
        &mut self,
        text: &mut Vec<u8>,
        line: &mut Vec<u8>,
        labels: &Labels,
        value: f64,
    ) -> usize {
        line.clear();
        let id = labels.shared_id();
        if let Some(&(at, len)) = id.and_then(|id| self.by_id.get(&id)) {
            line.push(b' ');
            write_value(line, value);
            line.push(b'\n');
            if Self::referable(len, line.len()) {
                push_reference(text, line, at, len);
                return len + line.len();
            }
            line.clear();
        }
        let set = write_line(line, labels, value);
        let stored = self.push(text, line, set);
        if let (Some(id), Some(at)) = (id, stored) {
            self.by_id.insert(id, at);
        }
        line.len()
    }

    /// Appends `line`, whose first `labels` bytes are its label set, to `text`: pointing at an earlier copy
    /// of that set when there is one. Returns where the set is stored when lines may point at it.
    fn push(&mut self, text: &mut Vec<u8>, line: &[u8], labels: usize) -> Option<(usize, usize)> {
        use std::hash::BuildHasher;
        let value = line.len() - labels;
        if !Self::referable(labels, value) {
            push_line(text, line);
            return None;
        }
        let set = &line[..labels];
        let key = self.hasher.hash_one(set);
        match self.stored.get(&key) {
            Some(&(at, len))
                if text.get(at..at + len) == Some(set) && u32::try_from(at).is_ok() =>
            {
                push_reference(text, &line[labels..], at, len);
                Some((at, len))
            }
            found => {
                push_line(text, line);
                let at = (text.len() - line.len(), labels);
                // A set stored beyond 4 GiB cannot be pointed at (the run is refused anyway).
                if found.is_none() && u32::try_from(at.0).is_ok() {
                    self.stored.insert(key, at);
                    return Some(at);
                }
                None
            }
        }
    }
}

/// Appends a line whose label set is the `len` bytes at `at` of `text`, then its ` value\n` (at most 255
/// bytes; `at` within u32 and `len` within u16, as [`SharedLabels::push`] checks).
fn push_reference(text: &mut Vec<u8>, value: &[u8], at: usize, len: usize) {
    text.push(0);
    text.push(value.len() as u8);
    text.extend_from_slice(&(at as u32).to_le_bytes());
    text.extend_from_slice(&(len as u16).to_le_bytes());
    text.extend_from_slice(value);
}

/// The end of an OpenMetrics exposition.
pub(crate) const EOF: &[u8] = b"# EOF\n";

/// What OpenMetrics appends to a counter's sample name.
pub(crate) const SUFFIX: &[u8] = b"_total";

/// Sorts a run's samples by family and label set, checks names, types, duplicate series and clashes with the
/// constant labels, and encodes.
///
/// The result is sorted by family name, and each family's series by label set, so output is deterministic.
/// One sort of the samples in place, rather than a tree of families and series: a run allocates its two
/// buffers and little else (allocation showed in profiles of collection).
pub(crate) fn encode_collection(
    metrics: Vec<Sample>,
    const_labels: &Labels,
) -> Result<EncodedRun, CollectError> {
    // Indices move, not the samples. Grouped by family in name order (a counting sort: names are compared
    // once per family, not per pair of samples), keeping the run's order within each family, then each
    // family sorted by labels.
    let rank = family_ranks(&metrics);
    let mut order = by_rank(&rank);
    let mut sorting = FamilySort::default();
    // Families whose order was that of a family sorted before them: the same sets, so the same duplicates
    // (none, or that family fails the run), and they need not be compared pairwise again.
    let reused: Vec<bool> = order
        .chunk_by_mut(|&a, &b| rank[a as usize] == rank[b as usize])
        .map(|family| sorting.sort(family, &metrics))
        .collect();
    let mut text = Vec::with_capacity(metrics.len() * 24);
    let mut line = Vec::with_capacity(64);
    let mut chunks = Vec::new();
    let mut shared = SharedLabels::default();
    // Offsets are u32 to keep chunk records small; a run of 4 GiB would be a useless scrape anyway.
    let offset = |n: usize| {
        u32::try_from(n).map_err(|_| {
            CollectError::Other("the run's encoded series exceed 4 GiB: the run is dropped".into())
        })
    };
    let families = order.chunk_by(|&a, &b| rank[a as usize] == rank[b as usize]);
    for (family, reused) in families.zip(reused) {
        let first = &metrics[family[0] as usize];
        // The name is checked when the record is first made: once per process, not per run.
        let meta = intern_cow(&first.name, &first.help, first.kind).ok_or_else(|| {
            CollectError::Other(format!(
                "metric name `{}` is invalid: names must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                first.name
            ))
        })?;
        let start = offset(text.len())?;
        let (mut bare, mut written, mut series) = (0, 0, 0);
        let mut previous: Option<&Labels> = None;
        // The last label set whose names were checked: the rows of a family mostly share their names, which
        // are then checked once per family rather than once per sample (it showed in profiles).
        let mut checked: Option<&Labels> = None;
        for m in family.iter().map(|&i| &metrics[i as usize]) {
            if m.kind != first.kind {
                // In a fixed order: the sort is unstable, so which came first says nothing.
                let (a, b) = (first.kind.min(m.kind), first.kind.max(m.kind));
                return Err(CollectError::Other(format!(
                    "metric `{}` is produced as both {a} and {b}",
                    m.name
                )));
            }
            if !reused && previous == Some(&m.labels) {
                return Err(CollectError::DuplicateSeries {
                    name: m.name.to_string(),
                    labels: m.labels.to_string(),
                });
            }
            previous = Some(&m.labels);
            if !checked.is_some_and(|c| c.same_names(&m.labels)) {
                check_labels(&m.name, &m.labels, const_labels)?;
                checked = Some(&m.labels);
            }
            // A histogram or summary writes several lines, its `_sum` and `_count` without labels of their own
            // when it has none.
            let several = match m.kind {
                MetricKind::Histogram => Some(
                    m.histogram
                        .as_deref()
                        .map(|h| encode_histogram(&mut text, &mut line, &m.labels, h))
                        .ok_or("a histogram without buckets: build it with Sample::histogram"),
                ),
                MetricKind::Summary => Some(
                    m.summary
                        .as_deref()
                        .map(|q| encode_summary(&mut text, &mut line, &m.labels, q))
                        .ok_or("a summary without quantiles: build it with Sample::summary"),
                ),
                _ => None,
            };
            if let Some(encoded) = several {
                let lines = encoded
                    .map_err(|why| CollectError::Other(format!("metric `{}` is {why}", m.name)))?;
                (series, written) = (series + lines.0, written + lines.1);
                bare += 2 * u32::from(m.labels.is_empty());
                continue;
            }
            bare += u32::from(m.labels.is_empty());
            written += shared.push_sample(&mut text, &mut line, &m.labels, m.value);
            series += 1;
        }
        chunks.push((
            meta,
            Span {
                start,
                written: offset(written)?,
                series: offset(series)?,
                bare,
            },
        ));
    }
    Ok(EncodedRun::new(text, chunks))
}

/// Builds a run whose lines each carry one of a few label sets known in advance (a collector's name, for the
/// exporter's health self-metrics), family by family in name order, without the sort, checks and maps of
/// [`encode_collection`]: the bytes a scrape writes are those of the same samples encoded by it, lines in the
/// order given. Each set is stored whole at its first line and pointed at by later ones, as
/// [`SharedLabels`] does. Its lines go at the end of a buffer that other runs may share
/// ([`EncodedRun::sharing`]).
pub(crate) struct LineRun<'a> {
    text: &'a mut Vec<u8>,
    value: Vec<u8>,
    /// Per set, where it is stored whole once it is.
    stored: Vec<Option<u32>>,
    families: Vec<(Arc<FamilyMeta>, Span)>,
}

impl<'a> LineRun<'a> {
    /// A run of lines labelled by `sets` sets (indices `0..sets`), written at the end of `text`.
    pub(crate) fn new(text: &'a mut Vec<u8>, sets: usize) -> Self {
        text.reserve(sets * 96);
        LineRun {
            text,
            value: Vec::with_capacity(32),
            stored: vec![None; sets],
            families: Vec::with_capacity(5),
        }
    }

    /// Starts family `meta` (after the previous one in name order); a family left without lines is dropped.
    pub(crate) fn family(&mut self, meta: &Arc<FamilyMeta>) {
        if self.families.last().is_some_and(|(_, s)| s.series == 0) {
            self.families.pop();
        }
        debug_assert!(self.families.last().is_none_or(|(m, _)| m.name < meta.name));
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.families.push((
            meta.clone(),
            Span {
                start,
                written: 0,
                series: 0,
                bare: 0,
            },
        ));
    }

    /// Appends to the current family the line of set `set` (its bytes `labels`, as written: `{a="x"}`, or
    /// empty) and `value`.
    pub(crate) fn line(&mut self, set: usize, labels: &[u8], value: f64) {
        let value_text = &mut self.value;
        value_text.clear();
        value_text.push(b' ');
        write_value(value_text, value);
        value_text.push(b'\n');
        let referable = SharedLabels::referable(labels.len(), value_text.len());
        match self.stored[set] {
            Some(at) if referable => {
                push_reference(self.text, value_text, at as usize, labels.len());
            }
            _ => {
                push_len(self.text, labels.len() + value_text.len());
                let at = self.text.len();
                self.text.extend_from_slice(labels);
                self.text.extend_from_slice(value_text);
                if referable {
                    if let Ok(at) = u32::try_from(at) {
                        self.stored[set].get_or_insert(at);
                    }
                }
            }
        }
        let (_, span) = self.families.last_mut().expect("a family started");
        // A few dozen bytes a line, a few dozen lines: far within u32 (the run is refused beyond anyway).
        span.written += (labels.len() + value_text.len()) as u32;
        span.series += 1;
        span.bare += u32::from(labels.is_empty());
    }

    /// The run's families and where their lines are in the buffer.
    pub(crate) fn finish(mut self) -> Vec<(Arc<FamilyMeta>, Span)> {
        if self.families.last().is_some_and(|(_, s)| s.series == 0) {
            self.families.pop();
        }
        self.families
    }
}

/// Sorts each family's samples by label set, once per distinct sequence of rows: the families of a derived
/// group come from the same rows in the same order (each row's samples share one set), so the order found
/// for one family is the order of the next, checked by identity rather than by comparing labels again
/// (comparing label sets showed in profiles of collection).
#[derive(Default)]
struct FamilySort {
    /// The last family sorted by comparison, in the run's order.
    rows: Vec<u32>,
    /// Its sorted order, as positions in `rows`.
    order: Vec<u32>,
    scratch: Vec<u32>,
}

impl FamilySort {
    /// Sorts `family`; true when its order was the last sorted family's, found by identity (its sets are
    /// that family's).
    fn sort(&mut self, family: &mut [u32], metrics: &[Sample]) -> bool {
        if family.len() < 2 {
            return false;
        }
        let labels = |i: u32| &metrics[i as usize].labels;
        if !labels(family[0]).is_shared() {
            // Sets built one per sample: no identity to go by, sorted in place.
            family.sort_unstable_by(|&a, &b| labels(a).cmp(labels(b)));
            return false;
        }
        let same_rows = family.len() == self.rows.len()
            && family
                .iter()
                .zip(&self.rows)
                .all(|(&a, &b)| labels(a).is_clone_of(labels(b)));
        if !same_rows {
            self.rows.clear();
            self.rows.extend_from_slice(family);
            self.order.clear();
            self.order.extend(0..family.len() as u32);
            let rows = &self.rows;
            self.order
                .sort_unstable_by(|&a, &b| labels(rows[a as usize]).cmp(labels(rows[b as usize])));
        }
        self.scratch.clear();
        self.scratch
            .extend(self.order.iter().map(|&position| family[position as usize]));
        family.copy_from_slice(&self.scratch);
        same_rows
    }
}

/// The indices of `rank`, grouped by rank in increasing order, each group in index order.
fn by_rank(rank: &[u32]) -> Vec<u32> {
    let families = rank.iter().max().map_or(0, |&r| r as usize + 1);
    let mut start = vec![0u32; families + 1];
    for &r in rank {
        start[r as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut order = vec![0u32; rank.len()];
    for (i, &r) in rank.iter().enumerate() {
        order[start[r as usize] as usize] = i as u32;
        start[r as usize] += 1;
    }
    order
}

/// Each sample's family rank: families numbered in name order.
fn family_ranks(metrics: &[Sample]) -> Vec<u32> {
    let mut names: Vec<&str> = Vec::new();
    let mut index: std::collections::HashMap<&str, u32, foldhash::fast::RandomState> =
        std::collections::HashMap::default();
    let mut first_seen: Vec<u32> = Vec::with_capacity(metrics.len());
    // A derived group emits its families row after row in the same order: guessing the family after the
    // last one (the same `&'static str`) spares hashing most names.
    let mut next = 0;
    for m in metrics {
        let name = m.name.as_ref();
        let id = match names.get(next) {
            Some(&guess) if std::ptr::eq(guess, name) => next as u32,
            _ => *index.entry(name).or_insert_with(|| {
                names.push(name);
                names.len() as u32 - 1
            }),
        };
        next = (id as usize + 1) % names.len();
        first_seen.push(id);
    }
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_unstable_by_key(|&i| names[i as usize]);
    let mut rank = vec![0; names.len()];
    for (r, &i) in by_name.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    first_seen.iter().map(|&i| rank[i as usize]).collect()
}

/// Stores lines of a histogram or summary: each starts with its suffix's code. Counts the lines stored and
/// the bytes they write (suffixes in, codes out).
struct Stored<'a> {
    text: &'a mut Vec<u8>,
    line: &'a mut Vec<u8>,
    lines: usize,
    written: usize,
}

impl<'a> Stored<'a> {
    fn new(text: &'a mut Vec<u8>, line: &'a mut Vec<u8>) -> Self {
        Stored {
            text,
            line,
            lines: 0,
            written: 0,
        }
    }

    fn store(&mut self, code: u8, labels: &Labels, value: f64) {
        self.line.clear();
        self.line.push(code);
        write_line(self.line, labels, value);
        push_line(self.text, self.line);
        self.lines += 1;
        self.written += self.line.len() - 1 + HISTOGRAM_SUFFIXES[usize::from(code)].len();
    }

    /// `labels` and `name="<value>"`, the value written as sample values are.
    fn with(labels: &Labels, name: &'static str, value: f64) -> Labels {
        let mut text = Vec::with_capacity(24);
        write_value(&mut text, value);
        labels
            .clone()
            .with(name, String::from_utf8_lossy(&text).into_owned())
    }
}

/// Stores one histogram series: its buckets (with `+Inf`) in increasing order, then `_sum` and `_count`, as
/// the Go client writes them. Returns the lines stored and the bytes they write.
fn encode_histogram(
    text: &mut Vec<u8>,
    line: &mut Vec<u8>,
    labels: &Labels,
    h: &crate::histogram::Histogram,
) -> (usize, usize) {
    let mut out = Stored::new(text, line);
    #[allow(clippy::cast_precision_loss)]
    let buckets = h
        .buckets()
        .iter()
        .map(|&(b, n)| (b, n as f64))
        .chain([(f64::INFINITY, h.count() as f64)]);
    for (bound, n) in buckets {
        out.store(0, &Stored::with(labels, "le", bound), n);
    }
    out.store(1, labels, h.sum());
    #[allow(clippy::cast_precision_loss)]
    out.store(2, labels, h.count() as f64);
    (out.lines, out.written)
}

/// Stores one summary series: its quantiles in increasing order, then `_sum` and `_count`, as the Go client
/// writes them. Returns the lines stored and the bytes they write.
fn encode_summary(
    text: &mut Vec<u8>,
    line: &mut Vec<u8>,
    labels: &Labels,
    s: &crate::summary::Summary,
) -> (usize, usize) {
    let mut out = Stored::new(text, line);
    for &(q, v) in s.quantiles() {
        out.store(QUANTILE, &Stored::with(labels, "quantile", q), v);
    }
    out.store(1, labels, s.sum());
    #[allow(clippy::cast_precision_loss)]
    out.store(2, labels, s.count() as f64);
    (out.lines, out.written)
}
