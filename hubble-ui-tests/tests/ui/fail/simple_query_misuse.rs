/// `simple_query` says how a query is sent: a group without one cannot have it.
#[derive(hubble::MetricGroup)]
#[hubble(prefix = "tables", simple_query)]
struct NoQuery {
    /// Live rows.
    #[metric(gauge)]
    live_rows: i64,
}

/// It is a flag, not a key with a value.
#[derive(hubble::MetricGroup)]
#[hubble(query = "SHOW LISTS", prefix = "pgbouncer", simple_query = true)]
struct WithValue {
    /// Items.
    #[metric(gauge)]
    items: i64,
}

fn main() {}
