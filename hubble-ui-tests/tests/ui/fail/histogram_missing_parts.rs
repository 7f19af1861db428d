#[derive(hubble::MetricGroup)]
#[hubble(prefix = "pg_process_idle")]
struct Idle {
    #[metric(label)]
    state: String,
    /// Idle time of server processes.
    #[metric(histogram)]
    seconds: Vec<f64>,
    seconds_bucket: Vec<i64>,
    #[metric(gauge)]
    seconds_sum: f64,
}

fn main() {}
