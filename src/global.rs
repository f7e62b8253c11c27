//! The instance over the running module's own memory (wasm32 only): one
//! page pool behind both the page API ([`global`]) and the global
//! allocator ([`Global`]).

use crate::sys::Wasm32Memory;
use crate::{Alloc, AllocStats, Vmem};
use core::alloc::{GlobalAlloc, Layout};

/// Holds the global instance. The multithreaded allocator is `Sync` by
/// itself; the single-threaded one is not, and gets its `Sync` below.
struct Instance(Alloc<Wasm32Memory>);

// SAFETY: without the `threads` feature this build has no `+atomics`
// (lib.rs refuses that combination at compile time), so the module cannot
// share its memory and runs on exactly one thread.
#[cfg(not(feature = "threads"))]
unsafe impl Sync for Instance {}

static INSTANCE: Instance = Instance(Alloc::new(Wasm32Memory::BUILD));

/// The page pool over memory 0 of this wasm module: single-threaded by
/// default, multithreaded with the `threads` feature. Its maximum comes from
/// `WASM_VMEM_MAX_MEMORY` at build time (see [`Wasm32Memory`]). With
/// [`Global`] as the global allocator, its pages and the allocator's are one
/// pool.
///
/// ```ignore
/// let vm = wasm_vmem::global();
/// let p = vm.reserve(1 << 20, 1 << 20)?; // 1 MiB, reads zero
/// ```
pub fn global() -> &'static Vmem<Wasm32Memory> {
    INSTANCE.0.vmem()
}

/// The global allocator over the same pool as [`global()`]: one line makes
/// it the module's allocator, in both builds.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: wasm_vmem::Global = wasm_vmem::Global;
/// ```
///
/// A second allocator instance over memory 0 (say, a
/// `static A: Alloc<Wasm32Memory> = Alloc::new(Wasm32Memory::BUILD)`) would
/// work too, but it would be a second pool: each would see the other's pages
/// as foreign and never reuse them. `Global` forwards to the one instance
/// behind [`global()`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Global;

impl Global {
    /// The allocator's figures ([`AllocStats`]); the pool's are in
    /// `global().stats()`.
    pub fn stats(&self) -> AllocStats {
        INSTANCE.0.stats()
    }
}

// SAFETY: forwards every call to the one global instance, which upholds the
// `GlobalAlloc` contract.
unsafe impl GlobalAlloc for Global {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { INSTANCE.0.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { INSTANCE.0.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { INSTANCE.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { INSTANCE.0.realloc(ptr, layout, new_size) }
    }
}
