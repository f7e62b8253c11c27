//! The single-threaded allocator (`st::Alloc`) as the global allocator of
//! a release build, with rayon 1.12.0's `par_bridge_recursion` workload
//! run on a pool of one thread, the calling one: the shape of
//! `par_bridge_mt.rs` for the other build (docs/llvm-crash.md). Its own
//! `main` (`harness = false`), so that no other thread exists: `st::Alloc`
//! is not `Sync`, and the wrapper below may claim it only because the
//! program checks that it runs on one thread.

use rayon::prelude::*;
use std::alloc::{GlobalAlloc, Layout};
use std::iter::once_with;
use wasm_vmem::st;
use wasm_vmem::sys::SimMemory;

const N: usize = 100_000;

/// `st::Alloc` over a lazily mapped `SimMemory`, shareable in a `static`.
struct OneThread(st::Alloc<SimMemory>);

// SAFETY: the program runs a single thread (`main` checks it before and
// after the workload), so the allocator is never used by two threads.
unsafe impl Sync for OneThread {}

// SAFETY: every call is forwarded to the inner allocator, which upholds
// the `GlobalAlloc` contract. `#[inline]` as in `GenericAlloc`, so that the
// allocation entry points keep the shape they have without the wrapper.
unsafe impl GlobalAlloc for OneThread {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.0.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.0.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.0.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: OneThread = OneThread(st::Alloc::new(SimMemory::lazy(64 << 30)));

/// Threads of this process, as Linux counts them.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("Threads:"));
    line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("a Threads: line")
}

fn main() {
    assert_eq!(
        threads(),
        1,
        "the single-threaded allocator needs one thread"
    );
    // The calling thread is the pool's only thread: rayon spawns none.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .unwrap();
    assert_eq!(threads(), 1, "rayon spawned a thread");

    let seq: Vec<_> = (0..N).map(|i| (i, i.to_string())).collect();

    pool.broadcast(|_| {
        let mut par: Vec<_> = (0..N)
            .into_par_iter()
            .flat_map(|i| {
                once_with(move || rayon::join(move || i, move || i.to_string())).par_bridge()
            })
            .collect();
        par.par_sort_unstable();
        assert_eq!(seq, par);
    });
    assert_eq!(threads(), 1, "a thread was spawned");
    let stats = A.0.stats();
    assert!(stats.in_use_bytes > 0, "the allocator served the program");
    println!("par_bridge_st: ok, one thread, {stats:?}");
}
