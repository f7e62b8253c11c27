#![doc = include_str!("../README.md")]
#![no_std]
#![warn(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(test)]
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

mod error;
pub mod lock;
pub mod mt;
pub mod policy;
pub mod st;
mod stats;
pub(crate) mod sync;
pub mod sys;
mod table;
mod vmem;

#[cfg(target_arch = "wasm32")]
mod global;
#[cfg(target_arch = "wasm32")]
pub use global::global;

pub use error::Error;
pub use stats::{Limits, Stats};
pub use vmem::{GenericVmem, SENTINEL};

/// The unit of every operation: 16 KiB, as in the CoreCLR wasm port.
pub const PAGE_SIZE: usize = 16 * 1024;

/// The unit of `memory.grow`: 64 KiB.
pub const WASM_PAGE_SIZE: usize = 64 * 1024;

/// The variant the `threads` feature selects: [`mt::Vmem`] with it,
/// [`st::Vmem`] without. The global instance on wasm32 is of this type.
#[cfg(feature = "threads")]
pub type Vmem<M> = mt::Vmem<M>;

/// The variant the `threads` feature selects: [`mt::Vmem`] with it,
/// [`st::Vmem`] without. The global instance on wasm32 is of this type.
#[cfg(not(feature = "threads"))]
pub type Vmem<M> = st::Vmem<M>;
