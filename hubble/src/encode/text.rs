//! Writing lines, values and headers in either format.

use super::*;

/// In OpenMetrics a counter family is named without `_total` and its sample carries it.
pub(crate) fn openmetrics_family_name(name: &str, kind: MetricKind) -> &str {
    match kind {
        MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

pub(crate) fn openmetrics_sample_name(name: &str, kind: MetricKind) -> String {
    match kind {
        MetricKind::Counter => format!("{}_total", openmetrics_family_name(name, kind)),
        _ => name.to_owned(),
    }
}

pub(crate) fn write_sample(out: &mut Vec<u8>, name: &str, labels: &Labels, value: f64) {
    out.extend_from_slice(name.as_bytes());
    write_line(out, labels, value);
}

/// A sample line after its name: `{labels} value\n`, or ` value\n` without labels.
/// Returns how many bytes the label set took (none without labels).
pub(crate) fn write_line(out: &mut Vec<u8>, labels: &Labels, value: f64) -> usize {
    let start = out.len();
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
    let labels = out.len() - start;
    out.push(b' ');
    write_value(out, value);
    out.push(b'\n');
    labels
}

pub(crate) fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    // Most values need no escape: copied whole (values are short, so a plain scan beats a SIMD search's
    // setup).
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.extend_from_slice(v.as_bytes());
        return;
    }
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

pub(crate) fn escape_help(out: &mut impl BufMut, help: &str, format: Format) {
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
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
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
pub(crate) fn write_header(
    out: &mut impl BufMut,
    family: &str,
    help: &str,
    kind_word: &str,
    format: Format,
) {
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
    pub(crate) format: Format,
    pub out: BytesMut,
    pub(crate) current: Option<Arc<FamilyMeta>>,
    pub(crate) head: Vec<u8>,
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
            .flat_map(|(run, consts)| (0..run.family_count()).map(|i| run.chunk(i, consts)))
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
