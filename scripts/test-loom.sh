#!/usr/bin/env bash
# The loom models of the multithreaded build (loom-tests/), in release
# mode, in their own target directory so that `--cfg loom` does not
# invalidate the normal builds. Each model prints how many interleavings it
# explored and how long they took.
#
# Bound: LOOM_MAX_PREEMPTIONS=2 by default; override it (3 is the deep run).
# Cost on 2 cores (loom 0.7.3), after a ~20 s first build:
#   bound 2: 9,425 interleavings, ~2.3 s of models (storage race: 4,277)
#   bound 3: 118,098 interleavings, ~17 s of models (storage race: 62,004)
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
