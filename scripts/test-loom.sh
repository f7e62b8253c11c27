#!/usr/bin/env bash
# The loom models of the multithreaded build (loom-tests/), in release
# mode, in their own target directory so that `--cfg loom` does not
# invalidate the normal builds.
#
# Bound: LOOM_MAX_PREEMPTIONS=2 by default (override it: 3 is the deep run).
# Cost on 2 cores, bound 2: about 10 s of models after a 20 s build; each
# model prints its interleavings and time.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2}
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS"
cargo clippy -p loom-tests --tests --target-dir target/loom -- -D warnings
cargo test --release -p loom-tests --target-dir target/loom -- --nocapture --test-threads=1
