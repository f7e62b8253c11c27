#!/usr/bin/env bash
# Builds the demo module in both variants and binds them for the web:
#   web/pkg-st  single-threaded (stable, plain wasm32)
#   web/pkg-mt  multithreaded (nightly, atomics, shared memory; see .cargo/wasm-mt.toml)
# Usage: scripts/build-wasm.sh [st] [mt]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
variants=("${@:-st mt}")
variants=(${variants[*]})

for v in "${variants[@]}"; do
    case $v in
    st)
        cargo wasm-st
        wasm="target/wasm32-unknown-unknown/release/wasm_vmem_web.wasm"
        ;;
    mt)
        cargo +nightly wasm-mt
        wasm="target/wasm-mt/wasm32-unknown-unknown/release/wasm_vmem_web.wasm"
        ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    rm -rf "web/pkg-$v"
    wasm-bindgen --target web --out-dir "web/pkg-$v" "$wasm"
    want=$([ "$v" = mt ] && echo shared || echo unshared)
    node web/check-wasm.mjs "web/pkg-$v/wasm_vmem_web_bg.wasm" "$want"
done
