//! Criterion micro-benchmarks of the scrape path: encoding a collector run, storing it in the cache, and
//! rendering many collectors' chunks into one body (whole, or streamed piece by piece).
//!
//! `cargo bench -p hubble --bench scrape_path` (add `-- encode` etc. to pick a group).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hubble::bench_api::{encode, render, Cache};
use hubble::{Format, Labels, Sample};

fn const_labels(target: usize) -> Labels {
    let mut l = Labels::new();
    l.insert(
        "server".to_owned(),
        format!("10.0.{}.{}:5432", target / 256, target % 256),
    );
    l.insert("service".to_owned(), "db".to_owned());
    l
}

/// A `pg_stat_user_tables`-like run: 20 families over `tables` tables.
fn table_run(tables: usize) -> Vec<Sample> {
    let mut out = Vec::with_capacity(tables * 20);
    for f in 0..20 {
        let name = format!("pg_stat_user_tables_column_{f}");
        for t in 0..tables {
            out.push(
                Sample::counter(name.clone(), "Statistic of the table.", (t * f) as f64)
                    .label("datname", "app")
                    .label("schemaname", "public")
                    .label("relname", format!("table_{t}")),
            );
        }
    }
    out
}

/// The same run as a derived group gives it: one label set per table (row), shared by its 20 samples.
fn table_rows(tables: usize) -> Vec<Sample> {
    let names: Vec<String> = (0..20)
        .map(|f| format!("pg_stat_user_tables_column_{f}"))
        .collect();
    let mut out = Vec::with_capacity(tables * 20);
    for t in 0..tables {
        let row = Labels::with_capacity(3)
            .with("datname", "app")
            .with("schemaname", "public")
            .with("relname", format!("table_{t}"))
            .shared();
        for (f, name) in names.iter().enumerate() {
            let mut sample =
                Sample::counter(name.clone(), "Statistic of the table.", (t * f) as f64);
            sample.labels = row.clone();
            out.push(sample);
        }
    }
    out
}

/// A `pg_settings`-like run: `n` families of one series each.
fn settings_run(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            Sample::gauge(
                format!("pg_settings_setting_{i}"),
                "Server setting described by the server.",
                i as f64 * 1.5,
            )
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for tables in [5, 50, 500] {
        let series = tables * 20;
        g.throughput(Throughput::Elements(series as u64));
        g.bench_function(format!("{series} series"), |b| {
            b.iter_batched(
                || table_run(tables),
                |run| encode(run, &const_labels(1)).unwrap(),
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("{series} series, rows sharing their labels"), |b| {
            b.iter_batched(
                || table_rows(tables),
                |run| encode(run, &const_labels(1)).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn cache_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("cache_update");
    let cache = Cache::new("pg_stat_user_tables", const_labels(1));
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000 series", |b| {
        b.iter_batched(
            || table_run(50),
            |run| cache.record(run),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn rendering(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    // One target of 10,000 series, and 1,000 targets of 300 settings + 500 table series each.
    let one: Vec<Cache> = {
        let c = Cache::new("tables", const_labels(0));
        c.record(table_run(500));
        vec![c]
    };
    let many: Vec<Cache> = (0..1000)
        .flat_map(|t| {
            let settings = Cache::new("settings", const_labels(t));
            settings.record(settings_run(300));
            let tables = Cache::new("tables", const_labels(t));
            tables.record(table_run(25));
            [settings, tables]
        })
        .collect();
    for (name, caches, series) in [
        ("1 target", &one, 10_000u64),
        ("1000 targets", &many, 800_000),
    ] {
        g.throughput(Throughput::Elements(series));
        for (how, streamed) in [("whole", false), ("streamed", true)] {
            g.bench_function(format!("{name}, {series} series, {how}"), |b| {
                b.iter(|| black_box(render(caches, Format::Text, streamed)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, encoding, cache_update, rendering);
criterion_main!(benches);
