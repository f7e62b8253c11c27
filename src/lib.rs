#![doc = include_str!("../README.md")]
#![no_std]
#![warn(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The library itself never uses the global allocator (it may be the global
// allocator): `alloc` is there only for test helpers, loom's page cells, and
// `SimMemory`'s region when `std` (and so `System`) is off.
// `scripts/check-guards.sh` builds the library without it.
#[cfg(any(test, feature = "testing", loom, not(feature = "std")))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(all(
    target_arch = "wasm32",
    target_feature = "atomics",
    not(feature = "threads")
))]
compile_error!(
    "wasm-vmem: this wasm32 build has `+atomics` (shared memory) but not the `threads` feature. \
     The single-threaded variant is unsound when other threads share the memory: enable the \
     `threads` feature of wasm-vmem."
);

#[cfg(all(
    target_arch = "wasm32",
    not(target_feature = "atomics"),
    feature = "threads"
))]
compile_error!(
    "wasm-vmem: the `threads` feature needs a wasm32 build with shared memory: compile with \
     `-C target-feature=+atomics,+bulk-memory` (nightly, `-Z build-std=panic_abort,std`), or \
     drop the feature for the single-threaded build."
);

// The modules, by layer (docs/DESIGN.md §5): units at the bottom, then the
// platform seam and the sync shim, the policies, the state table, and the API.
mod allocator; // API: `GenericAlloc`, the global allocator on the page pool
mod builds; // API: `st` and `mt`, the two builds as types
mod error; // API: `Error`
#[cfg(all(loom, feature = "loom-faults"))]
pub mod faults; // loom only: deliberate faults for the broken variants
#[cfg(target_arch = "wasm32")]
mod global; // API: the instance over memory 0
pub mod policy; // threading policy: when to zero, what to lock
mod stats; // API: `Stats`, `Limits`
pub(crate) mod sync; // the one shim for atomics and cells (loom under cfg(loom))
pub mod sys; // platform seam: `LinearMemory`, wasm32 memory 0, `SimMemory`
mod table; // state table: page states, free runs, plans; pure logic
mod units; // the units every layer counts in: page sizes, batch, arenas
mod vmem; // API: `GenericVmem`

pub use builds::{mt, st};
#[cfg(target_arch = "wasm32")]
#[cfg_attr(docsrs, doc(cfg(target_arch = "wasm32")))]
pub use global::{global, Global};
pub use policy::lock;

pub use allocator::{AllocStats, GenericAlloc, LARGE_MIN};
pub use error::Error;
/// The `lock_api` crate, whose `RawMutex` [`lock::SpinLock`] implements:
/// `lock_api::Mutex<SpinLock, T>` is a main-thread-safe mutex.
pub use lock_api;
pub use stats::{Limits, Stats};
pub use units::{
    BATCH_PAGES, MAX_ARENAS, MAX_HEAPS, PAGES_PER_WASM_PAGE, PAGE_SIZE, WASM_PAGE_SIZE,
};
pub use vmem::{GenericVmem, SENTINEL};

/// The variant the `threads` feature selects: [`mt::Vmem`] with it,
/// [`st::Vmem`] without. The global instance on wasm32 is of this type.
#[cfg(feature = "threads")]
pub type Vmem<M> = mt::Vmem<M>;

/// The variant the `threads` feature selects: [`mt::Vmem`] with it,
/// [`st::Vmem`] without. The global instance on wasm32 is of this type.
#[cfg(not(feature = "threads"))]
pub type Vmem<M> = st::Vmem<M>;

/// The allocator variant the `threads` feature selects: [`mt::Alloc`] with
/// it, [`st::Alloc`] without.
#[cfg(feature = "threads")]
pub type Alloc<M> = mt::Alloc<M>;

/// The allocator variant the `threads` feature selects: [`mt::Alloc`] with
/// it, [`st::Alloc`] without.
#[cfg(not(feature = "threads"))]
pub type Alloc<M> = st::Alloc<M>;
