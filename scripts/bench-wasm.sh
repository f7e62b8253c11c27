#!/usr/bin/env bash
# The benchmarks in the browser: builds both wasm modules, and both again
# with each other global allocator (dlmalloc, talc, lol_alloc, and
# rusty_alloc in the single-threaded build: the phase workload's peak
# linear memory), runs the bench page (web/bench.html) in
# headless Chromium with COOP/COEP, prints the figures and writes them to
# target/bench-wasm.json (scripts/bench-report.py puts them in
# BENCHMARKS.md). A few minutes once built.
#   scripts/bench-wasm.sh           full run
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
bash scripts/build-wasm.sh "${variants[@]}" st mt
exec timeout 1200 node web/bench-run.mjs --allocs "vmem,$(IFS=,; echo "${allocs[*]}")" "$@"
