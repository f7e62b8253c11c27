//! Replays fuzz inputs through the fuzz targets' drivers on every
//! `cargo test` (stable, native):
//!
//! - target `ops`: every committed crash input under `fuzz/regressions/`
//!   and hand-written seed under `fuzz/seeds/`, then a few thousand seeded
//!   pseudo-random inputs (a handful under Miri). Each input runs over both
//!   builds, checked after every step against the reference model
//!   (`common/harness.rs`);
//! - target `alloc`: every input under `fuzz/regressions/alloc/` and
//!   `fuzz/seeds/alloc/`, a few hundred times each (its threads interleave
//!   differently each time), then a hundred seeded pseudo-random inputs
//!   (none under Miri), through the same driver and checks as the fuzz
//!   target (`common/alloc_harness.rs`).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::{alloc_harness, harness::run_bytes};
use std::path::Path;

/// Runs every input file of `fuzz/<dir>` (not the `.md` notes, not
/// subdirectories) through `run`, `times` times each.
fn replay_with(dir: &str, run: fn(&[u8]), times: usize) {
    // Miri isolates the file system (opening a directory aborts); the
    // native run replays these.
    if cfg!(miri) {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<_> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    for file in files {
        let data = std::fs::read(&file).expect("readable input");
        eprintln!("replaying {}", file.display());
        for _ in 0..times {
            run(&data);
        }
    }
}

/// [`replay_with`] through the `ops` target's driver.
fn replay(dir: &str) {
    replay_with(dir, run_bytes, 1);
}

/// How many times each input of the `alloc` target is replayed: its
/// threads interleave differently each time, and a race it caught comes
/// back in a few runs of a hundred (each takes a few milliseconds).
const ALLOC_REPLAYS: usize = 300;

#[test]
fn committed_regressions() {
    replay("regressions");
}

#[test]
fn committed_seeds() {
    replay("seeds");
}

#[test]
fn committed_alloc_regressions() {
    replay_with("regressions/alloc", alloc_harness::run_bytes, ALLOC_REPLAYS);
}

#[test]
fn committed_alloc_seeds() {
    replay_with("seeds/alloc", alloc_harness::run_bytes, ALLOC_REPLAYS);
}

/// SplitMix64: a seeded generator, so that every run replays the same inputs.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[test]
fn seeded_random_inputs() {
    let (inputs, max_len) = if cfg!(miri) { (4, 64) } else { (2000, 512) };
    let mut rng = SplitMix(0x5EED_F022);
    for i in 0..inputs {
        let len = (rng.next() % max_len) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Mostly small memories, as the fuzzer runs them, so that growth
        // failures at the maximum come often.
        // Under Miri, always the smallest (512 KiB): it reads every byte.
        if let Some(h) = data.first_mut() {
            *h &= if cfg!(miri) {
                0xFC
            } else if i % 4 == 0 {
                0xFF
            } else {
                0xFD
            };
        }
        run_bytes(&data);
    }
}

#[test]
fn seeded_random_alloc_inputs() {
    // Threads over a 64 MiB memory: too slow for Miri, which runs the
    // allocator's own tests (`alloc`, `alloc_model`).
    if cfg!(miri) {
        return;
    }
    let mut rng = SplitMix(0xA110_C8ED);
    for _ in 0..100 {
        let len = (rng.next() % 1024) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        alloc_harness::run_bytes(&data);
    }
}
