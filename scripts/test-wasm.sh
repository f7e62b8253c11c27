#!/usr/bin/env bash
# The wasm stage of the tests (after scripts/setup.sh):
#  1. the contract tests (tests/contract.rs) and the global instance over
#     real memory (tests/wasm_global.rs) compiled to wasm, and the 4 GiB
#     edge (tests/wasm_edge.rs, single-threaded build only): the
#     single-threaded build under Node, the multithreaded build (atomics,
#     shared memory, .cargo/wasm-mt.toml) in headless Chromium, both with
#     wasm-bindgen-test-runner;
#  2. both demo modules built, their memory checked (shared for mt), and
#     both again with std's dlmalloc as the global allocator (the bench
#     page's comparison of global allocators);
#  3-5 in each browser engine, Chromium, Firefox and WebKit (web/browser.mjs;
#     $WASM_BROWSERS picks some, e.g. "chromium firefox"):
#  3. the end-to-end browser test of the demo page with and without
#     COOP/COEP (web/e2e.mjs; its servers stop with it), the same checks in
#     every engine, screenshots in target/web-ENGINE-{mt,st}.png: the GC
#     workload, and with wasm_vmem::Global as the global allocator a Vec
#     from the released pages and the allocator workload (collect,
#     par_sort, HashMap churn, strings, large zeroed vectors) on rayon
#     threads and single-threaded;
#  4. a short soak (web/soak.mjs, $SOAK_SECONDS, default 20 s): the
#     multithreaded demo on every hardware thread with 25 % of memory.grow
#     failing; no verification failure, every failed grow refused or
#     rescued, failed grows recovered from, statistics balanced after
#     release (report in target/soak-short-ENGINE.json);
#  5. a smoke run of the benchmarks in the browser, both builds
#     (web/bench-run.mjs --smoke: every figure there and consistent; the
#     allocator benchmarks, and the phase workload in the builds whose
#     global allocator is wasm-vmem and dlmalloc).
# Every part is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=300
# The runner gives chromedriver 5 s to bind its port by default, and does
# not retry within that; on a loaded 2-core machine it once took longer
# ("driver failed to bind port during startup", a clean-clone run on
# 2026-11-27). 60 s lets it restart a stuck driver (every 10 s) too.
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT=60
declare -A took
part() { echo "--- $1"; start=$SECONDS; }
done_() { took[$1]=$((SECONDS - start)); }

part "contract tests, single-threaded wasm build, Node"
timeout 1200 cargo test --target wasm32-unknown-unknown -p wasm-vmem --test contract --test wasm_global \
    --test wasm_edge
done_ "contract st (Node)"

part "contract tests, multithreaded wasm build, headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
    timeout 1800 cargo +nightly test --config .cargo/wasm-mt.toml --target wasm32-unknown-unknown \
    -p wasm-vmem --features threads --test contract --test wasm_global --target-dir target/wasm-mt
done_ "contract mt (Chromium)"

part "demo modules"
timeout 1800 bash scripts/build-wasm.sh st-dlmalloc mt-dlmalloc st mt
done_ "demo builds"

read -r -a engines <<<"${WASM_BROWSERS:-chromium firefox webkit}"
order=("contract st (Node)" "contract mt (Chromium)" "demo builds")
for e in "${engines[@]}"; do
    part "end-to-end browser test ($e)"
    timeout 600 node web/e2e.mjs --browser "$e" --seconds "${E2E_SECONDS:-6}"
    done_ "e2e ($e)"

    part "short soak ($e), multithreaded, 25 % of memory.grow failing"
    timeout 300 node web/soak.mjs --browser "$e" --seconds "${SOAK_SECONDS:-20}" --fail-grow 0.25 --progress 5 \
        --out "target/soak-short-$e.json"
    done_ "soak short ($e)"

    part "benchmarks in the browser ($e), smoke run (both builds)"
    timeout 300 node web/bench-run.mjs --browser "$e" --smoke --allocs vmem,dlmalloc
    done_ "bench smoke ($e)"
    order+=("e2e ($e)" "soak short ($e)" "bench smoke ($e)")
done

echo "--- wasm stage times (s):"
for k in "${order[@]}"; do
    printf '    %-24s %5d\n' "$k" "${took[$k]}"
done
