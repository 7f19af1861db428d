#[derive(hubble::MetricGroup)]
#[hubble(query = "SELECT 1 AS jobs", prefix = "app")]
struct Load {
    /// Jobs.
    #[metric(gauge)]
    jobs: i64,
}

fn main() {
    let _ = hubble::BaseExporter::builder("app").collector(Load { jobs: 1 });
}
