//! Criterion benchmarks of the three traces over every backend, then the
//! other figures of docs/DESIGN.md §7 (written to target/bench-figures.json and
//! printed). `cargo bench -p wasm-vmem-bench`; a smoke run with
//! `WASM_VMEM_BENCH_SMOKE=1`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use wasm_vmem_bench::figures::{self, Sizes};
use wasm_vmem_bench::{churn, contention, gc};

fn sizes() -> Sizes {
    if std::env::var_os("WASM_VMEM_BENCH_SMOKE").is_some() {
        Sizes::SMOKE
    } else {
        Sizes::FULL
    }
}

fn traces(c: &mut Criterion) {
    let s = sizes();
    for threaded in [false, true] {
        let build = if threaded { "mt" } else { "st" };
        let mut g = c.benchmark_group(format!("gc-{build}"));
        for b in figures::backends(threaded) {
            g.bench_function(BenchmarkId::from_parameter(b.name()), |bench| {
                bench.iter(|| gc(b.as_ref(), s.gc))
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("churn-{build}"));
        for b in figures::backends(threaded) {
            g.bench_function(BenchmarkId::from_parameter(b.name()), |bench| {
                bench.iter(|| churn(b.as_ref(), s.churn))
            });
        }
        g.finish();
    }
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("contention-{threads}t"));
        for b in figures::backends(true) {
            g.bench_function(BenchmarkId::from_parameter(b.name()), |bench| {
                bench.iter(|| contention(b.as_ref(), threads, s.contention / 4))
            });
        }
        g.finish();
    }
}

fn report(_: &mut Criterion) {
    let (json, text) = figures::all(sizes(), &[false, true], figures::native_clock);
    println!("{text}");
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let path = format!("{dir}/bench-figures.json");
    std::fs::write(&path, json).expect("write figures");
    println!("figures written to {path}");
}

fn config() -> Criterion {
    let smoke = std::env::var_os("WASM_VMEM_BENCH_SMOKE").is_some();
    let c = Criterion::default().sample_size(10);
    if smoke {
        c.warm_up_time(Duration::from_millis(10))
            .measurement_time(Duration::from_millis(50))
    } else {
        c.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
    }
}

criterion_group! { name = benches; config = config(); targets = traces, report }
criterion_main!(benches);
