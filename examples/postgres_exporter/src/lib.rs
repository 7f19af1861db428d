//! The flagship: a Postgres exporter built on hubble, a drop-in for prometheus-community's postgres_exporter.
//!
//! [`groups`] declares the standard metric groups with `#[derive(MetricCollector)]`; [`settings`] and [`up`]
//! hold the two collectors whose shape the derive does not fit; [`connection`] parses DSNs and builds a
//! target's connections.

pub mod app;
pub mod auth_guard;
pub mod auth_modules;
pub mod collectors;
pub mod connection;
pub mod custom;
pub mod databases;
pub mod groups;
pub mod lifecycle;
pub mod live;
pub mod naming;
mod privileges;
pub mod probe;
pub mod reload;
pub mod role;
mod scrape_stats;
pub mod settings;
pub mod statements;
pub mod up;

use std::sync::Arc;
use std::time::Duration;

use hubble::{BaseExporter, BaseExporterBuilder, Labels, SqlCollector};
use sqlx::Postgres;

use connection::PgConnections;
use databases::{LocalGroup, PerDatabase};

use groups::*;
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
    /// The standard collectors that run (`--collector.<name>`, `--no-collector.<name>`).
    pub collectors: collectors::Enabled,
    /// Options of the `stat_statements` collector.
    pub statements: statements::StatementsOptions,
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
            collectors: collectors::Enabled::default(),
            statements: statements::StatementsOptions::default(),
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
    let (schedule, naming) = (collection.schedule, collection.naming);
    let (enabled, statements) = (&collection.collectors, &collection.statements);
    fn sql<G: hubble::SqlQuery>(connections: &PgConnections) -> SqlCollector<G, Postgres> {
        SqlCollector::new(connections.clone())
    }
    // Every standard group: its permission errors name the grant, its families the chosen names.
    fn wrap<C: hubble::Collector>(
        naming: Naming,
        c: C,
    ) -> naming::Named<privileges::WithGrantHint<C>> {
        naming.apply(privileges::WithGrantHint(c))
    }
    fn needs<C>(
        connections: &PgConnections,
        extension: &'static str,
        c: C,
    ) -> up::NeedsExtension<C> {
        up::NeedsExtension::new(connections.clone(), extension, c)
    }
    /// Group `G` over the target's connections, or, when databases are visited and `G` is declared
    /// `per_database`, among the groups run in every database.
    fn standard<G>(
        b: BaseExporterBuilder,
        local: &mut Vec<LocalGroup>,
        connections: &PgConnections,
        naming: Naming,
        databases: bool,
    ) -> BaseExporterBuilder
    where
        G: hubble::SqlQuery + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        if databases && G::PER_DATABASE {
            local.push(LocalGroup::new(connections, |c| sql::<G>(&c)));
            b
        } else {
            b.collector(wrap(naming, sql::<G>(connections)))
        }
    }
    let mut b = BaseExporter::builder("postgres")
        .const_labels(labels)
        .interval(schedule.interval)
        .timeout(schedule.timeout)
        .max_series(schedule.max_series)
        .max_series_setting(MAX_SERIES_FLAG)
        // Version ranges and roles are declared on the groups (`min_version`, `role`): checked against this.
        .facts(up::PgFacts::new(connections.clone()))
        .collector(wrap(naming, up));
    let on = |name: &str| enabled.contains(name);
    let mut local = Vec::new();
    if on("stat_database") {
        b = b
            .collector(wrap(naming, sql::<PgStatDatabase>(connections)))
            .collector(wrap(naming, sql::<PgStatDatabaseChecksums>(connections)))
            .collector(wrap(naming, sql::<PgStatDatabaseSessions>(connections)))
            .collector(wrap(naming, sql::<PgStatDatabaseConflicts>(connections)));
    }
    if on("stat_bgwriter") {
        b = b.collector(wrap(
            naming,
            up::VersionSplit::new(
                connections.clone(),
                170_000,
                sql::<PgStatBgwriter>(connections),
                sql::<PgStatBgwriterSince17>(connections),
            ),
        ));
    }
    if on("stat_checkpointer") {
        b = b.collector(wrap(naming, sql::<PgStatCheckpointer>(connections)));
    }
    if on("stat_activity") {
        b = b.collector(wrap(naming, sql::<PgStatActivity>(connections)));
    }
    if on("locks") {
        b = b.collector(wrap(naming, sql::<PgLocks>(connections)));
    }
    if on("database") {
        b = b.collector(wrap(naming, sql::<PgDatabaseSize>(connections)));
    }
    if on("postmaster") {
        b = b.collector(wrap(naming, sql::<PgPostmaster>(connections)));
    }
    if on("stat_archiver") {
        b = b.collector(wrap(naming, sql::<PgStatArchiver>(connections)));
    }
    if on("replication") {
        b = b.collector(wrap(naming, sql::<PgReplication>(connections)));
    }
    if on("stat_replication") && collection.stat_replication_pid {
        b = b.collector(wrap(naming, sql::<PgStatReplicationPid>(connections)));
    } else if on("stat_replication") {
        b = b.collector(wrap(naming, sql::<PgStatReplication>(connections)));
    }
    if on("replication_slots") {
        b = b
            .collector(wrap(naming, sql::<PgReplicationSlots>(connections)))
            .collector(wrap(naming, sql::<PgReplicationSlotsSlot>(connections)))
            .collector(wrap(
                naming,
                sql::<PgReplicationSlotsWalStatus>(connections),
            ));
    }
    if on("stat_user_tables") {
        b = standard::<PgStatUserTables>(b, &mut local, connections, naming, databases.is_some());
    }
    if on("statio_user_tables") {
        b = standard::<PgStatioUserTables>(b, &mut local, connections, naming, databases.is_some());
    }
    if on("stat_progress_vacuum") {
        b = b
            .collector(wrap(naming, sql::<PgStatProgressVacuum>(connections)))
            .collector(wrap(naming, sql::<PgStatProgressVacuumPhase>(connections)));
    }
    if on("roles") {
        b = b.collector(wrap(naming, sql::<PgRoles>(connections)));
    }
    if on("wal") {
        b = b.collector(wrap(naming, sql::<PgWal>(connections)));
    }
    if on("buffercache_summary") {
        let c = sql::<PgBuffercacheSummary>(connections);
        let c = needs(connections, "pg_buffercache", c);
        b = b.collector(wrap(naming, c));
    }
    if on("database_wraparound") {
        b = b.collector(wrap(naming, sql::<PgDatabaseWraparound>(connections)));
    }
    if on("long_running_transactions") {
        b = b.collector(wrap(naming, sql::<PgLongRunningTransactions>(connections)));
    }
    if on("process_idle") {
        b = b.collector(wrap(naming, sql::<PgProcessIdle>(connections)));
    }
    if on("stat_activity_autovacuum") {
        b = b.collector(wrap(naming, sql::<PgStatActivityAutovacuum>(connections)));
    }
    if on("stat_statements") {
        let c = statements::PgStatStatements::new(connections.clone(), statements.clone());
        let c = needs(connections, "pg_stat_statements", c);
        b = b.collector(wrap(naming, c));
    }
    if on("stat_wal_receiver") {
        b = b.collector(wrap(naming, sql::<PgStatWalReceiver>(connections)));
    }
    if on("statio_user_indexes") {
        b = standard::<PgStatioUserIndexes>(
            b,
            &mut local,
            connections,
            naming,
            databases.is_some(),
        );
    }
    if on("xlog_location") {
        b = b.collector(wrap(naming, sql::<PgXlogLocation>(connections)));
    }
    if on("stat_wal") {
        let c = sql::<PgStatWal>(connections);
        b = b.collector(wrap(naming, c));
    }
    if on("stat_io") {
        let c = sql::<PgStatIo>(connections);
        b = b.collector(wrap(naming, c));
    }
    if on("settings") {
        b = b.collector(wrap(naming, sql::<settings::PgSettings>(connections)));
    }
    if let (Some(databases), false) = (databases, local.is_empty()) {
        b = b.collector(wrap(
            naming,
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
