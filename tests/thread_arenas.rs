//! Thread identity (docs/DESIGN.md §8, `policy::thread`): natively each
//! thread takes the next number of a counter the first time it asks, so
//! the first `MAX_ARENAS` threads work in distinct arenas. Seen through the
//! allocator: a thread's small blocks come from its arena's heap, which
//! reserves a segment of its own on first use, so eight threads alive at
//! once hold eight segments exactly when their arenas differ, and a thread
//! whose stack grows by megabytes keeps its arena (with the hash of the
//! stack address in 1 MiB blocks used before, it changed arena at 7 in 8
//! block boundaries). Tests in their own binary, one after the other, so
//! that no other test's threads take numbers in between.
#![cfg(not(target_arch = "wasm32"))]

use core::alloc::{GlobalAlloc, Layout};
use std::sync::Barrier;
use wasm_vmem::{mt, sys::SimMemory, MAX_ARENAS};

#[test]
fn thread_identity() {
    the_first_threads_get_distinct_arenas();
    a_thread_keeps_its_arena_as_its_stack_grows();
}

fn the_first_threads_get_distinct_arenas() {
    let a = mt::Alloc::new(SimMemory::new(64 << 20));
    let all_allocated = Barrier::new(MAX_ARENAS + 1);
    let counted = Barrier::new(MAX_ARENAS + 1);
    let l = Layout::from_size_align(100, 8).unwrap();
    std::thread::scope(|s| {
        for _ in 0..MAX_ARENAS {
            s.spawn(|| {
                // SAFETY: non-zero size; freed below with its layout.
                let p = unsafe { a.alloc(l) };
                assert!(!p.is_null());
                all_allocated.wait();
                counted.wait();
                // SAFETY: allocated above.
                unsafe { a.dealloc(p, l) };
            });
        }
        all_allocated.wait();
        let s = a.stats();
        counted.wait();
        assert_eq!(
            s.small_spans, MAX_ARENAS,
            "{MAX_ARENAS} threads alive at once share arenas: {s:?}"
        );
    });
    assert_eq!(a.stats().in_use_bytes, 0);
}

/// Allocates a small block `depth` frames of 64 KiB below the caller.
fn alloc_deep(a: &mt::Alloc<SimMemory>, l: Layout, depth: usize) -> *mut u8 {
    let frame = std::hint::black_box([depth as u8; 64 << 10]);
    if depth == 0 {
        // SAFETY: non-zero size.
        return unsafe { a.alloc(l) };
    }
    let p = alloc_deep(a, l, depth - 1);
    std::hint::black_box(&frame);
    p
}

fn a_thread_keeps_its_arena_as_its_stack_grows() {
    let a = mt::Alloc::new(SimMemory::new(64 << 20));
    let l = Layout::from_size_align(100, 8).unwrap();
    let segments = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, || {
                // 0 to 4 MiB below where the thread started: across blocks.
                let blocks: Vec<_> = (0..=4).map(|mib| alloc_deep(&a, l, mib * 16)).collect();
                assert!(blocks.iter().all(|p| !p.is_null()));
                let segments = a.stats().small_spans;
                for p in blocks {
                    // SAFETY: allocated above with `l`.
                    unsafe { a.dealloc(p, l) };
                }
                segments
            })
            .unwrap()
            .join()
            .unwrap()
    });
    assert_eq!(segments, 1, "one thread, one arena's heap");
}
