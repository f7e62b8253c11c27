//! Single-thread small objects in the steady state, natively
//! (`wasm_vmem_bench::alloc::small_steady`; the bench page runs the same in
//! the browser): each backend's instance warmed up first, then long timed
//! runs of the two single-thread traces of (a) — the mixed trace and
//! batches of 256 allocated then freed — interleaved over the backends,
//! medians of 7. This is the figure for "single-thread speed"; the (a)
//! tables time fresh instances for a few milliseconds.
//!
//! `cargo run --release -p wasm-vmem-bench --example small_steady [-- --wall]`
//! (timed in the thread's CPU time unless `--wall`; the
//! same figures are part of `scripts/bench-alloc.sh`, with the system
//! allocator too)

use wasm_vmem_bench::alloc::native::{backend, hardware_threads, loadavg, BACKENDS};
use wasm_vmem_bench::alloc::{small_steady, Instance};
use wasm_vmem_bench::figures::{native_clock, thread_cpu_clock};

const REPS: usize = 7;
const ROUNDS: usize = 4000;
const BATCH: usize = 256;

fn main() {
    println!(
        "{} hardware threads; load {}; {REPS} reps of {ROUNDS} rounds of {BATCH}",
        hardware_threads(),
        loadavg()
    );
    // The backends of every native table but the system allocator.
    let names: Vec<&str> = BACKENDS.into_iter().filter(|&b| b != "system").collect();
    let all: Vec<_> = names.iter().map(|&b| backend(b)).collect();
    let refs: Vec<&(dyn Instance + Sync)> = all.iter().map(|a| &**a).collect();
    // `--wall`: wall-clock time; by default the thread's CPU time (the
    // machine may be shared).
    let wall = std::env::args().any(|a| a == "--wall");
    let clock = if wall { native_clock } else { thread_cpu_clock };
    let figures = small_steady(&refs, ROUNDS, BATCH, REPS, clock);
    let of = |name: &str| figures[names.iter().position(|&b| b == name).unwrap()];
    let ((mixed_dl, batch_dl), (mixed_mi, batch_mi)) = (of("dlmalloc"), of("mimalloc"));
    println!("| backend | mixed M ops/s | ÷ dlmalloc | ÷ mimalloc | batches M ops/s | ÷ dlmalloc | ÷ mimalloc |");
    println!("|---|---|---|---|---|---|---|");
    for (name, (mixed, batch)) in names.iter().zip(&figures) {
        println!(
            "| {name} | {mixed:.1} | {:.2} | {:.2} | {batch:.1} | {:.2} | {:.2} |",
            mixed / mixed_dl,
            mixed / mixed_mi,
            batch / batch_dl,
            batch / batch_mi
        );
    }
}
