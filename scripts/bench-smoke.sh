#!/usr/bin/env bash
# A reduced run of the benchmarks for the test command: every trace on
# every backend once with tiny sizes, and the figures computed, so the
# benchmarks cannot rot. Numbers from this run mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_VMEM_BENCH_SMOKE=1 cargo bench -p wasm-vmem-bench --bench traces
test -s target/bench-figures.json
python3 -c 'import json,sys; d=json.load(open("target/bench-figures.json")); assert {"st","mt","lock_hold"} <= d.keys(); print("bench smoke: figures ok")'
