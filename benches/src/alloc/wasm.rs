//! The backends of the allocator benchmarks inside a wasm module, for the
//! bench page (`web/`): each a fresh instance over the module's own memory,
//! growing it with `memory.grow` as the module's global allocator would.
//! The workloads are the generic functions of [`super`]; the page drives
//! them (threads are rayon's workers there): [`small_single`](super::small_single),
//! [`small_worker`](super::small_worker) with a [`Ring`](super::Ring),
//! [`large_zeroed`](super::large_zeroed) with a
//! [`DirtyOracle`](super::DirtyOracle) per instance,
//! [`phase_one_pool`](super::phase_one_pool) /
//! [`phase_beside`](super::phase_beside) (a [`Vmem`] and a separate
//! `GenericVmem`), [`realloc_growth`](super::realloc_growth),
//! [`threshold`](super::threshold) and
//! [`threshold_fresh`](super::threshold_fresh). Footprints are what each
//! instance grew itself (wasm-vmem's owned bytes, dlmalloc's regions);
//! talc's and lol_alloc's are not known here.

use super::{Counted, Dlmalloc, GrowSys, Instance, Vmem};
use core::alloc::{GlobalAlloc, Layout};
use wasm_vmem::lock::SpinLock;
use wasm_vmem::sys::Wasm32Memory;

/// The backends, in the order of every table: wasm-vmem (the build's
/// policy: multithreaded in a module with atomics, else single-threaded), dlmalloc (as in
/// std: `memory.grow` for every region, behind a spinlock), talc (its wasm
/// source and binning, behind a spinlock), lol_alloc (its free-list
/// allocator behind its spinlock).
pub const BACKENDS: [&str; 4] = ["wasm-vmem", "dlmalloc", "talc", "lol_alloc"];

type TalcWasm =
    talc::sync::TalcLock<SpinLock, talc::wasm::WasmGrowAndExtend, talc::wasm::WasmBinning>;
type LolAlloc = lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator>;

/// An allocator that is only `Sync` by its lock: lol_alloc's free list and
/// talc's wasm source hold raw pointers, which makes them `!Send` and so
/// their locked allocators `!Sync`, although every access is under the
/// spinlock.
pub struct Locked<A>(A);
// SAFETY: every access goes through the allocator's own spinlock.
unsafe impl<A> Sync for Locked<A> {}
// SAFETY: forwarded.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Locked<A> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.0.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.realloc(p, l, n) }
    }
}

/// An instance of a module without atomics, which has one thread.
#[cfg(not(target_feature = "atomics"))]
struct OneThread<A>(A);
// SAFETY: without atomics a wasm module runs on one thread.
#[cfg(not(target_feature = "atomics"))]
unsafe impl<A> Sync for OneThread<A> {}
// SAFETY: forwarded.
#[cfg(not(target_feature = "atomics"))]
unsafe impl<A: GlobalAlloc> GlobalAlloc for OneThread<A> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded (caller).
        unsafe { self.0.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded (caller).
        unsafe { self.0.realloc(p, l, n) }
    }
}
#[cfg(not(target_feature = "atomics"))]
impl<A: Instance> Instance for OneThread<A> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn footprint(&self) -> Option<u64> {
        self.0.footprint()
    }
    fn zeroed_bytes(&self) -> Option<u64> {
        self.0.zeroed_bytes()
    }
}

/// Backend `name` of [`BACKENDS`], fresh. Every instance grows the
/// module's memory and never gives it back: make few.
pub fn backend(name: &str) -> Box<dyn Instance + Sync> {
    match name {
        #[cfg(target_feature = "atomics")]
        "wasm-vmem" => Box::new(Vmem::<_, wasm_vmem::policy::MultiThreaded>::new(
            "wasm-vmem",
            Wasm32Memory::BUILD,
        )),
        // Without atomics the module has one thread: the single-threaded
        // build, as `wasm_vmem::Alloc` is there.
        #[cfg(not(target_feature = "atomics"))]
        "wasm-vmem" => Box::new(OneThread(
            Vmem::<_, wasm_vmem::policy::SingleThreaded>::new("wasm-vmem", Wasm32Memory::BUILD),
        )),
        "dlmalloc" => Box::new(Dlmalloc::new(GrowSys(Wasm32Memory::BUILD))),
        // talc's and lol_alloc's `alloc_zeroed` write the whole block
        // (GlobalAlloc's default, or talc's own that does the same).
        "talc" => Box::new(Counted::new(
            "talc",
            Locked(TalcWasm::new(talc::wasm::WasmGrowAndExtend::new())),
            true,
            None,
        )),
        "lol_alloc" => Box::new(Counted::new(
            "lol_alloc",
            Locked(LolAlloc::new(lol_alloc::FreeListAllocator::new())),
            true,
            None,
        )),
        _ => panic!("no backend {name}"),
    }
}
