#[derive(hubble::MetricCollector)]
struct Size(i64);

fn main() {}
