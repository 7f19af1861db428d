#[derive(hubble::MetricGroup)]
#[hubble(prefix = "latency")]
struct Buckets {
    #[metric(label)]
    le: String,
    /// Observations.
    #[metric(counter)]
    count_total: u64,
}

fn main() {}
