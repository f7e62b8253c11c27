//! The library never calls the global allocator (it is to be one): every
//! operation of both builds, with growth, storage doublings, steals across
//! arenas, statistics and limits, runs while this thread's global
//! allocations are counted, and the count must stay 0. `SimMemory` takes
//! its region from `std::alloc::System` (feature `std`), which is not
//! counted. Test hooks that allocate (`check_invariants`,
//! `metadata_regions`) run outside the counted spans.
#![cfg(all(not(target_arch = "wasm32"), feature = "std"))]

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if WATCHING.with(Cell::get) {
        COUNT.with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: forwards to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `f` and returns how many global allocations this thread made.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    WATCHING.with(|w| w.set(true));
    let r = f();
    WATCHING.with(|w| w.set(false));
    (r, COUNT.with(Cell::get))
}

fn no_allocation<P: Policy>() {
    // 8 GiB of address space; what is never touched costs nothing.
    let (vm, n) = allocations(|| Vm::<P>::new(SimMemory::new(8 << 30)));
    assert_eq!(n, 0, "construction (the region comes from System)");
    let mut big = Vec::with_capacity(64);
    let mut small = Vec::with_capacity(4096);
    let ((), n) = allocations(|| {
        // Large untouched reservations: the storage doubles several times.
        for i in 0..48 {
            let arena = i % P::ARENAS;
            let p = vm.reserve_in(arena, 64 * MIB, PAGE_SIZE).unwrap();
            big.push(p.as_ptr());
        }
        // Small ones with every operation, scattered over the arenas.
        for i in 0..2000usize {
            let len = pages(1 + i % 5);
            let p = vm
                .reserve_in(i % P::ARENAS, len, PAGE_SIZE << (i % 3))
                .unwrap();
            let p = p.as_ptr();
            // SAFETY: ours.
            unsafe {
                fill(p, len, 1);
                vm.decommit(p, len).unwrap();
                vm.commit(p, len).unwrap();
                assert_eq!(vm.reset(p, len), Ok(false));
                if i % 2 == 0 {
                    vm.release(p, len).unwrap();
                } else {
                    small.push((p, len));
                }
            }
        }
        // Release half the large ones, then reserve from another arena:
        // stolen pages.
        for &p in &big[..24] {
            // SAFETY: ours, not used again.
            unsafe { vm.release(p, 64 * MIB).unwrap() };
        }
        for i in 0..24 {
            vm.reserve_in(i + 1, 32 * MIB, PAGE_SIZE).unwrap();
        }
        let _ = vm.stats();
        let _ = vm.limits();
    });
    assert_eq!(n, 0, "wasm-vmem called the global allocator {n} times");
    let s = vm.stats();
    assert!(s.metadata_bytes > 0 && s.free_dirty_bytes > 0, "{s:?}");
    assert!(balanced(&s));
    vm.check_invariants();
}

#[test]
fn single_threaded_build_never_allocates() {
    no_allocation::<SingleThreaded>();
}

#[test]
fn multithreaded_build_never_allocates() {
    no_allocation::<MultiThreaded>();
}

#[test]
fn the_counter_counts() {
    let (v, n) = allocations(|| vec![1u8; 10]);
    assert_eq!((v.len(), n), (10, 1), "the check can fail");
}
