#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Stats {
    /// Commits.
    #[metric(counter, rename = "xact_total")]
    commits: i64,
    /// Rollbacks.
    #[metric(counter, rename = "xact_total")]
    rollbacks: i64,
}

fn main() {}
