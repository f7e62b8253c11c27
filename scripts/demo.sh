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
#   scripts/demo.sh --headless --soak 300 --fail-grow 0.2
#                                      the soak (web/soak.mjs): the
#                                      multithreaded build for 300 s on every
#                                      hardware thread, 20 % of memory.grow
#                                      failing (default 0.2); prints progress
#                                      and a JSON report (target/soak-report.json)
#
# Page parameters: ?seconds=N (run length, default 20), ?threads=N (pool
# size, default navigator.hardwareConcurrency), ?failGrow=R (fraction of
# wasm-vmem's memory.grow calls that fail, default 0), ?cycle=S (seconds
# per heap cycle), ?peak=N (segments per thread at the peak, default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
headless=0 seconds=10 soak= fail_grow= serve_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --headless) headless=1 ;;
    --seconds) seconds=$2; shift ;;
    --soak) soak=$2; headless=1; shift ;;
    --fail-grow) fail_grow=$2; shift ;;
    --no-isolation) serve_args+=(--no-isolation) ;;
    --port) PORT=$2; shift ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$fail_grow" ] && [ -z "$soak" ]; then
    echo "--fail-grow goes with --soak (or open the page with ?failGrow=R)" >&2
    exit 2
fi

bash scripts/setup.sh
if [ -n "$soak" ]; then
    bash scripts/build-wasm.sh mt
    exec timeout $((soak + 300)) node web/soak.mjs --seconds "$soak" --fail-grow "${fail_grow:-0.2}"
fi
bash scripts/build-wasm.sh st mt
if [ $headless = 1 ]; then
    exec timeout $((2 * seconds + 300)) node web/e2e.mjs --seconds "$seconds"
fi
exec node web/serve.mjs --port "${PORT:-8080}" "${serve_args[@]}"
