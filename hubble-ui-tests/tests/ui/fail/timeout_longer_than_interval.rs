#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db", interval = "10s", timeout = "1m")]
struct Sizes {
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
