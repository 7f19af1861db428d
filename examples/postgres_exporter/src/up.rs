//! `pg_up` and `pg_static`: whether the server answered, and its version; the version and role facts that
//! gate groups.
//!
//! `pg_up` is hubble's [`Up`] collector: it never fails, an unreachable server is `pg_up 0`, and a server that
//! does not answer within most of the run's timeout is `pg_up 0` too, on the first run that times out.

use hubble::targets::up::{Answer, Check, Up};
use hubble::text_rows::cell;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::connection::PgConnections;

/// The `pg_up` collector.
pub type PgUp = Up<PgCheck>;

const UP_HELP: &str =
    "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).";
const STATIC_HELP: &str = "Version string as reported by postgres";

/// `pg_up` over a target's shared `connections`, in runs of at most `timeout`; `tls_mode` is the `sslmode`
/// the connections use.
pub fn pg_up(connections: PgConnections, timeout: std::time::Duration, tls_mode: String) -> PgUp {
    Up::new("pg_up", UP_HELP, PgCheck { connections }, timeout)
        .tls_mode(tls_mode)
        .describes(Family::new(
            "pg_static",
            STATIC_HELP,
            MetricKind::Untyped,
            ["short_version", "version"],
        ))
}

/// `pg_up`'s one statement: the version, and whether the link is encrypted.
pub struct PgCheck {
    connections: PgConnections,
}

impl Check for PgCheck {
    async fn check(&self) -> Result<Answer, String> {
        // The session's own row of pg_stat_ssl (9.5+) says whether this link is encrypted: no extra round trip.
        // With the target's groups, in their message.
        let answer = self
            .connections
            .fetch_text(
                "SELECT version(), current_setting('server_version'), \
                        COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
            )
            .await
            .map_err(|e| e.to_string())?;
        let read = || -> Result<(String, String, bool), sqlx::Error> {
            let row = answer.first_row()?;
            Ok((cell(&row, 0)?, cell(&row, 1)?, cell(&row, 2)?))
        };
        let (version, server_version, encrypted) = read().map_err(|e| e.to_string())?;
        Ok(Answer {
            encrypted: Some(encrypted),
            samples: vec![
                Sample::new("pg_static", STATIC_HELP, MetricKind::Untyped, 1.0)
                    .label("version", version)
                    .label("short_version", short_version(&server_version)),
            ],
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

/// The target's version (`server_version_num`) and role (a standby in recovery is a replica), for the
/// groups that declare `min_version`, `max_version` or `role`: probed by the exporter on the first run that
/// needs them and again each half interval, so an upgrade or a promotion is followed without a restart.
pub struct PgFacts {
    connections: PgConnections,
}

impl PgFacts {
    /// Asks the server behind `connections`.
    pub fn new(connections: PgConnections) -> Self {
        PgFacts { connections }
    }
}

impl hubble::FactsProbe for PgFacts {
    async fn probe(&self) -> Result<hubble::TargetFacts, CollectError> {
        let answer = self
            .connections
            .fetch_text("SELECT current_setting('server_version_num')::int8, pg_is_in_recovery()")
            .await?;
        let row = answer.first_row()?;
        let version: i64 = cell(&row, 0)?;
        let standby: bool = cell(&row, 1)?;
        Ok(hubble::TargetFacts {
            version: u64::try_from(version).ok(),
            role: Some(if standby {
                hubble::Role::Replica
            } else {
                hubble::Role::Primary
            }),
        })
    }

    fn version_name(&self, version: u64) -> String {
        match (version / 10_000, version % 10_000) {
            (major, 0) => format!("PostgreSQL {major}"),
            (major, minor) => format!("PostgreSQL {major}.{minor}"),
        }
    }
}

/// An extension a collector needs, with the statement that finds it. Made by [`extension!`](crate::extension)
/// from a literal name, so the statement is a literal too and goes out in the target's batch (a statement
/// with a parameter cannot, and took a second connection at every tick).
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    name: &'static str,
    check: &'static str,
}

impl Extension {
    #[doc(hidden)]
    pub const fn from_parts(name: &'static str, check: &'static str) -> Self {
        Extension { name, check }
    }
}

/// The [`Extension`](crate::up::Extension) named by a string literal (an identifier, as `CREATE EXTENSION`
/// takes it).
#[macro_export]
macro_rules! extension {
    ($name:literal) => {
        $crate::up::Extension::from_parts(
            $name,
            concat!(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = '",
                $name,
                "'), current_database()"
            ),
        )
    };
}

/// Runs a collector only where an extension is installed in the connected database, checked on every run
/// (it can be created while the exporter runs); elsewhere the run is not applicable, with what to run.
/// Version ranges and roles are conditions declared on the groups instead ([`PgFacts`]).
pub struct NeedsExtension<C> {
    connections: PgConnections,
    extension: Extension,
    inner: C,
}

impl<C> NeedsExtension<C> {
    /// `inner` where `extension` is installed.
    pub fn new(connections: PgConnections, extension: Extension, inner: C) -> Self {
        NeedsExtension {
            connections,
            extension,
            inner,
        }
    }
}

impl<C: Collector> NeedsExtension<C> {
    /// Why the collector does not apply now, or `None` when it does.
    async fn why_not(&self) -> Result<Option<String>, CollectError> {
        let extension = self.extension.name;
        let (installed, database): (bool, String) = self
            .connections
            .fetch_text(self.extension.check)
            .await
            .and_then(|answer| {
                let row = answer.first_row()?;
                Ok((cell(&row, 0)?, cell(&row, 1)?))
            })
            .map_err(|e| {
                CollectError::Source(format!("group `{}`: {e}", self.inner.name()).into())
            })?;
        // pg_stat_statements also needs loading at server start, which CREATE EXTENSION does not do.
        let preload = if extension == "pg_stat_statements" {
            "add it to shared_preload_libraries and "
        } else {
            ""
        };
        Ok((!installed).then(|| {
            format!(
                "extension {extension} is not installed in database {database}: \
                 {preload}CREATE EXTENSION {extension}"
            )
        }))
    }
}

impl<C: Collector> Collector for NeedsExtension<C> {
    described_by!(inner);
    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        match self.why_not().await? {
            None => self.inner.collect().await,
            Some(why) => Err(CollectError::NotApplicable(why.into())),
        }
    }
}

/// One collector that reads with `before` on servers older than `version` and with `since` from it on: for a
/// family whose source moved between views, exported under one name whatever the server (two collectors
/// would both declare it).
pub struct VersionSplit<A, B> {
    connections: PgConnections,
    version: i32,
    known: ServerVersion,
    before: A,
    since: B,
}

impl<A, B> VersionSplit<A, B> {
    /// `before` below `version` (`server_version_num`), `since` from it; named after `before`.
    pub fn new(connections: PgConnections, version: i32, before: A, since: B) -> Self {
        VersionSplit {
            connections,
            version,
            known: ServerVersion::default(),
            before,
            since,
        }
    }
}

impl<A: Collector, B: Collector> Collector for VersionSplit<A, B> {
    fn name(&self) -> &str {
        self.before.name()
    }
    fn families(&self) -> Vec<Family> {
        let mut all = self.before.families();
        for d in self.since.families() {
            if !all.iter().any(|a| a.name == d.name) {
                all.push(d);
            }
        }
        all
    }
    fn options(&self) -> hubble::CollectorOptions {
        self.before.options()
    }
    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let version = self.known.get(&self.connections, self.name()).await?;
        if version < self.version {
            self.before.collect().await
        } else {
            self.since.collect().await
        }
    }
}

/// The server's `server_version_num` as a collector last asked it. Asked again when a minute old, so an
/// in-place major upgrade (`pg_upgrade`, then the new server on the same port) is followed without a restart,
/// as the library's facts are.
#[derive(Default)]
pub(crate) struct ServerVersion {
    last: std::sync::Mutex<Option<(i32, std::time::Instant)>>,
}

impl ServerVersion {
    /// How long an answer is used.
    const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

    /// The version, from the server behind `connections` when the last answer is too old; errors name `group`.
    pub(crate) async fn get(
        &self,
        connections: &PgConnections,
        group: &str,
    ) -> Result<i32, CollectError> {
        let now = std::time::Instant::now();
        if let Some((v, at)) = *self.last.lock().unwrap_or_else(|e| e.into_inner()) {
            if now.duration_since(at) < Self::MAX_AGE {
                return Ok(v);
            }
        }
        // Batched with the tick's other statements: asked on a connection of its own, it made every target
        // hold a second backend for this one statement a minute.
        let v: String = connections
            .fetch_text("SELECT current_setting('server_version_num')")
            .await
            .and_then(|answer| cell(&answer.first_row()?, 0))
            .map_err(|e| CollectError::Source(format!("group `{group}`: {e}").into()))?;
        let v = v.parse().unwrap_or(0);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((v, now));
        Ok(v)
    }
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
