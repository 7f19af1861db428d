// The derive's former name still works, and warns at the struct (denied here to see the warning).
#![deny(deprecated)]

/// Database sizes.
#[derive(hubble::MetricCollector)]
#[hubble(prefix = "db")]
struct Sizes {
    /// Bytes on disk.
    #[metric(gauge)]
    size_bytes: i64,
}

fn main() {}
