//! wasm-vmem as the `#[global_allocator]` of this test binary, natively:
//! an `mt::Vmem` over a `SimMemory::lazy` in a `static`, every allocation
//! a page reservation. The instance's own metadata must not come from the
//! global allocator (it would re-enter it, under its lock): a re-entrant
//! call is counted and refused, and the test fails. Everything the test
//! harness and the test allocate goes through it.
#![cfg(all(not(target_arch = "wasm32"), feature = "std"))]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use wasm_vmem::sys::SimMemory;
use wasm_vmem::{mt, PAGE_SIZE};

/// A page allocator: each allocation is a reservation of whole pages.
struct PageAlloc(mt::Vmem<SimMemory>);

static REENTERED: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread is inside the allocator.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` marked as inside the allocator; `None` if it already was.
fn inside<R>(f: impl FnOnce() -> R) -> Option<R> {
    if INSIDE.with(|i| i.replace(true)) {
        REENTERED.fetch_add(1, Relaxed);
        return None;
    }
    let r = f();
    INSIDE.with(|i| i.set(false));
    Some(r)
}

// SAFETY: `alloc` returns a fresh reservation of at least `size` bytes at
// the requested alignment (or null), never handed out twice while live;
// `dealloc` releases exactly what `alloc` reserved for that layout.
unsafe impl GlobalAlloc for PageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        inside(|| {
            ALLOCATIONS.fetch_add(1, Relaxed);
            self.0
                .reserve(layout.size().max(1), layout.align())
                .map_or(core::ptr::null_mut(), |p| p.as_ptr())
        })
        .unwrap_or(core::ptr::null_mut())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        inside(|| {
            // SAFETY: `ptr` was reserved by `alloc` for this layout and is
            // not used any more (the `GlobalAlloc` contract).
            let r = unsafe { self.0.release(ptr, layout.size().max(1)) };
            if r.is_err() {
                std::process::abort();
            }
        });
    }
}

#[global_allocator]
static ALLOCATOR: PageAlloc = PageAlloc(mt::Vmem::new(SimMemory::lazy(64 << 30)));

#[test]
fn wasm_vmem_serves_as_the_global_allocator_without_reentering_itself() {
    let before = ALLOCATIONS.load(Relaxed);
    // Many allocations, from several threads, large and small, enough for
    // the page tables' storage to double several times.
    std::thread::scope(|s| {
        for t in 0..4usize {
            s.spawn(move || {
                let mut kept = Vec::new();
                for i in 0..3000usize {
                    let v = vec![t as u8; 1 + (i * 7919 + t) % (3 * PAGE_SIZE)];
                    assert!(v.iter().all(|&b| b == t as u8));
                    if i % 3 == 0 {
                        kept.push(v);
                    }
                }
                let big: Vec<u64> = vec![7; (64 << 20) / 8];
                assert_eq!(big[big.len() - 1], 7);
                kept.len()
            });
        }
    });
    assert!(ALLOCATIONS.load(Relaxed) - before > 12_000);
    assert_eq!(
        REENTERED.load(Relaxed),
        0,
        "wasm-vmem called the global allocator"
    );
    let s = ALLOCATOR.0.stats();
    assert!(s.metadata_bytes > 0);
    assert!(s.grows > 8, "{s:?}");
    assert_eq!(
        s.owned_bytes,
        s.reserved_bytes + s.free_zero_bytes + s.free_dirty_bytes + s.metadata_bytes
    );
    assert_eq!(REENTERED.load(Relaxed), 0);
}
