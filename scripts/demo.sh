#!/usr/bin/env bash
# The main job: installs what is missing, builds both wasm variants of the
# demo, serves web/ on 127.0.0.1 and prints the URL. The page runs the
# multithreaded build when it is cross-origin isolated (COOP/COEP), else the
# single-threaded one, and says which.
#
#   scripts/demo.sh                    serve with COOP/COEP on port $PORT
#                                      (default 8080; a free one if taken)
#                                      until Ctrl-C
#   scripts/demo.sh --no-isolation     serve without COOP/COEP (the fallback)
#   scripts/demo.sh --headless         run the page in headless Chromium,
#                                      with and without COOP/COEP, print the
#                                      reports and checks, then stop
#   scripts/demo.sh --headless --seconds 20   longer runs (default 10)
#
# Page parameters: ?seconds=N (run length, default 20), ?threads=N (pool
# size, default navigator.hardwareConcurrency).
set -euo pipefail
cd "$(dirname "$0")/.."
headless=0 seconds=10 serve_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --headless) headless=1 ;;
    --seconds) seconds=$2; shift ;;
    --no-isolation) serve_args+=(--no-isolation) ;;
    --port) PORT=$2; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

bash scripts/setup.sh
bash scripts/build-wasm.sh st mt
if [ $headless = 1 ]; then
    exec timeout $((2 * seconds + 300)) node web/e2e.mjs --seconds "$seconds"
fi
exec node web/serve.mjs --port "${PORT:-8080}" "${serve_args[@]}"
