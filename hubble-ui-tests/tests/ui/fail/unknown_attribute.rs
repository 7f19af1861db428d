#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db", quary = "SELECT 1")]
struct Sizes {
    /// Size in bytes.
    #[metric(gauage)]
    size_bytes: i64,
}

fn main() {}
