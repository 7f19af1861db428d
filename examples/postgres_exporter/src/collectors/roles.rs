//! postgres_exporter's `roles`.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::Assembly;

/// Connection limits per role, postgres_exporter's `roles`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT rolname, rolconnlimit FROM pg_roles",
    prefix = "pg_roles"
)]
pub struct PgRoles {
    #[metric(label)]
    rolname: String,
    /// Connection limit set for the role (-1: none).
    #[metric(gauge, rename = "connection_limit")]
    rolconnlimit: i32,
}

/// `--collector.roles`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "roles",
    "Connection limit of each role",
    |a: &mut Assembly| {
        a.group::<PgRoles>();
    },
)
.every(Duration::from_secs(60));
