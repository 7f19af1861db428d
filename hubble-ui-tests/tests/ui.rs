//! Compile-time behaviour of `#[derive(MetricGroup)]`: one failing case per compile error, with its
//! expected message and span in the `.stderr` beside it, and passing cases.

#[test]
fn ui() {
    // trybuild's cargo builds the cases and their dependencies with the default dev profile (it does not
    // take the workspace's), full debug info included: nothing reads it, and it is two thirds of their size.
    std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "0");
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
