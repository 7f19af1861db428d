#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Sizes {
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
