#[derive(hubble::MetricGroup)]
#[hubble(prefix = "http")]
struct Requests {
    /// Responses with a 2xx status.
    #[metric(counter, rename = "2xx-total")]
    ok: u64,
}

fn main() {}
