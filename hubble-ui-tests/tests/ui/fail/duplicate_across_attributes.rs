#[derive(hubble::MetricGroup)]
#[hubble(query = "SELECT 1 AS size_bytes", prefix = "db")]
#[hubble(prefix = "pg")]
struct Sizes {
    /// Size in bytes.
    #[metric(gauge, rename = "size")]
    #[metric(rename = "bytes")]
    size_bytes: i64,
}

fn main() {}
