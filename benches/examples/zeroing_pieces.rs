//! Reproduction of a slow path found by the allocator benchmarks
//! (BENCHMARKS.md, "Global allocator", (b)): `vec![0u8; n]` of 64 MiB whose
//! pages hold old data, through wasm-vmem's allocator and through dlmalloc
//! (over the same kind of simulated linear memory), then a byte written
//! per 4 KiB. wasm-vmem zeroes the block in `BATCH_PAGES` pieces (1 MiB);
//! dlmalloc with one `memset` over the whole block. For comparison, the
//! same block zeroed with one `write_bytes` and in 1 MiB pieces.
//!
//! `cargo run --release -p wasm-vmem-bench --example zeroing_pieces [MiB]`

use std::alloc::{GlobalAlloc, Layout};
use std::time::Instant;
use wasm_vmem::sys::SimMemory;
use wasm_vmem_bench::alloc::{Dlmalloc, GrowSys};

/// Medians over 9 reuses (after one on fresh memory) of: `alloc_zeroed`,
/// then the touch loop, in ms.
fn run(a: &dyn GlobalAlloc, n: usize) -> (f64, f64) {
    let l = Layout::from_size_align(n, 1).unwrap();
    let (mut z, mut t) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let t0 = Instant::now();
        // SAFETY: non-zero size; freed below.
        let p = unsafe { a.alloc_zeroed(l) };
        let t1 = Instant::now();
        for off in (0..n).step_by(4096) {
            // SAFETY: inside the block.
            unsafe { p.add(off).write(1) };
        }
        let t2 = Instant::now();
        // SAFETY: allocated above.
        unsafe { a.dealloc(p, l) };
        if i > 0 {
            z.push((t1 - t0).as_secs_f64() * 1e3);
            t.push((t2 - t1).as_secs_f64() * 1e3);
        }
    }
    (med(z), med(t))
}

fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let n = mib << 20;
    let vm = wasm_vmem::mt::Alloc::new(SimMemory::new(n * 2));
    let dl = Dlmalloc::new(GrowSys(SimMemory::new(n * 2)));
    println!("{mib} MiB, pages holding old data, median ms: zeroing + touching a byte per 4 KiB");
    for _ in 0..2 {
        let (z, t) = run(&vm, n);
        println!("  wasm-vmem mt::Alloc  {z:8.3} + {t:8.3}");
        let (z, t) = run(&dl, n);
        println!("  dlmalloc             {z:8.3} + {t:8.3}");
    }
    let piece = wasm_vmem::BATCH_PAGES * wasm_vmem::PAGE_SIZE;
    let l = Layout::from_size_align(n, 1).unwrap();
    // SAFETY: non-zero size; freed below.
    let p = unsafe { dl.alloc(l) };
    for (label, step) in [("one write_bytes", n), ("1 MiB pieces   ", piece)] {
        let v = (0..9)
            .map(|_| {
                let t0 = Instant::now();
                for off in (0..n).step_by(step) {
                    // SAFETY: inside the block.
                    unsafe { p.add(off).write_bytes(0, step) };
                }
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        println!("  {label}      {:8.3}", med(v));
    }
    // SAFETY: allocated above.
    unsafe { dl.dealloc(p, l) };
}
