//! Arbitrary operation sequences over both builds (`st` and `mt`) on a
//! simulated linear memory, foreign growth and growth failures included,
//! checked after every step against the reference model of docs/DESIGN.md §4.
//!
//! The model and the decoding of inputs are the test suite's own
//! (`tests/common/harness.rs`): a crash input replays there with
//! `cargo test --test fuzz_regressions` once copied to `fuzz/regressions/`.
#![no_main]

#[path = "../../tests/common/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run_bytes(data));
