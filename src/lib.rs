//! The SQLite demo built on hubble, as a library so the integration tests can run it in-process:
//! [`sqlite_demo`], an exporter over an embedded SQLite job queue (`examples/sqlite_exporter.rs`).
//!
//! The Postgres exporter is a crate of its own, `examples/postgres_exporter`.

pub mod sqlite_demo;
