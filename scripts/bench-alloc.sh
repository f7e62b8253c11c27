#!/usr/bin/env bash
# The global-allocator benchmarks (BENCHMARKS.md, "Global allocator"):
# wasm-vmem's allocator against dlmalloc, talc, mimalloc, rusty_alloc and
# the system allocator, natively, all in one run, interleaved.
#   (a)-(c), the steady state, the small-object churn and the LARGE_MIN
#           threshold: the `alloc` binary, every backend an instance (the
#           churn: each backend in a process of its own)
#           -> target/bench-alloc.json
#   (d)     the `alloc_apps` binary built once per allocator feature, run
#           interleaved (repetition, workload, allocator) -> one JSON line
#           per run in target/bench-alloc-apps.jsonl
# then scripts/bench-alloc.py: tables (target/bench-alloc.md, and the
# section between the ALLOC markers of BENCHMARKS.md) and plots
# (docs/bench/alloc-*.png).
#   scripts/bench-alloc.sh            full run (about 4 minutes on 2 cores, once built)
#   scripts/bench-alloc.sh --smoke    tiny sizes, one repetition, checks the
#                                     output only (scripts/bench-smoke.sh; numbers meaningless)
# APPS_REPS (default 5) is the number of interleaved repetitions of (d).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=()
[ "${1:-}" = --smoke ] && SMOKE=(--smoke)
if [ ${#SMOKE[@]} -gt 0 ]; then
    OUT=target/bench-alloc-smoke.json
    APPS=target/bench-alloc-apps-smoke.jsonl
    REPS=1
else
    OUT=target/bench-alloc.json
    APPS=target/bench-alloc-apps.jsonl
    REPS=${APPS_REPS:-5}
fi

cargo build --release -q -p wasm-vmem-bench --bin alloc
target/release/alloc "${SMOKE[@]}" --out "$OUT"

# (d): one binary per allocator.
mkdir -p target/alloc-apps
ALLOCS=()
for a in vmem dlmalloc talc mimalloc rusty system; do
    if cargo build --release -q -p wasm-vmem-bench --bin alloc_apps --features "alloc-$a" 2>target/alloc-apps/build-$a.log; then
        cp target/release/alloc_apps "target/alloc-apps/$a"
        ALLOCS+=("$a")
    else
        echo "bench-alloc: alloc_apps with alloc-$a does not build (target/alloc-apps/build-$a.log): left out" >&2
        rm -f "target/alloc-apps/$a"
    fi
done
: >"$APPS"
for ((r = 1; r <= REPS; r++)); do
    for w in sort json image; do
        for a in "${ALLOCS[@]}"; do
            "target/alloc-apps/$a" "$w" "${SMOKE[@]}" >>"$APPS"
        done
    done
    echo "bench-alloc: (d) repetition $r of $REPS done" >&2
done

if [ ${#SMOKE[@]} -gt 0 ]; then
    python3 scripts/bench-alloc.py --check "$OUT" "$APPS"
    exit
fi
PY=$(bash scripts/plot-python.sh)
"$PY" scripts/bench-alloc.py "$OUT" "$APPS"
# Issue 20's Done-when table, from this run and the last Chromium run and
# code-size table, where they exist (scripts/bench-small.sh runs all three).
"$PY" scripts/bench-alloc.py --done >/dev/null
