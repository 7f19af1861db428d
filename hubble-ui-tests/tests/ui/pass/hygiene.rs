//! Generated code must not pick up the user's own names for prelude items or for `hubble`.
#![allow(dead_code, non_camel_case_types)]
#![no_implicit_prelude]

mod hubble {}
struct Result;
struct Option;
struct Vec;
struct Cow;
struct String;
mod std {}
mod core {}

#[derive(::hubble::MetricGroup)]
#[hubble(prefix = "shadowed", const_labels(a = "b"))]
struct Shadowed {
    #[metric(label)]
    name: ::std::string::String,
    /// A value.
    #[metric(gauge)]
    value: ::std::option::Option<i64>,
}

fn main() {}
