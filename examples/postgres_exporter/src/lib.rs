//! The flagship: a Postgres exporter built on hubble, a drop-in for prometheus-community's postgres_exporter.
//!
//! [`collectors`] holds postgres_exporter's collectors, one file each, most declared with
//! `#[derive(MetricGroup)]`, and the catalogue that names them; [`up`] holds `pg_up` and the
//! conditions the declarations cannot say; [`connection`] parses DSNs and builds a target's connections.

/// A wrapping collector is named, described and scheduled as the collector in `field` (it changes only how
/// that one collects).
macro_rules! described_by {
    ($field:tt) => {
        fn name(&self) -> &str {
            self.$field.name()
        }
        fn families(&self) -> Vec<hubble::Family> {
            self.$field.families()
        }
        fn options(&self) -> hubble::CollectorOptions {
            self.$field.options()
        }
    };
}

pub mod app;
pub mod auth_guard;
pub mod auth_modules;
pub mod collectors;
pub mod connection;
pub mod custom;
pub mod databases;
pub mod lifecycle;
pub mod live;
pub mod naming;
pub mod patroni;
mod privileges;
pub mod probe;
pub mod reload;
pub mod role;
mod scrape_stats;
pub mod up;

use std::sync::Arc;
use std::time::Duration;

use hubble::{BaseExporter, Labels};

use connection::PgConnections;
use databases::PerDatabase;
use naming::Naming;

/// The collector that runs the database-local standard groups in every database.
pub const LOCAL_COLLECTOR: &str = "pg_database_local";

/// What every target's exporter collects, and how.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Interval and timeout.
    pub schedule: Schedule,
    /// Custom queries (`--extend.query-path`).
    pub custom_queries: Vec<custom::CustomQuery>,
    /// Labels on every series of every target (`--constantLabels`); a target's own labels win.
    pub const_labels: hubble::Labels,
    /// What replaces `pg` in the custom queries' names (`--metric-prefix`), also on reload.
    pub metric_prefix: String,
    /// Metric names.
    pub naming: Naming,
    /// Only `pg_up` and the custom queries (postgres_exporter's `--disable-default-metrics`).
    pub disable_default_metrics: bool,
    /// Connections per target (at least 1).
    pub pool_size: u32,
    /// The declared groups of a target due together go to the server in one message
    /// (`--collection.batch`).
    pub batch: bool,
    /// The batch goes over the exporter's own connection, which keeps no buffer between ticks, rather than
    /// sqlx's (`--collection.own-connection`).
    pub own_connection: bool,
    /// The standard collectors that run (`--collector.<name>`, `--no-collector.<name>`).
    pub collectors: collectors::Enabled,
    /// Options of the `stat_statements` collector.
    pub statements: collectors::StatementsOptions,
    /// Every database of each server, these ones (`--auto-discover-databases`); `None`: the connected one.
    pub databases: Option<databases::DatabaseFilter>,
    /// `stat_replication` with the `pid` label upstream adds after 0.20.1
    /// (`--collector.stat_replication.pid`).
    pub stat_replication_pid: bool,
}

impl Default for Collection {
    fn default() -> Self {
        Collection {
            schedule: Schedule::default(),
            custom_queries: Vec::new(),
            const_labels: hubble::Labels::new(),
            metric_prefix: "pg".to_owned(),
            naming: Naming::default(),
            disable_default_metrics: false,
            pool_size: 2,
            batch: true,
            own_connection: true,
            collectors: collectors::CATALOGUE.defaults(),
            statements: collectors::StatementsOptions::default(),
            databases: None,
            stat_replication_pid: false,
        }
    }
}

/// The flag that sets [`Schedule::max_series`], named where the limit drops a run.
pub const MAX_SERIES_FLAG: &str = "--collection.max-series";

/// How one target's exporter collects.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Collection interval.
    pub interval: Duration,
    /// Per-run timeout (also the server-side `statement_timeout`).
    pub timeout: Duration,
    /// Most series one group may export per run (`--collection.max-series`).
    pub max_series: usize,
}

/// The exporter for one PostgreSQL server: every standard group over the target's `connections`, with
/// `labels` (the target's labels plus `server`) on every series. With `databases`, the database-local groups
/// run in each of its databases (one `pg_database_local` collector) instead of the connected one only.
/// Schedule, names, collectors and their options come from `collection`.
pub fn exporter(
    connections: &PgConnections,
    up: up::PgUp,
    labels: Labels,
    collection: &Collection,
    databases: Option<&Arc<databases::Databases>>,
) -> Result<BaseExporter, hubble::ExporterError> {
    let schedule = collection.schedule;
    let builder = BaseExporter::builder("postgres")
        .const_labels(labels)
        .interval(schedule.interval)
        .timeout(schedule.timeout)
        .max_series(schedule.max_series)
        .max_series_setting(MAX_SERIES_FLAG)
        // Version ranges and roles are declared on the groups (`min_version`, `role`): checked against this.
        .facts(up::PgFacts::new(connections.clone()))
        .collector(collectors::wrap(collection.naming, up));
    let mut assembly =
        collectors::Assembly::new(builder, connections, collection, databases.is_some());
    collectors::CATALOGUE.build(&collection.collectors, &mut assembly);
    let (mut b, local) = assembly.finish();
    if let (Some(databases), false) = (databases, local.is_empty()) {
        b = b.collector(collectors::wrap(
            collection.naming,
            PerDatabase::new(
                LOCAL_COLLECTOR,
                databases.clone(),
                local,
                schedule.interval,
                schedule.max_series,
            ),
        ));
    }
    b.build()
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            // No limit, as postgres_exporter: a database of 10,000 tables keeps every table's statistics.
            max_series: usize::MAX,
        }
    }
}
