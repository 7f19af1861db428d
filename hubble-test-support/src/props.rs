//! Property-test inputs and settings shared by the parsers' tests.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Text that looks like YAML often enough to reach past the first character: keys, indentation, the
/// queries file's own words, quotes, flow syntax and arbitrary characters.
pub fn yamlish() -> impl Strategy<Value = String> {
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

/// Whether an error names the file.
pub fn names_the_file(e: &str, file: &str) -> bool {
    e.contains(file)
}

/// Where an error points: a line (syntax) or an entry (meaning).
pub fn has_position(e: &str) -> bool {
    e.contains("line ") || e.contains("entry ")
}

/// 256 cases from a fixed seed, so CI is repeatable; `PROPTEST_RNG_SEED=$RANDOM PROPTEST_CASES=20000`
/// explores further (see README).
pub fn config() -> ProptestConfig {
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
