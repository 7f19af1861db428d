//! postgres_exporter's `xlog_location`.

use hubble::catalogue::Entry;

use super::Assembly;

/// The WAL position being written (primary) or replayed (standby), postgres_exporter's `xlog_location`.
/// Upstream reads it only before PostgreSQL 10 (with the `xlog` functions) and exports nothing since; the
/// same figure comes from the `wal` functions here, on every version.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
                      - '0/0') % (2^52)::bigint)::float8 AS bytes",
    prefix = "pg_xlog_location"
)]
pub struct PgXlogLocation {
    /// Postgres LSN (log sequence number) being generated on primary or replayed on replica (truncated to low 52 bits)
    #[metric(gauge)]
    bytes: Option<f64>,
}

/// `--collector.xlog_location`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "xlog_location",
    "The WAL position being written or replayed",
    |a| {
        a.group::<PgXlogLocation>();
    },
);
