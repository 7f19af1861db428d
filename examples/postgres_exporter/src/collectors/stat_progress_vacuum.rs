//! postgres_exporter's `stat_progress_vacuum`.

use hubble::catalogue::Entry;

use super::Assembly;

/// VACUUMs in progress, postgres_exporter's `stat_progress_vacuum`: one row per running vacuum, from
/// `pg_stat_get_progress_info('VACUUM')` as upstream reads it (the view's columns changed names in 17).
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT COALESCE(d.datname, 'unknown') AS datname,
                    COALESCE(CASE WHEN d.datname = current_database() THEN s.relid::regclass::text END,
                             s.relid::text) AS relname,
                    s.param2 AS heap_blks, s.param3 AS heap_blks_scanned, s.param4 AS heap_blks_vacuumed,
                    s.param5 AS index_vacuums, s.param6 AS max_dead_tuples, s.param7 AS num_dead_tuples
             FROM pg_stat_get_progress_info('VACUUM') s
             LEFT JOIN pg_database d ON s.datid = d.oid",
    prefix = "pg_stat_progress_vacuum"
)]
pub struct PgStatProgressVacuum {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    relname: String,
    /// Total number of heap blocks in the table being vacuumed.
    #[metric(gauge)]
    heap_blks: i64,
    /// Number of heap blocks scanned so far.
    #[metric(gauge)]
    heap_blks_scanned: i64,
    /// Number of heap blocks vacuumed so far.
    #[metric(gauge)]
    heap_blks_vacuumed: i64,
    /// Number of completed index vacuum cycles.
    #[metric(gauge)]
    index_vacuums: i64,
    /// Maximum number of dead tuples (bytes of dead item storage from PostgreSQL 17) before cleanup.
    #[metric(gauge)]
    max_dead_tuples: i64,
    /// Number of dead tuples (dead item identifiers from PostgreSQL 17) collected so far.
    #[metric(gauge)]
    num_dead_tuples: i64,
}

/// The phase of each VACUUM in progress: one series per phase, 1 for the current one.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT COALESCE(d.datname, 'unknown') AS datname,
                    COALESCE(CASE WHEN d.datname = current_database() THEN s.relid::regclass::text END,
                             s.relid::text) AS relname,
                    p.phase, (s.param1 = p.n)::int4 AS active
             FROM pg_stat_get_progress_info('VACUUM') s
             LEFT JOIN pg_database d ON s.datid = d.oid
             CROSS JOIN (VALUES (0, 'initializing'), (1, 'scanning heap'), (2, 'vacuuming indexes'),
                                (3, 'vacuuming heap'), (4, 'cleaning up indexes'), (5, 'truncating heap'),
                                (6, 'performing final cleanup')) AS p(n, phase)",
    prefix = "pg_stat_progress_vacuum",
    name = "pg_stat_progress_vacuum_phase"
)]
pub struct PgStatProgressVacuumPhase {
    #[metric(label)]
    datname: String,
    #[metric(label)]
    relname: String,
    #[metric(label)]
    phase: String,
    /// Current vacuum phase (1 = active, 0 = inactive). Label 'phase' is human-readable.
    #[metric(gauge, rename = "phase")]
    active: i32,
}

/// `--collector.stat_progress_vacuum`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "stat_progress_vacuum",
    "VACUUMs in progress and their phase",
    |a| {
        a.group::<PgStatProgressVacuum>();
        a.group::<PgStatProgressVacuumPhase>();
    },
);
