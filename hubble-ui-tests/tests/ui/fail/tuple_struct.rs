#[derive(hubble::MetricGroup)]
struct Size(i64);

fn main() {}
