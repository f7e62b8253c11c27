//! The global instance over the module's real linear memory (wasm32 only):
//! run by `scripts/test-wasm.sh` under Node (single-threaded build) and in
//! headless Chromium (multithreaded build, shared memory).
#![cfg(target_arch = "wasm32")]

use core::arch::wasm32::{memory_grow, memory_size};
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_vmem::{global, Error, PAGE_SIZE, WASM_PAGE_SIZE};

fn all(p: *const u8, len: usize, byte: u8) -> bool {
    // SAFETY: callers pass committed memory they own, or foreign memory
    // they grew themselves.
    unsafe { core::slice::from_raw_parts(p, len) }
        .iter()
        .all(|&b| b == byte)
}

#[wasm_bindgen_test]
fn global_instance_over_real_memory() {
    let vm = global();
    assert_eq!(
        cfg!(feature = "threads"),
        cfg!(target_feature = "atomics"),
        "the build matches its variant"
    );
    let p = vm
        .reserve(3 * PAGE_SIZE + 1, WASM_PAGE_SIZE)
        .unwrap()
        .as_ptr();
    assert_eq!(p as usize % WASM_PAGE_SIZE, 0);
    assert!(all(p, 4 * PAGE_SIZE, 0), "reserve reads zero");
    // SAFETY: our reservation.
    unsafe { p.write_bytes(0x5A, 4 * PAGE_SIZE) };

    // Someone else calls memory.grow between two of ours.
    let foreign = memory_grow::<0>(1);
    assert_ne!(foreign, usize::MAX);
    let foreign = (foreign * WASM_PAGE_SIZE) as *mut u8;
    // SAFETY: the page we just grew ourselves, as "someone else".
    unsafe { foreign.write_bytes(0xF0, WASM_PAGE_SIZE) };

    let q = vm.reserve(2 * PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
    let (q0, f0) = (q as usize, foreign as usize);
    assert!(
        q0 + 2 * PAGE_SIZE <= f0 || f0 + WASM_PAGE_SIZE <= q0,
        "foreign never handed out"
    );
    assert!(all(q, 2 * PAGE_SIZE, 0));

    // SAFETY: sub-ranges of our reservations.
    unsafe {
        vm.decommit(p.add(PAGE_SIZE), 2 * PAGE_SIZE).unwrap();
        vm.commit(p, 4 * PAGE_SIZE).unwrap();
    }
    assert!(all(p, PAGE_SIZE, 0x5A) && all(p.wrapping_add(3 * PAGE_SIZE), PAGE_SIZE, 0x5A));
    assert!(
        all(p.wrapping_add(PAGE_SIZE), 2 * PAGE_SIZE, 0),
        "decommit + commit reads zero"
    );

    // SAFETY: must be refused: foreign memory.
    let err = unsafe { vm.commit(foreign, PAGE_SIZE) };
    assert!(matches!(err, Err(Error::NotReserved { .. })));
    assert!(all(foreign, WASM_PAGE_SIZE, 0xF0), "foreign untouched");

    // SAFETY: ours, not used again.
    unsafe {
        vm.release(p, 4 * PAGE_SIZE).unwrap();
        vm.release(q, 2 * PAGE_SIZE).unwrap();
        assert!(matches!(
            vm.release(q, 2 * PAGE_SIZE),
            Err(Error::NotReserved { .. })
        ));
    }
    let s = vm.stats();
    assert_eq!(
        s.linear_memory_bytes,
        (memory_size::<0>() * WASM_PAGE_SIZE) as u64
    );
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    // The page tables live in linear memory too, never handed out.
    assert!(s.metadata_bytes >= WASM_PAGE_SIZE as u64);
    assert!(s.owned_bytes >= 6 * PAGE_SIZE as u64 + s.metadata_bytes);
    assert_eq!(vm.limits().total_physical_bytes, 4 << 30);
    vm.check_invariants();
}
