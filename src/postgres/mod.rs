//! The flagship: a Postgres exporter built on hubble, a drop-in for prometheus-community's postgres_exporter.
//!
//! [`groups`] declares the standard metric groups with `#[derive(MetricCollector)]`; [`settings`] and [`up`]
//! hold the two collectors whose shape the derive does not fit; [`connection`] parses DSNs and builds pools.

pub mod app;
pub mod connection;
pub mod custom;
pub mod groups;
pub mod probe;
pub mod settings;
pub mod up;

use std::time::Duration;

use hubble::{BaseExporter, Labels, SqlCollector};
use sqlx::{PgPool, Postgres};

use groups::*;

/// How one target's exporter collects.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Collection interval.
    pub interval: Duration,
    /// Per-run timeout (also the server-side `statement_timeout`).
    pub timeout: Duration,
}

/// The exporter for one PostgreSQL server: every standard group over `pool`, with `labels` (the target's
/// labels plus `server`) on every series.
pub fn exporter(
    pool: &PgPool,
    labels: Labels,
    schedule: Schedule,
) -> Result<BaseExporter, hubble::ExporterError> {
    let p = || pool.clone();
    BaseExporter::builder("postgres")
        .const_labels(labels)
        .interval(schedule.interval)
        .timeout(schedule.timeout)
        .collector(up::PgUp::new(p()))
        .collector(SqlCollector::<PgStatDatabase, Postgres>::new(p()))
        .collector(up::VersionGate::new(
            p(),
            140_000,
            i32::MAX,
            SqlCollector::<PgStatDatabaseSessions, Postgres>::new(p()),
        ))
        .collector(SqlCollector::<PgStatDatabaseConflicts, Postgres>::new(p()))
        .collector(up::VersionGate::new(
            p(),
            0,
            170_000,
            SqlCollector::<PgStatBgwriter, Postgres>::new(p()),
        ))
        .collector(SqlCollector::<PgStatActivity, Postgres>::new(p()))
        .collector(SqlCollector::<PgLocks, Postgres>::new(p()))
        .collector(SqlCollector::<PgDatabaseSize, Postgres>::new(p()))
        .collector(SqlCollector::<PgPostmaster, Postgres>::new(p()))
        .collector(SqlCollector::<PgStatArchiver, Postgres>::new(p()))
        .collector(SqlCollector::<PgReplication, Postgres>::new(p()))
        .collector(SqlCollector::<PgStatReplication, Postgres>::new(p()))
        .collector(SqlCollector::<PgReplicationSlots, Postgres>::new(p()))
        .collector(SqlCollector::<PgStatUserTables, Postgres>::new(p()))
        .collector(settings::PgSettings::new(p()))
        .build()
}
