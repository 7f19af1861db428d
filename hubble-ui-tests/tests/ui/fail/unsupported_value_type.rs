#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Sizes {
    /// Raw bytes are not a number.
    #[metric(gauge)]
    size_bytes: Vec<u8>,
}

fn main() {}
