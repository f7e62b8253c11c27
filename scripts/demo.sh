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
#   scripts/demo.sh --headless         run the page in a browser (headless
#                                      Chromium by default), with and without
#                                      COOP/COEP, print the reports and
#                                      checks, then stop
#   scripts/demo.sh --headless --browser firefox   the same in Firefox ESR;
#                                      webkit: WebKitGTK's MiniBrowser under
#                                      xvfb-run; all: the three, one after
#                                      the other (web/browser.mjs)
#   scripts/demo.sh --headless --seconds 20   longer runs (default 10)
#   scripts/demo.sh --headless --soak 300 --fail-grow 0.2
#                                      the soak (web/soak.mjs): the
#                                      multithreaded build for 300 s on every
#                                      hardware thread, 20 % of memory.grow
#                                      failing (default 0.2); prints progress
#                                      and a JSON report
#                                      (target/soak-report-ENGINE.json);
#                                      with --browser all, in each engine
#
# Page parameters: ?seconds=N (run length, default 20), ?threads=N (pool
# size, default navigator.hardwareConcurrency), ?failGrow=R (fraction of
# wasm-vmem's memory.grow calls that fail, default 0), ?cycle=S (seconds
# per heap cycle), ?peak=N (segments per thread at the peak, default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
headless=0 seconds=10 soak= fail_grow= browser=chromium serve_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --headless) headless=1 ;;
    --seconds) seconds=$2; shift ;;
    --soak) soak=$2; headless=1; shift ;;
    --fail-grow) fail_grow=$2; shift ;;
    --browser) browser=$2; shift ;;
    --no-isolation) serve_args+=(--no-isolation) ;;
    --port) PORT=$2; shift ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case $browser in
chromium | firefox | webkit) engines=("$browser") ;;
all) engines=(chromium firefox webkit) ;;
*) echo "unknown browser $browser (chromium, firefox, webkit or all)" >&2; exit 2 ;;
esac
if [ "$browser" != chromium ] && [ $headless = 0 ]; then
    echo "--browser goes with --headless or --soak (else open the printed URL in any browser)" >&2
    exit 2
fi
if [ -n "$fail_grow" ] && [ -z "$soak" ]; then
    echo "--fail-grow goes with --soak (or open the page with ?failGrow=R)" >&2
    exit 2
fi

bash scripts/setup.sh
if [ -n "$soak" ]; then
    bash scripts/build-wasm.sh mt
    status=0
    for e in "${engines[@]}"; do
        timeout $((soak + 300)) node web/soak.mjs --browser "$e" --seconds "$soak" --fail-grow "${fail_grow:-0.2}" \
            --out "target/soak-report-$e.json" || status=$?
    done
    exit $status
fi
bash scripts/build-wasm.sh st mt
if [ $headless = 1 ]; then
    exec timeout $((${#engines[@]} * (3 * seconds + 300))) node web/e2e.mjs --browser "$browser" --seconds "$seconds"
fi
exec node web/serve.mjs --port "${PORT:-8080}" "${serve_args[@]}"
