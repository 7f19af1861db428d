//! Compile-time behaviour of `#[derive(MetricGroup)]`: one failing case per compile error, with its
//! expected message and span in the `.stderr` beside it, and passing cases.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
