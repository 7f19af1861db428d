//! Compile-time tests of `#[derive(MetricGroup)]`, in `tests/ui.rs`; this library is empty.
