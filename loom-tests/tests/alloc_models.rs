//! Loom models of the global allocator (`mt::Alloc`, docs/DESIGN.md §9):
//! every interleaving, up to `LOOM_MAX_PREEMPTIONS` preemptions, of two
//! threads using one allocator. Run with `scripts/test-loom.sh`.
//!
//! What loom checks here: the arena locks (loom atomics) and every access
//! to an arena's heap state (it sits in a loom cell inside `Locked`, so an
//! access without the lock's happens-before edge is reported), the page
//! pool's locks and tables, and page contents written or read through the
//! `SimMemory` seam (a loom cell per 16 KiB page: a page zeroed by a new
//! owner without an edge from the old owner's writes is reported).
//!
//! What it does not check: talc's own reads and writes of its chunk
//! headers and free lists, and the segment headers, are plain raw-pointer
//! accesses that loom cannot see (talc has no atomics or cells); they are
//! covered only because every one of them happens inside an arena's lock,
//! which loom does check, and by Miri (`scripts/test-miri.sh`, one
//! thread). Block contents that both threads write in one page are written
//! with raw pointers (a page cell would report two blocks of one page as a
//! race); contents that must be ordered (a block, a segment or a
//! reservation changing owners) go through the seam.
//!
//! Broken variants (feature `loom-faults` of wasm-vmem, which this crate
//! enables; the switch exists only under `--cfg loom`): with
//! `Fault::FreeWithoutOwnerLock` a free from another thread updates the
//! owner's heap without the owner's lock, and the models of a cross-thread
//! free racing an allocation and of a segment going back to the pool fail
//! with loom's "Causality violation".
#![cfg(loom)]

use core::alloc::{GlobalAlloc, Layout};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{model, outcomes, seen};
use wasm_vmem::faults::{inject, Fault};
use wasm_vmem::mt::Alloc;
use wasm_vmem::sys::{LinearMemory, SimMemory};
use wasm_vmem::{Stats, LARGE_MIN, PAGE_SIZE, WASM_PAGE_SIZE};

/// The small heaps' segment size and alignment (`allocator::small`).
const SEGMENT: usize = 256 * 1024;

/// An allocator over `wasm_pages` wasm pages for the scenario, plus one
/// per arena for the tables' storage, grown before the scenario starts (as
/// the pool models do), so that the models explore the allocator's races
/// and not the storage's (`storage_growths_racing_in_one_arena` does).
fn allocator(wasm_pages: usize) -> Arc<Alloc<SimMemory>> {
    let total = wasm_pages + 2;
    let a = Alloc::new(SimMemory::new(total * WASM_PAGE_SIZE));
    let pages = total * (WASM_PAGE_SIZE / PAGE_SIZE);
    assert!(a.vmem().prepare_metadata_in(0, pages) && a.vmem().prepare_metadata_in(1, pages));
    Arc::new(a)
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn alloc(a: &Alloc<SimMemory>, size: usize) -> usize {
    // SAFETY: non-zero sizes only.
    let p = unsafe { a.alloc(layout(size)) };
    assert!(!p.is_null(), "out of memory");
    p as usize
}

fn dealloc(a: &Alloc<SimMemory>, p: usize, size: usize) {
    // SAFETY: callers pass a live block of theirs of that size.
    unsafe { a.dealloc(p as *mut u8, layout(size)) }
}

/// Writes `byte` over a block with a raw pointer (not seen by loom).
fn stamp(p: usize, len: usize, byte: u8) {
    // SAFETY: callers pass a live block of theirs.
    unsafe { (p as *mut u8).write_bytes(byte, len) }
}

/// Whether a block holds `byte` throughout, read with a raw pointer.
fn stamped(p: usize, len: usize, byte: u8) -> bool {
    // SAFETY: callers pass a live block of theirs.
    unsafe { core::slice::from_raw_parts(p as *const u8, len) }
        .iter()
        .all(|&b| b == byte)
}

/// Reads through the seam (seen by loom).
fn reads(a: &Alloc<SimMemory>, addr: usize, len: usize, byte: u8) -> bool {
    // SAFETY: callers pass committed pages their thread owns.
    unsafe { a.vmem().memory().reads(addr, len, byte) }
}

/// Writes through the seam (seen by loom).
fn write(a: &Alloc<SimMemory>, addr: usize, len: usize, byte: u8) {
    // SAFETY: callers pass committed pages their thread owns.
    unsafe { a.vmem().memory().fill(addr, len, byte) }
}

fn consistent(s: &Stats) {
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    assert_eq!(s.reserved_bytes, s.committed_bytes + s.decommitted_bytes);
}

/// The allocator's pages are exactly what the pool has reserved, besides
/// `other` bytes reserved through the page API.
fn balanced(a: &Alloc<SimMemory>, other: u64) {
    let s = a.stats();
    let v = a.vmem().stats();
    consistent(&v);
    assert_eq!(v.reserved_bytes, s.large_bytes + s.small_held_bytes + other);
    a.vmem().check_invariants();
}

/// (a) A block allocated by one thread is freed by another (into the
/// owner's arena, under its lock) while the owner allocates in the same
/// arena: the heap is only ever touched under the lock, the freed block may
/// be handed out again, and no live block is disturbed.
fn cross_thread_free_racing_the_owners_allocation() {
    let a = allocator(8);
    let keep = alloc(&a, 48);
    stamp(keep, 48, 0x11);
    let x = alloc(&a, 100);
    stamp(x, 100, 0xAA);
    let freer = {
        let a = a.clone();
        thread::spawn(move || {
            // Handed over by the spawn: it holds what the owner wrote.
            assert!(stamped(x, 100, 0xAA), "the block as handed over");
            dealloc(&a, x, 100);
            // Then a block of its own, in the same arena (under loom every
            // thread's is arena 0), handed back to the main thread.
            let w = alloc(&a, 24);
            stamp(w, 24, 0xCC);
            w
        })
    };
    let y = alloc(&a, 100);
    stamp(y, 100, 0xBB);
    let w = freer.join().unwrap();
    assert!(
        stamped(y, 100, 0xBB) && stamped(keep, 48, 0x11),
        "live blocks intact"
    );
    assert!(stamped(w, 24, 0xCC));
    let s = a.stats();
    assert_eq!((s.small_in_use_bytes, s.small_spans), (172, 1), "{s:?}");
    balanced(&a, 0);
    dealloc(&a, w, 24);
    dealloc(&a, y, 100);
    dealloc(&a, keep, 48);
    assert_eq!(a.stats().in_use_bytes, 0);
}

#[test]
fn cross_thread_free_racing_an_allocation() {
    model(
        "cross_thread_free_racing_an_allocation",
        cross_thread_free_racing_the_owners_allocation,
    );
}

/// The broken variant: the free skips the owner's lock.
#[test]
#[should_panic(expected = "Causality violation")]
fn cross_thread_free_without_the_owners_lock_is_caught() {
    let _fault = inject(Fault::FreeWithoutOwnerLock);
    loom::model(cross_thread_free_racing_the_owners_allocation);
}

/// (a') A block of arena 1 is freed by a thread of arena 0 (under loom
/// every thread's own arena is 0) while the owner works in arena 1: the
/// freer hands the block over on arena 1's lock-free stack without taking
/// its lock, then (the hand-over batch is 1 under loom) frees the stack
/// itself if arena 1's lock is free; otherwise the owner's next
/// allocation in arena 1 (or `stats`) frees it. Both paths are explored;
/// either way the owner's blocks are intact and everything is accounted
/// for.
#[test]
fn free_handed_over_while_the_owner_is_busy() {
    model(
        "free_handed_over_while_the_owner_is_busy",
        free_handed_over_racing_the_owner,
    );
    assert_eq!(
        outcomes(),
        0b11,
        "freed by the freer under the lock, and left for the owner"
    );
}

/// The broken variant: handed-over blocks are never freed, so the figures
/// are wrong once a block was handed over.
#[test]
#[should_panic(expected = "small_in_use_bytes")]
fn handed_over_blocks_never_freed_is_caught() {
    let _fault = inject(Fault::HandOverNeverFreed);
    loom::model(free_handed_over_racing_the_owner);
}

fn free_handed_over_racing_the_owner() {
    {
        let a = allocator(8);
        // SAFETY (here and below): non-zero small layouts.
        let x = a.alloc_in(1, layout(100)) as usize;
        assert_ne!(x, 0);
        stamp(x, 100, 0xAA);
        let freer = {
            let a = a.clone();
            thread::spawn(move || {
                assert!(stamped(x, 100, 0xAA), "the block as handed over");
                dealloc(&a, x, 100);
            })
        };
        let y = a.alloc_in(1, layout(100)) as usize;
        assert_ne!(y, 0);
        stamp(y, 100, 0xBB);
        freer.join().unwrap();
        // Still handed over, or freed by the freer under the lock (then
        // perhaps `y` is `x`'s block again).
        seen(usize::from(a.handed_over(1)));
        assert!(stamped(y, 100, 0xBB), "the owner's block intact");
        // `stats` frees what waits on the stack first: exact at rest.
        let s = a.stats();
        assert_eq!(s.small_in_use_bytes, 100, "small_in_use_bytes: {s:?}");
        balanced(&a, 0);
        dealloc(&a, y, 100);
        assert_eq!(a.stats().in_use_bytes, 0);
    }
}

/// Blocks of this size fill segments quickly (a few per segment).
const BIG_SMALL: usize = LARGE_MIN - 1024;

/// (b) Arena 0 holds three segments: the first (talc's metadata, never
/// given back), an empty one, and one whose last block another thread
/// frees, so that it goes back to the pool. Meanwhile the owner allocates a
/// small block in that arena and reserves a segment's worth of pages
/// through the page API, which can only be the given-back segment's pages
/// (or fresh growth): the freeing thread's writes (through the seam) are
/// ordered before the new owner zeroes them, and the heap no longer hands
/// out blocks in them.
fn segment_back_to_the_pool_racing_a_reservation() {
    let a = allocator(32);
    let seg = |p: usize| p & !(SEGMENT - 1);
    // Fill segments with blocks until a third segment is taken.
    let mut blocks = Vec::new();
    while a.stats().small_spans < 3 {
        blocks.push(alloc(&a, BIG_SMALL));
    }
    let third = seg(*blocks.last().unwrap());
    let second = seg(blocks[blocks.len() - 2]);
    assert_ne!(second, third);
    assert_ne!(seg(blocks[0]), second);
    // The third segment empty (kept: the arena's one empty segment), the
    // second down to one block, which goes to the other thread.
    let mut in_second: Vec<usize> = blocks
        .iter()
        .copied()
        .filter(|&b| seg(b) == second)
        .collect();
    for &b in blocks.iter().filter(|&&b| seg(b) == third) {
        dealloc(&a, b, BIG_SMALL);
    }
    let x = in_second.pop().unwrap();
    for b in in_second {
        dealloc(&a, b, BIG_SMALL);
    }
    let first: Vec<usize> = blocks
        .iter()
        .copied()
        .filter(|&b| seg(b) != second && seg(b) != third)
        .collect();
    assert_eq!(a.stats().small_spans, 3);
    let freer = {
        let a = a.clone();
        thread::spawn(move || {
            // The block's last use, through the seam: ordered before the
            // pages' next owner zeroes them.
            write(&a, x, BIG_SMALL, 0xEE);
            dealloc(&a, x, BIG_SMALL);
        })
    };
    let y = alloc(&a, 1000);
    stamp(y, 1000, 0x77);
    let r = a.vmem().reserve(SEGMENT, PAGE_SIZE).unwrap().as_ptr() as usize;
    assert!(reads(&a, r, SEGMENT, 0), "the reservation reads zero");
    write(&a, r, SEGMENT, 0x55);
    freer.join().unwrap();
    assert!(
        y + 1000 <= r || r + SEGMENT <= y,
        "the block is not in the reservation"
    );
    assert!(
        reads(&a, r, SEGMENT, 0x55),
        "nobody else wrote the reservation"
    );
    assert!(stamped(y, 1000, 0x77), "the block intact");
    let s = a.stats();
    // The second segment went back unless `y` was placed in it first, or
    // in the empty third one first (then the second is the one kept empty).
    let kept = match seg(y) {
        y if y == second => 3..=3,
        y if y == third => 2..=3,
        _ => 2..=2,
    };
    assert!(kept.contains(&s.small_spans), "{s:?}");
    if r == second {
        assert_eq!(s.small_spans, 2, "reused only once given back");
        seen(0);
    } else {
        seen(1);
    }
    balanced(&a, SEGMENT as u64);
    dealloc(&a, y, 1000);
    for b in first {
        dealloc(&a, b, BIG_SMALL);
    }
    assert_eq!(a.stats().in_use_bytes, 0);
}

#[test]
fn segment_back_to_the_pool_racing_a_reserve() {
    model(
        "segment_back_to_the_pool_racing_a_reserve",
        segment_back_to_the_pool_racing_a_reservation,
    );
    assert_eq!(
        outcomes(),
        0b11,
        "the reservation took the given-back segment, and grew"
    );
}

/// The broken variant: the last free skips the owner's lock.
#[test]
#[should_panic(expected = "Causality violation")]
fn segment_back_to_the_pool_without_the_owners_lock_is_caught() {
    let _fault = inject(Fault::FreeWithoutOwnerLock);
    loom::model(segment_back_to_the_pool_racing_a_reservation);
}

/// (c) A large block is grown by `realloc` while the pages behind it are
/// free (dirty), and another thread reserves exactly that many pages: one
/// of them gets the pages (in place, or the reservation), the other grows
/// the memory (the block then moves); the pages are never shared, the
/// block keeps its contents and the reservation reads zero (what `realloc`
/// grows into is uninitialised: not checked).
#[test]
fn realloc_in_place_racing_a_reserve() {
    model("realloc_in_place_racing_a_reserve", || {
        let a = allocator(4);
        let l = alloc(&a, LARGE_MIN);
        write(&a, l, LARGE_MIN, 0xAB);
        let q = a
            .vmem()
            .reserve(WASM_PAGE_SIZE, PAGE_SIZE)
            .unwrap()
            .as_ptr();
        assert_eq!(q as usize, l + LARGE_MIN, "right behind the block");
        write(&a, q as usize, WASM_PAGE_SIZE, 0xFF);
        // SAFETY: ours, not used again: 4 dirty free pages behind `l`.
        unsafe { a.vmem().release(q, WASM_PAGE_SIZE).unwrap() };
        let grower = {
            let a = a.clone();
            thread::spawn(move || {
                // SAFETY: a live block of ours.
                let p = unsafe { a.realloc(l as *mut u8, layout(LARGE_MIN), 2 * LARGE_MIN) };
                assert!(!p.is_null());
                let p = p as usize;
                assert!(reads(&a, p, LARGE_MIN, 0xAB), "contents kept");
                write(&a, p, 2 * LARGE_MIN, 0xCD);
                p
            })
        };
        let r = a
            .vmem()
            .reserve(WASM_PAGE_SIZE, PAGE_SIZE)
            .unwrap()
            .as_ptr() as usize;
        assert!(
            reads(&a, r, WASM_PAGE_SIZE, 0),
            "the reservation reads zero"
        );
        write(&a, r, WASM_PAGE_SIZE, 0x33);
        let p = grower.join().unwrap();
        assert!(
            p + 2 * LARGE_MIN <= r || r + WASM_PAGE_SIZE <= p,
            "disjoint"
        );
        assert!(reads(&a, r, WASM_PAGE_SIZE, 0x33) && reads(&a, p, 2 * LARGE_MIN, 0xCD));
        // In place exactly when the reservation did not take the pages.
        assert_eq!(
            p == l,
            r != l + LARGE_MIN,
            "in place iff the pages were free"
        );
        seen(usize::from(p == l));
        let s = a.stats();
        assert_eq!(
            (s.in_use_bytes, s.large_bytes),
            (2 * LARGE_MIN as u64, 2 * LARGE_MIN as u64)
        );
        balanced(&a, WASM_PAGE_SIZE as u64);
        let v = a.vmem().stats();
        // The dirty pages were zeroed once if the reservation took them,
        // not at all if `realloc` did (it leaves what it grows into as it
        // is).
        let zeroed = if p == l { 0 } else { WASM_PAGE_SIZE as u64 };
        assert_eq!(v.bytes_zeroed, zeroed, "{v:?}");
        dealloc(&a, p, 2 * LARGE_MIN);
    });
    assert_eq!(outcomes(), 0b11, "grown in place, and moved");
}
