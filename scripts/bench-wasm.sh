#!/usr/bin/env bash
# The benchmarks in the browser: builds both wasm modules, and both again
# with each other global allocator (dlmalloc, talc, lol_alloc, and
# rusty_alloc in the single-threaded build: the phase workload's peak
# linear memory), runs the bench page (web/bench.html) with
# COOP/COEP in headless Chromium, or in the engines given, prints the
# figures and writes them to target/bench-wasm-ENGINE.json (Chromium's also
# to target/bench-wasm.json: scripts/bench-report.py puts them in
# BENCHMARKS.md's results; scripts/bench-engines.py puts every engine's in
# its per-engine tables). A few minutes once built, per engine.
#   scripts/bench-wasm.sh                  full run, Chromium
#   scripts/bench-wasm.sh --browser all    full run in Chromium, Firefox and WebKit
#   scripts/bench-wasm.sh --smoke   tiny traces (part of scripts/test-wasm.sh)
# To watch it in a browser: scripts/demo.sh, then open /bench.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
allocs=(dlmalloc talc lol rusty)
variants=()
for a in "${allocs[@]}"; do
    variants+=("st-$a")
    [ "$a" = rusty ] || variants+=("mt-$a")
done
# Every module with the bench page's rusty_alloc instance (off as shipped).
WASM_VMEM_BENCH_RUSTY=1 bash scripts/build-wasm.sh "${variants[@]}" st mt
exec timeout 1200 node web/bench-run.mjs --allocs "vmem,$(IFS=,; echo "${allocs[*]}")" "$@"
