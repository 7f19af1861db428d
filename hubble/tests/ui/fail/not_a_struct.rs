#[derive(hubble::MetricCollector)]
enum State {
    Up,
    Down,
}

fn main() {}
