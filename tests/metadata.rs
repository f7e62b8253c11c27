//! Where the page tables live (docs/DESIGN.md §5, "Where metadata lives"):
//! in pages the instance grew for them, never handed out, counted in
//! `Stats::metadata_bytes`; a storage the table left is reused as free
//! dirty pages; storage growths racing in one arena lose no page. Native
//! only: these memories reach gigabytes of (untouched) address space.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;

both_builds!(
    metadata_pages_are_never_handed_out,
    storage_left_behind_is_reused_as_dirty_pages,
);

/// Whether `p .. p + len` overlaps a metadata region of `vm`.
fn on_metadata<P: Policy>(vm: &Vm<P>, p: *mut u8, len: usize) -> bool {
    let a = addr(p);
    vm.metadata_regions()
        .iter()
        .any(|&(m, n)| a < m + n && m < a + len)
}

fn metadata_pages_are_never_handed_out<P: Policy>() {
    let vm = vmem::<P>(64 * MIB);
    let mut live = Vec::new();
    for i in 0..400usize {
        let len = pages(1 + i * 7 % 13);
        let p = vm
            .reserve_in(i % P::ARENAS, len, PAGE_SIZE << (i % 3))
            .unwrap()
            .as_ptr();
        assert!(!on_metadata(&vm, p, len), "reservation {i} on metadata");
        live.push((p, len));
        if i % 3 == 2 {
            let (q, n) = live.swap_remove(i * 5 % live.len());
            // SAFETY: ours, not used again.
            unsafe { vm.release(q, n).unwrap() };
        }
        let s = vm.stats();
        assert!(balanced(&s), "{s:?}");
    }
    // Live reservations never overlap the metadata as it is now either.
    for &(p, len) in &live {
        assert!(!on_metadata(&vm, p, len));
    }
    let s = vm.stats();
    let arenas_used = vm.metadata_regions().len();
    assert_eq!(arenas_used, P::ARENAS.min(400), "one storage per arena");
    assert_eq!(s.metadata_bytes, arenas_used as u64 * FIRST_STORAGE);
    assert_eq!(s.linear_memory_bytes, s.owned_bytes, "nothing else grew");
    vm.check_invariants();
}

fn storage_left_behind_is_reused_as_dirty_pages<P: Policy>() {
    // 8 GiB of address space; the reservations are never touched.
    let vm = vmem::<P>(8 << 30);
    let mut regions: Vec<(usize, usize)> = vm.metadata_regions();
    let mut left: Vec<(usize, usize)> = Vec::new();
    let mut kept = Vec::new();
    for _ in 0..64 {
        let p = vm.reserve_in(0, 64 * MIB, PAGE_SIZE).unwrap().as_ptr();
        assert!(!on_metadata(&vm, p, 64 * MIB));
        kept.push(p);
        let now = vm.metadata_regions();
        if now != regions {
            left.extend(regions.iter().filter(|r| !now.contains(r)));
            regions = now;
        }
        let s = vm.stats();
        assert!(balanced(&s), "{s:?}");
        let left_bytes: usize = left.iter().map(|&(_, n)| n).sum();
        // Nothing was ever released: the only dirty pages are the storage
        // left behind.
        assert_eq!(s.free_dirty_bytes, u64b(left_bytes));
        assert_eq!(
            s.metadata_bytes,
            u64b(regions.iter().map(|&(_, n)| n).sum())
        );
        vm.check_invariants();
    }
    assert!(left.len() >= 4, "the storage doubled: {left:?}");
    let s = vm.stats();
    assert!(s.metadata_bytes < s.owned_bytes / 256, "{s:?}");
    // Each storage left behind is a free dirty run of its own: a
    // reservation of its size takes it (best fit), zeroing it.
    for &(a, n) in &left {
        let before = vm.stats();
        let p = vm.reserve_in(0, n, PAGE_SIZE).unwrap().as_ptr();
        assert_eq!(addr(p), a, "the old storage's pages are reused");
        // SAFETY: just reserved.
        assert!(unsafe { all(p, n, 0) }, "and read zero");
        let s = vm.stats();
        assert_eq!(s.bytes_zeroed - before.bytes_zeroed, u64b(n));
        assert_eq!(s.grows, before.grows, "no growth");
    }
    let s = vm.stats();
    assert_eq!(s.free_dirty_bytes, 0);
    assert!(balanced(&s));
    vm.check_invariants();
}

/// Threads reserving in one arena at once race to grow its storage: the
/// region that is not adopted becomes free pages, so every byte grown is
/// owned (the memory has no foreign growth) and the sums stay exact.
#[test]
fn racing_storage_growths_lose_no_page() {
    for round in 0..4 {
        let vm = GenericVmem::<_, MultiThreaded>::new(SimMemory::new(8 << 30));
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..24 {
                        vm.reserve_in(0, 16 * MIB, PAGE_SIZE).unwrap();
                    }
                });
            }
        });
        let s = vm.stats();
        assert!(balanced(&s), "round {round}: {s:?}");
        assert_eq!(s.reserved_bytes, u64b(96 * 16 * MIB));
        assert_eq!(
            s.owned_bytes, s.linear_memory_bytes,
            "round {round}: a storage region was lost"
        );
        vm.check_invariants();
    }
}
