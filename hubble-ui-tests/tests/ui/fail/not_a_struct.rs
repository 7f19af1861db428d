#[derive(hubble::MetricGroup)]
enum State {
    Up,
    Down,
}

fn main() {}
