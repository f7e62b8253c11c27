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
//! talc's, lol_alloc's and rusty_alloc's are not known here.

use super::{AssertSync, Counted, Dlmalloc, GrowSys, Instance, Vmem};
use wasm_vmem::lock::SpinLock;
use wasm_vmem::sys::Wasm32Memory;

/// The backends, in the order of every table: wasm-vmem (the build's
/// policy: multithreaded in a module with atomics, else single-threaded), dlmalloc (as in
/// std: `memory.grow` for every region, behind a spinlock), talc (its wasm
/// source and binning, behind a spinlock), lol_alloc (its free-list
/// allocator behind its spinlock), and in the single-threaded build
/// rusty_alloc (a pure-Rust remake of mimalloc: one heap per module, over
/// `memory.grow`; with atomics it still assumes one thread, so not there).
#[cfg(any(target_feature = "atomics", not(feature = "rusty")))]
pub const BACKENDS: [&str; 4] = ["wasm-vmem", "dlmalloc", "talc", "lol_alloc"];

/// See above: the single-threaded build has rusty_alloc too (feature
/// `rusty`, on in the bench page's builds).
#[cfg(all(not(target_feature = "atomics"), feature = "rusty"))]
pub const BACKENDS: [&str; 5] = ["wasm-vmem", "dlmalloc", "talc", "lol_alloc", "rusty_alloc"];

type TalcWasm =
    talc::sync::TalcLock<SpinLock, talc::wasm::WasmGrowAndExtend, talc::wasm::WasmBinning>;
type LolAlloc = lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator>;

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
        // SAFETY: without atomics the module runs on one thread.
        "wasm-vmem" => Box::new(unsafe {
            AssertSync::new(Vmem::<_, wasm_vmem::policy::SingleThreaded>::new(
                "wasm-vmem",
                Wasm32Memory::BUILD,
            ))
        }),
        "dlmalloc" => Box::new(Dlmalloc::new(GrowSys(Wasm32Memory::BUILD))),
        // talc's and lol_alloc's `alloc_zeroed` write the whole block
        // (GlobalAlloc's default, or talc's own that does the same).
        "talc" => Box::new(Counted::new(
            "talc",
            // SAFETY: every access goes through talc's own spinlock.
            unsafe { AssertSync::new(TalcWasm::new(talc::wasm::WasmGrowAndExtend::new())) },
            true,
            None,
        )),
        "lol_alloc" => Box::new(Counted::new(
            "lol_alloc",
            // SAFETY: every access goes through lol_alloc's own spinlock.
            unsafe { AssertSync::new(LolAlloc::new(lol_alloc::FreeListAllocator::new())) },
            true,
            None,
        )),
        // Its `alloc_zeroed` skips memory fresh from `memory.grow`: what it
        // zeroed is not seen. One process-wide heap: "fresh" it is not.
        #[cfg(all(not(target_feature = "atomics"), feature = "rusty"))]
        "rusty_alloc" => Box::new(Counted::new(
            "rusty_alloc",
            rusty_alloc_api::RustyAlloc,
            false,
            None,
        )),
        _ => panic!("no backend {name}"),
    }
}
