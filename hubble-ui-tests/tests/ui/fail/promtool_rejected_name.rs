/// Orders per shop, as a gauge named like a histogram's count.
#[derive(hubble::MetricGroup)]
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
