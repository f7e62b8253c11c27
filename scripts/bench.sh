#!/usr/bin/env bash
# The full benchmarks (a few minutes on 2 cores): native (criterion and the
# other figures), then both wasm builds in the browser, then the tables and
# plots of BENCHMARKS.md from that very run.
#   scripts/bench.sh            both
#   scripts/bench.sh --native   native only (no browser, no setup)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f target/bench-wasm.json
cargo bench -p wasm-vmem-bench
[ "${1:-}" = --native ] || bash scripts/bench-wasm.sh
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    [ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
    .tools/venv/bin/python -c 'import matplotlib' 2>/dev/null || .tools/venv/bin/pip install -q matplotlib
    PY=.tools/venv/bin/python
else
    PY=python3
fi
"$PY" scripts/bench-report.py
