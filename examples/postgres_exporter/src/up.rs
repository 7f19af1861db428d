//! `pg_up` and `pg_static`: whether the server answered, and its version.
//!
//! This collector never fails: an unreachable server is `pg_up 0`, which is the point of the metric.

use hubble::{CollectError, Collector, Desc, Metric, MetricKind};
use sqlx::Row;

use super::connection::PgConnections;

/// The `pg_up` collector.
pub struct PgUp {
    connections: PgConnections,
}

impl PgUp {
    /// Over a target's shared `connections`.
    pub fn new(connections: PgConnections) -> Self {
        PgUp { connections }
    }
}

const UP_HELP: &str =
    "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).";

impl Collector for PgUp {
    fn name(&self) -> &str {
        "pg_up"
    }

    fn descriptors(&self) -> Vec<Desc> {
        vec![
            Desc::new("pg_up", UP_HELP, MetricKind::Gauge, Vec::<&str>::new()),
            Desc::new(
                "pg_static",
                "Version string as reported by postgres",
                MetricKind::Untyped,
                ["short_version", "version"],
            ),
        ]
    }

    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        let row: Result<(String, String), sqlx::Error> = self
            .connections
            .fetch_one(sqlx::query(
                "SELECT version(), current_setting('server_version')",
            ))
            .await
            .and_then(|row| Ok((row.try_get(0)?, row.try_get(1)?)));
        Ok(match row {
            Ok((version, server_version)) => vec![
                Metric::gauge("pg_up", UP_HELP, 1.0),
                Metric::new(
                    "pg_static",
                    "Version string as reported by postgres",
                    MetricKind::Untyped,
                    1.0,
                )
                .label("version", version)
                .label("short_version", short_version(&server_version)),
            ],
            Err(e) => {
                tracing::debug!(error = %e, "pg_up probe failed");
                vec![Metric::gauge("pg_up", UP_HELP, 0.0)]
            }
        })
    }
}

/// `15.18 (Debian 15.18-0+deb12u1)` → `15.18.0`, as postgres_exporter writes it.
pub fn short_version(server_version: &str) -> String {
    let number = server_version.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = number.split('.').collect();
    match parts.as_slice() {
        [major, minor] => format!("{major}.{minor}.0"),
        [major] => format!("{major}.0.0"),
        _ => number.to_owned(),
    }
}

/// Runs a collector only on servers whose `server_version_num` is in `min..max`, learned on first contact
/// (views change between major versions; a restart of the exporter picks up an upgraded server).
pub struct VersionGate<C> {
    connections: PgConnections,
    min: i32,
    max: i32,
    known: std::sync::OnceLock<i32>,
    inner: C,
}

impl<C> VersionGate<C> {
    /// `inner` on servers at version `min` (e.g. `140000`) up to, not including, `max`.
    pub fn new(connections: PgConnections, min: i32, max: i32, inner: C) -> Self {
        VersionGate {
            connections,
            min,
            max,
            known: std::sync::OnceLock::new(),
            inner,
        }
    }
}

impl<C: Collector> Collector for VersionGate<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn descriptors(&self) -> Vec<Desc> {
        self.inner.descriptors()
    }
    fn options(&self) -> hubble::CollectorOptions {
        self.inner.options()
    }
    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        let version = server_version(&self.connections, &self.known, self.inner.name()).await?;
        if (self.min..self.max).contains(&version) {
            self.inner.collect().await
        } else {
            Err(CollectError::NotApplicable(
                format!(
                    "needs PostgreSQL {}; the server is {}",
                    version_range(self.min, self.max),
                    version_name(version)
                )
                .into(),
            ))
        }
    }
}

/// Runs a collector only where a condition holds (an extension installed, the server a standby), checked on
/// every run: an extension can be created, a standby promoted, while the exporter runs.
pub struct Precondition<C> {
    connections: PgConnections,
    /// One row, one text column: NULL when `inner` applies, else why not.
    check: &'static str,
    inner: C,
}

impl<C> Precondition<C> {
    /// `inner` where `check` (SQL returning NULL, or the reason it does not apply) returns NULL.
    pub fn new(connections: PgConnections, check: &'static str, inner: C) -> Self {
        Precondition {
            connections,
            check,
            inner,
        }
    }
}

/// The [`Precondition`] check that an extension is installed in the connected database.
pub const fn extension_check(extension: &str) -> &'static str {
    match extension.as_bytes() {
        b"pg_buffercache" => {
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_buffercache') THEN NULL
                    ELSE format('extension pg_buffercache is not installed in database %s: CREATE EXTENSION pg_buffercache', current_database()) END"
        }
        b"pg_stat_statements" => {
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') THEN NULL
                    ELSE format('extension pg_stat_statements is not installed in database %s: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements', current_database()) END"
        }
        _ => panic!("no check for this extension"),
    }
}

/// The [`Precondition`] check that the server is a standby.
pub const STANDBY_CHECK: &str =
    "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE 'the server is not a standby' END";

impl<C: Collector> Collector for Precondition<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn descriptors(&self) -> Vec<Desc> {
        self.inner.descriptors()
    }
    fn options(&self) -> hubble::CollectorOptions {
        self.inner.options()
    }
    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        let why: Option<String> = self
            .connections
            .fetch_one(sqlx::query(self.check))
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| {
                CollectError::Source(format!("group `{}`: {e}", self.inner.name()).into())
            })?;
        match why {
            None => self.inner.collect().await,
            Some(why) => Err(CollectError::NotApplicable(why.into())),
        }
    }
}

/// `14 or later`, `before 17`, `14 to 16`, from `server_version_num` bounds.
fn version_range(min: i32, max: i32) -> String {
    let major = |v: i32| v / 10_000;
    match (min, max) {
        (m, i32::MAX) => format!("{} or later", major(m)),
        (0, m) => format!("before {}", major(m)),
        (a, b) => format!("{} to {}", major(a), major(b) - 1),
    }
}

/// `170010` → `17.10`.
fn version_name(v: i32) -> String {
    format!("{}.{}", v / 10_000, v % 10_000)
}

/// The server's `server_version_num`, asked once per target and then remembered in `known`.
pub(crate) async fn server_version(
    connections: &PgConnections,
    known: &std::sync::OnceLock<i32>,
    group: &str,
) -> Result<i32, CollectError> {
    if let Some(v) = known.get() {
        return Ok(*v);
    }
    let v: String = connections
        .fetch_one(sqlx::query("SELECT current_setting('server_version_num')"))
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| CollectError::Source(format!("group `{group}`: {e}").into()))?;
    Ok(*known.get_or_init(|| v.parse().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_versions() {
        assert_eq!(
            super::short_version("15.18 (Debian 15.18-0+deb12u1)"),
            "15.18.0"
        );
        assert_eq!(super::short_version("9.6.24"), "9.6.24");
        assert_eq!(super::short_version("17beta1"), "17beta1.0.0");
    }
}
