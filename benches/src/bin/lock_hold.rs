//! Lock hold time of the multithreaded build against the number of free
//! runs a reservation passes over, and after foreign gaps (docs/DESIGN.md §7):
//! `cargo run --release -p wasm-vmem-bench --bin lock_hold [REPS]`. Prints
//! one table; the same figures are part of `target/bench-figures.json`.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9}",
        "lock hold (MT)", "mean ns", "median ns", "p99 ns", "max ns"
    );
    let row = |label: String, h: wasm_vmem_bench::lock_hold::Holds| {
        println!(
            "{label:<24} {:>9.0} {:>9} {:>9} {:>9}",
            h.mean_ns, h.p50_ns, h.p99_ns, h.max_ns
        );
    };
    for runs in [1usize, 100, 10_000] {
        let h = wasm_vmem_bench::lock_hold::lock_hold_free_runs(runs, reps);
        row(format!("{runs} free runs"), h);
    }
    let h = wasm_vmem_bench::lock_hold::lock_hold_growth(4 << 30, 64 << 20);
    row("growth to 4 GiB (64 MiB steps)".into(), h);
    for gap in [1usize, 64, 1024] {
        let h = wasm_vmem_bench::lock_hold::lock_hold_foreign_gap(gap, (4096 / gap).clamp(2, 256));
        row(format!("{gap} wasm-page gaps"), h);
    }
}

/// The lock-hold figures need a native clock inside the lock.
#[cfg(target_arch = "wasm32")]
fn main() {}
