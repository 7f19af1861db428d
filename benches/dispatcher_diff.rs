//! Dispatcher diff at scale: 10,000 services with 3 nodes each (30,000 targets).
//!
//! `cargo bench --bench dispatcher_diff` prints the time of make_atomic, the first diff (everything new) and a
//! steady-state diff (1% of targets changed), best of several runs.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use hubble::discovery::{Service, ServiceAtomic, ServiceParams};
use hubble::dispatcher::diff;

fn services(n: usize, generation: usize) -> Vec<Service> {
    (0..n)
        .map(|i| Service {
            name: format!("db-{i}"),
            addresses: (0..3)
                .map(|k| {
                    (
                        format!("node-{i}-{k}"),
                        format!("10.{}.{}.{k}", i / 256 % 256, i % 256),
                    )
                })
                .collect(),
            port: 5432,
            tags: vec!["postgres".into()],
            // 1% of services change each generation.
            modify_index: if i % 100 == 0 { generation as u64 } else { 1 },
            params: ServiceParams {
                notifiable: true,
                extra_labels: [("team".to_owned(), format!("team-{}", i % 40))].into(),
                exporter_options: [("dbname".to_owned(), "app".to_owned())].into(),
            },
        })
        .collect()
}

fn atoms(s: &[Service]) -> Vec<ServiceAtomic> {
    let extra = BTreeMap::new();
    s.iter().flat_map(|s| s.make_atomic(&extra)).collect()
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.unwrap())
}

fn main() {
    let gen1 = services(10_000, 1);
    let gen2 = services(10_000, 2);
    let (t_atomic, a1) = best(5, || atoms(&gen1));
    let a2 = atoms(&gen2);
    let (t_first, d1) = best(5, || diff(&HashSet::new(), a1.clone()));
    let live: HashSet<u64> = d1.added.iter().map(|(h, _)| *h).collect();
    let (t_steady, d2) = best(5, || diff(&live, a2.clone()));
    println!("targets: {} (10,000 services x 3 nodes)", a1.len());
    println!(
        "make_atomic:            {:>8.2} ms",
        t_atomic.as_secs_f64() * 1e3
    );
    println!(
        "diff, all new:          {:>8.2} ms  (+{} targets)",
        t_first.as_secs_f64() * 1e3,
        d1.added.len()
    );
    println!(
        "diff, 1% changed:       {:>8.2} ms  (+{} / -{})",
        t_steady.as_secs_f64() * 1e3,
        d2.added.len(),
        d2.removed.len()
    );
}
