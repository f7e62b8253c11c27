#!/usr/bin/env bash
# The full benchmarks (a few minutes on 2 cores), then the tables and plots
# of BENCHMARKS.md from that very run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p wasm-vmem-bench
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv .tools/venv
    .tools/venv/bin/pip install -q matplotlib
    PY=.tools/venv/bin/python
else
    PY=python3
fi
"$PY" scripts/bench-report.py
