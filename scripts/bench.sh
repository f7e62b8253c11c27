#!/usr/bin/env bash
# The full benchmarks (a few minutes on 2 cores): native (criterion and the
# other figures), the thread sweep, then both wasm builds in the browser
# (Chromium, Firefox and WebKit, one after the other), then the tables and
# plots of BENCHMARKS.md from that very run.
#   scripts/bench.sh            all
#   scripts/bench.sh --native   native only (no browser, no setup)
#   scripts/bench.sh --sweep    the thread sweep only, then its tables and plot
# SWEEP_SECONDS (default 120) is the sweep's time budget for measured runs,
# SWEEP_REPS (default 7) its interleaved repetitions.
set -euo pipefail
cd "$(dirname "$0")/.."
sweep() {
    cargo build --release -p wasm-vmem-bench --bin sweep
    target/release/sweep --seconds "${SWEEP_SECONDS:-120}" --reps "${SWEEP_REPS:-7}" --out target/sweep.json
}
if [ "${1:-}" = --sweep ]; then
    sweep
else
    rm -f target/bench-wasm.json target/bench-wasm-*.json
    cargo bench -p wasm-vmem-bench
    sweep
    [ "${1:-}" = --native ] || bash scripts/bench-wasm.sh --browser all
fi
PY=$(bash scripts/plot-python.sh)
if [ "${1:-}" = --sweep ]; then
    "$PY" scripts/bench-report.py --sweep
else
    "$PY" scripts/bench-report.py
    [ "${1:-}" = --native ] || python3 scripts/bench-engines.py
fi
