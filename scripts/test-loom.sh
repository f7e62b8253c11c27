#!/usr/bin/env bash
# The loom models of the multithreaded build (loom-tests/), in release
# mode, in their own target directory so that `--cfg loom` does not
# invalidate the normal builds. Each model prints how many interleavings it
# explored and how long they took.
#
# Bound: LOOM_MAX_PREEMPTIONS=2 by default; override it (3 is the deep run).
# Two test files: tests/models.rs (the page pool) and tests/alloc_models.rs
# (the global allocator: cross-thread free, a segment going back to the
# pool, realloc in place; each with a reserve or allocation racing it).
# Cost on 2 cores (loom 0.7.3), after a ~20 s first build:
#   bound 2: pool 18,853 interleavings, ~3.6 s of models (storage race:
#            6,591; storage in a free run: 1,783); allocator 536
#            interleavings (13 + 13 + 39 + 471), ~0.3 s (2026-11-27)
#   bound 3: pool 118,098 interleavings, ~17 s of models (storage race:
#            62,004); allocator 12,900 (30 + 12,668 + 202), ~5 s
# The broken variants (should_panic) run models with a fault injected
# (`wasm_vmem::faults`: a free without the owner's lock, handed-over blocks
# never freed, a storage's free run claimed late; feature `loom-faults`,
# which loom-tests enables; it compiles nothing without `--cfg loom`).
# A failing model can be replayed with LOOM_CHECKPOINT_FILE and LOOM_LOG=1
# (see loom's docs).
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2}
# Debug assertions on in release mode: the table's `debug_assert!`s (no
# allocation under the lock, claimed pages free, ...) fire under loom too.
export RUSTFLAGS="--cfg loom -C debug-assertions=on ${RUSTFLAGS:-}"
echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS"
cargo clippy -p loom-tests --tests --target-dir target/loom -- -D warnings
cargo test --release -p loom-tests --target-dir target/loom -- --nocapture --test-threads=1
