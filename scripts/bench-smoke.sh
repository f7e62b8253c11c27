#!/usr/bin/env bash
# A reduced run of the benchmarks for the test command: every trace on
# every backend once with tiny sizes, and the figures computed, so the
# benchmarks cannot rot; then the thread sweep at 1 and 2 threads with tiny
# work (under a second once built). Numbers from this run mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_VMEM_BENCH_SMOKE=1 cargo bench -p wasm-vmem-bench --bench traces
test -s target/bench-figures.json
python3 -c 'import json,sys; d=json.load(open("target/bench-figures.json")); assert {"st","mt","lock_hold"} <= d.keys(); print("bench smoke: figures ok")'
cargo run --release -q -p wasm-vmem-bench --bin sweep -- --smoke --out target/sweep-smoke.json >/dev/null
python3 - <<'PY'
import json
d = json.load(open("target/sweep-smoke.json"))
assert [t["trace"] for t in d["traces"]] == ["contention", "gc"], d["traces"]
for t in d["traces"]:
    names = [s["name"] for s in t["series"]]
    assert "wasm-vmem (MT)" in names and "wasm-vmem (MT, parking lock)" in names, names
    assert any(s["kind"] == "control" for s in t["series"]), names
    for s in t["series"]:
        assert len(s["mops"]) == len(d["config"]["threads"]) and all(x > 0 for x in s["mops"]), s
    assert t["ratios"], t
print("bench smoke: sweep ok")
PY
# The global-allocator benchmarks (scripts/bench-alloc.sh): every part on
# tiny sizes, the (d) binaries of every allocator that builds, the output
# checked.
bash scripts/bench-alloc.sh --smoke
