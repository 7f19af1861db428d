/// Orders per shop, as a gauge named like a histogram's count.
#[derive(hubble::MetricCollector)]
#[hubble(prefix = "shop")]
struct Orders {
    #[metric(label)]
    shop: String,
    /// Orders placed.
    #[metric(gauge)]
    orders_count: i64,
    /// Orders refunded.
    #[metric(counter)]
    refunds: i64,
}

fn main() {}
