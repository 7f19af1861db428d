#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Sizes {
    datname: String,
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
