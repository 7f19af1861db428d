#[derive(hubble::MetricGroup)]
#[hubble(prefix = "db")]
struct Names {
    #[metric(label)]
    datname: String,
    #[metric(skip)]
    comment: String,
}

fn main() {}
