//! `pg_settings_*`: one gauge per numeric or boolean server setting, units converted to base units as
//! postgres_exporter converts them. One family per row, declared: the name and help come from each row
//! (`#[metric(family_name)]`, `#[metric(family_help)]`), the conversion is done by the query.
//!
//! The values are the server's, not the exporter's session's: a setting the exporter changed with `SET`
//! (its `statement_timeout`) is read from `reset_val`, what a session of this user and database starts
//! with. Every other one from `setting`, as postgres_exporter reads it (octal modes such as `0700` read as
//! 700, TCP keepalives as the socket's values).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hubble::catalogue::Entry;
use hubble::{CollectError, Collector, Sample};

use super::Assembly;
use crate::connection::PgConnections;

/// The server's numeric and boolean settings. The unit table turns each unit into seconds or bytes with the
/// family suffix and help note postgres_exporter gives it; a setting in a unit not listed is left out rather
/// than wrongly scaled.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT s.name || u.suffix AS name, s.short_desc || u.note AS help,
                    CASE WHEN s.vartype = 'bool' THEN CASE s.setting WHEN 'on' THEN 1.0 ELSE 0.0 END
                         WHEN s.setting::float8 = -1 THEN -1
                         ELSE s.setting::float8 * u.factor END AS value
             FROM (SELECT name, short_desc, vartype, unit,
                          CASE WHEN source = 'session' THEN reset_val ELSE setting END AS setting
                   FROM pg_settings) s
             JOIN (VALUES ('', 1.0::float8, '', ''),
                          ('ms', 1e-3, '_seconds', ' [Units converted to seconds.]'),
                          ('s', 1, '_seconds', ' [Units converted to seconds.]'),
                          ('min', 60, '_seconds', ' [Units converted to seconds.]'),
                          ('h', 3600, '_seconds', ' [Units converted to seconds.]'),
                          ('d', 86400, '_seconds', ' [Units converted to seconds.]'),
                          ('B', 1, '_bytes', ' [Units converted to bytes.]'),
                          ('kB', 1024, '_bytes', ' [Units converted to bytes.]'),
                          ('MB', 1048576, '_bytes', ' [Units converted to bytes.]'),
                          ('GB', 1073741824, '_bytes', ' [Units converted to bytes.]'),
                          ('TB', 1099511627776, '_bytes', ' [Units converted to bytes.]'),
                          ('1kB', 1024, '_bytes', ' [Units converted to bytes.]'),
                          ('2kB', 2048, '_bytes', ' [Units converted to bytes.]'),
                          ('4kB', 4096, '_bytes', ' [Units converted to bytes.]'),
                          ('8kB', 8192, '_bytes', ' [Units converted to bytes.]'),
                          ('16kB', 16384, '_bytes', ' [Units converted to bytes.]'),
                          ('32kB', 32768, '_bytes', ' [Units converted to bytes.]'),
                          ('64kB', 65536, '_bytes', ' [Units converted to bytes.]'),
                          ('16MB', 16777216, '_bytes', ' [Units converted to bytes.]'),
                          ('32MB', 33554432, '_bytes', ' [Units converted to bytes.]'),
                          ('64MB', 67108864, '_bytes', ' [Units converted to bytes.]'))
                  AS u(unit, factor, suffix, note) ON COALESCE(s.unit, '') = u.unit
             WHERE s.vartype IN ('bool', 'integer', 'real')
               AND s.name NOT IN ('sync_commit_cancel_wait', 'google_dataplex.max_messages')",
    prefix = "pg_settings"
)]
pub struct PgSettings {
    /// The setting's name with its unit's suffix (dots become underscores).
    #[metric(family_name)]
    name: String,
    /// Its description, with the unit conversion noted.
    #[metric(family_help)]
    help: String,
    #[metric(gauge)]
    value: f64,
}

/// `--collector.settings`: every minute, and `pg_settings` is read only when the configuration was loaded
/// since the last read.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "settings",
    "Numeric and boolean server settings in base units (pg_settings)",
    |a: &mut Assembly| {
        let settings = a.sql::<PgSettings>();
        let connections = a.connections().clone();
        a.add(UnlessReloaded::new(connections, settings));
    },
)
.every(Duration::from_secs(60));

/// Runs `inner` only when the server's configuration was loaded (`pg_conf_load_time()`: a start or a
/// reload) since `inner`'s last successful run; otherwise the run is [`CollectError::Unchanged`] and that
/// run's result stays. One short statement instead of a few hundred rows.
pub struct UnlessReloaded<C> {
    connections: PgConnections,
    inner: C,
    /// The load time `inner`'s last successful run saw, as f64 bits; [`NOT_READ`] before one.
    loaded: AtomicU64,
}

/// No successful run yet, or the last one failed.
const NOT_READ: u64 = u64::MAX;

impl<C> UnlessReloaded<C> {
    /// `inner` over `connections`' server.
    pub fn new(connections: PgConnections, inner: C) -> Self {
        UnlessReloaded {
            connections,
            inner,
            loaded: AtomicU64::new(NOT_READ),
        }
    }
}

impl<C: Collector> Collector for UnlessReloaded<C> {
    described_by!(inner);
    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        // With the target's other statements of this tick, in their message.
        let answer = self
            .connections
            .fetch_text("SELECT extract(epoch FROM pg_conf_load_time())::float8")
            .await?;
        let loaded = hubble::text_rows::cell::<f64>(&answer.first_row()?, 0)?.to_bits();
        if self.loaded.load(Ordering::Acquire) == loaded {
            return Err(CollectError::Unchanged);
        }
        // Read before the rows: a reload in between is seen by the next run.
        let result = self.inner.collect().await;
        let seen = if result.is_ok() { loaded } else { NOT_READ };
        self.loaded.store(seen, Ordering::Release);
        result
    }
}
