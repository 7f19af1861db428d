//! Collects errors so that one compile reports every mistake of a declaration, each at its span.

use std::fmt::Display;

use proc_macro2::Span;

/// Errors so far. [`check`](Self::check) must be called: dropping a context unchecked panics, so a
/// collected error can never be lost silently (as serde_derive's `Ctxt`).
pub struct Ctxt {
    errors: Option<Vec<syn::Error>>,
}

impl Default for Ctxt {
    fn default() -> Self {
        Ctxt {
            errors: Some(Vec::new()),
        }
    }
}

impl Ctxt {
    pub fn error(&mut self, span: Span, msg: impl Display) {
        self.syn_error(syn::Error::new(span, msg));
    }

    pub fn syn_error(&mut self, e: syn::Error) {
        self.errors.as_mut().expect("Ctxt used after check").push(e);
    }

    /// All errors combined into one, or `Ok` when there were none.
    pub fn check(mut self) -> Result<(), syn::Error> {
        let mut errors = self.errors.take().expect("Ctxt checked twice").into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            first.combine(e);
        }
        Err(first)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if self.errors.is_some() && !std::thread::panicking() {
            panic!("hubble-derive: Ctxt dropped without check()");
        }
    }
}
