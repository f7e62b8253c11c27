//! Single-thread small objects in the steady state, natively
//! (`wasm_vmem_bench::alloc::small_steady`; the bench page runs the same in
//! the browser): each backend's instance warmed up first, then long timed
//! runs of the two single-thread traces of (a) — the mixed trace and
//! batches of 256 allocated then freed — interleaved over the backends,
//! medians of 7. This is the figure for "single-thread speed"; the (a)
//! tables time fresh instances for a few milliseconds.
//!
//! `cargo run --release -p wasm-vmem-bench --example small_steady`

use wasm_vmem_bench::alloc::native::{backend, hardware_threads, loadavg};
use wasm_vmem_bench::alloc::{small_steady, Instance};
use wasm_vmem_bench::figures::native_clock;

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
    let refs: Vec<&(dyn Instance + Sync)> = all.iter().map(|a| &**a).collect();
    let figures = small_steady(&refs, ROUNDS, BATCH, REPS, native_clock);
    let dl = BACKENDS.iter().position(|&b| b == "dlmalloc").unwrap();
    let (mixed_dl, batch_dl) = figures[dl];
    println!("| backend | mixed M ops/s | ÷ dlmalloc | batches M ops/s | ÷ dlmalloc |");
    println!("|---|---|---|---|---|");
    for (name, (mixed, batch)) in BACKENDS.iter().zip(&figures) {
        println!(
            "| {name} | {mixed:.1} | {:.2} | {batch:.1} | {:.2} |",
            mixed / mixed_dl,
            batch / batch_dl
        );
    }
}
