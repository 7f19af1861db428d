#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db", const_labels(role = "primary"))]
struct Sizes {
    #[metric(label)]
    role: String,
    /// Size in bytes.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
