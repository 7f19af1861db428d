//! hubble's own mixin (`hubble/monitoring/`): its alerts pass `promtool check rules` and their unit tests
//! (`promtool test rules`), every dashboard query parses as PromQL, and every metric the alerts and the
//! dashboard select is one the library exports. The Postgres exporter's tests evaluate them against a real
//! Prometheus (examples/postgres_exporter/tests/monitoring.rs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn monitoring(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("monitoring")
        .join(file)
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool (Debian's prometheus package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

/// Every query of the mixin: (where, PromQL), the dashboard's `$job` as `.*`.
fn queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let alerts: serde_json::Value =
        hubble::yaml::from_str(&std::fs::read_to_string(monitoring("alerts.yml")).unwrap())
            .unwrap();
    for rule in alerts["groups"][0]["rules"].as_array().unwrap() {
        out.push((
            format!("alert {}", rule["alert"].as_str().unwrap()),
            rule["expr"].as_str().unwrap().to_owned(),
        ));
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(monitoring("dashboard.json")).unwrap())
            .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            out.push((
                format!("panel {:?}", panel["title"].as_str().unwrap()),
                target["expr"].as_str().unwrap().replace("$job", ".*"),
            ));
        }
    }
    out
}

/// The `hubble_` metric names a query selects.
fn selected(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut word = String::new();
    for c in expr.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if word.starts_with("hubble_") {
            out.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    out
}

#[test]
fn the_alerts_pass_promtool_and_their_unit_tests() {
    let dir = monitoring("");
    assert!(promtool(&["check", "rules", "alerts.yml"], &dir).contains("SUCCESS: 8 rules found"));
    assert!(promtool(&["test", "rules", "alerts_test.yml"], &dir).contains("SUCCESS"));
}

#[test]
fn every_query_parses_and_selects_only_what_the_library_exports() {
    let queries = queries();
    assert!(queries.len() >= 19, "{queries:?}");
    // Each query as a recording rule, so promtool parses it.
    let dir = tempfile::tempdir().unwrap();
    let rules: String = queries
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| {
            format!(
                "      - record: mixin_query_{i}\n        expr: '{}'\n",
                expr.replace('\'', "''")
            )
        })
        .collect();
    std::fs::write(
        dir.path().join("queries.yml"),
        format!("groups:\n  - name: queries\n    rules:\n{rules}"),
    )
    .unwrap();
    promtool(&["check", "rules", "queries.yml"], dir.path());

    // The names hubble writes: string literals in the library's sources, and the exporters' (the
    // configuration reload metrics are the Postgres exporter's).
    let mut sources = String::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src"), root.join("../examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("tests") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    for (what, expr) in &queries {
        let names = selected(expr);
        assert!(!names.is_empty(), "{what} selects no hubble metric: {expr}");
        for name in names {
            assert!(
                sources.contains(&format!("\"{name}\"")),
                "{what} selects {name}, which neither hubble nor its exporters export"
            );
        }
    }
}
