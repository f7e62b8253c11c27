#!/usr/bin/env bash
# Every small-object figure of BENCHMARKS.md from one run, in
# this order: natively (scripts/bench-alloc.sh: the steady state, (a) across
# threads, the churn's peak memory, (b)-(d); tables and plots), in Chromium
# (scripts/bench-wasm.sh: the bench page with every allocator, both builds;
# then its allocator tables), the code size of the demo module with each
# global allocator (scripts/code-size.sh), and last the "Done when (small
# objects)" table from the three. About 10 minutes on 2 cores once built.
#   scripts/bench-small.sh               all
#   scripts/bench-small.sh --no-native   Chromium, code size and the table only
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = --no-native ] || bash scripts/bench-alloc.sh
bash scripts/bench-wasm.sh
PY=$(bash scripts/plot-python.sh)
"$PY" scripts/bench-alloc.py --wasm target/bench-wasm.json
bash scripts/code-size.sh --md
"$PY" scripts/bench-alloc.py --done
