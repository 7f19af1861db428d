//! Property tests of the file_sd targets file users write by hand: arbitrary input never panics, every error
//! names the file and where in it, and generated valid files parse to exactly what they declare.
//! (cargo-fuzz needs a nightly toolchain; proptest runs on stable and is bounded: 256 cases per property.)

use std::path::Path;

use hubble::discovery::parse_file_sd;
use hubble_test_support::props::{config, has_position, names_the_file, yamlish};
use proptest::prelude::*;

proptest! {
    #![proptest_config(config())]

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
