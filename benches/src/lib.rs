//! Workloads and baselines for the benchmarks (DESIGN.md §7).
//!
//! Every backend implements [`Backend`]: wasm-vmem in both builds over a
//! `SimMemory`, a model of the seed design in both builds, the plain Rust
//! approach (`alloc_zeroed`, `write_bytes`, `dealloc`) over the global
//! allocator and over talc. The traces ([`gc`], [`churn`], [`contention`])
//! drive any of them; [`Oracle`] counts the bytes that had to be zeroed.

pub mod backends;
pub mod figures;
pub mod traces;

pub use backends::Backend;
pub use traces::{churn, contention, gc, Oracle};
