#[derive(hubble::MetricGroup)]
#[hubble(prefix = "leader_only", role = "leader")]
struct LeaderOnly {
    /// Up.
    #[metric(gauge)]
    up: f64,
}

#[derive(hubble::MetricGroup)]
#[hubble(prefix = "empty_range", min_version = 170000, max_version = 140000)]
struct EmptyRange {
    /// Up.
    #[metric(gauge)]
    up: f64,
}

#[derive(hubble::MetricGroup)]
#[hubble(prefix = "not_a_number", min_version = "14")]
struct NotANumber {
    /// Up.
    #[metric(gauge)]
    up: f64,
}

#[derive(hubble::MetricGroup)]
#[hubble(prefix = "flag_with_value", per_database = true)]
struct FlagWithValue {
    /// Up.
    #[metric(gauge)]
    up: f64,
}

fn main() {}
