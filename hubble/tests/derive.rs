//! The derive's generated code: samples, labels, NULLs, conversions, families, options.

use std::borrow::Cow;
use std::time::Duration;

use hubble::{CollectError, Collector, CollectorOptions, MetricGroup, MetricKind, Sample};

/// Per-queue job counts.
#[derive(MetricGroup)]
#[hubble(
    names_as_declared,
    prefix = "jobs",
    interval = "30s",
    timeout = "5s",
    const_labels(source = "test")
)]
struct Jobs {
    #[metric(label)]
    queue: String,
    #[metric(label, rename = "job_state")]
    state: Option<String>,
    #[metric(label)]
    shard: i32,
    /// Jobs in this queue and state.
    #[metric(gauge)]
    count: i64,
    /// Attempts made so far.
    #[metric(counter, rename = "attempts_total")]
    attempts: Option<i64>,
    #[metric(untyped, help = "Age of the oldest job.")]
    oldest_age_seconds: String,
    #[metric(skip)]
    #[allow(dead_code)]
    note: Vec<u8>,
}

fn jobs(state: Option<&str>, attempts: Option<i64>, age: &str) -> Jobs {
    Jobs {
        queue: "mail".into(),
        state: state.map(Into::into),
        shard: 3,
        count: 7,
        attempts,
        oldest_age_seconds: age.into(),
        note: vec![],
    }
}

#[test]
fn a_row_becomes_one_sample_per_value_field() {
    let m = jobs(Some("queued"), Some(12), "1.5").to_metrics().unwrap();
    assert_eq!(m.len(), 3);
    let labels: Vec<(&str, &str)> = m[0].labels.iter().collect();
    assert_eq!(
        labels,
        [
            ("job_state", "queued"),
            ("queue", "mail"),
            ("shard", "3"),
            ("source", "test")
        ]
    );
    assert_eq!(m[0].name, "jobs_count");
    assert_eq!(m[0].help, "Jobs in this queue and state.");
    assert_eq!(m[0].kind, MetricKind::Gauge);
    assert_eq!(m[0].value, 7.0);
    assert_eq!(
        (m[1].name.as_ref(), m[1].kind, m[1].value),
        ("jobs_attempts_total", MetricKind::Counter, 12.0)
    );
    assert_eq!(
        (
            m[2].name.as_ref(),
            m[2].help.as_ref(),
            m[2].kind,
            m[2].value
        ),
        (
            "jobs_oldest_age_seconds",
            "Age of the oldest job.",
            MetricKind::Untyped,
            1.5
        )
    );
}

/// A sample's name, labels and value, as tests compare them.
type Parts = (String, Vec<(String, String)>, f64);

fn parts(m: &[Sample]) -> Vec<Parts> {
    m.iter()
        .map(|s| {
            let labels = s.labels.iter().map(|(n, v)| (n.into(), v.into())).collect();
            (s.name.to_string(), labels, s.value)
        })
        .collect()
}

#[test]
fn a_row_given_up_moves_its_labels_into_the_same_samples() {
    for (state, attempts, age) in [(Some("queued"), Some(12), "1.5"), (None, None, "0")] {
        let lent = jobs(state, attempts, age).to_metrics().unwrap();
        let mut given = Vec::new();
        jobs(state, attempts, age).into_samples(&mut given).unwrap();
        assert_eq!(parts(&given), parts(&lent));
        assert!(
            given.iter().all(|s| s.labels.is_shared()),
            "one set per row"
        );
    }
    let mut out = Vec::new();
    let err = jobs(None, None, "soon").into_samples(&mut out).unwrap_err();
    assert!(matches!(&err, CollectError::Value { column, .. } if column == "oldest_age_seconds"));
}

#[test]
fn null_values_give_no_sample_and_null_labels_are_empty() {
    let m = jobs(None, None, "0").to_metrics().unwrap();
    assert_eq!(
        m.iter().map(|m| m.name.as_ref()).collect::<Vec<_>>(),
        ["jobs_count", "jobs_oldest_age_seconds"]
    );
    assert_eq!(m[0].labels.get("job_state"), Some(""));
}

#[test]
fn an_unparseable_string_names_the_column() {
    let err = jobs(None, None, "soon").to_metrics().unwrap_err();
    assert!(matches!(&err, CollectError::Value { column, .. } if column == "oldest_age_seconds"));
    assert_eq!(
        err.to_string(),
        "column `oldest_age_seconds`: \"soon\" is not a number"
    );
}

#[test]
fn descriptors_name_options() {
    assert_eq!(Jobs::NAME, "jobs");
    assert_eq!(
        Jobs::OPTIONS,
        CollectorOptions {
            interval: Some(Duration::from_secs(30)),
            timeout: Some(Duration::from_secs(5)),
            max_series: None,
            condition: None,
        }
    );
    let d = Jobs::families();
    assert_eq!(d.len(), 3);
    assert_eq!(d[1].name, "jobs_attempts_total");
    assert_eq!(d[1].kind, MetricKind::Counter);
    let labels: Vec<&str> = d[0].label_names.iter().map(Cow::as_ref).collect();
    assert_eq!(labels, ["job_state", "queue", "shard", "source"]);
}

/// A group without prefix or query, filled by code.
#[derive(MetricGroup)]
struct BuildInfo {
    #[metric(label)]
    version: &'static str,
    /// Always 1.
    #[metric(gauge)]
    build_info: u8,
}

#[tokio::test]
async fn groups_filled_by_code_collect_through_group_fn() {
    assert_eq!(BuildInfo::NAME, "build_info");
    let c = hubble::group_fn(|| async {
        Ok(vec![BuildInfo {
            version: "1.2.3",
            build_info: 1,
        }])
    });
    assert_eq!(c.name(), "build_info");
    let m: Vec<Sample> = c.collect().await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].name, "build_info");
    assert_eq!(m[0].labels.get("version"), Some("1.2.3"));
}

/// Server variables, one family per row: the name from one column, the value from another.
#[derive(MetricGroup)]
#[hubble(prefix = "server_variables")]
struct Variable {
    #[metric(family_name)]
    name: String,
    #[metric(label)]
    scope: &'static str,
    /// A server variable.
    #[metric(gauge)]
    value: Option<f64>,
}

/// Settings whose rows carry their own help text.
#[derive(MetricGroup)]
#[hubble(prefix = "settings")]
struct Setting {
    #[metric(family_name)]
    name: String,
    #[metric(family_help)]
    description: String,
    #[metric(counter)]
    value: i64,
}

#[test]
fn a_family_name_field_names_one_family_per_row() {
    let rows = [
        Variable {
            name: "max_connections".into(),
            scope: "global",
            value: Some(151.0),
        },
        Variable {
            name: "Innodb-buffer.pool".into(),
            scope: "global",
            value: Some(2.0),
        },
        Variable {
            name: "version".into(),
            scope: "global",
            value: None,
        },
        // A NULL name names no family: no sample, not a `server_variables_` family.
        Variable {
            name: String::new(),
            scope: "global",
            value: Some(1.0),
        },
    ];
    let mut out = Vec::new();
    for row in &rows {
        out.extend(row.to_metrics().unwrap());
    }
    let seen: Vec<(String, String, f64)> = out
        .iter()
        .map(|m| (m.name.to_string(), m.help.to_string(), m.value))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "server_variables_max_connections".into(),
                "A server variable.".into(),
                151.0
            ),
            (
                "server_variables_Innodb_buffer_pool".into(),
                "A server variable.".into(),
                2.0
            ),
        ]
    );
    assert_eq!(out[0].kind, MetricKind::Gauge);
    assert_eq!(out[0].labels.get("scope"), Some("global"));
    // The families are the rows': none is declared in advance.
    assert!(Variable::families().is_empty());

    let s = Setting {
        name: "work_mem_bytes".into(),
        description: "Memory per sort.".into(),
        value: 4,
    }
    .to_metrics()
    .unwrap();
    assert_eq!(
        (s[0].name.as_ref(), s[0].help.as_ref()),
        ("settings_work_mem_bytes", "Memory per sort.")
    );
    assert_eq!(s[0].kind, MetricKind::Counter);
}
