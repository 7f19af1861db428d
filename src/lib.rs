//! Examples built on hubble, as a library so the integration tests can run them in-process.
//!
//! - [`sqlite_demo`]: the main job, an exporter over an embedded SQLite job queue (`examples/sqlite_exporter.rs`).
//! - [`cli`]: exporter-style flag helpers shared by the example binaries.

pub mod cli;
pub mod postgres;
pub mod sqlite_demo;
