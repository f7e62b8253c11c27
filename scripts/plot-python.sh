#!/usr/bin/env bash
# Prints the path of a Python that has matplotlib (for the benchmark
# plots): the system's if it has it, else a venv in .tools/venv, made and
# given matplotlib on first use. Usage: PY=$(bash scripts/plot-python.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c 'import matplotlib' 2>/dev/null; then
    echo python3
    exit
fi
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv >&2
.tools/venv/bin/python -c 'import matplotlib' 2>/dev/null || .tools/venv/bin/pip install -q matplotlib >&2
echo "$PWD/.tools/venv/bin/python"
