//! The module's global allocator, one per build (a cargo feature picks
//! it), and a handle on it for the bench page (wasm32 only).
//!
//! - `alloc-vmem` (default): `wasm_vmem::Global`, so that the page API
//!   (`wasm_vmem::global()`) and every `Vec`, `String` and `Box` share one
//!   pool of pages;
//! - `alloc-dlmalloc`: std's own (dlmalloc), nothing declared;
//! - `alloc-talc`: talc over `memory.grow`;
//! - `alloc-lol`: lol_alloc's free-list allocator;
//! - `alloc-rusty`: rusty_alloc (a pure-Rust remake of mimalloc), in the
//!   single-threaded build only (with atomics it still assumes one thread).
//!
//! A wasm module's global allocator is fixed when it is built, so the
//! figures that only a whole module gives (peak linear memory of a
//! workload) need one build per allocator (`scripts/build-wasm.sh st-talc`
//! …); the others compare instances inside one build
//! (`wasm_vmem_bench::alloc::wasm`).

use core::alloc::GlobalAlloc;

#[cfg(all(
    target_arch = "wasm32",
    any(
        all(
            feature = "alloc-vmem",
            any(
                feature = "alloc-dlmalloc",
                feature = "alloc-talc",
                feature = "alloc-lol",
                feature = "alloc-rusty"
            )
        ),
        all(
            feature = "alloc-dlmalloc",
            any(feature = "alloc-talc", feature = "alloc-lol", feature = "alloc-rusty")
        ),
        all(
            feature = "alloc-talc",
            any(feature = "alloc-lol", feature = "alloc-rusty")
        ),
        all(feature = "alloc-lol", feature = "alloc-rusty"),
    )
))]
compile_error!(
    "wasm-vmem-web: pick one global allocator: alloc-vmem (default), or \
     --no-default-features --features alloc-dlmalloc | alloc-talc | alloc-lol | alloc-rusty"
);

#[cfg(all(
    target_arch = "wasm32",
    not(any(
        feature = "alloc-vmem",
        feature = "alloc-dlmalloc",
        feature = "alloc-talc",
        feature = "alloc-lol",
        feature = "alloc-rusty"
    ))
))]
compile_error!(
    "wasm-vmem-web: no global allocator feature: alloc-vmem (default), alloc-dlmalloc, \
     alloc-talc, alloc-lol or alloc-rusty"
);

#[cfg(all(target_arch = "wasm32", feature = "alloc-rusty", feature = "threads"))]
compile_error!(
    "wasm-vmem-web: alloc-rusty builds single-threaded only (rusty_alloc assumes one \
     thread on wasm32 with atomics too)"
);

/// This build's global allocator: its short name (the build scripts' and
/// the bench page's: `vmem`, `dlmalloc`, `talc`, `lol`, `rusty`) and its
/// name.
const NAMES: (&str, &str) = if cfg!(feature = "alloc-talc") {
    ("talc", "talc")
} else if cfg!(feature = "alloc-rusty") {
    ("rusty", "rusty_alloc")
} else if cfg!(feature = "alloc-lol") {
    ("lol", "lol_alloc")
} else if cfg!(feature = "alloc-dlmalloc") {
    ("dlmalloc", "dlmalloc")
} else {
    ("vmem", "wasm-vmem")
};

/// The name of this build's global allocator.
pub const GLOBAL_NAME: &str = NAMES.1;

/// The short name the build scripts and the bench page use for it.
pub const GLOBAL_KEY: &str = NAMES.0;

// Only when it is the one picked, so that two picked give only the error
// above.
#[cfg(all(
    target_arch = "wasm32",
    feature = "alloc-vmem",
    not(any(
        feature = "alloc-dlmalloc",
        feature = "alloc-talc",
        feature = "alloc-lol",
        feature = "alloc-rusty"
    ))
))]
#[global_allocator]
static GLOBAL: wasm_vmem::Global = wasm_vmem::Global;

/// talc as its README sets it up for wasm with threads: a spinlock (the
/// browser main thread must not wait) over heaps claimed from
/// `memory.grow`; also in the single-threaded build, where the lock is
/// never contended.
#[cfg(feature = "alloc-talc")]
#[global_allocator]
static GLOBAL: talc::sync::TalcLock<
    wasm_vmem::lock::SpinLock,
    talc::wasm::WasmGrowAndClaim,
    talc::wasm::WasmBinning,
> = talc::sync::TalcLock::new(talc::wasm::WasmGrowAndClaim);

/// lol_alloc's free-list allocator, behind its spinlock in the
/// multithreaded build.
#[cfg(all(feature = "alloc-lol", feature = "threads"))]
#[global_allocator]
static GLOBAL: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// lol_alloc's free-list allocator, behind its spinlock in the
/// multithreaded build.
#[cfg(all(feature = "alloc-lol", not(feature = "threads")))]
#[global_allocator]
// SAFETY: without `threads` the module has no shared memory and runs on
// one thread only.
static GLOBAL: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// rusty_alloc (`rusty_alloc-api`), one heap over `memory.grow`.
#[cfg(all(
    target_arch = "wasm32",
    feature = "alloc-rusty",
    not(feature = "threads")
))]
#[global_allocator]
static GLOBAL: rusty_alloc_api::RustyAlloc = rusty_alloc_api::RustyAlloc;

/// The module's global allocator, whichever it is, as an instance: calls
/// `std::alloc`'s functions (for the phase workload of the bench page).
pub struct ModuleGlobal;

// SAFETY: forwards to the global allocator, which upholds the contract.
unsafe impl GlobalAlloc for ModuleGlobal {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's obligations, passed on.
        unsafe { std::alloc::alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's obligations, passed on.
        unsafe { std::alloc::alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: core::alloc::Layout) {
        // SAFETY: the caller's obligations, passed on.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: the caller's obligations, passed on.
        unsafe { std::alloc::realloc(ptr, layout, new_size) }
    }
}
