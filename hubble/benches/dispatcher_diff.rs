//! Dispatcher diff at scale: 10,000 services with 3 nodes each (30,000 targets).
//!
//! `cargo bench -p hubble --bench dispatcher_diff` (criterion) times make_atomic, the first diff (everything new) and a
//! steady-state diff (1% of targets changed).

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

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

fn bench(c: &mut Criterion) {
    let gen1 = services(10_000, 1);
    let gen2 = services(10_000, 2);
    let a1 = atoms(&gen1);
    let a2 = atoms(&gen2);
    let live: HashSet<u64> = diff(&HashSet::new(), a1.clone())
        .added
        .iter()
        .map(|(h, _)| *h)
        .collect();
    assert_eq!(a1.len(), 30_000);
    let mut g = c.benchmark_group("dispatcher");
    g.sample_size(20);
    g.bench_function("make_atomic, 10k services x 3 nodes", |b| {
        b.iter(|| atoms(black_box(&gen1)))
    });
    g.bench_function("diff, 30k targets all new", |b| {
        b.iter_batched(
            || a1.clone(),
            |a| diff(&HashSet::new(), a),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("diff, 30k targets 1% changed", |b| {
        b.iter_batched(|| a2.clone(), |a| diff(&live, a), BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
