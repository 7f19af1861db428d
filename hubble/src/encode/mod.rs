//! Text format 0.0.4 and OpenMetrics output.
//!
//! A collector's samples are encoded once, when they are collected ([`encode_collection`]), into an
//! [`EncodedRun`]: one buffer of sample lines for the whole run, each family a range of it.
//!
//! A stored line holds neither the metric name nor the exporter's constant labels: it is `{own labels} value\n`
//! (or ` value\n`), after the line's length; a label set that an earlier line of the run stored is a reference
//! to that copy instead ([`lines`]). Name and constant labels are the same on every line of a chunk,
//! and with many targets they are most of the bytes (`docs/performance.md` §2). A scrape splices them back in as
//! it copies the lines ([`Chunk::write_lines`]), under one `# HELP`/`# TYPE` header per family (in the order
//! and layout `body::Plan` gives).
//!
//! Constant labels come first in a written line, then the series' own labels (each set in name order):
//! label order carries no meaning in either format.

mod check;
mod format;
mod interner;
mod prometheus_bridge;
mod run;
mod text;

// The parts see each other through this module, as the one module they were.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, BytesMut};

use crate::collector::CollectError;
use crate::metric::{is_valid_metric_name, Labels, MetricKind, Sample};

#[allow(unused_imports)]
use check::*;
pub use format::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub(crate) use interner::intern;
#[allow(unused_imports)]
use interner::*;
pub(crate) use prometheus_bridge::encode_prometheus_families;
#[allow(unused_imports)]
pub(crate) use run::*;
#[allow(unused_imports)]
pub(crate) use text::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn render(run: &EncodedRun, consts: &Labels, format: Format) -> String {
        let consts = ConstLabels::new(consts.clone());
        let mut w = FamilyWriter::new(format, 0);
        w.write_all(&[(run, &consts)]);
        String::from_utf8(w.finish()).unwrap()
    }

    /// `run` of one family (no counters) renders as `want` in text, the same with the end marker in
    /// OpenMetrics, and its chunk says its length right in both.
    fn assert_renders(run: &EncodedRun, consts: Labels, want: &str) {
        assert_eq!(render(run, &consts, Format::Text), want);
        assert_eq!(
            render(run, &consts, Format::OpenMetrics),
            format!("{want}# EOF\n")
        );
        assert_lengths(run, &ConstLabels::new(consts));
    }

    /// Every chunk of `run` says its length right, as written with `consts`, in both formats.
    fn assert_lengths(run: &EncodedRun, consts: &ConstLabels) {
        for i in 0..run.family_count() {
            let chunk = run.chunk(i, consts);
            for format in [Format::Text, Format::OpenMetrics] {
                let mut out = BytesMut::new();
                chunk.write_lines(&mut out, format, &mut Vec::new());
                assert_eq!(out.len(), chunk.len(format));
            }
        }
    }

    #[test]
    fn one_line_families_keep_two_words_each_and_share_their_records() {
        let consts = Labels::new().with("instance", "pg1");
        let settings = |v: f64| {
            vec![
                Sample::gauge("s_work_mem_bytes", "W.", v),
                Sample::gauge("s_fsync", "F.", 1.0),
            ]
        };
        let (a, b) = (
            encode_collection(settings(4.0), &consts).unwrap(),
            encode_collection(settings(2.5), &consts).unwrap(),
        );
        // Two runs of the same families hold one list of records, and two words a family.
        assert!(Arc::ptr_eq(&a.metas, &b.metas));
        assert_eq!(a.spans.len(), 1 + 2 * 2);
        assert_eq!(a.series(), 2);
        assert_eq!(
            render(&b, &consts, Format::Text),
            "# HELP s_fsync F.\n# TYPE s_fsync gauge\ns_fsync{instance=\"pg1\"} 1\n\
             # HELP s_work_mem_bytes W.\n# TYPE s_work_mem_bytes gauge\n\
             s_work_mem_bytes{instance=\"pg1\"} 2.5\n"
        );
        assert_lengths(&b, &ConstLabels::new(consts.clone()));
        // One line each with labels of their own: two words too.
        let labelled = encode_collection(
            vec![
                Sample::gauge("s_a", "A.", 1.0).label("db", "x"),
                Sample::gauge("s_b", "B.", 2.0).label("db", "x"),
            ],
            &consts,
        )
        .unwrap();
        assert_eq!(labelled.spans.len(), 1 + 2 * 2);
        assert_eq!(labelled.series(), 2);
        assert_lengths(&labelled, &ConstLabels::new(consts.clone()));
        // A family of two lines, or lines bare and not, keep the whole span.
        for metrics in [
            vec![
                Sample::gauge("s_a", "A.", 1.0).label("db", "x"),
                Sample::gauge("s_a", "A.", 2.0).label("db", "y"),
                Sample::gauge("s_b", "B.", 3.0),
            ],
            vec![
                Sample::gauge("s_a", "A.", 1.0).label("db", "x"),
                Sample::gauge("s_b", "B.", 3.0),
            ],
        ] {
            let series = metrics.len();
            let run = encode_collection(metrics, &consts).unwrap();
            assert_eq!(run.spans.len(), 1 + 4 * 2);
            assert_eq!(run.series(), series);
            assert_lengths(&run, &ConstLabels::new(consts.clone()));
        }
        assert_eq!(
            render(
                &encode_collection(Vec::new(), &consts).unwrap(),
                &consts,
                Format::Text
            ),
            ""
        );
    }

    #[test]
    fn groups_sorts_and_adds_constant_labels() {
        let metrics = vec![
            Sample::gauge("b_size_bytes", "Size.", 3.0).label("db", "z"),
            Sample::counter("a_commits_total", "Commits.", 10.0).label("db", "x"),
            Sample::gauge("b_size_bytes", "Size.", 1.5).label("db", "a"),
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
    fn rows_share_their_label_sets_across_families() {
        // Three families of the same rows, as a query's columns give them; one short set stays inline.
        let mut metrics = Vec::new();
        for (table, n) in [("accounts", 1.0), ("orders", 2.0), ("t", 3.0)] {
            for name in ["t_reads_total", "t_writes_total", "t_rows"] {
                let kind = if name == "t_rows" {
                    Sample::gauge
                } else {
                    Sample::counter
                };
                metrics.push(
                    kind(name, "H.", n)
                        .label("schemaname", "public")
                        .label("relname", table),
                );
            }
            metrics.push(Sample::gauge("t_short", "H.", n).label("r", table));
        }
        let consts = Labels::new().with("instance", "pg1");
        let run = encode_collection(metrics.clone(), &consts).unwrap();
        let mut want = String::new();
        for (name, kind) in [
            ("t_reads_total", "counter"),
            ("t_rows", "gauge"),
            ("t_short", "gauge"),
            ("t_writes_total", "counter"),
        ] {
            want.push_str(&format!("# HELP {name} H.\n# TYPE {name} {kind}\n"));
            for (table, n) in [("accounts", 1), ("orders", 2), ("t", 3)] {
                let own = if name == "t_short" {
                    format!("r=\"{table}\"")
                } else {
                    format!("relname=\"{table}\",schemaname=\"public\"")
                };
                want.push_str(&format!("{name}{{instance=\"pg1\",{own}}} {n}\n"));
            }
        }
        assert_eq!(render(&run, &consts, Format::Text), want);
        let om = render(&run, &consts, Format::OpenMetrics);
        assert!(
            om.contains(
                "t_reads_total{instance=\"pg1\",relname=\"orders\",schemaname=\"public\"} 2\n"
            ),
            "{om}"
        );
        // Each chunk says its length right, with and without constant labels.
        for consts in [ConstLabels::new(consts.clone()), ConstLabels::default()] {
            assert_lengths(&run, &consts);
        }
        assert_eq!(
            render(&run, &Labels::new(), Format::Text),
            want.replace("instance=\"pg1\",", "")
        );
        // Each long set is stored once: the three families' nine lines hold three copies, not nine.
        let stored = String::from_utf8_lossy(&run.text);
        assert_eq!(stored.matches("schemaname").count(), 3, "{stored}");
        assert_eq!(stored.matches("r=\"").count(), 3, "{stored}");
    }

    #[test]
    fn a_rows_shared_label_set_encodes_as_separate_equal_sets_do() {
        // As a derived group gives them: one set per row, cloned into each of its columns' samples; beside
        // the same samples with a set built for each. A short set, a set with escapes, and a row whose set is
        // also built apart (found by its bytes, then by its identity).
        let rows = [
            Labels::new()
                .with("schemaname", "public")
                .with("relname", "accounts"),
            Labels::new().with("r", "t"),
            Labels::new()
                .with("schemaname", "odd \"name\"\n")
                .with("relname", "x\\y"),
        ]
        .map(Labels::shared);
        let build = |shared: bool| {
            let mut metrics = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                for name in ["t_reads_total", "t_rows", "t_writes_total"] {
                    let labels = if shared {
                        row.clone()
                    } else {
                        row.iter().map(|(n, v)| (n.to_owned(), v)).collect()
                    };
                    let mut m = Sample::gauge(name, "H.", i as f64 + 0.5);
                    m.labels = labels;
                    metrics.push(m);
                }
            }
            let mut apart = Sample::gauge("t_apart", "H.", 7.0);
            apart.labels = rows[0].iter().map(|(n, v)| (n.to_owned(), v)).collect();
            metrics.push(apart);
            metrics
        };
        let consts = Labels::new().with("instance", "pg1");
        let samples = build(true);
        assert!(samples[0].labels.is_clone_of(&samples[2].labels));
        let shared = encode_collection(samples, &consts).unwrap();
        let apart = encode_collection(build(false), &consts).unwrap();
        assert_eq!(shared.text, apart.text);
        let text = render(&shared, &consts, Format::Text);
        assert_eq!(text, render(&apart, &consts, Format::Text));
        assert!(
            text.contains(
                "t_rows{instance=\"pg1\",relname=\"x\\\\y\",schemaname=\"odd \\\"name\\\"\\n\"} 2.5\n"
            ),
            "{text}"
        );
        assert_lengths(&shared, &ConstLabels::new(consts));
        let stored = String::from_utf8_lossy(&shared.text);
        assert_eq!(stored.matches("accounts").count(), 1, "{stored}");
        assert_eq!(stored.matches("r=\"t\"").count(), 3, "{stored}");
    }

    #[test]
    fn families_of_the_same_rows_sort_alike_and_others_by_their_labels() {
        // Rows in no order (c, a, b), each a shared set: families of the same rows in the same order (the
        // order found once is reused), the same rows in another order, fewer rows, and a row whose equal set
        // was built apart. Every family comes out sorted, as the same samples with sets built apart do.
        let [a, b, c] = ["a", "b", "c"].map(|r| Labels::new().with("relname", r).shared());
        let families: [(&str, Vec<&Labels>); 5] = [
            ("f1", vec![&c, &a, &b]),
            ("f2", vec![&c, &a, &b]),
            ("f3", vec![&b, &a, &c]),
            ("f4", vec![&c, &a]),
            ("f5", vec![&c, &a, &b]),
        ];
        let b_apart = Labels::new().with("relname", "b");
        let build = |shared: bool| {
            let mut metrics = Vec::new();
            for (name, rows) in &families {
                for (i, &row) in rows.iter().enumerate() {
                    let mut m = Sample::gauge(*name, "H.", i as f64);
                    m.labels = match (shared, *name, i) {
                        (true, "f5", 2) => b_apart.clone(),
                        (true, ..) => row.clone(),
                        (false, ..) => row.iter().map(|(n, v)| (n.to_owned(), v)).collect(),
                    };
                    metrics.push(m);
                }
            }
            metrics
        };
        let consts = Labels::new();
        let shared = encode_collection(build(true), &consts).unwrap();
        let apart = encode_collection(build(false), &consts).unwrap();
        let text = render(&shared, &consts, Format::Text);
        assert_eq!(text, render(&apart, &consts, Format::Text));
        for (name, rows) in &families {
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{name}{{")))
                .collect();
            let expected: Vec<String> = ["a", "b", "c"]
                .iter()
                .filter_map(|r| {
                    let i = rows.iter().position(|l| l.get("relname") == Some(r))?;
                    Some(format!("{name}{{relname=\"{r}\"}} {i}"))
                })
                .collect();
            assert_eq!(lines, expected, "{text}");
        }
    }

    #[test]
    fn families_group_by_name_whatever_the_names_storage() {
        // Rows of a group (families in a repeating order), then the same names as owned strings, label names
        // owned or static: the output is the reference order, by name then labels.
        let mut metrics = Vec::new();
        for row in ["r3", "r1", "r2"] {
            for name in ["m_c", "m_a", "m_b"] {
                metrics.push(Sample::gauge(name, "H.", 1.0).label("row", row));
            }
        }
        for row in ["r0", "r9"] {
            for name in ["m_b", "m_a"] {
                let label = String::from("row");
                metrics.push(Sample::gauge(name.to_string(), "H.", 2.0).label(label, row));
            }
        }
        metrics.push(
            Sample::gauge("m_a", "H.", 3.0)
                .label("row", "r5")
                .label("x", "1"),
        );
        let mut reference = metrics.clone();
        reference
            .sort_by(|a, b| (&a.name, a.labels.to_string()).cmp(&(&b.name, b.labels.to_string())));
        let consts = Labels::new();
        let enc = encode_collection(metrics, &consts).unwrap();
        let reference = encode_collection(reference, &consts).unwrap();
        let text = render(&enc, &consts, Format::Text);
        assert_eq!(text, render(&reference, &consts, Format::Text));
        assert_eq!(text.matches("# TYPE").count(), 3, "{text}");
        let rows: Vec<_> = text.lines().filter(|l| l.starts_with("m_a")).collect();
        assert_eq!(
            rows,
            [
                "m_a{row=\"r0\"} 2",
                "m_a{row=\"r1\"} 1",
                "m_a{row=\"r2\"} 1",
                "m_a{row=\"r3\"} 1",
                "m_a{row=\"r5\",x=\"1\"} 3",
                "m_a{row=\"r9\"} 2",
            ]
        );
    }

    #[test]
    fn openmetrics_names_counters_and_ends_with_eof() {
        let enc = encode_collection(
            vec![
                Sample::counter("x_total", "X \"q\".", 1.0),
                Sample::counter("y", "Y.", 2.0),
                Sample::new("z", "Z.", MetricKind::Untyped, 3.0),
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
            Sample::counter("c", "C.", 1.0)
                .label("a", "1")
                .label("z", "9"),
            Sample::counter("c", "C.", 2.0)
                .label("a", "2")
                .label("z", "8"),
            Sample::gauge("g", "G.", 4.0).label("k", "v"),
            Sample::gauge("g", "G.", 3.0),
        ];
        let consts = Labels::new().with("m", "mid").with("b", "x\"y");
        let enc = encode_collection(metrics, &consts).unwrap();
        let text = "# HELP c C.\n# TYPE c counter\n\
             c{b=\"x\\\"y\",m=\"mid\",a=\"1\",z=\"9\"} 1\n\
             c{b=\"x\\\"y\",m=\"mid\",a=\"2\",z=\"8\"} 2\n\
             # HELP g G.\n# TYPE g gauge\ng{b=\"x\\\"y\",m=\"mid\"} 3\n\
             g{b=\"x\\\"y\",m=\"mid\",k=\"v\"} 4\n";
        assert_eq!(render(&enc, &consts, Format::Text), text);
        // OpenMetrics: the same lines, a counter's samples named with _total, and the end marker.
        assert_eq!(
            render(&enc, &consts, Format::OpenMetrics),
            text.replace("\nc{", "\nc_total{") + "# EOF\n"
        );
        // Lines are stored without name and constant labels, each after its length.
        assert_eq!(
            std::str::from_utf8(&enc.text).unwrap(),
            "\x10{a=\"1\",z=\"9\"} 1\n\x10{a=\"2\",z=\"8\"} 2\n\x03 3\n\x0a{k=\"v\"} 4\n"
        );
        // Lengths used to size bodies agree with what is written, with and without constant labels.
        for consts in [ConstLabels::new(consts.clone()), ConstLabels::default()] {
            assert_lengths(&enc, &consts);
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
            .map(|(i, v)| Sample::gauge("g", "G.", i as f64).label("v", v.as_str()))
            .chain([Sample::gauge("h", "H.", 5.0)])
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
            vec![Sample::gauge("g", "line1\nback\\slash", 1.0).label("l", "a\"b\\c\nd é")],
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
                Sample::gauge("g", "G.", 1.0).label("a", "1"),
                Sample::gauge("g", "G.", 2.0).label("a", "1"),
            ],
            &Labels::new(),
        )
        .unwrap_err();
        assert!(matches!(err, CollectError::DuplicateSeries { .. }), "{err}");
    }

    /// Families of the same rows (each row's samples sharing one set) are checked for duplicates once, in
    /// the family sorted first; two rows with equal sets still fail the run.
    #[test]
    fn duplicate_rows_are_an_error_in_every_family_of_them() {
        let row = |v: &str| Labels::from_iter([("a", v)]).shared();
        let (one, again, two) = (row("1"), row("1"), row("2"));
        let mut samples = Vec::new();
        for labels in [&one, &two, &again] {
            for family in ["x", "y", "z"] {
                let mut s = Sample::gauge(family, "F.", 1.0);
                s.labels = labels.clone();
                samples.push(s);
            }
        }
        let err = encode_collection(samples.clone(), &Labels::new()).unwrap_err();
        assert!(matches!(err, CollectError::DuplicateSeries { .. }), "{err}");
        // Without the duplicate row, every family of the rows is written.
        samples.retain(|s| !s.labels.is_clone_of(&again));
        let run = encode_collection(samples, &Labels::new()).unwrap();
        assert_eq!(run.series(), 6);
    }

    #[test]
    fn bad_names_and_label_clashes_are_errors() {
        let bad_name = encode_collection(vec![Sample::gauge("2xx", "", 1.0)], &Labels::new());
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
                vec![Sample::gauge("g", "", 1.0).label(label, "1")],
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
            vec![Sample::gauge("g", "", 1.0).label("instance", "1")],
            &Labels::new().with("instance", "2"),
        );
        assert!(clash.unwrap_err().to_string().contains("constant label"));
        let kinds = encode_collection(
            vec![
                Sample::gauge("g", "", 1.0),
                Sample::counter("g", "", 1.0).label("a", "b"),
            ],
            &Labels::new(),
        );
        assert!(kinds
            .unwrap_err()
            .to_string()
            .contains("both counter and gauge"));
    }

    #[test]
    fn histograms_write_buckets_sum_and_count_per_series() {
        let h = |n: u64| crate::Histogram::new([(0.5, 1), (10.0, n)], 7.25, n + 1).unwrap();
        let metrics = vec![
            Sample::histogram("wait_seconds", "Waits.", h(2)).label("db", "b"),
            Sample::histogram("wait_seconds", "Waits.", h(3)).label("db", "a"),
        ];
        let want = |consts: &str| {
            let c = |own: &str| match (consts, own) {
                ("", "") => String::new(),
                ("", own) => format!("{{{own}}}"),
                (c, "") => format!("{{{c}}}"),
                (c, own) => format!("{{{c},{own}}}"),
            };
            let series = |db: &str, n: u64| {
                format!(
                    "wait_seconds_bucket{} 1\nwait_seconds_bucket{} {n}\n\
                     wait_seconds_bucket{} {}\nwait_seconds_sum{} 7.25\nwait_seconds_count{} {}\n",
                    c(&format!("db=\"{db}\",le=\"0.5\"")),
                    c(&format!("db=\"{db}\",le=\"10\"")),
                    c(&format!("db=\"{db}\",le=\"+Inf\"")),
                    n + 1,
                    c(&format!("db=\"{db}\"")),
                    c(&format!("db=\"{db}\"")),
                    n + 1,
                )
            };
            format!(
                "# HELP wait_seconds Waits.\n# TYPE wait_seconds histogram\n{}{}",
                series("a", 3),
                series("b", 2)
            )
        };
        for (consts, text) in [
            (Labels::new(), ""),
            (Labels::new().with("instance", "pg1"), "instance=\"pg1\""),
        ] {
            let enc = encode_collection(metrics.clone(), &consts).unwrap();
            assert_eq!(enc.series(), 10);
            assert_renders(&enc, consts, &want(text));
        }
        // A label-less histogram: its _sum and _count lines have no label set of their own.
        let bare =
            encode_collection(vec![Sample::histogram("h", "H.", h(1))], &Labels::new()).unwrap();
        let text = render(&bare, &Labels::new(), Format::Text);
        assert!(text.ends_with("h_sum 7.25\nh_count 2\n"), "{text}");
        // `le` stays reserved for the collector's own labels.
        let le = encode_collection(
            vec![Sample::histogram("h", "H.", h(1)).label("le", "1")],
            &Labels::new(),
        );
        assert!(le.unwrap_err().to_string().contains("reserved"));
    }

    #[test]
    fn summaries_write_quantiles_sum_and_count_per_series() {
        let s = |q: &[(f64, f64)]| crate::Summary::new(q.iter().copied(), 2.5, 40).unwrap();
        let metrics = vec![
            Sample::summary(
                "latency_seconds",
                "Latency.",
                s(&[(0.99, 0.5), (0.5, 0.01)]),
            )
            .label("db", "b"),
            // Without quantiles (a server that keeps none): only the sum and count.
            Sample::summary("latency_seconds", "Latency.", s(&[])).label("db", "a"),
        ];
        for (consts, c) in [
            (Labels::new(), ""),
            (Labels::new().with("instance", "pg1"), "instance=\"pg1\","),
        ] {
            let enc = encode_collection(metrics.clone(), &consts).unwrap();
            assert_eq!(enc.series(), 6);
            let want = format!(
                "# HELP latency_seconds Latency.\n# TYPE latency_seconds summary\n\
                 latency_seconds_sum{{{c}db=\"a\"}} 2.5\nlatency_seconds_count{{{c}db=\"a\"}} 40\n\
                 latency_seconds{{{c}db=\"b\",quantile=\"0.5\"}} 0.01\n\
                 latency_seconds{{{c}db=\"b\",quantile=\"0.99\"}} 0.5\n\
                 latency_seconds_sum{{{c}db=\"b\"}} 2.5\nlatency_seconds_count{{{c}db=\"b\"}} 40\n"
            );
            assert_renders(&enc, consts, &want);
        }
        let bare = encode_collection(
            vec![Sample::summary("l", "L.", s(&[(95.0, 1.0)]))],
            &Labels::new(),
        )
        .unwrap();
        assert_eq!(
            render(&bare, &Labels::new(), Format::Text),
            "# HELP l L.\n# TYPE l summary\nl{quantile=\"95\"} 1\nl_sum 2.5\nl_count 40\n"
        );
        // `quantile` stays reserved for the collector's own labels.
        let q = encode_collection(
            vec![Sample::summary("l", "L.", s(&[])).label("quantile", "1")],
            &Labels::new(),
        );
        assert!(q.unwrap_err().to_string().contains("reserved"));
        // A summary kind without quantiles is refused, not written as a plain line.
        let bad = encode_collection(
            vec![Sample::new("l", "L.", MetricKind::Summary, 1.0)],
            &Labels::new(),
        );
        assert!(bad.unwrap_err().to_string().contains("Sample::summary"));
    }

    #[test]
    fn one_header_for_chunks_of_many_collectors() {
        let (la, lb) = (
            ConstLabels::new(Labels::new().with("t", "a")),
            ConstLabels::new(Labels::new().with("t", "b")),
        );
        let a = encode_collection(vec![Sample::gauge("up", "Up.", 1.0)], la.labels()).unwrap();
        let b = encode_collection(vec![Sample::gauge("up", "Up.", 0.0)], lb.labels()).unwrap();
        let mut w = FamilyWriter::new(Format::Text, 0);
        w.write_all(&[(&a, &la), (&b, &lb)]);
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            "# HELP up Up.\n# TYPE up gauge\nup{t=\"a\"} 1\nup{t=\"b\"} 0\n"
        );
    }
}
