//! Threads coming and going over one multithreaded allocator (`mt::Alloc`
//! as an instance over a `SimMemory`):
//!
//! - 10,000 threads, started and joined in waves of 16, each allocating
//!   blocks of mixed sizes, freeing some of its own, some left by earlier
//!   threads or by those of its wave (frees into other heaps' spans), and
//!   leaving some for later ones: the memory held stays under a fixed
//!   bound after every wave, however many threads have come and gone, and
//!   `trim` gives everything back at the end;
//! - an owner freeing and allocating in its heap's spans while another
//!   thread frees blocks of them remotely and a third trims: small enough
//!   to run under Miri (`scripts/test-miri.sh`), whose data-race detector
//!   then sees the span protocol with real threads.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::blocks::{marks, pattern, Block};
use common::*;
use core::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Mutex};
use std::time::Instant;
use wasm_vmem::mt::Alloc;
use wasm_vmem::LARGE_MIN;

/// Mostly small sizes across the classes of all three span sizes, some
/// just under and over `LARGE_MIN`, a few alignments above 8.
fn mixed_layout(rng: &mut Rng) -> Layout {
    let size = match rng.below(64) {
        0..=39 => 1 + rng.below(256),
        40..=53 => 257 + rng.below(4096 - 256),
        54..=60 => 4097 + rng.below(LARGE_MIN - 4097),
        _ => LARGE_MIN + rng.below(4 * PAGE_SIZE),
    };
    let align = if rng.below(8) == 0 {
        16 << rng.below(4)
    } else {
        8
    };
    Layout::from_size_align(size, align).unwrap()
}

/// Threads in all, and per wave.
const THREADS: usize = 10_000;
const WAVE: usize = 16;
/// Blocks each thread allocates.
const PER_THREAD: usize = 24;
/// Blocks left in the shared pool for later threads, at most.
const SHARED: usize = 256;
/// The bound on the pool's reserved bytes (and so on the spans the heaps
/// hold) after every wave. What a heap keeps without a live block is
/// bounded: one empty span per class and a reserve of 1 MiB, 2.45 MiB per
/// heap, 39 MiB for 16 heaps (threads come and go, and their numbers
/// visit every heap). Besides, at most `WAVE * PER_THREAD +
/// SHARED` blocks (640) are live at a time, and their spans. Measured:
/// 23-24 MiB reserved at the peak (debug and release builds, 2 cores); the
/// bound does not depend on how many threads have come and gone.
const BOUND: u64 = 80 * MIB as u64;

/// One thread of a wave: allocates `PER_THREAD` blocks, reallocates one,
/// frees about a third of its own, frees up to 8 blocks of other threads
/// from the shared pool (often of other heaps: remote frees), and leaves
/// the rest there while it has room (freeing them itself otherwise).
fn short_lived_thread(a: &Alloc<SimMemory>, t: usize, shared: &Mutex<Vec<Block>>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut mine: Vec<Block> = (0..PER_THREAD)
        .map(|i| {
            let layout = mixed_layout(&mut rng);
            // SAFETY: non-zero size.
            let p = unsafe { a.alloc(layout) };
            assert!(!p.is_null(), "{layout:?}");
            assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
            let b = Block {
                addr: p as usize,
                layout,
                seed: t * PER_THREAD + i,
            };
            b.stamp();
            b
        })
        .collect();
    // One realloc (to another class, or the same).
    let i = rng.below(mine.len());
    let old = mine[i];
    old.check("before realloc");
    let size = mixed_layout(&mut rng).size();
    // SAFETY: a live block of ours, a non-zero size.
    let p = unsafe { a.realloc(old.ptr(), old.layout, size) };
    assert!(!p.is_null());
    let kept = old.layout.size().min(size);
    for j in marks(old.layout.size()).filter(|&j| j < kept) {
        // SAFETY: inside the new block.
        assert_eq!(
            unsafe { p.add(j).read() },
            pattern(old.seed, j),
            "realloc kept"
        );
    }
    mine[i] = Block {
        addr: p as usize,
        layout: Layout::from_size_align(size, old.layout.align()).unwrap(),
        seed: old.seed,
    };
    mine[i].stamp();
    for _ in 0..PER_THREAD / 3 {
        mine.swap_remove(rng.below(mine.len())).free(a, "own block");
    }
    let theirs: Vec<Block> = {
        let mut pool = shared.lock().unwrap();
        let n = pool.len().min(8);
        let at = pool.len() - n;
        pool.split_off(at)
    };
    for b in theirs {
        b.free(a, "another thread's block");
    }
    let mut pool = shared.lock().unwrap();
    while let Some(b) = mine.pop() {
        if pool.len() < SHARED {
            pool.push(b);
        } else {
            drop(pool);
            b.free(a, "own block, the pool full");
            mine.into_iter().for_each(|b| b.free(a, "own block"));
            return;
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "10,000 threads: far too slow interpreted")]
fn ten_thousand_threads_keep_memory_bounded() {
    let start = Instant::now();
    let a = Alloc::new(SimMemory::new(256 * MIB));
    let shared = Mutex::new(Vec::new());
    let mut peak = (0u64, 0u64);
    for wave in 0..THREADS / WAVE {
        std::thread::scope(|s| {
            for i in 0..WAVE {
                let (a, shared) = (&a, &shared);
                s.spawn(move || short_lived_thread(a, wave * WAVE + i, shared));
            }
        });
        let reserved = a.vmem().stats().reserved_bytes;
        let held = a.stats().small_held_bytes;
        assert!(
            reserved <= BOUND && held <= reserved,
            "after wave {wave}: {reserved} bytes reserved, {held} in spans"
        );
        peak = (peak.0.max(reserved), peak.1.max(held));
    }
    for b in shared.into_inner().unwrap() {
        b.free(&a, "left at the end");
    }
    let s = a.stats();
    assert_eq!((s.in_use_bytes, s.large_bytes), (0, 0), "{s:?}");
    a.trim();
    let s = a.stats();
    assert_eq!((s.small_spans, s.small_held_bytes), (0, 0), "{s:?}");
    assert_eq!(a.vmem().stats().reserved_bytes, 0);
    a.check_invariants();
    eprintln!(
        "{THREADS} threads in waves of {WAVE}: at most {} KiB reserved, {} KiB in spans, {:.2} s",
        peak.0 >> 10,
        peak.1 >> 10,
        start.elapsed().as_secs_f64()
    );
}

/// Rounds of the owner in [`remote_frees_race_the_owner_and_a_trim`].
const ROUNDS: usize = if cfg!(miri) { 16 } else { 2000 };

/// The owner of heap 1 allocates blocks of 8 KiB (three to a 32 KiB
/// span, so spans fill and leave their queue often), frees half as the
/// owner and sends the other half to a thread that frees them as another
/// heap's (onto the spans' `thread_free`, notifying the owner when a span
/// was full), while a third thread trims over and over. Each free is
/// checked against its block's pattern, and at the end `trim` leaves no
/// span held and the heaps and the pool agree.
#[test]
fn remote_frees_race_the_owner_and_a_trim() {
    const OWNER: usize = 1;
    let a = Alloc::new(SimMemory::new(64 * MIB));
    let l = Layout::from_size_align(8 * KIB, 8).unwrap();
    let done = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Block>();
    std::thread::scope(|s| {
        let a = &a;
        s.spawn(move || {
            for b in rx {
                b.check("sent");
                // SAFETY: a live block of `l`, handed to this thread.
                unsafe { a.dealloc_from(0, b.ptr(), b.layout) };
            }
        });
        let done = &done;
        s.spawn(move || {
            while !done.load(Relaxed) {
                a.trim();
                std::thread::yield_now();
            }
        });
        let mut rng = Rng(0xA076_1D64_78BD_642F);
        let mut seed = 0;
        for _ in 0..ROUNDS {
            let n = 1 + rng.below(9);
            let blocks: Vec<Block> = (0..n)
                .map(|_| {
                    let p = a.alloc_in(OWNER, l);
                    assert!(!p.is_null());
                    seed += 1;
                    let b = Block {
                        addr: p as usize,
                        layout: l,
                        seed,
                    };
                    b.stamp();
                    b
                })
                .collect();
            for (i, b) in blocks.into_iter().enumerate() {
                if i % 2 == 0 {
                    tx.send(b).unwrap();
                } else {
                    b.check("own");
                    // SAFETY: a live block of `l`, ours.
                    unsafe { a.dealloc_from(OWNER, b.ptr(), b.layout) };
                }
            }
        }
        drop(tx);
        done.store(true, Relaxed);
    });
    a.check_invariants();
    assert_eq!(a.stats().small_in_use_bytes, 0);
    a.trim();
    let s = a.stats();
    assert_eq!((s.small_spans, s.small_held_bytes), (0, 0), "{s:?}");
    assert_eq!(a.vmem().stats().reserved_bytes, 0);
}
