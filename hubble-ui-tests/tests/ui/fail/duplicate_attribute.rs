#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db", prefix = "pg")]
struct Sizes {
    /// Size in bytes.
    #[metric(gauge, gauge)]
    size_bytes: i64,
}

fn main() {}
