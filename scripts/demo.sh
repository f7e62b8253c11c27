#!/usr/bin/env bash
# The main job: builds both wasm variants of the demo, serves web/ on
# 127.0.0.1 with COOP/COEP and prints the URL. Open it in a browser: it runs
# the multithreaded build when cross-origin isolated, else the
# single-threaded one.
#   scripts/demo.sh                 serve on port ${PORT:-8080} until Ctrl-C
#   scripts/demo.sh --no-isolation  serve without COOP/COEP (the fallback)
#   scripts/demo.sh --headless      run the page in headless Chromium, both
#                                   ways, and print the reports
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-wasm.sh st mt
if [ "${1:-}" = --headless ]; then
    exec node web/e2e.mjs --report
fi
exec node web/serve.mjs --port "${PORT:-8080}" "$@"
