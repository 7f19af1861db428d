//! `#[derive(MetricGroup)]` for [hubble](https://docs.rs/hubble): declare a metric group as a struct whose
//! fields are the columns of a query row. See the `hubble` crate for the attributes and the rules.
//!
//! Layout, as in thiserror and serde_derive: `ast` is the input as a model, `attr` parses attributes into it
//! (collecting every error in a `ctxt::Ctxt`), `valid` checks the model, `expand` generates code.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod symbol;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Implements `hubble::MetricGroup` for a struct of columns. Its attributes, the types its fields take and
/// its compile errors are documented on the re-export, `hubble::MetricGroup`.
#[proc_macro_derive(MetricGroup, attributes(hubble, metric))]
pub fn derive_metric_group(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// The derive's former name: `#[derive(MetricGroup)]`, with a deprecation warning at the struct.
#[proc_macro_derive(MetricCollector, attributes(hubble, metric))]
pub fn derive_metric_collector(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let mut out = expand::derive(&input);
    // A use of a deprecated item spanned at the user's struct: the compiler's own deprecation warning, there.
    out.extend(quote::quote_spanned! {input.ident.span()=>
        const _: () = ::hubble::__private::derive_metric_collector_is_renamed_metric_group();
    });
    out.into()
}
