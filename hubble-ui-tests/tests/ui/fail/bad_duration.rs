#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db", interval = "15")]
struct Sizes {
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
