#!/usr/bin/env bash
# The wasm stage of the tests:
#  1. the contract tests (tests/contract.rs) and the global instance over
#     real memory (tests/wasm_global.rs) compiled to wasm: the
#     single-threaded build under Node, the multithreaded build (atomics,
#     shared memory) in headless Chromium;
#  2. both demo modules built, the shared-memory import checked;
#  3. the end-to-end browser test of the demo page, with and without
#     COOP/COEP (web/e2e.mjs), screenshots in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=300

echo "--- contract tests, single-threaded wasm build, Node"
cargo test --target wasm32-unknown-unknown -p wasm-vmem --test contract --test wasm_global

echo "--- contract tests, multithreaded wasm build, headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
    cargo +nightly test --config .cargo/wasm-mt.toml --target wasm32-unknown-unknown \
    -p wasm-vmem --features threads --test contract --test wasm_global --target-dir target/wasm-mt

echo "--- demo modules"
bash scripts/build-wasm.sh st mt

echo "--- end-to-end browser test"
timeout 600 node web/e2e.mjs
