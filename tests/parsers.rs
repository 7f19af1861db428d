//! Property tests of the two files users write by hand: the custom queries YAML and the file_sd targets.
//! Arbitrary input never panics and every error names the file and where in it; generated valid files
//! parse to exactly what they declare. (cargo-fuzz needs a nightly toolchain; proptest runs on stable and is
//! bounded: 256 cases per property.)

use std::path::Path;

use hubble::discovery::parse_file_sd;
use hubble_examples::postgres::custom::{self, Usage};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

const QUERIES: &str = "/etc/hubble/queries.yaml";

/// Text that looks like YAML often enough to reach past the first character: keys, indentation, the
/// queries file's own words, quotes, flow syntax and arbitrary characters.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just(": ".to_owned()),
        Just("- ".to_owned()),
        Just("query".to_owned()),
        Just("metrics".to_owned()),
        Just("usage".to_owned()),
        Just("description".to_owned()),
        Just("mapping".to_owned()),
        Just("GAUGE".to_owned()),
        Just("LABEL".to_owned()),
        Just("MAPPEDMETRIC".to_owned()),
        Just("\"".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        "[a-z_]{1,8}",
        "\\PC{1,4}",
    ];
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

fn names_the_file(e: &str, file: &str) -> bool {
    e.contains(file)
}

/// Where an error points: a line (syntax) or an entry (meaning).
fn has_position(e: &str) -> bool {
    e.contains("line ") || e.contains("entry ")
}

/// 256 cases from a fixed seed, so CI is repeatable; `PROPTEST_RNG_SEED=$RANDOM PROPTEST_CASES=20000`
/// explores further (see README).
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let rng_seed = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        default.rng_seed
    } else {
        RngSeed::Fixed(0x6875_6262_6c65)
    };
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            256
        },
        rng_seed,
        ..default
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn custom_queries_never_panic_and_errors_name_file_and_position(text in yamlish()) {
        if let Err(e) = custom::parse(Path::new(QUERIES), &text) {
            prop_assert!(names_the_file(&e, QUERIES), "{e}");
            prop_assert!(has_position(&e), "{e}");
        }
    }

    #[test]
    fn custom_queries_survive_arbitrary_text(text in "\\PC{0,300}") {
        if let Err(e) = custom::parse(Path::new(QUERIES), &text) {
            prop_assert!(names_the_file(&e, QUERIES), "{e}");
        }
    }

    #[test]
    fn generated_query_files_parse_to_what_they_declare(
        entries in prop::collection::btree_map(
            "[a-z][a-z0-9_]{0,10}",
            (
                prop::collection::btree_map("[a-z][a-z0-9_]{0,8}", 0..3usize, 1..5),
                "[a-zA-Z0-9 ,()*']{1,30}",
            ),
            1..5,
        )
    ) {
        let mut text = String::new();
        for (name, (columns, select)) in &entries {
            text.push_str(&format!("{name}:\n  query: \"SELECT {select}\"\n  metrics:\n"));
            // At least one value column: the first is always a gauge.
            for (i, (column, kind)) in columns.iter().enumerate() {
                let usage = if i == 0 { "GAUGE" } else { ["LABEL", "COUNTER", "DISCARD"][*kind] };
                text.push_str(&format!("    - {column}:\n        usage: \"{usage}\"\n        description: \"d\"\n"));
            }
        }
        let parsed = custom::parse(Path::new(QUERIES), &text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.len(), entries.len());
        for (q, (name, (columns, select))) in parsed.iter().zip(&entries) {
            prop_assert_eq!(&q.name, name);
            prop_assert_eq!(&q.query, &format!("SELECT {select}"));
            prop_assert_eq!(q.columns.len(), columns.len());
            prop_assert!(matches!(q.columns[0].usage, Usage::Gauge));
        }
    }

    #[test]
    fn file_sd_never_panics_and_errors_name_file_and_position(text in yamlish(), json in any::<bool>()) {
        let file = if json { "/etc/targets.json" } else { "/etc/targets.yml" };
        if let Err(e) = parse_file_sd(Path::new(file), text.as_bytes()) {
            let e = e.to_string();
            prop_assert!(names_the_file(&e, file), "{e}");
            prop_assert!(has_position(&e) || e.contains("empty") || e.contains("UTF-8"), "{e}");
        }
    }

    #[test]
    fn file_sd_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = parse_file_sd(Path::new("/etc/targets.yml"), &bytes) {
            prop_assert!(e.to_string().contains("/etc/targets.yml"), "{e}");
        }
    }

    #[test]
    fn generated_target_files_parse_the_same_as_json_and_yaml(
        groups in prop::collection::vec(
            (
                prop::collection::vec(("[a-z][a-z0-9.-]{0,12}", 1..65535u16), 1..4),
                prop::collection::btree_map("[a-z_][a-z0-9_]{0,8}", "\\PC{0,12}", 0..3),
            ),
            0..4,
        )
    ) {
        let json = serde_json::to_string(&groups.iter().map(|(targets, labels)| serde_json::json!({
            "targets": targets.iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>(),
            "labels": labels,
        })).collect::<Vec<_>>()).unwrap();
        // JSON is YAML: the same text read as YAML must give the same services.
        let from_json = parse_file_sd(Path::new("t.json"), json.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let from_yaml = parse_file_sd(Path::new("t.yml"), json.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected: usize = groups.iter().map(|(t, _)| t.len()).sum();
        prop_assert_eq!(from_json.len(), expected);
        prop_assert_eq!(from_yaml.len(), expected);
        let flat: Vec<&(String, u16)> = groups.iter().flat_map(|(t, _)| t).collect();
        for ((a, b), (host, port)) in from_json.iter().zip(&from_yaml).zip(flat) {
            prop_assert_eq!(a.port, *port);
            prop_assert_eq!(b.port, *port);
            prop_assert_eq!(a.addresses.values().next().unwrap(), host);
            prop_assert_eq!(&a.params.extra_labels, &b.params.extra_labels);
        }
    }
}
