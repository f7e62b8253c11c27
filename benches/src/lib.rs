//! Workloads and baselines for the benchmarks (docs/DESIGN.md §7).
//!
//! Every backend implements [`Backend`]: wasm-vmem in both builds over a
//! `SimMemory`, a model of the seed design in both builds, the plain Rust
//! approach (`alloc_zeroed`, `write_bytes`, `dealloc`) over the global
//! allocator and over talc. The traces ([`gc`], [`churn`], [`contention`])
//! drive any of them; [`Oracle`] counts the bytes that had to be zeroed.
//! The thread sweep ([`sweep`], native) measures throughput against threads
//! (the `sweep` binary).

pub mod alloc;
pub mod backends;
pub mod figures;
#[cfg(not(target_arch = "wasm32"))]
pub mod lock_hold;
#[cfg(not(target_arch = "wasm32"))]
pub mod sweep;
pub mod traces;

pub use backends::Backend;
#[cfg(not(target_arch = "wasm32"))]
pub use traces::contention;
pub use traces::{churn, gc, Oracle};
