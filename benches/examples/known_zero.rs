//! `vec![0u8; n]` where wasm-vmem knows the pages are zero and they are
//! already in memory: a GC released pages it had decommitted (the
//! multithreaded build zeroes at decommit), and the app then allocates
//! zeroed vectors from them (BENCHMARKS.md, "Global allocator", (b)).
//! wasm-vmem writes nothing; dlmalloc and talc, which cannot know, zero
//! their reused memory. Each timed step: `alloc_zeroed` of `n` bytes and a
//! byte written per 4 KiB; setup (the GC's decommit and release, the
//! baselines' earlier use of the memory) untimed. Medians of 15.
//!
//! `cargo run --release -p wasm-vmem-bench --example known_zero`

use std::alloc::{GlobalAlloc, Layout};
use std::time::Instant;
use wasm_vmem::sys::SimMemory;
use wasm_vmem_bench::alloc::native::TalcArena;
use wasm_vmem_bench::alloc::{Dlmalloc, GrowSys};

const REPS: usize = 15;

/// `alloc_zeroed` + a byte per 4 KiB, then free; µs of the first two.
fn timed(a: &dyn GlobalAlloc, n: usize) -> f64 {
    let l = Layout::from_size_align(n, 8).unwrap();
    let t0 = Instant::now();
    // SAFETY: non-zero size; freed below.
    let p = unsafe { a.alloc_zeroed(l) };
    assert!(!p.is_null());
    for off in (0..n).step_by(4096) {
        // SAFETY: inside the block.
        unsafe { p.add(off).write(1) };
    }
    let us = t0.elapsed().as_secs_f64() * 1e6;
    // SAFETY: allocated above.
    unsafe { a.dealloc(p, l) };
    us
}

/// Uses `n` bytes of `a`'s memory once (written whole, freed): what the
/// app's allocator holds from earlier work.
fn dirty(a: &dyn GlobalAlloc, n: usize) {
    let l = Layout::from_size_align(n, 8).unwrap();
    // SAFETY: non-zero size; freed below.
    unsafe {
        let p = a.alloc(l);
        p.write_bytes(0xA5, n);
        a.dealloc(p, l);
    }
}

fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let vm = wasm_vmem::mt::Alloc::new(SimMemory::new(1 << 30));
    let dl = Dlmalloc::new(GrowSys(SimMemory::new(1 << 30)));
    let talc = TalcArena::new(1 << 30);
    println!("| size | wasm-vmem (MT), pages zeroed at decommit | dlmalloc, reused | talc, reused | dlmalloc ÷ wasm-vmem | talc ÷ wasm-vmem |");
    println!("|---|---|---|---|---|---|");
    for n in [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20] {
        let (mut v, mut d, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPS {
            // The GC's pages: reserved, written, decommitted (zeroed now,
            // by the GC's thread), released: free and known zero.
            let pool = vm.vmem();
            let p = pool.reserve(n, 1).unwrap().as_ptr();
            // SAFETY: the reservation is ours until released.
            unsafe {
                p.write_bytes(0x5A, n);
                pool.decommit(p, n).unwrap();
                pool.release(p, n).unwrap();
            }
            let before = vm.stats().zeroed_bytes;
            v.push(timed(&vm, n));
            assert_eq!(vm.stats().zeroed_bytes, before, "nothing zeroed");
            dirty(&dl, n);
            d.push(timed(&dl, n));
            dirty(&talc, n);
            t.push(timed(&talc, n));
        }
        let (v, d, t) = (med(v), med(d), med(t));
        println!(
            "| {} KiB | {v:.1} µs | {d:.1} µs | {t:.1} µs | {:.2} | {:.2} |",
            n >> 10,
            d / v,
            t / v
        );
    }
}
