//! Unit tests of the page-state table.

use super::plan::{Step, PLAN_STEPS};
use super::*;
use crate::units::{PAGES_PER_WASM_PAGE, WASM_PAGE_SIZE};

/// A table that can describe `capacity` pages, its storage in a host
/// buffer (returned: keep it alive as long as the table).
fn table(capacity: usize) -> (Table, std::vec::Vec<u64>) {
    let want = (capacity, capacity / 2 + 1);
    let bytes = storage::bytes_for(want.0, want.1).unwrap();
    let mut buf = std::vec![0u64; bytes.div_ceil(8) + PAGE_SIZE / 8];
    let addr = buf
        .as_mut_ptr()
        .expose_provenance()
        .next_multiple_of(PAGE_SIZE);
    let mut t = Table::new();
    // SAFETY: `bytes` from a page-aligned address inside `buf`, which
    // the caller keeps alive and does not touch while the table lives.
    let spare = unsafe { Storage::from_raw(addr, bytes, want) };
    assert_eq!(t.adopt(spare), Adopted::Yes);
    (t, buf)
}

/// Releases `start .. start + len` batch by batch.
fn release(t: &mut Table, start: usize, len: usize) {
    let mut from = start;
    while from < start + len {
        from = t.release_batch(from, start + len, &mut Plan::new());
    }
}

fn free(t: &Table) -> std::vec::Vec<Run> {
    let mut runs = std::vec::Vec::new();
    t.free.for_each(|r| runs.push(r));
    runs
}

fn run(start: usize, len: usize) -> Run {
    Run { start, len }
}

/// Claims and commits `start .. start + len`; returns the content steps.
fn take(t: &mut Table, start: usize, len: usize) -> std::vec::Vec<Step> {
    t.claim(start, len);
    let mut steps = std::vec::Vec::new();
    let mut from = start;
    while from < start + len {
        let mut plan = Plan::new();
        from = t.claim_batch(from, start + len, Fill::Zero, &mut plan);
        steps.extend_from_slice(plan.steps());
    }
    steps
}

#[test]
fn storage_plans_describe_their_own_pages() {
    let t = Table::new();
    assert_eq!(t.storage_plan(8, 4, 4), Some((1, (64, 16))));
    for pages in [1000, 1 << 16, 1 << 18] {
        let (wasm, (states, nodes)) = t.storage_plan(pages, pages, pages).unwrap();
        let own = wasm * PAGES_PER_WASM_PAGE;
        assert!(states >= pages + own, "the region's own pages too");
        assert!(nodes >= runs_bound(pages + own, pages + own));
        let bytes = storage::bytes_for(states, nodes).unwrap();
        assert!(bytes <= wasm * WASM_PAGE_SIZE && bytes > (wasm - 1) * WASM_PAGE_SIZE);
    }
}

#[test]
fn adopting_retires_the_old_storage_and_takes_back_what_is_not_needed() {
    let mut mem = std::vec![0u64; 41 * PAGE_SIZE / 8];
    let base = mem
        .as_mut_ptr()
        .expose_provenance()
        .next_multiple_of(PAGE_SIZE);
    let region = |start: usize, len: usize, want| {
        let run = Run { start, len };
        // SAFETY: pages of `mem` (40 of them from `base`), which
        // outlives the table; each region is given once.
        unsafe { Storage::from_region(base + start * PAGE_SIZE, run, want, Origin::Grown) }
    };
    let mut t = Table::new();
    // The first storage: pages 0 .. 4, metadata.
    assert_eq!(t.adopt(region(0, 4, (64, 16))), Adopted::Yes);
    assert_eq!((t.pages.len(), t.n(PageState::Metadata)), (4, 4));
    assert!(t.insert_grown(4, 4, true));
    // One more sized like it (another thread's, say): not needed, its
    // pages are free pages that read zero.
    assert_eq!(t.adopt(region(8, 4, (64, 16))), Adopted::TakenBack);
    assert_eq!(free(&t), [run(4, 8)]);
    t.check_invariants();
    // A larger one: the table moves, the old pages are free and dirty.
    take(&mut t, 4, 2);
    assert_eq!(t.adopt(region(12, 8, (8000, 3000))), Adopted::Yes);
    assert_eq!(t.storage_pages(), (12, 8));
    assert_eq!(free(&t), [run(0, 4), run(6, 6)]);
    assert_eq!(t.n(PageState::FreeDirty), 4);
    assert!(t.pages.capacity() >= 8000 && t.free.capacity() >= 3000);
    assert_eq!(t.counters.grows, 4, "every region counts as a growth");
    let s = t.stats();
    assert_eq!(s.metadata_bytes, 8 * PAGE_BYTES);
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    t.check_invariants();
    // A region too small to describe itself so high up, and that the
    // table cannot describe either: handed back, nothing changes.
    let far = Run {
        start: 20_000,
        len: 1,
    };
    // SAFETY: a page of `mem`, never carved (the table cannot use it).
    let spare = unsafe { Storage::from_region(base + 36 * PAGE_SIZE, far, (0, 0), Origin::Grown) };
    let before = t.stats();
    assert_eq!(t.adopt(spare), Adopted::No(far));
    assert_eq!(t.stats(), before);
    assert!(!t.take_back(far));
    t.check_invariants();
    // `mem` outlives the table, which is not used past here.
    drop(mem);
}

#[test]
fn a_storage_in_a_claimed_free_run_becomes_metadata_or_free_again() {
    let mut mem = std::vec![0u64; 41 * PAGE_SIZE / 8];
    let base = mem
        .as_mut_ptr()
        .expose_provenance()
        .next_multiple_of(PAGE_SIZE);
    let region = |run: Run, want, origin| {
        // SAFETY: pages of `mem` (40 of them from `base`), which
        // outlives the table; each region is given once.
        unsafe { Storage::from_region(base + run.start * PAGE_SIZE, run, want, origin) }
    };
    let mut t = Table::new();
    assert_eq!(
        t.adopt(region(run(0, 4), (64, 16), Origin::Grown)),
        Adopted::Yes
    );
    assert!(t.insert_grown(4, 36, false));
    take(&mut t, 4, 10);
    take(&mut t, 22, 18);
    assert_eq!(free(&t), [run(14, 8)]);
    let grows = t.counters.grows;
    // Best fit among the free runs; claimed, the pages are in no run
    // and still count as free.
    assert_eq!(t.claim_free(9), None, "no run fits");
    let hole = t.claim_free(6).unwrap();
    assert_eq!(hole, run(14, 6));
    assert_eq!((free(&t), t.claiming), (std::vec![run(20, 2)], 6));
    t.check_invariants();
    assert_eq!(
        t.adopt(region(hole, (8000, 3000), Origin::Claimed)),
        Adopted::Yes
    );
    assert_eq!(t.storage_pages(), (14, 6));
    assert_eq!(t.claiming, 0);
    assert_eq!(free(&t), [run(0, 4), run(20, 2)], "the old storage is free");
    assert_eq!(t.counters.grows, grows, "no growth counted");
    t.check_invariants();
    // One that is not needed (the table can describe what it was for)
    // returns to the free runs, reading zero (it was written whole).
    let hole = t.claim_free(2).unwrap();
    assert_eq!(hole, run(20, 2));
    assert_eq!(
        t.adopt(region(hole, (64, 16), Origin::Claimed)),
        Adopted::TakenBack
    );
    assert_eq!(t.claiming, 0);
    assert_eq!(free(&t), [run(0, 4), run(20, 2)]);
    assert!(t.pages[20..22].iter().all(|&s| s == PageState::FreeZero));
    let s = t.stats();
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    t.check_invariants();
    // `mem` outlives the table, which is not used past here.
    drop(mem);
}

#[test]
fn growth_marks_gap_foreign_and_stitches_contiguous_growth() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(4, 4, true));
    assert_eq!(t.pages[..4], [PageState::Foreign; 4]);
    assert!(t.insert_grown(8, 4, true));
    assert_eq!(free(&t), [run(4, 8)], "contiguous growth is one run");
    assert!(t.insert_grown(16, 4, true));
    assert_eq!(free(&t), [run(4, 8), run(16, 4)], "foreign gap splits runs");
    assert_eq!(t.n(PageState::Foreign), 8);
    t.check_invariants();
}

#[test]
fn growth_reclaims_pages_another_thread_marked_foreign() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(8, 4, true)); // a later grow was recorded first
    assert!(t.insert_grown(4, 4, true)); // the earlier one arrives
    assert_eq!(free(&t), [run(4, 8)]);
    assert_eq!(t.n(PageState::Foreign), 4);
    t.check_invariants();
}

#[test]
fn growth_refused_without_capacity() {
    let (mut t, _m) = table(8);
    assert!(!t.insert_grown(8, 4, true));
    assert!(t.pages.is_empty());
    t.check_invariants();
}

#[test]
fn find_is_best_fit_and_aligned() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(0, 40, true));
    take(&mut t, 0, 40);
    release(&mut t, 2, 10); // run 2..12
    release(&mut t, 20, 3); // run 20..23
    assert_eq!(t.find(3, 1, 0), Some(20), "smallest run that fits");
    assert_eq!(t.find(4, 1, 0), Some(2));
    assert_eq!(t.find(4, 4, 0), Some(4), "aligned to 4 pages");
    assert_eq!(t.find(4, 4, 1), Some(3), "alignment counts from the base");
    assert_eq!(t.find(9, 4, 0), None);
    assert_eq!(t.find(11, 1, 0), None);
    t.check_invariants();
}

#[test]
fn claim_splits_and_release_coalesces() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(0, 16, true));
    take(&mut t, 4, 4);
    assert_eq!(free(&t), [run(0, 4), run(8, 8)]);
    take(&mut t, 0, 4);
    assert_eq!(free(&t), [run(8, 8)]);
    release(&mut t, 4, 2);
    assert_eq!(free(&t), [run(4, 2), run(8, 8)]);
    release(&mut t, 6, 2);
    assert_eq!(free(&t), [run(4, 12)], "merged both ways");
    release(&mut t, 0, 4);
    assert_eq!(free(&t), [run(0, 16)]);
    t.check_invariants();
}

/// `claim` takes the run that holds the claim whatever `fit` remembers: a
/// new table's (0, 0) (all zero bytes, so that an instance in a `static`
/// lies in `.bss`), or a fit whose holding run is not there.
#[test]
fn claim_checks_the_remembered_fit() {
    let (mut t, _m) = table(64);
    assert_eq!(t.fit.get(), (0, 0));
    assert!(t.insert_grown(0, 16, true));
    t.fit.set((10, 8));
    take(&mut t, 10, 2);
    assert_eq!(free(&t), [run(0, 10), run(12, 4)]);
    t.fit.set((0, 0));
    take(&mut t, 0, 2);
    assert_eq!(free(&t), [run(2, 8), run(12, 4)]);
    t.check_invariants();
}

#[test]
fn dirty_pages_are_zeroed_once_and_zero_pages_skipped() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(0, 8, true));
    take(&mut t, 0, 8);
    assert_eq!(t.counters.bytes_zero_skipped, 8 * PAGE_BYTES);
    release(&mut t, 2, 3);
    assert_eq!(t.n(PageState::FreeDirty), 3);
    let start = t.find(3, 1, 0).unwrap();
    assert_eq!(
        take(&mut t, start, 3),
        [Step {
            run: run(2, 3),
            action: Action::Zero
        }]
    );
    assert_eq!(t.counters.bytes_zeroed, 3 * PAGE_BYTES);
    t.check_invariants();
}

#[test]
fn batches_are_bounded() {
    let (mut t, _m) = table(1024);
    assert!(t.insert_grown(0, 512, true));
    take(&mut t, 0, 512);
    let mut plan = Plan::new();
    assert_eq!(t.decommit_batch(0, 512, true, &mut plan), BATCH_PAGES);
    assert_eq!(plan.steps().len(), 1, "one contiguous step");
    plan.clear();
    assert_eq!(t.commit_batch(0, 512, &mut plan), BATCH_PAGES);
    plan.clear();
    release(&mut t, 0, 512);
    t.claim(0, 512);
    assert_eq!(t.claim_batch(0, 512, Fill::Zero, &mut plan), BATCH_PAGES);
    assert_eq!(t.reserved_pages(), 512, "claimed pages count as reserved");
}

#[test]
fn commit_is_page_by_page() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(0, 8, true));
    take(&mut t, 0, 8);
    let mut plan = Plan::new();
    t.decommit_batch(2, 4, false, &mut plan);
    assert_eq!(plan.steps()[0].action, Action::WriteSentinel);
    plan.clear();
    t.decommit_batch(6, 7, true, &mut plan);
    plan.clear();
    assert_eq!(t.commit_batch(0, 8, &mut plan), 8);
    assert_eq!(
        plan.steps(),
        [Step {
            run: run(2, 2),
            action: Action::CheckSentinelThenZero
        }],
        "only the lazily decommitted pages are zeroed"
    );
    assert_eq!(t.n(PageState::Committed), 8);
    t.check_invariants();
}

#[test]
fn full_plan_stops_and_resumes() {
    let (mut t, _m) = table(256);
    assert!(t.insert_grown(0, 100, true));
    take(&mut t, 0, 100);
    let mut plan = Plan::new();
    // Decommit every other page: 50 separate steps.
    for p in (0..100).step_by(2) {
        assert_eq!(t.decommit_batch(p, p + 1, true, &mut plan), p + 1);
        if plan.steps().len() == PLAN_STEPS {
            plan.clear();
        }
    }
    plan.clear();
    release(&mut t, 0, 100);
    let start = t.find(100, 1, 0).unwrap();
    t.claim(start, 100);
    let mut from = start;
    let mut batches = 0;
    let mut zeroed = 0;
    while from < 100 {
        plan.clear();
        from = t.claim_batch(from, 100, Fill::Zero, &mut plan);
        zeroed += plan.steps().iter().map(|s| s.run.len).sum::<usize>();
        batches += 1;
    }
    assert_eq!(zeroed, 50, "exactly the dirty pages, across batches");
    assert_eq!(batches, 50usize.div_ceil(PLAN_STEPS));
    t.check_invariants();
}

#[test]
fn reserved_check_rejects_free_foreign_claimed_and_out_of_bounds() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(4, 8, false));
    t.claim(4, 4);
    assert!(!t.is_reserved(4, 1), "pages being claimed");
    let mut plan = Plan::new();
    t.claim_batch(4, 8, Fill::Zero, &mut plan);
    assert!(t.is_reserved(4, 4));
    assert!(!t.is_reserved(3, 2), "foreign");
    assert!(!t.is_reserved(7, 2), "free");
    assert!(!t.is_reserved(11, 2), "out of bounds");
    assert!(!t.is_reserved(usize::MAX, 2), "overflow");
}

#[test]
fn growth_is_used_before_older_free_pages() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(0, 4, true));
    take(&mut t, 0, 4);
    release(&mut t, 0, 4); // dirty, then coalesced with the growth below
    assert!(t.insert_grown(4, 4, true));
    assert_eq!(free(&t), [run(0, 8)]);
    assert_eq!(
        t.find(4, 1, 0),
        Some(0),
        "plain best fit takes the dirty pages"
    );
    assert!(t.fits_at(4, 4), "the grower can take its fresh pages");
    assert!(!t.fits_at(5, 4));
    take(&mut t, 6, 2);
    assert!(!t.fits_at(4, 4), "no longer free");
}

#[test]
fn growth_needed_extends_tail_only_at_memory_end() {
    let (mut t, _m) = table(64);
    assert!(t.insert_grown(0, 8, true));
    take(&mut t, 0, 6);
    assert_eq!(t.growth_needed(4, 1, 0, 8), (2, 6), "tail of 2 reused");
    assert_eq!(
        t.growth_needed(4, 1, 0, 12),
        (4, 12),
        "foreign growth after us"
    );
    assert_eq!(t.growth_needed(4, 4, 0, 8), (4, 8), "aligned start at 8");
}
