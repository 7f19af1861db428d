//! Families gathered from a `prometheus` crate registry (process metrics, user instruments), written out.

use super::*;

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

pub(crate) fn format_le(v: f64) -> String {
    let mut out = Vec::new();
    write_value(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}
