//! The 4 GiB edge of wasm32, over the module's real linear memory: run by
//! `scripts/test-wasm.sh` under Node (single-threaded build, no declared
//! maximum, so the engine's 4 GiB is the limit and `Wasm32Memory::BUILD`
//! assumes it). Grows the memory to its very maximum — pages that are never
//! touched cost nothing — and checks the byte arithmetic where `usize`
//! overflows: the limit check (2 GiB + 2 GiB is 0 in wasm32 `usize`),
//! `stats()` at 2^32 bytes of linear memory, `limits()`, `LimitExceeded`
//! and `OutOfMemory`.
//!
//! One test function: the steps share the one linear memory and must run in
//! this order.
#![cfg(target_arch = "wasm32")]

use core::arch::wasm32::{memory_grow, memory_size};
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_vmem::sys::{LinearMemory, Wasm32Memory};
use wasm_vmem::{Error, Stats, Vmem, PAGE_SIZE};

const GIB: u64 = 1 << 30;
const FOUR_GIB: u64 = 4 * GIB;
/// 2 GiB as a wasm32 `usize` (the largest power of two it holds).
const TWO_GIB: usize = 1 << 31;

/// Owned bytes are exactly reserved + free + metadata (the page tables,
/// in linear memory the instance grew), at every step.
fn balanced(s: &Stats) {
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    assert!(s.metadata_bytes > 0);
    assert!(s.owned_bytes <= s.linear_memory_bytes);
}

#[wasm_bindgen_test]
fn four_gib_edge() {
    let memory = Wasm32Memory::BUILD;
    assert_eq!(memory.maximum(), Some(65536), "this build assumes 4 GiB");

    // The limit check compares pages: 2 GiB reserved + 2 GiB asked under a
    // 3 GiB limit is refused as over the limit (in `usize` bytes the sum
    // wraps to 0 and would pass).
    let limited = Vmem::with_limit(memory, 3 * GIB);
    let a = limited.reserve(TWO_GIB, PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(limited.stats().reserved_bytes, 2 * GIB);
    assert_eq!(
        limited.reserve(TWO_GIB, PAGE_SIZE),
        Err(Error::LimitExceeded {
            size: TWO_GIB,
            reserved: 2 * GIB,
            limit: 3 * GIB,
        })
    );
    // The first and last byte of the 2 GiB are ours and read zero (fresh
    // memory, never written by wasm-vmem).
    // SAFETY: inside the reservation just made.
    unsafe {
        assert_eq!(a.read(), 0);
        assert_eq!(a.add(TWO_GIB - 1).read(), 0);
        a.write(1);
    }
    let before = limited.stats();
    balanced(&before);

    // A second instance over the same memory: the first one's pages are
    // foreign to it. Fill the rest of the 4 GiB with it, larger requests
    // first; each stops with `OutOfMemory` and changes nothing.
    let vm = Vmem::new(memory);
    let mut reserved: u64 = 0;
    for chunk in [
        GIB as usize,
        256 << 20,
        16 << 20,
        1 << 20,
        64 << 10,
        PAGE_SIZE,
    ] {
        loop {
            let s = vm.stats();
            match vm.reserve(chunk, PAGE_SIZE) {
                Ok(_) => reserved += chunk as u64,
                Err(Error::OutOfMemory { size }) => {
                    assert_eq!(size, chunk);
                    let after = vm.stats();
                    // A failed grow may still have recorded growth for a
                    // retry; nothing reserved changes.
                    assert_eq!(after.reserved_bytes, s.reserved_bytes);
                    assert_eq!(after.committed_bytes, s.committed_bytes);
                    break;
                }
                Err(e) => panic!("{chunk} bytes: unexpected {e}"),
            }
        }
    }
    let s = vm.stats();
    assert_eq!(s.reserved_bytes, reserved);
    assert!(
        reserved > GIB + GIB / 2,
        "most of the other 2 GiB: {reserved}"
    );
    balanced(&s);

    // Whatever is left below the maximum (the table's storage, which must
    // fit with the growth it is for, and the global allocator's needs
    // stopped us) is grown by "someone else", so that the memory is at
    // exactly 4 GiB.
    while memory_grow::<0>(1) != usize::MAX {}
    assert_eq!(memory_size::<0>(), 65536);
    let s = vm.stats();
    assert_eq!(s.linear_memory_bytes, FOUR_GIB, "2^32 bytes, no overflow");
    balanced(&s);
    let l = vm.limits();
    assert_eq!(l.total_physical_bytes, FOUR_GIB);
    assert_eq!(l.hard_limit_bytes, 3 * GIB);
    assert_eq!(l.largest_segment_bytes, 512 << 20);
    assert_eq!(l.reserve_limit_bytes, FOUR_GIB);
    assert_eq!(l.memory_load_percent, 100);

    // At the maximum: free pages of `vm` (if any) are used, then the next
    // request is out of memory.
    let free = s.free_zero_bytes + s.free_dirty_bytes;
    for _ in 0..free / PAGE_SIZE as u64 {
        vm.reserve(PAGE_SIZE, PAGE_SIZE).unwrap();
    }
    assert_eq!(
        vm.reserve(PAGE_SIZE, PAGE_SIZE),
        Err(Error::OutOfMemory { size: PAGE_SIZE })
    );
    assert_eq!(
        limited.reserve(PAGE_SIZE, PAGE_SIZE),
        Err(Error::OutOfMemory { size: PAGE_SIZE })
    );
    assert_eq!(limited.stats().linear_memory_bytes, FOUR_GIB);
    // Everything of the first instance is intact.
    // SAFETY: still reserved by `limited`.
    assert_eq!(unsafe { a.read() }, 1);
    let s = limited.stats();
    assert_eq!(
        (s.reserved_bytes, s.owned_bytes),
        (before.reserved_bytes, before.owned_bytes)
    );
    // Releasing at the edge and reserving again works: the first MiB (one
    // page of it written) comes back dirty and is zeroed for its new owner.
    // SAFETY: part of `limited`'s reservation, not used afterwards.
    unsafe { limited.release(a, 1 << 20).unwrap() };
    let b = limited.reserve(1 << 20, PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(b, a, "the released pages are reused at the maximum");
    // SAFETY: just reserved.
    assert_eq!(unsafe { b.read() }, 0);
    let s = limited.stats();
    assert_eq!(s.reserved_bytes, 2 * GIB);
    assert_eq!(s.bytes_zeroed, 1 << 20, "released pages zeroed on reuse");
    balanced(&s);
}
