//! Single-thread small objects in the steady state: each backend's instance
//! warmed up first, then long timed runs of the two single-thread traces of
//! (a) — the mixed trace (`small_single`) and batches of 256 allocated and
//! freed (`small_worker` on one thread) — interleaved over the backends,
//! medians of 7. The (a) tables time fresh instances for a few
//! milliseconds, where first-touch faults and the machine's noise weigh
//! as much as the allocator; this is the figure for "single-thread speed".
//!
//! `cargo run --release -p wasm-vmem-bench --example small_steady`

use std::time::Instant;
use wasm_vmem_bench::alloc::native::{backend, hardware_threads, loadavg};
use wasm_vmem_bench::alloc::{median, small_single, small_worker, Ring};

const BACKENDS: [&str; 4] = ["wasm-vmem (MT)", "wasm-vmem (ST)", "dlmalloc", "talc"];
const REPS: usize = 7;
const ROUNDS: usize = 4000;
const BATCH: usize = 256;

fn main() {
    println!(
        "{} hardware threads; load {}; {REPS} reps of {ROUNDS} rounds of {BATCH}",
        hardware_threads(),
        loadavg()
    );
    let all: Vec<_> = BACKENDS.iter().map(|&b| backend(b)).collect();
    let ring = Ring::new(1);
    for a in &all {
        small_single(&**a, 100, BATCH);
        small_worker(&**a, &ring, 0, 100, BATCH, true);
    }
    let (mut mixed, mut batch) = (vec![Vec::new(); all.len()], vec![Vec::new(); all.len()]);
    for _ in 0..REPS {
        for (i, a) in all.iter().enumerate() {
            let t = Instant::now();
            let ops = small_single(&**a, ROUNDS, BATCH);
            mixed[i].push(ops as f64 / t.elapsed().as_secs_f64() / 1e6);
            let t = Instant::now();
            let ops = small_worker(&**a, &ring, 0, ROUNDS, BATCH, true);
            batch[i].push(ops as f64 / t.elapsed().as_secs_f64() / 1e6);
        }
    }
    let (mixed, batch): (Vec<f64>, Vec<f64>) = (
        mixed.iter_mut().map(|v| median(v)).collect(),
        batch.iter_mut().map(|v| median(v)).collect(),
    );
    let dl = BACKENDS.iter().position(|&b| b == "dlmalloc").unwrap();
    println!("| backend | mixed M ops/s | ÷ dlmalloc | batches M ops/s | ÷ dlmalloc |");
    println!("|---|---|---|---|---|");
    for (i, name) in BACKENDS.iter().enumerate() {
        println!(
            "| {name} | {:.1} | {:.2} | {:.1} | {:.2} |",
            mixed[i],
            mixed[i] / mixed[dl],
            batch[i],
            batch[i] / batch[dl]
        );
    }
}
