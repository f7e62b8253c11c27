#!/usr/bin/env bash
# Builds the demo module in both variants and binds them for the web:
#   web/pkg-st  single-threaded (stable, plain wasm32, no flags)
#   web/pkg-mt  multithreaded (nightly, -Z build-std, atomics, shared memory,
#               --max-memory; all in .cargo/wasm-mt.toml, loaded only here)
# and copies uPlot from npm into web/vendor/, so web/ is a servable
# directory. Checks each module's memory: shared for mt, unshared for st.
# Their global allocator is wasm_vmem::Global. The bench page also loads
# modules built with another global allocator (the web crate's features
# alloc-dlmalloc, alloc-talc, alloc-lol, alloc-rusty): variant st-dlmalloc
# builds web/pkg-st-dlmalloc, and so on for st-talc, st-lol, st-rusty,
# mt-dlmalloc, … (rusty_alloc in the single-threaded build only).
# Usage: scripts/build-wasm.sh [st] [mt] [st-talc] …   (default: st mt)
# Needs scripts/setup.sh (wasm-bindgen in .tools/, npm packages) first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
[ $# -gt 0 ] || set -- st mt

for v in "$@"; do
    start=$SECONDS
    alloc=${v#*-}
    # WASM_VMEM_BENCH_RUSTY=1 (scripts/bench-wasm.sh): rusty_alloc among the
    # bench page's instances, in every variant; off in the module as shipped.
    rusty=""
    [ "${WASM_VMEM_BENCH_RUSTY:-0}" = 1 ] && rusty=",bench-rusty"
    features=()
    [ -n "$rusty" ] && features=(--features bench-rusty)
    if [ "$alloc" != "$v" ]; then
        case $alloc in
        dlmalloc | talc | lol) features=(--no-default-features --features "alloc-$alloc$rusty") ;;
        rusty)
            [ "${v%%-*}" = st ] || { echo "build-wasm: $v: rusty_alloc builds single-threaded only" >&2; exit 2; }
            features=(--no-default-features --features "alloc-$alloc$rusty")
            ;;
        *) echo "unknown allocator $alloc in $v (dlmalloc, talc, lol or rusty)" >&2; exit 2 ;;
        esac
    fi
    case ${v%%-*} in
    st)
        cargo wasm-st "${features[@]}"
        wasm="target/wasm32-unknown-unknown/release/wasm_vmem_web.wasm"
        ;;
    mt)
        # The linker's --max-memory and the crate's WASM_VMEM_MAX_MEMORY
        # must agree: the module's maximum is checked against both below.
        max=$(grep -o 'max-memory=[0-9]*' .cargo/wasm-mt.toml | cut -d= -f2)
        env_max=$(sed -n 's/^WASM_VMEM_MAX_MEMORY = "\([0-9]*\)"/\1/p' .cargo/wasm-mt.toml)
        if [ -z "$max" ] || [ "$max" != "$env_max" ]; then
            echo "build-wasm: .cargo/wasm-mt.toml: --max-memory=$max but WASM_VMEM_MAX_MEMORY=$env_max" >&2
            exit 1
        fi
        cargo +nightly wasm-mt "${features[@]}"
        wasm="target/wasm-mt/wasm32-unknown-unknown/release/wasm_vmem_web.wasm"
        ;;
    *) echo "unknown variant $v (st or mt)" >&2; exit 2 ;;
    esac
    rm -rf "web/pkg-$v"
    wasm-bindgen --target web --out-dir "web/pkg-$v" "$wasm"
    if [ "${v%%-*}" = mt ]; then
        node web/check-wasm.mjs "web/pkg-$v/wasm_vmem_web_bg.wasm" shared "$max"
    else
        node web/check-wasm.mjs "web/pkg-$v/wasm_vmem_web_bg.wasm" unshared
    fi
    echo "build-wasm: $v built and bound in $((SECONDS - start)) s"
done

mkdir -p web/vendor/uplot
cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css \
    web/node_modules/uplot/LICENSE web/vendor/uplot/
