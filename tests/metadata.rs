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
    a_new_storage_takes_a_free_run_and_growth_still_joins_the_end,
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

/// A table that needs a larger storage takes a free run of its own for it
/// when one fits, instead of growing the memory: a region grown at the
/// memory's end would sit between the last reservation and the growth
/// behind it, so the reservation could not grow in place (nor a free run
/// there join the growth). Shown failing with the region always grown.
fn a_new_storage_takes_a_free_run_and_growth_still_joins_the_end<P: Policy>() {
    let vm = vmem::<P>(1 << 30);
    // The first storage (one wasm page) describes about 5,000 pages (78
    // MiB): a MiB, then 60 MiB at the memory's end.
    let a = vm.reserve_in(0, MIB, PAGE_SIZE).unwrap().as_ptr();
    let b = vm.reserve_in(0, 60 * MIB, PAGE_SIZE).unwrap().as_ptr();
    let first = vm.metadata_regions();
    // SAFETY: ours, not used again.
    unsafe { vm.release(a, MIB).unwrap() };
    let before = vm.stats();
    // Growing `b` to 100 MiB in place needs a larger storage.
    // SAFETY: `b` is ours, 60 MiB long.
    assert_eq!(unsafe { vm.extend(b, 60 * MIB, 100 * MIB) }, Ok(()));
    let now = vm.metadata_regions();
    assert_ne!(now, first, "the storage moved");
    let (m, n) = now[0];
    assert!(
        addr(a) <= m && m + n <= addr(a) + MIB,
        "into the freed MiB: {now:?}, the MiB at {:#x}",
        addr(a)
    );
    let s = vm.stats();
    assert_eq!(s.grows, before.grows + 1, "one growth, for `b` alone");
    assert_eq!(s.reserved_bytes, u64b(100 * MIB));
    assert!(balanced(&s), "{s:?}");
    vm.check_invariants();
    // SAFETY: ours, 100 MiB now, not used again.
    unsafe { vm.release(b, 100 * MIB).unwrap() };
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

/// A memory where someone else grows `foreign` wasm pages inside our first
/// `memory.grow`, just before it.
struct PushedUp {
    sim: SimMemory,
    foreign: std::cell::Cell<usize>,
}

// SAFETY: forwards to the `SimMemory`; the one addition is a foreign growth
// before our first grow, itself a `SimMemory` growth.
unsafe impl LinearMemory for PushedUp {
    fn size(&self) -> usize {
        self.sim.size()
    }
    fn grow(&self, delta: usize) -> Option<usize> {
        let foreign = self.foreign.take();
        if foreign > 0 {
            // Someone else's growth, left untouched (1 GiB is not filled).
            self.sim.grow(foreign)?;
        }
        self.sim.grow(delta)
    }
    fn base(&self) -> usize {
        self.sim.base()
    }
    fn maximum(&self) -> Option<usize> {
        self.sim.maximum()
    }
}

/// The first storage region lands far above where it was planned (someone
/// else grew 1 GiB and more inside its `memory.grow`), above what its one
/// wasm page can describe (13,107 pages at most, at a state byte and a run
/// tag of 4 bytes each): its grower keeps
/// it, grows a storage that covers it, and gives it back as free pages.
/// Nothing is lost.
#[test]
fn a_storage_pushed_out_of_its_own_reach_is_given_back() {
    let foreign = 17_000;
    let memory = PushedUp {
        sim: SimMemory::new(2 << 30),
        foreign: std::cell::Cell::new(foreign),
    };
    let vm = GenericVmem::<_, SingleThreaded>::new(memory);
    let p = vm.reserve(PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    assert!(unsafe { all(p, PAGE_SIZE, 0) });
    let s = vm.stats();
    assert!(balanced(&s), "{s:?}");
    let foreign_bytes = u64b(foreign * WASM_PAGE_SIZE);
    assert_eq!(
        s.owned_bytes + foreign_bytes,
        s.linear_memory_bytes,
        "nothing lost"
    );
    let w = WASM_PAGE_SIZE as u64;
    // 68,004 pages to describe, 5 bytes each and the run nodes: 6 wasm
    // pages.
    assert_eq!(
        s.metadata_bytes,
        6 * w,
        "one storage in use, of 6 wasm pages"
    );
    assert_eq!(s.grows, 3, "the region kept, the storage, the data");
    // The kept region (zeroed by its grower) and the rest of the data's
    // wasm page are free and read zero.
    assert_eq!(s.free_zero_bytes, w + u64b(pages(3)));
    assert_eq!(addr(p), vm.memory().base() + (foreign + 7) * WASM_PAGE_SIZE);
    vm.check_invariants();
}
