//! A Prometheus exporter for PgBouncer built on hubble: a drop-in for prometheus-community's pgbouncer_exporter
//! (its metric names, labels, port 9127 and `--pgBouncer.connectionString`).
//!
//! PgBouncer's admin console speaks only the simple query protocol and its `SHOW` commands gain and lose
//! columns between versions, so every collector here sends its command as text and reads the columns the
//! answer has, by name: a column this PgBouncer lacks is skipped, never an error.
//!
//! The data path: [`show`] (one `SHOW` command's rows) → [`families`] (what each column or row becomes) →
//! the collectors in [`collectors`] → hubble's cache → `/metrics`.

pub mod app;
pub mod collectors;
pub mod families;
pub mod probe;
pub mod process;
pub mod show;
