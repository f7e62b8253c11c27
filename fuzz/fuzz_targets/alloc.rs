//! Arbitrary `alloc` / `alloc_zeroed` / `alloc_in` / `realloc` / `dealloc`
//! sequences over both builds of the global allocator (`mt::Alloc` on
//! several threads sharing one table of blocks, so that blocks are freed
//! by other threads; `st::Alloc` with the same streams interleaved), every
//! block's place, contents and alignment checked against a model of the
//! live blocks.
//!
//! The driver and its checks are the test suite's own
//! (`tests/common/alloc_harness.rs`): a crash input replays there with
//! `cargo test --test fuzz_regressions` once copied to
//! `fuzz/regressions/alloc/`.
#![no_main]

#[path = "../../tests/common/alloc_harness.rs"]
mod alloc_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| alloc_harness::run_bytes(data));
