//! The contract of docs/DESIGN.md §4, one group of tests per rule, each run over
//! both builds (`st::*` and `mt::*`).

mod common;
use common::*;
use wasm_vmem::sys::sim::FOREIGN_FILL;
use wasm_vmem::SENTINEL;

both_builds!(
    rule1_reserve_rounds_aligns_and_reads_zero,
    rule1_reserve_of_reused_dirty_pages_reads_zero,
    rule1_long_reuse_of_mixed_pages_reads_zero_across_batches,
    rule1_reservations_never_overlap,
    rule2_commit_keeps_committed_data,
    rule2_commit_mixed_range_page_by_page,
    rule3_decommit_then_commit_reads_zero_on_every_subrange,
    rule3_decommit_twice_zeroes_once,
    rule4_reset_is_unsupported_and_changes_nothing,
    rule5_partial_release_and_reuse,
    rule5_released_pages_are_reused_before_growing,
    rule6_bad_requests_are_errors,
    rule7_bad_ranges_are_errors_and_change_nothing,
    rule7_double_release_is_an_error,
    rule7_long_range_is_checked_before_any_change,
    rule8_grow_failure_leaves_everything_intact,
    rule8_limit_is_enforced,
    rule8_memory_maximum_is_out_of_memory,
    rule9_foreign_memory_is_never_handed_out_or_touched,
    rule9_contiguous_growth_is_stitched,
    rule10_stats_are_exact,
    rule11_limits_follow_coreclr,
    policy_decommit_zeroing,
    rule12_extend_grows_into_free_pages,
    rule12_extend_grows_at_the_memory_end,
    rule12_extend_is_one_reservation,
    rule12_extend_not_free_changes_nothing,
    rule12_extend_limit_and_bad_ranges,
);

fn rule1_reserve_rounds_aligns_and_reads_zero<P: Policy>() {
    let vm = vmem::<P>(64 * MIB);
    let mut reserved = 0;
    for (size, align) in [
        (1, 1),
        (PAGE_SIZE, 8),
        (PAGE_SIZE + 1, PAGE_SIZE),
        (3 * PAGE_SIZE - 7, 64 * KIB),
        (100 * KIB, MIB),
        (5 * MIB, 4 * MIB),
    ] {
        let p = vm.reserve(size, align).unwrap().as_ptr();
        let rounded = size.next_multiple_of(PAGE_SIZE);
        assert_eq!(addr(p) % align.max(PAGE_SIZE), 0, "aligned: {size} {align}");
        assert!(vm.memory().contains(addr(p), rounded));
        // SAFETY: just reserved, committed.
        assert!(unsafe { all(p, rounded, 0) }, "reads zero");
        // SAFETY: as above.
        unsafe { fill(p, rounded, 0xAB) };
        reserved += rounded;
        assert_eq!(
            vm.stats().reserved_bytes,
            u64b(reserved),
            "rounded to pages"
        );
    }
    vm.check_invariants();
}

fn rule1_reserve_of_reused_dirty_pages_reads_zero<P: Policy>() {
    let vm = vmem::<P>(16 * MIB);
    for round in 0..4u8 {
        let p = vm.reserve(pages(8), PAGE_SIZE).unwrap().as_ptr();
        // SAFETY: reserved and committed.
        assert!(unsafe { all(p, pages(8), 0) }, "round {round}");
        // SAFETY: as above.
        unsafe { fill(p, pages(8), 0x11 + round) };
        // Decommit part of it, then release all: a mix of pages.
        // SAFETY: sub-range of our reservation.
        unsafe { vm.decommit(p.add(pages(2)), pages(3)).unwrap() };
        // SAFETY: our reservation, not used afterwards.
        unsafe { vm.release(p, pages(8)).unwrap() };
    }
    let s = vm.stats();
    assert_eq!(s.metadata_bytes, FIRST_STORAGE);
    assert_eq!(
        s.owned_bytes,
        u64b(pages(8)) + FIRST_STORAGE,
        "same pages reused"
    );
    vm.check_invariants();
}

/// A reservation of several batches (`BATCH_PAGES` each) over free pages
/// that alternate between dirty and zero runs, the runs straddling batch
/// boundaries: zeroing carried from one batch to the next must cover every
/// dirty page exactly once and never write the zero ones. Then the same
/// range decommitted and committed again, across batches too.
fn rule1_long_reuse_of_mixed_pages_reads_zero_across_batches<P: Policy>() {
    let batch = wasm_vmem::BATCH_PAGES;
    let len = 3 * batch + 7;
    let vm = vmem::<P>(64 * MIB);
    let p = vm.reserve(pages(len), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: our reservation.
    unsafe { fill(p, pages(len), 0x5A) };
    // Dirty runs of 5 pages, then 3 pages decommitted (zero in the MT
    // build; sentinel, so dirty, in the ST build): not aligned to batches.
    let mut dirty_pages = len;
    for start in (5..len).step_by(8) {
        let n = 3.min(len - start);
        // SAFETY: a sub-range of our reservation.
        unsafe { vm.decommit(p.add(pages(start)), pages(n)).unwrap() };
        if eager::<P>() {
            dirty_pages -= n;
        }
    }
    // SAFETY: our reservation, not used afterwards.
    unsafe { vm.release(p, pages(len)).unwrap() };
    let before = vm.stats();
    let q = vm.reserve(pages(len), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(q, p, "the same pages, reused");
    // SAFETY: reserved and committed.
    assert!(unsafe { all(q, pages(len), 0) }, "reads zero");
    let s = vm.stats();
    assert_eq!(
        s.bytes_zeroed - before.bytes_zeroed,
        u64b(pages(dirty_pages))
    );
    assert_eq!(
        s.bytes_zero_skipped - before.bytes_zero_skipped,
        u64b(pages(len - dirty_pages))
    );
    // Decommitted and committed again as one long range.
    // SAFETY: our reservation.
    unsafe {
        fill(q, pages(len), 0xA5);
        vm.decommit(q, pages(len)).unwrap();
        vm.commit(q, pages(len)).unwrap();
        assert!(
            all(q, pages(len), 0),
            "reads zero after decommit and commit"
        );
    }
    assert_eq!(
        vm.stats().bytes_zeroed - s.bytes_zeroed,
        u64b(pages(len)),
        "each page zeroed once"
    );
    vm.check_invariants();
}

fn rule1_reservations_never_overlap<P: Policy>() {
    let vm = vmem::<P>(64 * MIB);
    let mut live: Vec<(usize, usize)> = Vec::new();
    let mut seed = 0x2545_f491_u32;
    for i in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        if seed.is_multiple_of(3) && !live.is_empty() {
            let (a, len) = live.swap_remove(seed as usize % live.len());
            // SAFETY: a live reservation of ours.
            unsafe { vm.release(a as *mut u8, len).unwrap() };
            continue;
        }
        let len = pages(1 + seed as usize % 9);
        let align = PAGE_SIZE << (seed % 4);
        let a = addr(vm.reserve(len, align).unwrap().as_ptr());
        for &(b, blen) in &live {
            assert!(a + len <= b || b + blen <= a, "step {i}: overlap");
        }
        live.push((a, len));
    }
    vm.check_invariants();
}

fn rule2_commit_keeps_committed_data<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: reserved and committed.
    unsafe { fill(p, pages(4), 0x5A) };
    // SAFETY: our reservation.
    unsafe { vm.commit(p, pages(4)).unwrap() };
    // SAFETY: committed.
    assert!(
        unsafe { all(p, pages(4), 0x5A) },
        "PAL VirtualAlloc test 20"
    );
    // Even when the first byte is zero and the rest is not.
    // SAFETY: committed.
    unsafe { fill(p, 1, 0) };
    // SAFETY: our reservation.
    unsafe { vm.commit(p, pages(4)).unwrap() };
    // SAFETY: committed.
    assert!(unsafe { all(p.add(1), pages(4) - 1, 0x5A) });
    assert_eq!(vm.stats().bytes_zeroed, 0, "nothing zeroed");
}

fn rule2_commit_mixed_range_page_by_page<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(6), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: committed, ours.
    unsafe { fill(p, pages(6), 0x77) };
    // The first page stays committed, pages 1 and 4 are decommitted: the
    // seed design's first-byte test would get this wrong both ways.
    // SAFETY: sub-ranges of our reservation.
    unsafe {
        vm.decommit(p.add(pages(1)), pages(1)).unwrap();
        vm.decommit(p.add(pages(4)), pages(1)).unwrap();
        vm.commit(p, pages(6)).unwrap();
    }
    for i in 0..6 {
        let expect = if i == 1 || i == 4 { 0 } else { 0x77 };
        // SAFETY: committed, ours.
        assert!(
            unsafe { all(p.add(pages(i)), pages(1), expect) },
            "page {i}"
        );
    }
    assert_eq!(
        vm.stats().bytes_zeroed,
        pages(2) as u64,
        "exactly two pages"
    );
    vm.check_invariants();
}

fn rule3_decommit_then_commit_reads_zero_on_every_subrange<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let n = 5;
    let p = vm.reserve(pages(n), PAGE_SIZE).unwrap().as_ptr();
    for i in 0..n {
        for j in i + 1..=n {
            // SAFETY: committed, ours.
            unsafe { fill(p, pages(n), 0xC3) };
            // SAFETY: a sub-range of our reservation.
            unsafe {
                vm.decommit(p.add(pages(i)), pages(j - i)).unwrap();
                vm.commit(p.add(pages(i)), pages(j - i)).unwrap();
            }
            for k in 0..n {
                let expect = if (i..j).contains(&k) { 0 } else { 0xC3 };
                // SAFETY: committed, ours.
                let ok = unsafe { all(p.add(pages(k)), pages(1), expect) };
                assert!(ok, "PAL test 21: range {i}..{j}, page {k}");
            }
        }
    }
    assert_eq!(vm.stats().sentinel_violations, 0);
    vm.check_invariants();
}

fn rule3_decommit_twice_zeroes_once<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe {
        fill(p, pages(4), 1);
        vm.decommit(p, pages(4)).unwrap();
        vm.decommit(p, pages(4)).unwrap();
        vm.decommit(p.add(pages(1)), pages(2)).unwrap();
        vm.commit(p, pages(4)).unwrap();
        vm.commit(p, pages(4)).unwrap();
    }
    // SAFETY: committed.
    assert!(unsafe { all(p, pages(4), 0) });
    assert_eq!(
        vm.stats().bytes_zeroed,
        pages(4) as u64,
        "never zeroed twice"
    );
}

fn rule4_reset_is_unsupported_and_changes_nothing<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(3), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { fill(p, pages(3), 9) };
    let before = vm.stats();
    // SAFETY: our reservation.
    assert_eq!(unsafe { vm.reset(p, pages(3)) }, Ok(false));
    assert_eq!(vm.stats(), before);
    // SAFETY: committed.
    assert!(
        unsafe { all(p, pages(3), 9) },
        "still committed, contents kept"
    );
    // The fallback the caller takes instead.
    // SAFETY: ours.
    unsafe {
        vm.decommit(p, pages(3)).unwrap();
        vm.commit(p, pages(3)).unwrap();
        assert!(all(p, pages(3), 0));
    }
    // SAFETY: the pointer is not reserved; reset must refuse it.
    let err = unsafe { vm.reset(p.add(pages(3)), PAGE_SIZE) };
    assert!(matches!(err, Err(Error::NotReserved { .. })));
}

fn rule5_partial_release_and_reuse<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(8), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { fill(p, pages(8), 0xEE) };
    // Release the middle: a partial munmap.
    // SAFETY: a sub-range of ours, not used again.
    unsafe { vm.release(p.add(pages(3)), pages(2)).unwrap() };
    assert_eq!(vm.stats().reserved_bytes, u64b(pages(6)));
    // The rest stays reserved and usable.
    // SAFETY: the remaining pages are still ours.
    unsafe {
        assert!(all(p, pages(3), 0xEE) && all(p.add(pages(5)), pages(3), 0xEE));
        vm.decommit(p, pages(3)).unwrap();
        vm.commit(p, pages(3)).unwrap();
        vm.commit(p.add(pages(5)), pages(3)).unwrap();
    }
    // The hole is not reserved any more.
    // SAFETY: the call must refuse the range.
    let err = unsafe { vm.commit(p.add(pages(2)), pages(2)) };
    assert!(matches!(err, Err(Error::NotReserved { .. })));
    // A new reservation of that size reuses the hole, reading zero.
    let q = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(q, p.wrapping_add(pages(3)), "best fit reuses the hole");
    // SAFETY: just reserved.
    assert!(unsafe { all(q, pages(2), 0) });
    // Releasing the edges of what is left.
    // SAFETY: sub-ranges of ours.
    unsafe {
        vm.release(p, pages(1)).unwrap();
        vm.release(p.add(pages(7)), pages(1)).unwrap();
    }
    assert_eq!(vm.stats().reserved_bytes, u64b(pages(6)));
    vm.check_invariants();
}

fn rule5_released_pages_are_reused_before_growing<P: Policy>() {
    let vm = vmem::<P>(16 * MIB);
    let mut ptrs = Vec::new();
    for _ in 0..16 {
        ptrs.push(vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr());
    }
    let owned = vm.stats().owned_bytes;
    for p in ptrs.drain(..) {
        // SAFETY: ours, not used again.
        unsafe { vm.release(p, pages(4)).unwrap() };
    }
    // Coalesced: one large reservation fits in the released pages.
    let big = vm.reserve(pages(64), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(vm.stats().owned_bytes, owned, "no growth");
    assert_eq!(vm.stats().free_runs, 0);
    // SAFETY: just reserved.
    assert!(unsafe { all(big, pages(64), 0) });
}

fn rule6_bad_requests_are_errors<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let keep = vm.reserve(pages(2), PAGE_SIZE).unwrap();
    let before = vm.stats();
    let size_before = vm.memory().size();
    assert_eq!(vm.reserve(0, PAGE_SIZE), Err(Error::ZeroSize));
    assert_eq!(
        vm.reserve(usize::MAX, PAGE_SIZE),
        Err(Error::SizeOverflow { size: usize::MAX })
    );
    let almost = usize::MAX - PAGE_SIZE + 2;
    assert_eq!(
        vm.reserve(almost, 1),
        Err(Error::SizeOverflow { size: almost })
    );
    for align in [0, 3, 12, PAGE_SIZE + 1, usize::MAX] {
        assert_eq!(
            vm.reserve(PAGE_SIZE, align),
            Err(Error::BadAlignment { align })
        );
    }
    let limit = 8 * MIB as u64;
    assert_eq!(
        vm.reserve(9 * MIB, PAGE_SIZE),
        Err(Error::TooLarge {
            size: 9 * MIB,
            limit
        })
    );
    assert_eq!(
        vm.reserve(PAGE_SIZE, 16 * MIB),
        Err(Error::TooLarge {
            size: PAGE_SIZE,
            limit
        }),
        "alignment beyond the memory"
    );
    assert_eq!(
        vm.reserve(usize::MAX / 2 + 1, 1),
        Err(Error::TooLarge {
            size: usize::MAX / 2 + 1,
            limit
        })
    );
    assert_eq!(vm.stats(), before, "nothing changed");
    assert_eq!(vm.memory().size(), size_before, "nothing grown");
    // Errors say what is wrong.
    let text = Error::BadAlignment { align: 3 }.to_string();
    assert!(text.contains("power of two"), "{text}");
    let _ = keep;
}

/// Every range operation, for the bad-range tests.
fn range_ops<P: Policy>(vm: &Vm<P>, p: *mut u8, size: usize) -> [Result<(), Error>; 4] {
    // SAFETY: each call must refuse the range before touching anything.
    unsafe {
        [
            vm.commit(p, size),
            vm.decommit(p, size),
            vm.reset(p, size).map(|_| ()),
            vm.release(p, size),
        ]
    }
}

/// The bad ranges of rule 7 around a reservation `p` of 4 pages, a
/// foreign wasm page, 2 free pages and the memory's end, each with its name.
fn bad_ranges(
    p: *mut u8,
    foreign: *mut u8,
    free: *mut u8,
    end: *mut u8,
) -> [(*mut u8, usize, &'static str); 9] {
    [
        (p.wrapping_add(1), PAGE_SIZE, "unaligned"),
        (p.wrapping_add(pages(1) / 2), PAGE_SIZE, "half page"),
        (p, 0, "zero size"),
        (p, usize::MAX, "size overflows"),
        (core::ptr::null_mut(), PAGE_SIZE, "null"),
        (foreign, PAGE_SIZE, "foreign"),
        (free, PAGE_SIZE, "free"),
        (p, pages(6), "runs past the reservation into free pages"),
        (end, PAGE_SIZE, "past the end of memory"),
    ]
}

fn rule7_bad_ranges_are_errors_and_change_nothing<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let foreign = vm.memory().grow_foreign(1).unwrap();
    let foreign = (vm.memory().base() + foreign * WASM_PAGE_SIZE) as *mut u8;
    let p = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    let free = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe {
        fill(p, pages(4), 0x42);
        vm.decommit(p.add(pages(1)), pages(1)).unwrap();
        vm.release(free, pages(2)).unwrap();
    }
    let before = vm.stats();
    let end = (vm.memory().base() + vm.memory().size() * WASM_PAGE_SIZE) as *mut u8;
    let cases = bad_ranges(p, foreign, free, end);
    for (ptr, size, what) in cases {
        for (i, result) in range_ops(&vm, ptr, size).into_iter().enumerate() {
            let expected = match what {
                "unaligned" | "half page" => matches!(result, Err(Error::Unaligned { .. })),
                "zero size" => result == Err(Error::ZeroSize),
                "size overflows" => matches!(result, Err(Error::SizeOverflow { .. })),
                _ => matches!(result, Err(Error::NotReserved { .. })),
            };
            assert!(expected, "{what}: op {i} gave {result:?}");
        }
        assert_eq!(vm.stats(), before, "{what}: state unchanged");
    }
    // SAFETY: ours; contents unchanged by the refused calls.
    unsafe {
        assert!(all(p, pages(1), 0x42) && all(p.add(pages(2)), pages(2), 0x42));
        assert!(
            all(foreign, WASM_PAGE_SIZE, FOREIGN_FILL),
            "foreign untouched"
        );
    }
    vm.check_invariants();
}

fn rule7_double_release_is_an_error<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(3), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { vm.release(p, pages(3)).unwrap() };
    let before = vm.stats();
    // SAFETY: must be refused.
    let again = unsafe { vm.release(p, pages(3)) };
    assert_eq!(
        again,
        Err(Error::NotReserved {
            addr: addr(p),
            size: pages(3)
        })
    );
    // SAFETY: must be refused.
    let part = unsafe { vm.release(p.add(pages(1)), 1) };
    assert!(matches!(part, Err(Error::NotReserved { .. })));
    assert_eq!(vm.stats(), before);
}

fn rule7_long_range_is_checked_before_any_change<P: Policy>() {
    // Long ranges are validated and processed in batches (bounded lock
    // hold time); a bad page at the very end must still change nothing.
    let vm = vmem::<P>(16 * MIB);
    let n = 300;
    let p = vm.reserve(pages(n), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe {
        fill(p, pages(n), 0x6C);
        vm.decommit(p.add(pages(100)), pages(100)).unwrap();
        vm.release(p.add(pages(n - 1)), PAGE_SIZE).unwrap();
    }
    let before = vm.stats();
    for (i, result) in range_ops(&vm, p, pages(n)).into_iter().enumerate() {
        assert!(
            matches!(result, Err(Error::NotReserved { .. })),
            "op {i}: {result:?}"
        );
        assert_eq!(vm.stats(), before, "op {i} changed state");
    }
    // SAFETY: ours; the refused calls touched nothing.
    unsafe {
        assert!(all(p, pages(100), 0x6C) && all(p.add(pages(200)), pages(n - 201), 0x6C));
        // And the valid long range works, batch by batch.
        vm.commit(p, pages(n - 1)).unwrap();
        assert!(all(p.add(pages(100)), pages(100), 0));
        vm.release(p, pages(n - 1)).unwrap();
    }
    assert_eq!(vm.stats().reserved_bytes, 0);
    assert_eq!(vm.stats().free_runs, 1, "released batches coalesced");
    vm.check_invariants();
}

fn rule8_grow_failure_leaves_everything_intact<P: Policy>() {
    let vm = vmem::<P>(16 * MIB);
    let p = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { fill(p, pages(4), 0x99) };
    let before = vm.stats();
    vm.memory().fail_next_grows(1);
    assert_eq!(
        vm.reserve(MIB, PAGE_SIZE),
        Err(Error::OutOfMemory { size: MIB })
    );
    assert_eq!(vm.stats(), before, "table intact");
    // SAFETY: ours.
    assert!(unsafe { all(p, pages(4), 0x99) }, "reservation intact");
    // The next try succeeds.
    let q = vm.reserve(MIB, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: just reserved.
    assert!(unsafe { all(q, MIB, 0) });
    vm.check_invariants();
}

fn rule8_limit_is_enforced<P: Policy>() {
    let vm = GenericVmem::<_, P>::with_limit(SimMemory::new(16 * MIB), MIB as u64);
    assert_eq!(vm.limits().reserve_limit_bytes, MIB as u64);
    let a = vm.reserve(MIB / 2, PAGE_SIZE).unwrap();
    let before = vm.stats();
    assert_eq!(
        vm.reserve(MIB / 2 + 1, PAGE_SIZE),
        Err(Error::LimitExceeded {
            size: MIB / 2 + 1,
            reserved: u64b(MIB / 2),
            limit: MIB as u64
        })
    );
    assert_eq!(
        vm.reserve(2 * MIB, PAGE_SIZE),
        Err(Error::TooLarge {
            size: 2 * MIB,
            limit: MIB as u64
        })
    );
    assert_eq!(vm.stats(), before);
    let b = vm.reserve(MIB / 2, PAGE_SIZE).unwrap();
    // SAFETY: ours.
    unsafe { vm.release(a.as_ptr(), MIB / 2).unwrap() };
    vm.reserve(MIB / 2, PAGE_SIZE).unwrap();
    let _ = b;
}

fn rule8_memory_maximum_is_out_of_memory<P: Policy>() {
    let vm = vmem::<P>(4 * MIB);
    let a = vm.reserve(3 * MIB, PAGE_SIZE).unwrap().as_ptr();
    let before = vm.stats();
    assert_eq!(
        vm.reserve(2 * MIB, PAGE_SIZE),
        Err(Error::OutOfMemory { size: 2 * MIB })
    );
    assert_eq!(vm.stats(), before);
    // Exactly what is left (after the table's first wasm page) still fits.
    let left = MIB - WASM_PAGE_SIZE;
    let b = vm.reserve(left, PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(vm.stats().owned_bytes, u64b(4 * MIB));
    assert_eq!(vm.stats().metadata_bytes, FIRST_STORAGE);
    // SAFETY: ours.
    unsafe { assert!(all(a, 3 * MIB, 0) && all(b, left, 0)) };
}

fn rule9_foreign_memory_is_never_handed_out_or_touched<P: Policy>() {
    let mem = SimMemory::new(64 * MIB);
    // Memory that exists before the instance (data, stack, heap) is foreign.
    let pre = mem.grow_foreign(3).unwrap();
    let vm = GenericVmem::<_, P>::new(&mem);
    let mut foreign = vec![(pre, 3)];
    let mut live = Vec::new();
    for i in 0..40 {
        if i % 3 == 0 {
            // Another memory.grow caller between two of ours: normal.
            foreign.push((mem.grow_foreign(1 + i % 2).unwrap(), 1 + i % 2));
        }
        let len = pages(1 + i % 7);
        let p = vm.reserve(len, PAGE_SIZE << (i % 3)).unwrap().as_ptr();
        // SAFETY: ours.
        unsafe {
            assert!(all(p, len, 0));
            fill(p, len, 0xAA);
        }
        live.push((p, len));
        if i % 2 == 1 {
            let (q, qlen) = live.remove(0);
            // SAFETY: ours.
            unsafe { vm.release(q, qlen).unwrap() };
        }
    }
    let base = mem.base();
    for &(page, n) in &foreign {
        let (fa, flen) = (base + page * WASM_PAGE_SIZE, n * WASM_PAGE_SIZE);
        for &(p, len) in &live {
            assert!(
                addr(p) + len <= fa || fa + flen <= addr(p),
                "overlaps foreign"
            );
        }
        // SAFETY: foreign pages, readable, nobody writes them.
        assert!(
            unsafe { all(fa as *const u8, flen, FOREIGN_FILL) },
            "foreign untouched"
        );
    }
    let foreign_bytes: usize = foreign.iter().map(|&(_, n)| n * WASM_PAGE_SIZE).sum();
    let s = vm.stats();
    assert_eq!(s.linear_memory_bytes, s.owned_bytes + u64b(foreign_bytes));
    vm.check_invariants();
}

fn rule9_contiguous_growth_is_stitched<P: Policy>() {
    let vm = vmem::<P>(16 * MIB);
    // 3 pages leave a free tail of 1 page in the first wasm page; the next
    // 5-page reservation starts in that tail and grows only what is missing.
    let a = vm.reserve(pages(3), PAGE_SIZE).unwrap().as_ptr();
    let b = vm.reserve(pages(5), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(b, a.wrapping_add(pages(3)), "stitched across growths");
    assert_eq!(vm.stats().owned_bytes, u64b(pages(8)) + FIRST_STORAGE);
    assert_eq!(vm.stats().grows, 3, "the table's storage, then 2 stitched");
    // After foreign growth, the tail cannot be extended.
    vm.memory().grow_foreign(1).unwrap();
    let c = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    assert!(addr(c) >= addr(b) + pages(5) + WASM_PAGE_SIZE);
    vm.check_invariants();
}

fn rule10_stats_are_exact<P: Policy>() {
    let mem = SimMemory::new(16 * MIB);
    mem.grow_foreign(2).unwrap();
    let vm = GenericVmem::<_, P>::new(&mem);
    let s = vm.stats();
    assert_eq!(
        s,
        Stats {
            linear_memory_bytes: u64b(2 * WASM_PAGE_SIZE),
            ..Stats::default()
        }
    );

    // 2 wasm pages, after the wasm page of the table's first storage.
    let p = vm.reserve(pages(6), PAGE_SIZE).unwrap().as_ptr();
    let s = vm.stats();
    assert_eq!(
        (s.reserved_bytes, s.committed_bytes, s.decommitted_bytes),
        (u64b(pages(6)), u64b(pages(6)), 0)
    );
    assert_eq!(
        (s.free_zero_bytes, s.free_dirty_bytes, s.owned_bytes),
        (u64b(pages(2)), 0, u64b(pages(8)) + FIRST_STORAGE)
    );
    assert_eq!(s.metadata_bytes, FIRST_STORAGE);
    assert_eq!(
        (s.grows, s.bytes_zeroed, s.bytes_zero_skipped),
        (2, 0, pages(6) as u64)
    );
    assert_eq!(s.linear_memory_bytes, u64b(5 * WASM_PAGE_SIZE));
    assert_eq!(s.peak_reserved_bytes, u64b(pages(6)));

    // SAFETY: ours.
    unsafe { vm.decommit(p, pages(2)).unwrap() };
    let s = vm.stats();
    assert_eq!(
        (s.committed_bytes, s.decommitted_bytes),
        (u64b(pages(4)), u64b(pages(2)))
    );
    let zeroed_by_decommit = if eager::<P>() { pages(2) as u64 } else { 0 };
    assert_eq!(s.bytes_zeroed, zeroed_by_decommit);

    // SAFETY: ours.
    unsafe { vm.commit(p, pages(6)).unwrap() };
    let s = vm.stats();
    assert_eq!(
        (s.committed_bytes, s.decommitted_bytes),
        (u64b(pages(6)), 0)
    );
    assert_eq!(
        s.bytes_zeroed,
        pages(2) as u64,
        "zeroed once, in either build"
    );
    let skipped_by_commit = if eager::<P>() { pages(2) as u64 } else { 0 };
    assert_eq!(s.bytes_zero_skipped, pages(6) as u64 + skipped_by_commit);

    // SAFETY: ours.
    unsafe {
        vm.decommit(p.add(pages(5)), pages(1)).unwrap();
        vm.release(p.add(pages(3)), pages(3)).unwrap();
    }
    let s = vm.stats();
    assert_eq!(s.reserved_bytes, u64b(pages(3)));
    let (zero, dirty) = if eager::<P>() {
        (pages(3), pages(2))
    } else {
        (pages(2), pages(3))
    };
    assert_eq!(
        (s.free_zero_bytes, s.free_dirty_bytes),
        (u64b(zero), u64b(dirty))
    );
    assert_eq!(
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes,
        s.owned_bytes
    );

    // Reusing: dirty pages are zeroed, zero ones skipped.
    let before = vm.stats();
    vm.reserve(pages(5), PAGE_SIZE).unwrap();
    let s = vm.stats();
    assert_eq!(s.bytes_zeroed - before.bytes_zeroed, dirty as u64);
    assert_eq!(
        s.bytes_zero_skipped - before.bytes_zero_skipped,
        zero as u64
    );
    assert_eq!((s.free_zero_bytes, s.free_dirty_bytes, s.grows), (0, 0, 2));
    assert_eq!(s.peak_reserved_bytes, u64b(pages(8)));
    assert_eq!(s.sentinel_violations, 0);
}

fn rule11_limits_follow_coreclr<P: Policy>() {
    let vm = vmem::<P>(64 * MIB);
    let l = vm.limits();
    assert_eq!(l.page_size, 16 * KIB);
    assert_eq!(l.total_physical_bytes, 64 * MIB as u64);
    assert_eq!(l.hard_limit_bytes, 48 * MIB as u64, "75 %");
    assert_eq!(l.largest_segment_bytes, 8 * MIB as u64, "pow2 ≤ 48/6 MiB");
    assert!(3 * l.largest_segment_bytes <= l.hard_limit_bytes);
    assert_eq!(l.memory_load_percent, 0);
    vm.reserve(16 * MIB, PAGE_SIZE).unwrap();
    assert_eq!(vm.limits().memory_load_percent, 25, "size ÷ maximum");
    let small = vmem::<P>(2 * MIB);
    assert_eq!(
        small.limits().largest_segment_bytes,
        MIB as u64,
        "at least 1 MiB"
    );
}

fn policy_decommit_zeroing<P: Policy>() {
    let vm = vmem::<P>(8 * MIB);
    let p = vm.reserve(pages(3), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours; decommitted memory is only inspected, as the test of the
    // policy, never relied upon.
    unsafe {
        fill(p, pages(3), 0x31);
        vm.decommit(p, pages(3)).unwrap();
        if eager::<P>() {
            assert!(all(p, pages(3), 0), "multithreaded: zeroed at decommit");
        } else {
            for i in 0..3 {
                let page = p.add(pages(i));
                assert_eq!(*page, SENTINEL, "single-threaded: sentinel at page {i}");
                assert!(all(page.add(1), PAGE_SIZE - 1, 0x31), "and nothing else");
            }
            // A write after decommit is caught at commit.
            *p.add(pages(1)) = 0;
        }
        vm.commit(p, pages(3)).unwrap();
        assert!(all(p, pages(3), 0));
    }
    let violations = if eager::<P>() { 0 } else { 1 };
    assert_eq!(vm.stats().sentinel_violations, violations);
}

/// `vm` with the table storage of arenas 0 and 1 grown for the whole
/// memory now, so that the rule 12 tests see no metadata growth (and no
/// storage given back as free pages) inside the calls they check.
fn with_metadata_ready<P: Policy>(vm: Vm<P>) -> Vm<P> {
    let pages = vm.memory().capacity() * (WASM_PAGE_SIZE / PAGE_SIZE);
    assert!(vm.prepare_metadata_in(0, pages) && vm.prepare_metadata_in(1, pages));
    vm
}

/// `extend` with its preconditions met, checked against the statistics
/// and the invariants: the same checks for every successful call.
///
/// # Safety
/// `p .. p + size` must be the test's reservation.
unsafe fn extend_ok<P: Policy>(vm: &Vm<P>, p: *mut u8, size: usize, new_size: usize) -> Stats {
    let before = vm.stats();
    // SAFETY: the caller's reservation.
    unsafe { vm.extend(p, size, new_size).unwrap() };
    let s = vm.stats();
    let added = new_size.next_multiple_of(PAGE_SIZE) - size.next_multiple_of(PAGE_SIZE);
    assert_eq!(s.reserved_bytes, before.reserved_bytes + u64b(added));
    assert_eq!(s.committed_bytes, before.committed_bytes + u64b(added));
    assert_eq!(
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes,
        s.owned_bytes
    );
    assert_eq!(s.metadata_bytes, before.metadata_bytes, "storage ready");
    // Every page taken is either zeroed once or known zero, never both.
    let grown = s.owned_bytes - before.owned_bytes;
    assert_eq!(
        (s.bytes_zeroed - before.bytes_zeroed) + (s.bytes_zero_skipped - before.bytes_zero_skipped),
        u64b(added),
        "each new page zeroed or skipped once"
    );
    assert_eq!(
        s.bytes_zeroed - before.bytes_zeroed,
        before.free_dirty_bytes - s.free_dirty_bytes,
        "exactly the dirty pages taken are zeroed"
    );
    assert_eq!(
        s.bytes_zero_skipped - before.bytes_zero_skipped,
        before.free_zero_bytes + grown - s.free_zero_bytes,
        "zero and fresh pages are not written"
    );
    assert!(s.peak_reserved_bytes >= s.reserved_bytes);
    vm.check_invariants();
    s
}

fn rule12_extend_grows_into_free_pages<P: Policy>() {
    let vm = with_metadata_ready(vmem::<P>(16 * MIB));
    // p: 4 pages; q: 8 pages right behind it, dirtied, half decommitted
    // (zeroed or sentinelled by the policy), released; r blocks the end.
    let p = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    let q = vm.reserve(pages(8), PAGE_SIZE).unwrap().as_ptr();
    let r = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(
        (q, r),
        (p.wrapping_add(pages(4)), p.wrapping_add(pages(12)))
    );
    // SAFETY: ours.
    unsafe {
        fill(p, pages(4), 0x5C);
        fill(q, pages(8), 0xAB);
        fill(r, pages(4), 0x3D);
        vm.decommit(q.add(pages(4)), pages(4)).unwrap();
        vm.release(q, pages(8)).unwrap();
    }
    let before = vm.stats();
    let (zero, dirty) = if eager::<P>() {
        (pages(4), pages(4))
    } else {
        (0, pages(8))
    };
    assert_eq!(
        (before.free_zero_bytes, before.free_dirty_bytes),
        (u64b(zero), u64b(dirty))
    );
    // Grow by 2 pages, then by a size that is not a multiple of a page
    // (rounded up), then take the rest.
    // SAFETY: p is ours.
    let s = unsafe { extend_ok(&vm, p, pages(4), pages(6)) };
    assert_eq!(s.bytes_zeroed - before.bytes_zeroed, u64b(pages(2)));
    // SAFETY: as above.
    unsafe {
        extend_ok(&vm, p, pages(6) - 100, pages(8) - 5);
        let s = extend_ok(&vm, p, pages(8), pages(12));
        assert_eq!(
            (
                s.bytes_zeroed - before.bytes_zeroed,
                s.bytes_zero_skipped - before.bytes_zero_skipped
            ),
            (u64b(dirty), u64b(zero)),
            "dirty pages zeroed, zero ones skipped"
        );
        assert_eq!(s.grows, before.grows, "no growth: the pages were free");
        assert!(all(p, pages(4), 0x5C), "old contents kept");
        assert!(all(p.add(pages(4)), pages(8), 0), "grown pages read zero");
        assert!(all(r, pages(4), 0x3D), "the neighbour untouched");
    }
    assert_eq!(vm.stats().free_runs, 0);
    assert_eq!(vm.stats().sentinel_violations, 0);
}

fn rule12_extend_grows_at_the_memory_end<P: Policy>() {
    let vm = with_metadata_ready(vmem::<P>(16 * MIB));
    // A reservation that ends where the memory ends: the memory grows
    // right behind it, fresh pages are not written.
    let p = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { fill(p, WASM_PAGE_SIZE, 0x71) };
    let before = vm.stats();
    // SAFETY: ours.
    let s = unsafe { extend_ok(&vm, p, WASM_PAGE_SIZE, 3 * WASM_PAGE_SIZE + 1) };
    assert_eq!(s.grows, before.grows + 1);
    assert_eq!(
        s.bytes_zeroed, before.bytes_zeroed,
        "fresh pages not zeroed"
    );
    assert_eq!(s.peak_reserved_bytes, u64b(3 * WASM_PAGE_SIZE + PAGE_SIZE));
    // The growth's rest (3 pages of the last wasm page) is free.
    assert_eq!(s.free_zero_bytes, u64b(pages(3)));
    let len = 3 * WASM_PAGE_SIZE + PAGE_SIZE;
    // SAFETY: ours, now `len` bytes.
    unsafe {
        assert!(all(p, WASM_PAGE_SIZE, 0x71));
        assert!(all(p.add(WASM_PAGE_SIZE), len - WASM_PAGE_SIZE, 0));
        fill(p, len, 0x72);
    }
    // A free run of this arena at the end, dirty, then fresh growth: both.
    let q = vm.reserve(pages(3), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(q, p.wrapping_add(len), "the free tail");
    // SAFETY: ours.
    unsafe {
        fill(q, pages(3), 0x73);
        vm.release(q, pages(3)).unwrap();
    }
    let before = vm.stats();
    // SAFETY: ours.
    let s = unsafe { extend_ok(&vm, p, len, len + pages(7)) };
    assert_eq!(s.grows, before.grows + 1, "the free tail, then growth");
    assert_eq!(s.bytes_zeroed - before.bytes_zeroed, u64b(pages(3)));
    assert_eq!(
        s.bytes_zero_skipped - before.bytes_zero_skipped,
        u64b(pages(4))
    );
    // SAFETY: ours.
    unsafe {
        assert!(all(p, len, 0x72));
        assert!(all(p.add(len), pages(7), 0));
    }
}

fn rule12_extend_is_one_reservation<P: Policy>() {
    let vm = with_metadata_ready(vmem::<P>(16 * MIB));
    let p = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { extend_ok(&vm, p, pages(2), pages(9)) };
    // The whole range works with every operation.
    // SAFETY: ours, 9 pages now.
    unsafe {
        fill(p, pages(9), 0x44);
        vm.decommit(p.add(pages(1)), pages(7)).unwrap();
        vm.commit(p, pages(9)).unwrap();
        assert!(all(p, pages(1), 0x44) && all(p.add(pages(1)), pages(7), 0));
        assert!(all(p.add(pages(8)), pages(1), 0x44));
        assert_eq!(vm.reset(p, pages(9)), Ok(false));
        vm.release(p, pages(9)).unwrap();
    }
    assert_eq!(vm.stats().reserved_bytes, 0);
    let before = vm.stats();
    // SAFETY: must be refused.
    let again = unsafe { vm.release(p, pages(9)) };
    assert_eq!(
        again,
        Err(Error::NotReserved {
            addr: addr(p),
            size: pages(9)
        }),
        "double release"
    );
    // SAFETY: must be refused: released.
    let ext = unsafe { vm.extend(p, pages(2), pages(3)) };
    assert!(matches!(ext, Err(Error::NotReserved { .. })), "{ext:?}");
    assert_eq!(vm.stats(), before);
    // A new size that is no larger changes nothing.
    let q = vm.reserve(pages(3), PAGE_SIZE).unwrap().as_ptr();
    let before = vm.stats();
    for new_size in [1, pages(2), pages(3) - 1, pages(3)] {
        // SAFETY: ours.
        assert_eq!(unsafe { vm.extend(q, pages(3), new_size) }, Ok(()));
        assert_eq!(vm.stats(), before, "new size {new_size}");
    }
    // SAFETY: ours.
    assert_eq!(unsafe { vm.extend(q, pages(3) - 1, pages(3)) }, Ok(()));
    assert_eq!(vm.stats(), before, "the same page count");
    vm.check_invariants();
}

/// Asserts that `extend` of `p .. p + size` to `new_size` is `NotFree`
/// and changes nothing.
fn assert_not_free<P: Policy>(vm: &Vm<P>, p: *mut u8, size: usize, new_size: usize, what: &str) {
    let before = vm.stats();
    // SAFETY: the test's reservation; the call must be refused.
    let result = unsafe { vm.extend(p, size, new_size) };
    let extra = new_size.next_multiple_of(PAGE_SIZE) - size.next_multiple_of(PAGE_SIZE);
    assert_eq!(
        result,
        Err(Error::NotFree {
            addr: addr(p) + size.next_multiple_of(PAGE_SIZE),
            size: extra
        }),
        "{what}"
    );
    assert_eq!(vm.stats(), before, "{what}: nothing changed");
    vm.check_invariants();
}

fn rule12_extend_not_free_changes_nothing<P: Policy>() {
    let vm = with_metadata_ready(vmem::<P>(16 * MIB));
    let mem = vm.memory();
    // Reserved right behind: by another reservation, and free pages with a
    // reserved one after them (a fit needs all the pages).
    let p = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    let q = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    let r = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    assert_eq!(q, p.wrapping_add(pages(2)));
    // SAFETY: ours.
    unsafe {
        fill(p, pages(2), 0x10);
        fill(q, pages(2), 0x20);
        fill(r, pages(4), 0x30);
        vm.release(r, pages(2)).unwrap();
    }
    assert_not_free(&vm, p, pages(2), pages(3), "the next page reserved");
    assert_not_free(
        &vm,
        q,
        pages(2),
        pages(5),
        "free pages, then a reserved one",
    );
    assert_not_free(&vm, q, pages(2) - 9, pages(6) + 1, "rounded sizes");
    // Foreign memory right behind the reservation at the memory's end.
    let end = vm.reserve(WASM_PAGE_SIZE, PAGE_SIZE).unwrap().as_ptr();
    // (First: a failed growth there is out of memory, and changes nothing.)
    let before = vm.stats();
    mem.fail_next_grows(1);
    // SAFETY: ours; must be refused.
    let oom = unsafe { vm.extend(end, WASM_PAGE_SIZE, 2 * WASM_PAGE_SIZE) };
    assert_eq!(
        oom,
        Err(Error::OutOfMemory {
            size: WASM_PAGE_SIZE
        })
    );
    assert_eq!(vm.stats(), before, "failed growth: nothing changed");
    let foreign = mem.grow_foreign(1).unwrap();
    let foreign = (mem.base() + foreign * WASM_PAGE_SIZE) as *mut u8;
    assert_eq!(foreign, end.wrapping_add(WASM_PAGE_SIZE));
    assert_not_free(&vm, end, WASM_PAGE_SIZE, WASM_PAGE_SIZE + 1, "foreign");
    // SAFETY: read only; foreign memory keeps its fill.
    assert!(unsafe { all(foreign, WASM_PAGE_SIZE, FOREIGN_FILL) });
    // Free pages of another arena right behind (multithreaded builds; with
    // one arena `reserve_in` is the same arena and the pages are free).
    let (a, b) = adjacent_in_arenas_0_and_1(&vm);
    // SAFETY: ours.
    unsafe { vm.release(b, WASM_PAGE_SIZE).unwrap() };
    if P::ARENAS > 1 {
        assert_not_free(
            &vm,
            a,
            WASM_PAGE_SIZE,
            WASM_PAGE_SIZE + 1,
            "another arena's",
        );
    } else {
        // SAFETY: ours.
        unsafe { extend_ok(&vm, a, WASM_PAGE_SIZE, 2 * WASM_PAGE_SIZE) };
    }
    // Contents untouched by every refusal.
    // SAFETY: ours.
    unsafe {
        assert!(all(p, pages(2), 0x10) && all(q, pages(2), 0x20));
        assert!(all(r.add(pages(2)), pages(2), 0x30));
    }
}

fn rule12_extend_limit_and_bad_ranges<P: Policy>() {
    let vm = with_metadata_ready(GenericVmem::<_, P>::with_limit(
        SimMemory::new(16 * MIB),
        MIB as u64,
    ));
    let p = vm.reserve(MIB / 2, PAGE_SIZE).unwrap().as_ptr();
    let x = vm.reserve(MIB / 4, PAGE_SIZE).unwrap().as_ptr();
    let before = vm.stats();
    // SAFETY: ours; must be refused: 512 + 256 + 272 KiB > 1 MiB.
    let over = unsafe { vm.extend(p, MIB / 2, 3 * MIB / 4 + 1) };
    assert_eq!(
        over,
        Err(Error::LimitExceeded {
            size: pages(17),
            reserved: u64b(3 * MIB / 4),
            limit: MIB as u64
        })
    );
    // SAFETY: as above.
    let huge = unsafe { vm.extend(p, MIB / 2, 2 * MIB) };
    assert_eq!(
        huge,
        Err(Error::TooLarge {
            size: 2 * MIB,
            limit: MIB as u64
        })
    );
    // SAFETY: as above.
    let overflow = unsafe { vm.extend(p, MIB / 2, usize::MAX - 3) };
    assert_eq!(
        overflow,
        Err(Error::SizeOverflow {
            size: usize::MAX - 3
        })
    );
    assert_eq!(vm.stats(), before);
    // Exactly up to the limit is fine (into `x`'s pages, released).
    // SAFETY: ours.
    unsafe {
        vm.release(x, MIB / 4).unwrap();
        extend_ok(&vm, p, MIB / 2, MIB);
    }

    // Bad ranges give what `commit` gives for them, and change nothing.
    let vm = vmem::<P>(8 * MIB);
    let foreign = vm.memory().grow_foreign(1).unwrap();
    let foreign = (vm.memory().base() + foreign * WASM_PAGE_SIZE) as *mut u8;
    let p = vm.reserve(pages(4), PAGE_SIZE).unwrap().as_ptr();
    let free = vm.reserve(pages(2), PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { vm.release(free, pages(2)).unwrap() };
    let end = (vm.memory().base() + vm.memory().size() * WASM_PAGE_SIZE) as *mut u8;
    let before = vm.stats();
    let cases = bad_ranges(p, foreign, free, end);
    for (ptr, size, what) in cases {
        // SAFETY: each call must refuse the range before touching anything.
        let commit = unsafe { vm.commit(ptr, size) };
        assert!(commit.is_err(), "{what}");
        for new_size in [pages(8), 1] {
            // SAFETY: as above.
            let ext = unsafe { vm.extend(ptr, size, new_size) };
            assert_eq!(ext, commit, "{what}, new size {new_size}");
            assert_eq!(vm.stats(), before, "{what}: state unchanged");
        }
    }
    vm.check_invariants();
}
