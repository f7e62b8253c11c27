#!/usr/bin/env bash
# The loom models of the multithreaded build (loom-tests/), in release
# mode, in their own target directory so that `--cfg loom` does not
# invalidate the normal builds. Each model prints how many interleavings it
# explored and how long they took.
#
# Bound: LOOM_MAX_PREEMPTIONS=2 by default; override it (3 is the deep run).
# Two test files: tests/models.rs (the page pool) and tests/alloc_models.rs
# (the global allocator's size-class spans: a free by the owner arena's
# threads racing an allocation; a remote free racing the owner collecting
# its span's thread_free list; a remote free racing the span going back to
# the pool (notified, pushed on the pending stack, trimmed); another
# thread's trim racing both; realloc in place racing a reserve).
# Cost on 2 cores (loom 0.7.3), after a ~20 s first build, measured while
# other builds shared the cores (load average 13; less when idle):
#   bound 2: pool 20,292 interleavings, ~22 s of models (storage race:
#            6,591; storage in a free run: 1,783); allocator 2,096
#            interleavings (own-heap free 37, remote free vs collecting 7,
#            vs the span going back 12, trim racing both 2,001, realloc
#            39), ~3 s; the whole script ~1 min 45 s
#   bound 3: allocator 16,545 (192 + 7 + 19 + 16,143 + 184), ~24 s
# The broken variants (should_panic) run models with a fault injected
# (`wasm_vmem::faults`: a free without the owner's lock, a full span never
# notified, the pending stack never taken, a span given back while
# notified, a storage's free run claimed late; feature `loom-faults`, which
# loom-tests enables; it compiles nothing without `--cfg loom`).
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
