//! The `GlobalAlloc` rules of the allocator (docs/DESIGN.md §9), each run
//! over both builds (`st::Alloc`, `mt::Alloc`, and natively the parking
//! policy) on a simulated memory. The allocator as the process's own
//! `#[global_allocator]` is tested in `tests/global_alloc.rs`.
//!
//! A block's pattern covers its first 64 bytes and then every 61st
//! ([`STRIDE`]): any overlap of two blocks shows, and debug builds stay
//! quick. Under Miri (`scripts/test-miri.sh`), which interprets every byte
//! access, megabyte sizes shrink sixteenfold ([`MB`]) and the stride is
//! 509.

mod common;
use common::*;
use core::alloc::{GlobalAlloc, Layout};
use wasm_vmem::{GenericAlloc, LARGE_MIN};

both_builds!(
    alloc_every_alignment_and_size,
    alloc_zeroed_reads_zero_after_reuse,
    alloc_zeroed_skips_known_zero_pages,
    realloc_keeps_data_and_alignment,
    realloc_grows_large_blocks_in_place,
    realloc_shrinks_large_blocks_in_place,
    small_and_large_share_one_pool_with_the_page_api,
    empty_spans_go_back_to_the_pool,
    empty_spans_kept_are_bounded,
    small_in_use_stays_exact_as_spans_go_back,
    blocks_handed_over_are_freed_before_memory_runs_out,
    a_full_span_freed_by_other_threads_is_taken_back,
    a_span_freed_whole_by_another_heap_is_taken_back_at_once,
    blocks_handed_over_are_reused_before_a_new_segment,
    out_of_memory_is_null,
    stats_follow_allocations,
    spans_on_pages_that_held_data_are_not_zeroed_for_them,
    large_blocks_of_few_pages_are_kept_for_reuse,
    the_reserve_serves_a_span_before_the_memory_grows,
);

type A<P> = GenericAlloc<SimMemory, P>;

/// The tests' "megabyte": 1 MiB natively, 64 KiB (still `LARGE_MIN`)
/// under Miri.
const MB: usize = if cfg!(miri) { 64 * KIB } else { MIB };

/// Every how many bytes a block carries its pattern, besides its first 64.
const STRIDE: usize = if cfg!(miri) { 509 } else { 61 };

/// The positions of a block of `len` bytes that carry its pattern.
fn marks(len: usize) -> impl Iterator<Item = usize> {
    (0..len.min(64)).chain((64..len).step_by(STRIDE))
}

/// Whether a block reads zero (at its marks).
///
/// # Safety
/// `p .. p + len` must be a live block of the test.
unsafe fn zeroes(p: *const u8, len: usize) -> bool {
    marks(len).all(|i| unsafe { p.add(i).read() } == 0)
}

fn alloc<P: Policy>(max: usize) -> A<P> {
    GenericAlloc::new(SimMemory::new(max))
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// A byte pattern that differs per block and per position.
fn pattern(seed: usize, i: usize) -> u8 {
    (seed.wrapping_mul(31).wrapping_add(i) % 251) as u8
}

/// Fills a block with its pattern.
///
/// # Safety
/// `p .. p + len` must be a live block of the test.
unsafe fn stamp(p: *mut u8, len: usize, seed: usize) {
    for i in marks(len) {
        unsafe { p.add(i).write(pattern(seed, i)) };
    }
}

/// Whether a block still holds its pattern.
///
/// # Safety
/// As for `stamp`.
unsafe fn stamped(p: *const u8, len: usize, seed: usize) -> bool {
    marks(len).all(|i| unsafe { p.add(i).read() } == pattern(seed, i))
}

fn alloc_every_alignment_and_size<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    let mut live = Vec::new();
    let mut seed = 0;
    // Under Miri every third alignment, so that the memory holds them all.
    for align_log in (0..=20).step_by(if cfg!(miri) { 3 } else { 1 }) {
        let align = 1usize << align_log;
        for size in [
            1,
            7,
            8,
            24,
            100,
            4096,
            20_000,
            LARGE_MIN - 1,
            LARGE_MIN,
            300_000,
        ] {
            let l = layout(size, align);
            // SAFETY: non-zero size.
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null(), "{size} aligned {align}");
            assert_eq!(p as usize % align, 0, "{size} aligned {align}");
            assert!(a.vmem().memory().contains(p as usize, size));
            // SAFETY: a live block of `size` bytes.
            unsafe { stamp(p, size, seed) };
            live.push((p, l, seed));
            seed += 1;
        }
    }
    // No block overlaps another: each still holds its own pattern.
    for &(p, l, seed) in &live {
        // SAFETY: live, stamped above.
        assert!(unsafe { stamped(p, l.size(), seed) }, "{l:?}");
    }
    for (p, l, _) in live {
        // SAFETY: live, allocated with `l`.
        unsafe { a.dealloc(p, l) };
    }
    let s = a.stats();
    assert_eq!(s.in_use_bytes, 0);
    assert_eq!(s.large_bytes, 0);
    a.vmem().check_invariants();
}

fn alloc_zeroed_reads_zero_after_reuse<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    for round in 0..3 {
        let mut live = Vec::new();
        for (i, size) in [16, 1000, 30_000, LARGE_MIN, 3 * MB]
            .into_iter()
            .enumerate()
        {
            let l = layout(size, 8);
            // SAFETY: non-zero size.
            let p = unsafe { a.alloc_zeroed(l) };
            assert!(!p.is_null());
            // SAFETY: a live block of `size` bytes.
            assert!(unsafe { zeroes(p, size) }, "round {round} size {size}");
            // SAFETY: as above: dirty it for the next round.
            unsafe { fill(p, size, 0xEE - i as u8) };
            live.push((p, l));
        }
        for (p, l) in live {
            // SAFETY: live, allocated with `l`.
            unsafe { a.dealloc(p, l) };
        }
    }
}

fn alloc_zeroed_skips_known_zero_pages<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    let l = layout(8 * MB, 8);
    // Fresh pages: nothing written.
    // SAFETY: non-zero size.
    let p = unsafe { a.alloc_zeroed(l) };
    assert_eq!(a.stats().zeroing_skipped_bytes, u64b(8 * MB));
    assert_eq!(a.stats().zeroed_bytes, 0);
    // SAFETY: live; dirty it, free it, take it again zeroed.
    unsafe {
        fill(p, 8 * MB, 1);
        a.dealloc(p, l);
    }
    // SAFETY: non-zero size.
    let q = unsafe { a.alloc_zeroed(l) };
    // SAFETY: a live block.
    assert!(unsafe { zeroes(q, 8 * MB) });
    let s = a.stats();
    assert_eq!(s.zeroed_bytes, u64b(8 * MB), "dirty pages zeroed once");
    // `alloc` writes nothing at all: no zeroing counted.
    // SAFETY: live, allocated with `l`; then a non-zero size.
    unsafe {
        a.dealloc(q, l);
        let r = a.alloc(l);
        assert_eq!(a.stats().zeroed_bytes, u64b(8 * MB));
        assert_eq!(a.vmem().stats().bytes_zeroed, u64b(8 * MB));
        a.dealloc(r, l);
    }
}

fn realloc_keeps_data_and_alignment<P: Policy>() {
    let a = alloc::<P>(512 * MB);
    let sizes = [1, 24, 500, 40_000, LARGE_MIN, 200_000, 5 * MB, 100, 3];
    for align in [1, 8, 64, 4096, PAGE_SIZE, 64 * KIB] {
        let mut l = layout(sizes[0], align);
        // SAFETY: non-zero size.
        let mut p = unsafe { a.alloc(l) };
        // SAFETY: live block of that size.
        unsafe { stamp(p, l.size(), 9) };
        for &size in &sizes[1..] {
            // SAFETY: live block of `l`, non-zero new size.
            let q = unsafe { a.realloc(p, l, size) };
            assert!(!q.is_null());
            assert_eq!(q as usize % align, 0, "alignment kept: {size} {align}");
            let kept = l.size().min(size);
            // SAFETY: live block of at least `kept` bytes.
            assert!(unsafe { stamped(q, kept, 9) }, "data kept: {size} {align}");
            l = layout(size, align);
            // SAFETY: as above.
            unsafe { stamp(q, size, 9) };
            p = q;
        }
        // SAFETY: live, allocated with `l`.
        unsafe { a.dealloc(p, l) };
    }
    assert_eq!(a.stats().in_use_bytes, 0);
    a.vmem().check_invariants();
}

fn realloc_grows_large_blocks_in_place<P: Policy>() {
    let a = alloc::<P>(512 * MB);
    let mut l = layout(LARGE_MIN, 8);
    // SAFETY: non-zero size.
    let p = unsafe { a.alloc(l) };
    // SAFETY: live block.
    unsafe { stamp(p, l.size(), 3) };
    // A Vec doubling at the end of memory: every step grows in place (the
    // memory grows right behind it).
    for size in [2 * LARGE_MIN, (4 * LARGE_MIN).max(MB), 16 * MB, 64 * MB] {
        // SAFETY: live block of `l`.
        let q = unsafe { a.realloc(p, l, size) };
        assert_eq!(q, p, "grown in place to {size}");
        // SAFETY: the old part holds its data (the new part is
        // uninitialised, as realloc promises nothing more).
        assert!(unsafe { stamped(q, l.size(), 3) });
        // SAFETY: as above.
        unsafe { stamp(q, size, 3) };
        l = layout(size, 8);
    }
    // A reservation right behind it: the next growth must move.
    let next = a.vmem().reserve(PAGE_SIZE, 1).unwrap().as_ptr();
    assert_eq!(next as usize, p as usize + 64 * MB, "reserved right behind");
    // SAFETY: live block of `l`.
    let q = unsafe { a.realloc(p, l, 65 * MB) };
    assert_ne!(q, p, "moved");
    // SAFETY: live block of at least `l.size()` bytes.
    assert!(unsafe { stamped(q, l.size(), 3) });
    // SAFETY: live block; the reservation is the test's.
    unsafe {
        a.dealloc(q, layout(65 * MB, 8));
        a.vmem().release(next, PAGE_SIZE).unwrap();
    }
    a.vmem().check_invariants();
    assert_eq!(a.vmem().stats().reserved_bytes, 0);
}

fn realloc_shrinks_large_blocks_in_place<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    let l = layout(8 * MB, 8);
    // SAFETY: non-zero size.
    let p = unsafe { a.alloc(l) };
    // SAFETY: live block of `l`.
    let q = unsafe { a.realloc(p, l, 2 * MB) };
    assert_eq!(q, p);
    assert_eq!(
        a.vmem().stats().reserved_bytes,
        u64b(2 * MB),
        "tail released"
    );
    assert_eq!(a.stats().large_bytes, u64b(2 * MB));
    // SAFETY: live block of 2 MiB.
    unsafe { a.dealloc(q, layout(2 * MB, 8)) };
    assert_eq!(a.vmem().stats().reserved_bytes, 0);
}

fn small_and_large_share_one_pool_with_the_page_api<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    // Pages released by the page API serve the allocator...
    let r = a.vmem().reserve(32 * MB, 1).unwrap().as_ptr();
    // SAFETY: reserved above.
    unsafe { a.vmem().release(r, 32 * MB).unwrap() };
    let grown = a.vmem().stats().grows;
    let l = layout(16 * MB, 8);
    // SAFETY: non-zero size.
    let p = unsafe { a.alloc(l) };
    let mut small = Vec::new();
    for _ in 0..if cfg!(miri) { 200 } else { 1000 } {
        // SAFETY: non-zero size.
        small.push(unsafe { a.alloc(layout(1000, 8)) });
    }
    assert_eq!(
        a.vmem().stats().grows,
        grown,
        "no growth: the pool had room"
    );
    // ...and the allocator's freed pages serve the page API.
    // SAFETY: live blocks.
    unsafe {
        a.dealloc(p, l);
        for q in small {
            a.dealloc(q, layout(1000, 8));
        }
    }
    let r = a.vmem().reserve(16 * MB, 1).unwrap().as_ptr();
    assert_eq!(a.vmem().stats().grows, grown);
    // SAFETY: reserved above.
    unsafe { a.vmem().release(r, 16 * MB).unwrap() };
    a.vmem().check_invariants();
}

fn empty_spans_go_back_to_the_pool<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    let l = layout(4000, 8);
    // Enough small blocks for many segments (fewer under Miri).
    let (count, least) = if cfg!(miri) { (600, 8) } else { (2000, 20) };
    // SAFETY: non-zero sizes.
    let blocks: Vec<_> = (0..count).map(|_| unsafe { a.alloc(l) }).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    let held = a.stats().small_spans;
    assert!(held >= least, "{held} spans");
    for p in blocks {
        // SAFETY: live blocks of `l`.
        unsafe { a.dealloc(p, l) };
    }
    let s = a.stats();
    // One class of 16 KiB spans: its queue keeps one empty span, the heap
    // caches up to its reserve; every other span went back.
    assert!(
        s.small_held_bytes <= u64b(16 * KIB + A::<P>::SPAN_RESERVE_BYTES),
        "{s:?}"
    );
    assert_eq!(s.small_in_use_bytes, 0);
    assert_eq!(
        a.vmem().stats().reserved_bytes,
        s.small_held_bytes,
        "the rest went back to the pool"
    );
    a.vmem().check_invariants();
}

/// Empty spans a heap keeps are bounded: one per class queue (the only
/// span there, so that one block allocated and freed in a loop takes no
/// span each time) and its reserve, whatever order the blocks of every
/// class are freed in; the rest goes back to the pool.
fn empty_spans_kept_are_bounded<P: Policy>() {
    /// Size classes (`src/allocator/class.rs`).
    const CLASSES: usize = 44;
    let a = alloc::<P>(256 * MB);
    let per_size = if cfg!(miri) { 3 } else { 40 };
    // Every class, several spans' worth of the small ones.
    let layouts: Vec<Layout> = (0..CLASSES * per_size)
        .map(|i| layout(1 + (i * 7919) % (LARGE_MIN - 1), 8))
        .collect();
    // SAFETY: non-zero sizes.
    let mut blocks: Vec<(*mut u8, Layout)> = layouts
        .iter()
        .map(|&l| (unsafe { a.alloc(l) }, l))
        .collect();
    assert!(blocks.iter().all(|(p, _)| !p.is_null()));
    // Freed in a scrambled order, with a few blocks allocated again on
    // the way (they may land in a span kept empty).
    let n = blocks.len();
    let mut again = Vec::new();
    for k in 0..n {
        let (p, l) = blocks[(k * 7) % n];
        // SAFETY: a live block of `l`, freed once (7 and `n` coprime).
        unsafe { a.dealloc(p, l) };
        if k % 97 == 0 {
            // SAFETY: non-zero size.
            again.push((unsafe { a.alloc(l) }, l));
        }
    }
    blocks.clear();
    for (p, l) in again {
        assert!(!p.is_null());
        // SAFETY: live blocks of `l`.
        unsafe { a.dealloc(p, l) };
    }
    let s = a.stats();
    assert_eq!(s.small_in_use_bytes, 0);
    assert!(
        s.small_held_bytes <= u64b(A::<P>::KEPT_EMPTY_BYTES),
        "{s:?}"
    );
    assert_eq!(a.vmem().stats().reserved_bytes, s.small_held_bytes);
    a.vmem().check_invariants();
}

/// The small in-use figure is exact after every free, whichever spans
/// empty and go back (grouped by 256 KiB of address: a span never crosses
/// such a boundary) and after a block shrinks.
fn small_in_use_stays_exact_as_spans_go_back<P: Policy>() {
    const SEGMENT: usize = 256 * KIB;
    let a = alloc::<P>(256 * MB);
    let count = if cfg!(miri) { 600 } else { 1000 };
    // Sizes from 24 B to about 5 KiB, all alignments to 64.
    let layouts: Vec<Layout> = (0..count)
        .map(|i| layout(24 + (i * 193) % 5000, 1 << (i % 7)))
        .collect();
    // SAFETY: non-zero sizes.
    let mut blocks: Vec<(*mut u8, Layout)> = layouts
        .iter()
        .map(|&l| (unsafe { a.alloc(l) }, l))
        .collect();
    assert!(blocks.iter().all(|(p, _)| !p.is_null()));
    let small_in_use =
        |blocks: &[(*mut u8, Layout)]| -> u64 { blocks.iter().map(|(_, l)| u64b(l.size())).sum() };
    assert_eq!(a.stats().small_in_use_bytes, small_in_use(&blocks));
    // One block shrinks (in place or not, the figure follows).
    let (p, l) = blocks[count / 2];
    // SAFETY: a live block of `l`; the new size is non-zero.
    let q = unsafe { a.realloc(p, l, 16) };
    assert!(!q.is_null());
    blocks[count / 2] = (q, layout(16, l.align()));
    assert_eq!(a.stats().small_in_use_bytes, small_in_use(&blocks));
    // Segments in address order (the order the heap took them from the
    // pool need not be it): free them in a scrambled order.
    let mut segments: Vec<usize> = blocks.iter().map(|(p, _)| *p as usize / SEGMENT).collect();
    segments.sort_unstable();
    segments.dedup();
    assert!(segments.len() >= 5, "{} segments", segments.len());
    let n = segments.len();
    let order = [n / 2, n - 1, 1, 0, n / 2 + 1, 2]
        .into_iter()
        .chain(0..n)
        .map(|i| segments[i])
        .collect::<Vec<_>>();
    for seg in order {
        let (gone, kept): (Vec<_>, Vec<_>) = blocks
            .into_iter()
            .partition(|(p, _)| *p as usize / SEGMENT == seg);
        blocks = kept;
        for (p, l) in gone {
            // SAFETY: a live block of `l`, freed once.
            unsafe { a.dealloc(p, l) };
        }
        let s = a.stats();
        assert_eq!(s.small_in_use_bytes, small_in_use(&blocks), "{s:?}");
        assert_eq!(s.in_use_bytes, s.small_in_use_bytes);
        assert_eq!(a.vmem().stats().reserved_bytes, s.small_held_bytes);
    }
    let s = a.stats();
    assert_eq!(s.small_in_use_bytes, 0);
    // One empty span per class, and the heap's reserve.
    assert!(
        s.small_held_bytes <= u64b(A::<P>::KEPT_EMPTY_BYTES),
        "{s:?}"
    );
    assert!(blocks.is_empty(), "every segment was freed");
    // The heap still serves after its list lost segments on every side.
    // SAFETY: non-zero sizes; then live blocks of these layouts.
    unsafe {
        let more: Vec<_> = layouts.iter().map(|&l| (a.alloc(l), l)).collect();
        assert!(more.iter().all(|(p, _)| !p.is_null()));
        assert_eq!(a.stats().small_in_use_bytes, small_in_use(&more));
        for (p, l) in more {
            a.dealloc(p, l);
        }
    }
    assert_eq!(a.stats().small_in_use_bytes, 0);
    a.vmem().check_invariants();
}

fn blocks_handed_over_are_freed_before_memory_runs_out<P: Policy>() {
    let heaps = P::HEAPS.max(1);
    let a = alloc::<P>(16 * MIB);
    // Ten blocks of ~30 KB in every heap (three to a 128 KiB span): four
    // spans each.
    let l = layout(30_000, 8);
    let mut blocks = Vec::new();
    for heap in 0..heaps {
        for _ in 0..10 {
            let p = a.alloc_in(heap, l);
            assert!(!p.is_null());
            blocks.push(p);
        }
    }
    let held = a.stats().small_spans;
    assert!(held >= 4 * heaps, "{held} spans");
    // All freed by this thread: the blocks of every other heap are
    // handed over (fewer than a batch each) and wait for their heap.
    for p in blocks {
        // SAFETY: live blocks of `l`.
        unsafe { a.dealloc(p, l) };
    }
    let waiting = (0..heaps).filter(|&x| a.handed_over(x)).count();
    assert!(waiting + 1 >= heaps, "{waiting} of {heaps} heaps wait");
    // Large blocks until the pool refuses: before it does, the blocks
    // handed over are freed, and the segments they emptied serve.
    let big = layout(MIB, 8);
    let mut got = Vec::new();
    loop {
        // SAFETY: non-zero size.
        let p = unsafe { a.alloc(big) };
        if p.is_null() {
            break;
        }
        got.push(p);
    }
    assert!(
        (0..heaps).all(|x| !a.handed_over(x)),
        "blocks left handed over while memory ran out"
    );
    let s = a.stats();
    assert_eq!(s.small_in_use_bytes, 0);
    assert!(s.small_spans <= 2 * heaps, "{s:?}");
    for p in got {
        // SAFETY: live blocks of `big`.
        unsafe { a.dealloc(p, big) };
    }
    a.vmem().check_invariants();
}

/// A span that left its queue full and then had blocks freed by another
/// thread is taken back by its heap's next allocation (the notifying
/// free put it on the heap's pending stack), its blocks reused before a
/// new span is reserved, and given back to the pool once empty.
fn a_full_span_freed_by_other_threads_is_taken_back<P: Policy>() {
    let a = alloc::<P>(64 * MIB);
    // 1 KiB blocks: 15 to a 16 KiB span.
    let l = layout(1024, 8);
    for heap in 0..P::HEAPS.max(1) {
        let reserved = || a.vmem().stats().reserved_bytes;
        // What the heaps before this one keep goes back first: else the
        // spans below could take it in place of growth, and the count of
        // reserved bytes would be theirs too.
        a.trim();
        let before = reserved();
        // Two spans' worth and one more block: the first two spans left
        // their queue full.
        let blocks: Vec<_> = (0..31).map(|_| a.alloc_in(heap, l)).collect();
        assert!(blocks.iter().all(|p| !p.is_null()));
        let taken = reserved();
        assert_eq!(taken - before, u64b(3 * 16 * KIB));
        for &p in &blocks {
            // SAFETY: live blocks of `l`, freed once.
            unsafe { a.dealloc(p, l) };
        }
        // This thread's own heap freed them at once; another heap was
        // notified and takes them at its next allocation.
        let again: Vec<_> = (0..31).map(|_| a.alloc_in(heap, l)).collect();
        assert!(!a.handed_over(heap), "heap {heap}");
        assert_eq!(reserved(), taken, "heap {heap}: blocks reused, no new span");
        for &p in &again {
            // SAFETY: live blocks of `l`, freed once.
            unsafe { a.dealloc(p, l) };
        }
        let s = a.stats();
        assert_eq!(s.small_in_use_bytes, 0, "{s:?}");
    }
    a.vmem().check_invariants();
}

/// Every block of a span freed by a thread of another heap: the span's
/// list of remotely freed blocks then holds as many as a span has (2,032
/// blocks of 8 bytes), its length kept in the list's one word; the owner
/// takes them back in one exchange, allocates them all again without a
/// new span, and once they are freed the span goes back whole (its count
/// of live blocks exact). In the single-threaded build every free is the
/// heap's own.
fn a_span_freed_whole_by_another_heap_is_taken_back_at_once<P: Policy>() {
    let a = alloc::<P>(16 * MIB);
    let l = layout(8, 8);
    let reserved = || a.vmem().stats().reserved_bytes;
    let before = reserved();
    let per_span = (16 * KIB - 128) / 8;
    let blocks: Vec<_> = (0..per_span).map(|_| a.alloc_in(0, l)).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    assert_eq!(reserved() - before, u64b(16 * KIB), "one span");
    for &p in &blocks {
        // SAFETY: live blocks of `l`, freed once, by a thread of heap 1.
        unsafe { a.dealloc_from(1, p, l) };
    }
    let again: Vec<_> = (0..per_span).map(|_| a.alloc_in(0, l)).collect();
    assert!(again.iter().all(|p| !p.is_null()));
    assert_eq!(reserved() - before, u64b(16 * KIB), "the same span");
    let mut sorted = again.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), per_span, "every block once");
    for &p in &again {
        // SAFETY: live blocks of `l`, freed once.
        unsafe { a.dealloc_from(0, p, l) };
    }
    assert_eq!(a.stats().small_in_use_bytes, 0);
    a.trim();
    assert_eq!(
        reserved(),
        before,
        "the span went back: no block counted live"
    );
    a.vmem().check_invariants();
}

/// Blocks handed over to a full heap serve its next allocations before it
/// takes another segment: a free never looks at the hand-over stack, an
/// allocation does (docs/DESIGN.md §10, entry 31).
fn blocks_handed_over_are_reused_before_a_new_segment<P: Policy>() {
    let a = alloc::<P>(64 * MIB);
    // A few blocks per segment.
    let l = layout(LARGE_MIN - 1024, 8);
    // A heap whose blocks this thread hands over (none in the
    // single-threaded build: every block is its one heap's).
    let Some(heap) = (0..P::HEAPS).find(|&heap| {
        let p = a.alloc_in(heap, l);
        assert!(!p.is_null());
        // SAFETY: a live block of `l`.
        unsafe { a.dealloc(p, l) };
        let handed = a.handed_over(heap);
        a.stats(); // frees it
        handed
    }) else {
        return;
    };
    // Segments are the only reservations: the pool's count of reserved
    // bytes follows them without freeing what was handed over (`stats`
    // would).
    let reserved = || a.vmem().stats().reserved_bytes;
    let mut blocks = Vec::new();
    let until_a_segment_is_added = |blocks: &mut Vec<*mut u8>| {
        let before = reserved();
        for n in 1.. {
            let p = a.alloc_in(heap, l);
            assert!(!p.is_null());
            blocks.push(p);
            if reserved() > before {
                return n;
            }
        }
        unreachable!()
    };
    until_a_segment_is_added(&mut blocks);
    // The segment just added is full after `per_segment` blocks; so is the
    // next one after as many (both are not the first).
    let per_segment = until_a_segment_is_added(&mut blocks);
    for _ in 1..per_segment {
        blocks.push(a.alloc_in(heap, l));
    }
    let full = reserved();
    // Three blocks of the older segments handed over, not freed yet.
    for p in blocks.drain(..3) {
        // SAFETY: live blocks of `l`, not used again.
        unsafe { a.dealloc(p, l) };
    }
    assert!(a.handed_over(heap));
    for _ in 0..3 {
        let p = a.alloc_in(heap, l);
        assert!(!p.is_null());
        blocks.push(p);
    }
    assert!(!a.handed_over(heap), "the allocations freed them");
    assert_eq!(reserved(), full, "no segment added");
    for p in blocks {
        // SAFETY: live blocks of `l`.
        unsafe { a.dealloc(p, l) };
    }
    assert_eq!(a.stats().in_use_bytes, 0);
}

fn out_of_memory_is_null<P: Policy>() {
    let mem = if cfg!(miri) { 2 * MIB } else { 8 * MIB };
    let a = alloc::<P>(mem);
    // SAFETY: non-zero sizes.
    unsafe {
        assert!(a.alloc(layout(2 * mem, 8)).is_null(), "too large");
        assert!(a.alloc_zeroed(layout(2 * mem, 8)).is_null());
        assert!(a.alloc(layout(mem / 2, 2 * mem)).is_null(), "too aligned");
        // Fill the memory with small blocks until it refuses.
        let l = layout(10_000, 8);
        let mut live = Vec::new();
        loop {
            let p = a.alloc(l);
            if p.is_null() {
                break;
            }
            live.push(p);
            assert!(live.len() < 10_000, "never refused");
        }
        // The refusal changed nothing: everything live is intact, and
        // freeing makes room again.
        let before = a.stats();
        assert!(a.alloc(l).is_null());
        assert_eq!(a.stats(), before);
        for p in live {
            a.dealloc(p, l);
        }
        let p = a.alloc(layout(mem / 4, 8));
        assert!(!p.is_null(), "room after freeing");
        a.dealloc(p, layout(mem / 4, 8));
        // A realloc that cannot be served gives null and keeps the block.
        let q = a.alloc(l);
        stamp(q, 10_000, 5);
        assert!(a.realloc(q, l, 8 * mem).is_null());
        assert!(stamped(q, 10_000, 5));
        a.dealloc(q, l);
    }
    a.vmem().check_invariants();
}

fn stats_follow_allocations<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    // SAFETY: non-zero sizes; then live blocks.
    unsafe {
        let s = a.alloc(layout(100, 8));
        let b = a.alloc(layout(LARGE_MIN + 1, 8));
        let st = a.stats();
        assert_eq!(st.in_use_bytes, u64b(100 + LARGE_MIN + 1));
        assert_eq!(st.small_in_use_bytes, 100);
        assert_eq!(
            st.large_bytes,
            u64b((LARGE_MIN + 1).next_multiple_of(PAGE_SIZE))
        );
        // One span of 16 KiB holds the 100-byte block.
        assert_eq!((st.small_spans, st.small_held_bytes), (1, u64b(16 * KIB)));
        assert_eq!(
            a.vmem().stats().reserved_bytes,
            st.large_bytes + st.small_held_bytes,
            "the pool sees exactly the allocator's pages"
        );
        a.dealloc(s, layout(100, 8));
        a.dealloc(b, layout(LARGE_MIN + 1, 8));
    }
    assert_eq!(a.stats().in_use_bytes, 0);
}

/// A span reserved on pages that held data is taken as they are: the pool
/// zeroes nothing for it, `alloc_zeroed` zeroes each block it hands out
/// from it, and `alloc` writes nothing. On fresh pages, `alloc_zeroed`
/// writes only a block's link word.
fn spans_on_pages_that_held_data_are_not_zeroed_for_them<P: Policy>() {
    let l = layout(1000, 8);
    let n = if cfg!(miri) { 32 } else { 256 };
    let link = size_of::<usize>();
    // Fresh memory: the blocks read zero but for their link word.
    let a = alloc::<P>(256 * MB);
    // SAFETY: non-zero sizes.
    let fresh: Vec<_> = (0..n).map(|_| unsafe { a.alloc_zeroed(l) }).collect();
    let s = a.stats();
    assert_eq!(s.zeroed_bytes, u64b(n * link), "{s:?}");
    assert_eq!(s.zeroing_skipped_bytes, u64b(n * (1000 - link)), "{s:?}");
    for &p in &fresh {
        // SAFETY: live blocks of `l`.
        assert!(unsafe { zeroes(p, 1000) });
    }
    // A memory whose every free page held data: each page reserved
    // through the page API, written, released.
    let a = alloc::<P>(2 * MIB);
    let mut pages = Vec::new();
    while let Ok(p) = a.vmem().reserve(PAGE_SIZE, 1) {
        // SAFETY: a page just reserved.
        unsafe { fill(p.as_ptr(), PAGE_SIZE, 0x5A) };
        pages.push(p);
    }
    assert!(pages.len() >= 100, "{} pages", pages.len());
    for p in pages {
        // SAFETY: reserved above, not used any more.
        unsafe { a.vmem().release(p.as_ptr(), PAGE_SIZE).unwrap() };
    }
    let pool_zeroed = a.vmem().stats().bytes_zeroed;
    // SAFETY: non-zero sizes.
    let dirty: Vec<_> = (0..n).map(|_| unsafe { a.alloc_zeroed(l) }).collect();
    for &p in &dirty {
        assert!(!p.is_null());
        // SAFETY: live blocks of `l`.
        assert!(unsafe { zeroes(p, 1000) });
    }
    assert_eq!(
        a.vmem().stats().bytes_zeroed,
        pool_zeroed,
        "the pool zeroed no span"
    );
    let s = a.stats();
    assert_eq!(
        s.zeroed_bytes,
        u64b(n * 1000),
        "each block zeroed whole, once: {s:?}"
    );
    assert_eq!(s.zeroing_skipped_bytes, 0, "{s:?}");
    // `alloc` on such pages writes nothing.
    // SAFETY: live blocks of `l`; then non-zero sizes and their blocks.
    unsafe {
        for &p in &dirty {
            a.dealloc(p, l);
        }
        let again: Vec<_> = (0..n).map(|_| a.alloc(l)).collect();
        assert_eq!(a.stats().zeroed_bytes, u64b(n * 1000));
        for p in again {
            a.dealloc(p, l);
        }
    }
    a.vmem().check_invariants();
}

/// A freed large block of a few pages is kept by the freeing thread's heap
/// and serves its next `alloc` of as many pages without a call to the
/// pool; `alloc_zeroed` does not take it (it holds data). What a heap keeps
/// is bounded by its reserve, and `trim` gives it all back.
fn large_blocks_of_few_pages_are_kept_for_reuse<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    let l = layout(40 * KIB, 8);
    let reserved = || a.vmem().stats().reserved_bytes;
    // SAFETY: non-zero sizes; blocks freed once, with their layouts.
    unsafe {
        let p = a.alloc(l);
        fill(p, l.size(), 0x77);
        a.dealloc(p, l);
        let s = a.stats();
        assert_eq!((s.in_use_bytes, s.large_bytes), (0, 0), "{s:?}");
        assert_eq!(s.small_held_bytes, u64b(48 * KIB), "kept: {s:?}");
        assert_eq!(reserved(), u64b(48 * KIB));
        // The next of as many pages is the block kept.
        let q = a.alloc(layout(33 * KIB, 16));
        assert_eq!(q, p, "the kept block serves");
        assert_eq!(a.stats().small_held_bytes, 0);
        assert_eq!(a.stats().large_bytes, u64b(48 * KIB));
        // `alloc_zeroed` does not take a kept block (it holds data): the
        // pool serves it, zero, from free pages or, before the memory
        // would grow, from the kept block the heap gives back.
        a.dealloc(q, layout(33 * KIB, 16));
        let grows = a.vmem().stats().grows;
        let z = a.alloc_zeroed(l);
        assert!(zeroes(z, l.size()));
        assert_eq!(a.vmem().stats().grows, grows, "no growth");
        a.dealloc(z, l);
        // Many freed: the heap keeps at most its reserve.
        let big = layout(64 * KIB, 8);
        let n = if cfg!(miri) { 24 } else { 64 };
        let blocks: Vec<_> = (0..n).map(|_| a.alloc(big)).collect();
        assert!(blocks.iter().all(|b| !b.is_null()));
        for b in blocks {
            a.dealloc(b, big);
        }
    }
    let s = a.stats();
    assert_eq!(s.in_use_bytes, 0);
    assert!(
        s.small_held_bytes <= u64b(A::<P>::SPAN_RESERVE_BYTES),
        "{s:?}"
    );
    assert_eq!(reserved(), s.small_held_bytes);
    a.check_invariants();
    assert!(a.trim());
    assert_eq!((a.stats().small_held_bytes, reserved()), (0, 0));
    a.vmem().check_invariants();
}

/// A span wanted when the pool has no free page: the heaps give back their
/// reserve (here large blocks kept) before the memory grows, and the span
/// comes from those pages.
fn the_reserve_serves_a_span_before_the_memory_grows<P: Policy>() {
    let a = alloc::<P>(256 * MB);
    let big = layout(64 * KIB, 8);
    let small = layout(64, 8);
    let free = || {
        let s = a.vmem().stats();
        s.free_zero_bytes + s.free_dirty_bytes
    };
    // SAFETY: non-zero sizes; blocks freed once, with their layouts.
    unsafe {
        let blocks: Vec<_> = (0..4).map(|_| a.alloc(big)).collect();
        assert!(blocks.iter().all(|b| !b.is_null()));
        for &b in &blocks {
            a.dealloc(b, big);
        }
        // Every page the memory has is kept by the heap.
        assert_eq!(a.stats().small_held_bytes, u64b(4 * big.size()));
        assert_eq!(free(), 0, "{:?}", a.vmem().stats());
        let grows = a.vmem().stats().grows;
        let p = a.alloc(small);
        assert!(!p.is_null());
        assert_eq!(a.vmem().stats().grows, grows, "no growth for the span");
        // The span holds the block; the kept blocks went back to the pool.
        let span = a.vmem().stats().reserved_bytes;
        assert!(span > 0 && span < u64b(big.size()), "{span}");
        assert_eq!(a.stats().small_held_bytes, span);
        assert_eq!(free(), u64b(4 * big.size()) - span);
        a.dealloc(p, small);
    }
    a.check_invariants();
    a.vmem().check_invariants();
}
