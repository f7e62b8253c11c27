//! Multithreaded stress test of the global allocator (`mt::Alloc`, and the
//! parking policy): allocator threads allocate mixed sizes (small, around
//! `LARGE_MIN`, large), reallocate, free, and hand blocks over to the next
//! thread through channels (which checks and frees them or keeps them:
//! cross-thread frees and reallocs into the owner's heap), while another
//! thread uses the page API (`reserve`, `decommit`, `commit`, `extend`,
//! `release`) on the same instance. Every block is checked against its
//! pattern whenever it changes hands, and at the end everything has come
//! back: nothing in use, no large pages, every span given back by `trim`, and
//! the pool holds exactly the allocator's segments. Bounded in time; the
//! loom models in `loom-tests/` prove what this samples.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::blocks::{marks, Block};
use common::*;
use core::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wasm_vmem::{GenericAlloc, LARGE_MIN, MAX_HEAPS};

/// Allocator threads (and one more for the page API).
const THREADS: usize = 3;
const ITERATIONS: usize = 8000;
const TIME: Duration = Duration::from_secs(5);

type A<P> = GenericAlloc<SimMemory, P>;

fn random_layout(rng: &mut Rng) -> Layout {
    let size = match rng.below(20) {
        0..=11 => 1 + rng.below(512),
        12..=15 => 513 + rng.below(LARGE_MIN - 513),
        16..=17 => LARGE_MIN - 8 + rng.below(16),
        _ => LARGE_MIN + rng.below(512 * KIB),
    };
    let align = match rng.below(10) {
        0..=7 => 1 << rng.below(5),
        8 => 1 << rng.below(14),
        _ => PAGE_SIZE << rng.below(3),
    };
    Layout::from_size_align(size, align).unwrap()
}

/// One allocator thread: works on its own blocks and those handed to it,
/// hands some on, and at the end frees all it has and all it receives.
fn allocator_worker<P: Policy>(
    a: &A<P>,
    t: usize,
    next: mpsc::Sender<Block>,
    inbox: mpsc::Receiver<Block>,
    deadline: Instant,
) -> usize {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut mine: Vec<Block> = Vec::new();
    let mut seed = t << 40;
    let mut ops = 0;
    while ops < ITERATIONS && Instant::now() < deadline {
        ops += 1;
        // Blocks handed over: checked, then freed here (a cross-thread
        // free) or kept.
        while let Ok(b) = inbox.try_recv() {
            b.check("received");
            if rng.below(2) == 0 {
                // SAFETY: a live block of that layout, handed to us.
                unsafe { a.dealloc(b.ptr(), b.layout) };
            } else {
                mine.push(b);
            }
        }
        match rng.below(10) {
            0..=3 if mine.len() < 64 => {
                let layout = random_layout(&mut rng);
                let zeroed = rng.below(3) == 0;
                // SAFETY: non-zero size.
                let p = unsafe {
                    if zeroed {
                        a.alloc_zeroed(layout)
                    } else {
                        a.alloc(layout)
                    }
                };
                assert!(!p.is_null(), "{layout:?}");
                assert_eq!(p as usize % layout.align(), 0);
                if zeroed {
                    for i in marks(layout.size()) {
                        // SAFETY: inside the fresh block.
                        assert_eq!(unsafe { p.add(i).read() }, 0, "zeroed {layout:?}");
                    }
                }
                seed += 1;
                let b = Block {
                    addr: p as usize,
                    layout,
                    seed,
                };
                b.stamp();
                mine.push(b);
            }
            4..=5 if !mine.is_empty() => {
                let i = rng.below(mine.len());
                let old = &mine[i];
                let size = random_layout(&mut rng).size();
                // SAFETY: a live block of ours, a non-zero size.
                let p = unsafe { a.realloc(old.ptr(), old.layout, size) };
                assert!(!p.is_null());
                let b = Block {
                    addr: p as usize,
                    layout: Layout::from_size_align(size, old.layout.align()).unwrap(),
                    seed: old.seed,
                };
                // The old block's marks in the common prefix moved with it;
                // then the new block's marks are written (the same pattern).
                let kept = old.layout.size().min(size);
                let moved = Block {
                    addr: b.addr,
                    ..*old
                };
                moved.check_upto(kept, "realloc");
                b.stamp();
                mine[i] = b;
            }
            6..=7 if !mine.is_empty() => {
                let b = mine.swap_remove(rng.below(mine.len()));
                next.send(b).unwrap();
            }
            _ if !mine.is_empty() => {
                let b = mine.swap_remove(rng.below(mine.len()));
                b.check("before free");
                // SAFETY: a live block of ours.
                unsafe { a.dealloc(b.ptr(), b.layout) };
            }
            _ => {}
        }
    }
    drop(next);
    for b in mine.into_iter().chain(inbox) {
        b.check("at the end");
        // SAFETY: live blocks of ours.
        unsafe { a.dealloc(b.ptr(), b.layout) };
    }
    ops
}

/// The page API on the same pool: reserve, write, decommit and commit a
/// part, grow in place when it can, release.
fn page_worker<P: Policy>(a: &A<P>, busy: &AtomicUsize, deadline: Instant) -> usize {
    let vm = a.vmem();
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    let mut ops = 0;
    // While the allocator threads work (and at least a few rounds).
    while (ops < 16 || busy.load(Relaxed) > 0) && Instant::now() < deadline {
        ops += 1;
        let n = 1 + rng.below(6);
        let p = vm
            .reserve(pages(n), PAGE_SIZE << rng.below(3))
            .unwrap()
            .as_ptr();
        let byte = 1 + rng.below(250) as u8;
        // SAFETY: our reservation.
        unsafe {
            assert!(all(p, pages(n), 0), "reserve reads zero");
            fill(p, pages(n), byte);
            let (from, len) = (rng.below(n), 1);
            vm.decommit(p.add(pages(from)), pages(len)).unwrap();
            vm.commit(p, pages(n)).unwrap();
            assert!(all(p.add(pages(from)), pages(len), 0));
            fill(p.add(pages(from)), pages(len), byte);
            let total = match vm.extend(p, pages(n), pages(n + 4)) {
                Ok(()) => {
                    assert!(all(p.add(pages(n)), pages(4), 0), "grown pages zero");
                    n + 4
                }
                Err(Error::NotFree { .. }) => n,
                Err(e) => panic!("extend: {e}"),
            };
            assert!(all(p, pages(n), byte), "nobody else wrote");
            vm.release(p, pages(total)).unwrap();
        }
    }
    ops
}

fn stress<P: Policy>()
where
    A<P>: Sync,
{
    let a = A::<P>::new(SimMemory::new(512 * MIB));
    let deadline = Instant::now() + TIME;
    let start = Instant::now();
    let busy = AtomicUsize::new(THREADS);
    let (senders, inboxes): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
    let ops: Vec<usize> = std::thread::scope(|s| {
        let (a, busy) = (&a, &busy);
        let mut handles: Vec<_> = senders
            .into_iter()
            .cycle()
            .skip(1)
            .zip(inboxes)
            .enumerate()
            .map(|(t, (next, inbox))| {
                s.spawn(move || {
                    let ops = allocator_worker(a, t, next, inbox, deadline);
                    busy.fetch_sub(1, Relaxed);
                    ops
                })
            })
            .collect();
        handles.push(s.spawn(move || page_worker(a, busy, deadline)));
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        ops.iter().all(|&n| n > 0),
        "every thread made progress: {ops:?}"
    );
    eprintln!(
        "alloc stress: operations per thread {ops:?} (the last: page API), peak {} MiB reserved, {:.2} s",
        a.vmem().stats().peak_reserved_bytes >> 20,
        start.elapsed().as_secs_f64()
    );
    let s = a.stats();
    assert_eq!(
        (s.in_use_bytes, s.small_in_use_bytes, s.large_bytes),
        (0, 0, 0),
        "{s:?}"
    );
    // Each heap keeps at most one empty span per class and one cached per
    // span size, besides spans whose blocks other threads freed while the
    // heap allocated nothing more; `trim` gives them all back.
    let heaps = (THREADS + 1).min(MAX_HEAPS);
    let kept = s.small_spans;
    assert!(a.trim() || kept == 0);
    let s = a.stats();
    assert_eq!(
        (s.small_spans, s.small_held_bytes),
        (0, 0),
        "{kept} spans kept before: {s:?} ({heaps} heaps)"
    );
    let v = a.vmem().stats();
    assert_eq!(v.reserved_bytes, s.small_held_bytes, "{v:?}");
    assert_eq!(
        v.reserved_bytes + v.free_zero_bytes + v.free_dirty_bytes + v.metadata_bytes,
        v.owned_bytes
    );
    a.check_invariants();
}

#[test]
fn threads_allocate_free_and_hand_over_blocks() {
    stress::<MultiThreaded>();
}

#[test]
fn threads_allocate_free_and_hand_over_blocks_with_the_parking_lock() {
    stress::<wasm_vmem::policy::MultiThreadedParking>();
}
