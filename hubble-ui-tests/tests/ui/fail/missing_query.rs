/// No query: this group is filled by code, so it cannot be a SQL collector.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Sizes {
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn collector(pool: sqlx::SqlitePool) {
    let _ = hubble::SqlCollector::<Sizes, sqlx::Sqlite>::new(pool);
}

fn main() {
    let _ = collector;
}
