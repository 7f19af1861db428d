#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Sizes {
    #[metric(label, rename = "__name__")]
    name: String,
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
