#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Sizes {
    #[metric(label)]
    ratio: f64,
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
