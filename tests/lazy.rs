//! `SimMemory::lazy` (feature `std`): a memory that takes nothing at
//! construction and its region from the host (`std::alloc::System`, never
//! the global allocator) on first use, race-free between threads; a lazy
//! memory under an `mt::Vmem` in a `static`.
#![cfg(all(not(target_arch = "wasm32"), feature = "std"))]

mod common;
use common::*;
use std::sync::Barrier;
use wasm_vmem::mt;

/// A whole instance in a `static`: `SimMemory::lazy` and `Vmem::new` are
/// `const`, as a `#[global_allocator]` needs.
static VM: mt::Vmem<SimMemory> = mt::Vmem::new(SimMemory::lazy(64 << 30));

#[test]
fn lazy_memory_works_like_an_eager_one() {
    let m = SimMemory::lazy(16 * MIB);
    assert_eq!(m.size(), 0, "nothing grown");
    let base = m.base();
    assert_eq!(base % WASM_PAGE_SIZE, 0);
    assert_eq!(m.base(), base, "the base never moves");
    assert_eq!(m.maximum(), Some(16 * MIB / WASM_PAGE_SIZE));
    assert_eq!(m.grow(2), Some(0));
    assert_eq!(m.grow(1000), None, "past the maximum");
    // SAFETY: the two grown wasm pages are inside the memory, fresh.
    assert!(unsafe { all(base as *const u8, 2 * WASM_PAGE_SIZE, 0) });
}

#[test]
fn first_use_from_two_threads_at_once() {
    for round in 0..200 {
        let m = SimMemory::lazy(4 * MIB);
        let barrier = Barrier::new(2);
        // One thread grows first thing, the other asks for the base: either
        // may create the region; both must see the same one.
        let (a, b) = std::thread::scope(|s| {
            let grower = s.spawn(|| {
                barrier.wait();
                let old = m.grow(1).unwrap();
                (old, m.base())
            });
            let reader = s.spawn(|| {
                barrier.wait();
                let base = m.base();
                (m.grow(1).unwrap(), base)
            });
            (grower.join().unwrap(), reader.join().unwrap())
        });
        assert_eq!(a.1, b.1, "round {round}: one region");
        assert_ne!(a.0, b.0, "round {round}: distinct growth");
        assert_eq!(m.size(), 2);
    }
}

#[test]
fn lazy_memory_under_a_static_multithreaded_instance() {
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait(); // all four make the first use at once
                for round in 0..50 {
                    let len = pages(1 + (round + t as usize) % 9);
                    let p = VM.reserve(len, PAGE_SIZE).unwrap().as_ptr();
                    // SAFETY: our reservation, released below.
                    unsafe {
                        assert!(all(p, len, 0), "reads zero");
                        fill(p, len, t + 1);
                        assert!(all(p, len, t + 1));
                        VM.release(p, len).unwrap();
                    }
                }
            });
        }
    });
    let s = VM.stats();
    assert_eq!(s.reserved_bytes, 0);
    assert!(balanced(&s), "{s:?}");
    assert_eq!(
        s.owned_bytes, s.linear_memory_bytes,
        "nothing foreign, nothing lost"
    );
    VM.check_invariants();
}

#[test]
fn a_lazy_memory_of_64_gib_reserves_address_space_not_memory() {
    let m = SimMemory::lazy(64 << 30);
    // On hosts that refuse so large a mapping, what was granted (halved
    // until granted) is the maximum. Linux grants it whole unless
    // overcommit is strict (mode 2): the region is mapped with
    // `MAP_NORESERVE`, address space without a claim on RAM or swap.
    let max = m.maximum().unwrap();
    let full = (64 << 30) / WASM_PAGE_SIZE;
    assert!(max.is_power_of_two() || max == full);
    if cfg!(target_os = "linux") {
        let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
        if mode.trim() != "2" {
            assert_eq!(
                max, full,
                "64 GiB of address space (overcommit mode {mode:?})"
            );
        }
    }
    assert!(max >= (1 << 30) / WASM_PAGE_SIZE, "at least 1 GiB: {max}");
    let vm = mt::Vmem::new(m);
    // Half the maximum, untouched: costs address space only.
    let half = max / 2 * WASM_PAGE_SIZE;
    let p = vm.reserve(half, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours: first and last byte.
    unsafe {
        assert_eq!(p.read(), 0);
        assert_eq!(p.add(half - 1).read(), 0);
    }
    assert!(balanced(&vm.stats()));
}
