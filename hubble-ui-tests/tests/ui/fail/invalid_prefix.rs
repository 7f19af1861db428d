#[derive(hubble::MetricGroup)]
#[hubble(prefix = "my-app")]
struct Requests {
    /// Requests served.
    #[metric(counter)]
    requests_total: u64,
}

fn main() {}
