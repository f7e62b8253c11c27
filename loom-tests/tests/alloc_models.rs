//! Loom models of the global allocator (`mt::Alloc`, docs/DESIGN.md §9):
//! every interleaving, up to `LOOM_MAX_PREEMPTIONS` preemptions, of two or
//! three threads using one allocator. Run with `scripts/test-loom.sh`.
//!
//! The small-object heaps are size-class spans (`src/allocator/span.rs`):
//! a block freed by a thread of its span's heap goes on the span's local
//! list under the heap's lock; one freed by a thread of another heap is
//! pushed on the span's `thread_free` word with a compare-and-swap, no
//! lock taken, and if the span had left its queue full, the freeing thread
//! notifies the owner by pushing the span on the heap's pending stack.
//! Under loom every thread's own heap is 0, so the models place blocks in
//! heap 1 (`alloc_in`) and free them as its owner or as another heap
//! (`dealloc_from`).
//!
//! What loom checks here: the heap locks and every access to a heap's
//! state (it sits in a loom cell inside `Locked`), the `thread_free`
//! words and the pending stacks (loom atomics, even inside a span header),
//! the page pool's locks and tables, and page contents written or read
//! through the `SimMemory` seam (a loom cell per 16 KiB page). Blocks of
//! 63 KiB fill whole pages of their own (three per 256 KiB span, the first
//! 64 KiB of which hold the header), so the models write and read them
//! through the seam: a block changing hands without a happens-before edge
//! (a `thread_free` push not released, or not acquired by the collecting
//! owner) is reported as a causality violation.
//!
//! What it does not check directly: the span headers' plain fields and the
//! blocks' link words are raw-pointer accesses, invisible to loom. The
//! models check their consequences instead: no block is handed out twice,
//! a block freed by another thread is handed out again, the counts and the
//! pool agree (`balanced`), every span a heap holds (in a queue, cached or
//! on the pending stack) is still reserved in the pool and still its own
//! (`Alloc::check_invariants`), and `trim` gives every empty span back.
//!
//! Broken variants (feature `loom-faults` of wasm-vmem, which this crate
//! enables; the switches exist only under `--cfg loom`), each shown
//! failing with `#[should_panic]`:
//! - `FreeWithoutOwnerLock`: every small free updates the owner's heap
//!   without its lock: loom's "Causality violation";
//! - `FullNeverNotified`: a remote free into a full span does not notify
//!   the owner: the block is never handed out again, and the emptied span
//!   is held past `trim`;
//! - `PendingNeverTaken`: the owner never takes the pending stack: the
//!   block is never handed out again;
//! - `RetireWhileNotified`: the owner (or a `trim`) gives back a span a
//!   remote free has just notified, before that free pushed it on the
//!   pending stack: the stack then holds a span of the pool (reused by a
//!   reservation, or free), which the invariant check reports, and the
//!   late push writes into the reservation.
#![cfg(loom)]

use core::alloc::{GlobalAlloc, Layout};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{model, on_big_stack, outcomes, seen};
use wasm_vmem::faults::{inject, Fault};
use wasm_vmem::mt::Alloc;
use wasm_vmem::sys::{LinearMemory, SimMemory};
use wasm_vmem::{Stats, LARGE_MIN, PAGE_SIZE, WASM_PAGE_SIZE};

/// Blocks of the largest small class (32 KiB): three per span.
const BIG: usize = LARGE_MIN - 1024;

/// The span size and alignment of that class.
const SPAN: usize = 128 * 1024;

/// The heap the models' spans belong to (every thread's own is 0).
const OWNER: usize = 1;

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

/// A block of `BIG` bytes in the owner heap.
fn alloc_owned(a: &Alloc<SimMemory>) -> usize {
    let p = a.alloc_in(OWNER, layout(BIG)) as usize;
    assert_ne!(p, 0, "out of memory");
    p
}

/// Frees a `BIG` block of the owner heap as its owner (onto the span's
/// local list, under the heap's lock).
fn free_as_owner(a: &Alloc<SimMemory>, p: usize) {
    // SAFETY: callers pass a live block of theirs of that size.
    unsafe { a.dealloc_from(OWNER, p as *mut u8, layout(BIG)) }
}

/// Frees a `BIG` block of the owner heap as a thread of another heap
/// (pushed on the span's `thread_free`, no lock).
fn free_remotely(a: &Alloc<SimMemory>, p: usize) {
    // SAFETY: callers pass a live block of theirs of that size.
    unsafe { a.dealloc_from(0, p as *mut u8, layout(BIG)) }
}

fn span_of(p: usize) -> usize {
    p & !(SPAN - 1)
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
/// `other` bytes reserved through the page API; every span a heap holds
/// is reserved and its own.
fn balanced(a: &Alloc<SimMemory>, other: u64) {
    let s = a.stats();
    let v = a.vmem().stats();
    consistent(&v);
    assert_eq!(v.reserved_bytes, s.large_bytes + s.small_held_bytes + other);
    a.check_invariants();
}

/// Blocks not overlapping: `(address, length)` each.
fn disjoint(blocks: &[(usize, usize)]) -> bool {
    blocks.iter().enumerate().all(|(i, &(p, n))| {
        blocks[i + 1..]
            .iter()
            .all(|&(q, m)| p + n <= q || q + m <= p)
    })
}

/// A full span of the owner heap: its three blocks handed out, and a
/// fourth allocation, which finds it with nothing left, has marked it
/// full and taken it out of its queue (the fourth block is in a second
/// span). Returns the three blocks and the fourth.
fn full_span(a: &Alloc<SimMemory>) -> ([usize; 3], usize) {
    let x = [alloc_owned(a), alloc_owned(a), alloc_owned(a)];
    let s = span_of(x[0]);
    assert!(x.iter().all(|&b| span_of(b) == s), "one span: {x:x?}");
    let x4 = alloc_owned(a);
    assert_ne!(span_of(x4), s, "the fourth block is in a new span");
    assert_eq!(a.stats().small_spans, 2);
    (x, x4)
}

/// (a0) A block allocated by one thread is freed by another of the same
/// heap (under loom, heap 0 for both: into the span's local list, under
/// the heap's lock) while the owner allocates in that heap: the heap is
/// only ever touched under the lock and no live block is disturbed (the
/// freed block is not handed out again here: allocation pops the span's
/// `free` list first, its local list only once `free` runs dry).
fn own_heap_free_racing_an_allocation() {
    on_big_stack(own_heap_free_racing_an_allocation_on_its_thread);
}

fn own_heap_free_racing_an_allocation_on_its_thread() {
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
            // Then a block of its own, in the same heap, handed back to
            // the main thread.
            let w = alloc(&a, 24);
            stamp(w, 24, 0xCC);
            w
        })
    };
    let y = alloc(&a, 100);
    stamp(y, 100, 0xBB);
    let w = freer.join().unwrap();
    assert!(
        stamped(y, 100, 0xBB) && stamped(keep, 48, 0x11) && stamped(w, 24, 0xCC),
        "live blocks intact"
    );
    assert!(disjoint(&[(keep, 48), (y, 100), (w, 24)]));
    let s = a.stats();
    // Three classes, one span each.
    assert_eq!((s.small_in_use_bytes, s.small_spans), (172, 3), "{s:?}");
    balanced(&a, 0);
    dealloc(&a, w, 24);
    dealloc(&a, y, 100);
    dealloc(&a, keep, 48);
    assert_eq!(a.stats().in_use_bytes, 0);
}

#[test]
fn own_heap_free_racing_the_owners_allocation() {
    model(
        "own_heap_free_racing_the_owners_allocation",
        own_heap_free_racing_an_allocation,
    );
}

/// The broken variant: the free skips the heap's lock.
#[test]
#[should_panic(expected = "Causality violation")]
fn own_heap_free_without_the_lock_is_caught() {
    let _fault = inject(Fault::FreeWithoutOwnerLock);
    loom::model(own_heap_free_racing_an_allocation);
}

/// (a) A remote free against the owner collecting: a span of the owner
/// heap has one block left to format; a thread of another heap frees
/// one of its blocks (a `thread_free` push) while the owner allocates
/// twice in the span. The owner's second allocation finds the span's
/// lists empty: it collects the pushed block if the push came first
/// (`refill`, or `mark_full`, which looks again before it marks the span
/// full), else marks the span full and takes a new one; the push then
/// sees the mark and notifies the owner, whose next allocation takes the
/// span from the pending stack and hands the block out. Either way the
/// block is handed out again (by the second or the third allocation), its
/// contents pass from the freeing thread to the owner with a
/// happens-before edge (seam writes on both sides), and once everything
/// is freed `trim` gives both spans back.
fn remote_free_racing_the_owners_collection() {
    on_big_stack(remote_free_racing_the_owners_collection_on_its_thread);
}

fn remote_free_racing_the_owners_collection_on_its_thread() {
    let a = allocator(16);
    let x1 = alloc_owned(&a);
    let x2 = alloc_owned(&a);
    write(&a, x1, BIG, 0xAA);
    let freer = {
        let a = a.clone();
        thread::spawn(move || {
            assert!(reads(&a, x1, BIG, 0xAA), "the block as handed over");
            // Its last use, through the seam: ordered before the owner's
            // writes once it hands the block out again.
            write(&a, x1, BIG, 0xEE);
            free_remotely(&a, x1);
        })
    };
    let y1 = alloc_owned(&a);
    write(&a, y1, BIG, 0x11);
    let y2 = alloc_owned(&a);
    write(&a, y2, BIG, 0x22);
    freer.join().unwrap();
    let waiting = a.handed_over(OWNER);
    let y3 = alloc_owned(&a);
    write(&a, y3, BIG, 0x33);
    assert!(
        [y1, y2, y3].contains(&x1),
        "the block freed remotely is handed out again: {x1:x} {y1:x} {y2:x} {y3:x}"
    );
    // Collected by the first or second allocation (`refill` or
    // `mark_full`) if the push came first; else the span was marked full,
    // the free notified the owner, and the third allocation took the span
    // from the pending stack.
    assert_eq!(y3 == x1, waiting, "notified exactly when collected last");
    seen(usize::from(waiting));
    assert!(disjoint(&[(x2, BIG), (y1, BIG), (y2, BIG), (y3, BIG)]));
    assert!(reads(&a, y1, BIG, 0x11) && reads(&a, y2, BIG, 0x22) && reads(&a, y3, BIG, 0x33));
    assert_eq!(a.stats().small_in_use_bytes, 4 * BIG as u64);
    balanced(&a, 0);
    for p in [x2, y1, y2, y3] {
        free_as_owner(&a, p);
    }
    a.trim();
    let s = a.stats();
    assert_eq!(
        (s.small_in_use_bytes, s.small_spans),
        (0, 0),
        "no span held after trim: {s:?}"
    );
    balanced(&a, 0);
}

#[test]
fn remote_free_racing_the_owner_collecting() {
    model(
        "remote_free_racing_the_owner_collecting",
        remote_free_racing_the_owners_collection,
    );
    assert_eq!(outcomes(), 0b11, "collected, and notified");
}

/// The broken variant: the remote free takes the owner's heap without its
/// lock (every small free does, under this fault).
#[test]
#[should_panic(expected = "Causality violation")]
fn remote_free_without_the_owners_lock_is_caught() {
    let _fault = inject(Fault::FreeWithoutOwnerLock);
    loom::model(remote_free_racing_the_owners_collection);
}

/// The broken variant: a remote free into a full span does not notify the
/// owner, which never looks at the span again.
#[test]
#[should_panic(expected = "handed out again")]
fn full_span_never_notified_is_caught() {
    let _fault = inject(Fault::FullNeverNotified);
    loom::model(remote_free_racing_the_owners_collection);
}

/// The broken variant: the owner never takes its pending stack.
#[test]
#[should_panic(expected = "handed out again")]
fn pending_never_taken_is_caught() {
    let _fault = inject(Fault::PendingNeverTaken);
    loom::model(remote_free_racing_the_owners_collection);
}

/// The broken variant of `FullNeverNotified` seen from `trim`: a full span
/// whose blocks are all freed remotely, unnotified, is in no queue and on
/// no stack, and `trim` never finds it.
#[test]
#[should_panic(expected = "no span held after trim")]
fn full_span_never_notified_leaks_past_trim() {
    let _fault = inject(Fault::FullNeverNotified);
    loom::model(|| on_big_stack(full_span_emptied_remotely_then_trimmed));
}

fn full_span_emptied_remotely_then_trimmed() {
    {
        let a = allocator(16);
        let (x, x4) = full_span(&a);
        let freer = {
            let a = a.clone();
            thread::spawn(move || {
                for p in x {
                    free_remotely(&a, p);
                }
            })
        };
        free_as_owner(&a, x4);
        freer.join().unwrap();
        a.trim();
        let s = a.stats();
        assert_eq!(s.small_spans, 0, "no span held after trim: {s:?}");
    }
}

/// (b) A remote free against the span going back to the pool
/// (mimalloc's delayed free): a full span of the owner heap, whose
/// blocks `x1` and `x3` the owner holds and `x2` another heap's thread.
/// That thread frees `x2`: its push finds the span full, swaps the mark
/// for "notified", and then pushes the span on the pending stack.
/// Meanwhile the owner frees `x1`, allocates and frees a block (which
/// takes the pending stack if the push landed, else reuses `x1`), frees
/// `x3`, its last block, calls `trim`, and reserves a span's worth of
/// pages through the page API and writes them.
///
/// The span holds no live block once `x2` is collected, but while it is
/// notified it must not go back to the pool: the notifying thread still
/// writes its header (the stack link) and pushes it. So either `trim`
/// found the span on the stack and gave it back (then the reservation may
/// take its pages), or it found it notified and kept it, and the span
/// waits on the stack after the join, still the owner's; the next `trim`
/// gives it back. Never is a span on the stack given back, and the
/// reservation is written by nobody else.
fn remote_free_racing_the_span_going_back() {
    on_big_stack(remote_free_racing_the_span_going_back_on_its_thread);
}

fn remote_free_racing_the_span_going_back_on_its_thread() {
    let a = allocator(16);
    let ([x1, x2, x3], x4) = full_span(&a);
    let span = span_of(x1);
    let freer = {
        let a = a.clone();
        thread::spawn(move || {
            write(&a, x2, BIG, 0xEE);
            free_remotely(&a, x2);
        })
    };
    free_as_owner(&a, x1);
    let y = alloc_owned(&a);
    write(&a, y, BIG, 0x77);
    free_as_owner(&a, y);
    free_as_owner(&a, x3);
    a.trim();
    let r = a.vmem().reserve(SPAN, SPAN).unwrap().as_ptr() as usize;
    assert!(reads(&a, r, SPAN, 0), "the reservation reads zero");
    write(&a, r, SPAN, 0x55);
    freer.join().unwrap();
    // First: a span given back while it was notified is on the stack now.
    a.check_invariants();
    assert!(
        reads(&a, r, SPAN, 0x55),
        "the reservation was written by nobody else (a span given back while notified)"
    );
    assert!(disjoint(&[(r, SPAN), (x4, BIG)]));
    let waiting = a.handed_over(OWNER);
    let spans = a.stats().small_spans;
    if waiting {
        // `trim` found the span notified and kept it.
        assert_ne!(r, span, "a notified span is not given back");
        assert_eq!(spans, 2);
        seen(0);
    } else if spans == 1 {
        // `trim` found it empty (taken from the stack, or never notified:
        // the free came after the owner's first, which put the span back
        // in its queue) and gave it back.
        seen(1);
        if r == span {
            seen(2);
        }
    } else {
        // The free came after `trim`, unnotified (the span was back in
        // its queue): its block waits on `thread_free` for the next one.
        assert_ne!(r, span);
        assert_eq!(spans, 2);
        seen(3);
    }
    a.trim();
    assert!(!a.handed_over(OWNER));
    let s = a.stats();
    assert_eq!(
        (s.small_in_use_bytes, s.small_spans),
        (BIG as u64, 1),
        "the emptied span given back: {s:?}"
    );
    balanced(&a, SPAN as u64);
    free_as_owner(&a, x4);
}

#[test]
fn remote_free_racing_the_span_back_to_the_pool() {
    model(
        "remote_free_racing_the_span_back_to_the_pool",
        remote_free_racing_the_span_going_back,
    );
    assert_eq!(
        outcomes(),
        0b1111,
        "kept while notified, given back, its pages reserved, and freed after trim"
    );
}

/// The broken variant: a span holding no live block is given back even
/// while it is notified.
#[test]
#[should_panic(expected = "given back")]
fn span_given_back_while_notified_is_caught() {
    let _fault = inject(Fault::RetireWhileNotified);
    loom::model(remote_free_racing_the_span_going_back);
}

/// (c) A `trim` by another thread (what an out-of-memory path runs: it
/// locks each heap in turn, takes its pending stack, collects every
/// span's remotely freed blocks and gives every empty span back) racing a
/// remote free and the owner. The span is full, its blocks `x1` and `x3`
/// the owner's, `x2` another heap's thread's. That thread frees `x2`
/// (notifying the owner), the owner frees `x1` and `x3` and allocates a
/// block, and a third thread trims. `trim` gives the span back only when
/// it holds no live block and is not waiting to be taken from the stack;
/// the owner's block is intact, and after everything is freed the next
/// `trim` leaves no span held.
///
/// Of the three threads only the owner and the trimming thread take
/// locks; the freeing thread takes none (loom cannot finish three
/// spinning threads: `models.rs`).
fn trim_racing_a_remote_free_and_the_owner() {
    on_big_stack(trim_racing_a_remote_free_and_the_owner_on_its_thread);
}

fn trim_racing_a_remote_free_and_the_owner_on_its_thread() {
    let a = allocator(16);
    let ([x1, x2, x3], x4) = full_span(&a);
    let span = span_of(x1);
    let freer = {
        let a = a.clone();
        thread::spawn(move || {
            write(&a, x2, BIG, 0xEE);
            free_remotely(&a, x2);
        })
    };
    let trimmer = {
        let a = a.clone();
        thread::spawn(move || {
            a.trim();
        })
    };
    free_as_owner(&a, x1);
    free_as_owner(&a, x3);
    let y = alloc_owned(&a);
    write(&a, y, BIG, 0x77);
    freer.join().unwrap();
    trimmer.join().unwrap();
    // First: a span given back while it was notified is on the stack now.
    a.check_invariants();
    assert!(reads(&a, y, BIG, 0x77), "the owner's block intact");
    assert!(disjoint(&[(y, BIG), (x4, BIG)]));
    // The span went back if the trim found it empty and not waiting; `y`
    // then came from the second span.
    seen(usize::from(span_of(y) == span));
    if a.stats().small_spans == 1 {
        seen(2);
    }
    free_as_owner(&a, y);
    free_as_owner(&a, x4);
    a.trim();
    let s = a.stats();
    assert_eq!(
        (s.small_in_use_bytes, s.small_spans),
        (0, 0),
        "no span held after trim: {s:?}"
    );
    balanced(&a, 0);
}

#[test]
fn trim_racing_a_remote_free_and_the_owners_frees() {
    model(
        "trim_racing_a_remote_free_and_the_owners_frees",
        trim_racing_a_remote_free_and_the_owner,
    );
    assert_eq!(
        outcomes(),
        0b111,
        "the block in the first span, in the second, and the first given back by trim"
    );
}

/// The broken variant: `trim` gives back a span holding no live block even
/// while it is notified.
#[test]
#[should_panic(expected = "given back")]
fn trim_giving_back_a_notified_span_is_caught() {
    let _fault = inject(Fault::RetireWhileNotified);
    loom::model(trim_racing_a_remote_free_and_the_owner);
}

/// (d) A large block is grown by `realloc` while the pages behind it are
/// free (dirty), and another thread reserves exactly that many pages: one
/// of them gets the pages (in place, or the reservation), the other grows
/// the memory (the block then moves); the pages are never shared, the
/// block keeps its contents and the reservation reads zero (what `realloc`
/// grows into is uninitialised: not checked).
#[test]
fn realloc_in_place_racing_a_reserve() {
    model("realloc_in_place_racing_a_reserve", || {
        on_big_stack(realloc_in_place_racing_a_reservation)
    });
    assert_eq!(outcomes(), 0b11, "grown in place, and moved");
}

fn realloc_in_place_racing_a_reservation() {
    {
        let a = allocator(4);
        let l = alloc(&a, LARGE_MIN);
        write(&a, l, LARGE_MIN, 0xAB);
        let q = a.vmem().reserve(LARGE_MIN, PAGE_SIZE).unwrap().as_ptr();
        assert_eq!(q as usize, l + LARGE_MIN, "right behind the block");
        write(&a, q as usize, LARGE_MIN, 0xFF);
        // SAFETY: ours, not used again: dirty free pages behind `l`, as
        // many as `realloc` grows it by.
        unsafe { a.vmem().release(q, LARGE_MIN).unwrap() };
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
        let r = a.vmem().reserve(LARGE_MIN, PAGE_SIZE).unwrap().as_ptr() as usize;
        assert!(reads(&a, r, LARGE_MIN, 0), "the reservation reads zero");
        write(&a, r, LARGE_MIN, 0x33);
        let p = grower.join().unwrap();
        assert!(p + 2 * LARGE_MIN <= r || r + LARGE_MIN <= p, "disjoint");
        assert!(reads(&a, r, LARGE_MIN, 0x33) && reads(&a, p, 2 * LARGE_MIN, 0xCD));
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
        balanced(&a, LARGE_MIN as u64);
        let v = a.vmem().stats();
        // The dirty pages were zeroed once if the reservation took them,
        // not at all if `realloc` did (it leaves what it grows into as it
        // is).
        let zeroed = if p == l { 0 } else { LARGE_MIN as u64 };
        assert_eq!(v.bytes_zeroed, zeroed, "{v:?}");
        dealloc(&a, p, 2 * LARGE_MIN);
    }
}
