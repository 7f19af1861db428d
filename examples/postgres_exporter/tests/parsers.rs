//! Property tests of the custom queries YAML users write by hand: arbitrary input never panics, every error
//! names the file and where in it, and generated valid files parse to exactly what they declare.

use std::path::Path;

use hubble_test_support::props::{config, has_position, names_the_file, yamlish};
use postgres_exporter::custom::{self, Usage};
use proptest::prelude::*;

const QUERIES: &str = "/etc/hubble/queries.yaml";

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
}
