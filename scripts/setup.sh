#!/usr/bin/env bash
# Installs what the demo and the tests need, when missing (idempotent):
# the wasm32 target, nightly's rust-src (for -Z build-std) and Miri,
# wasm-bindgen-cli at exactly the version in Cargo.lock (into .tools/),
# Debian's chromium and chromedriver, and the npm packages of web/.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
installed=$(rustup component list --toolchain nightly --installed)
for c in rust-src miri; do
    grep -q "^$c" <<<"$installed" || rustup component add "$c" --toolchain nightly
done

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
have=$(.tools/bin/wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    # Not --locked: one of its locked dependency versions is missing from the
    # registry reachable here (see shared/WASM-NOTES.md).
    cargo install wasm-bindgen-cli --version "$want" --root .tools
fi

if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi

if ! [ -d web/node_modules/playwright-core ] || ! [ -d web/node_modules/uplot ]; then
    (cd web && npm ci --no-audit --no-fund)
fi
echo "setup: rust targets, wasm-bindgen $want, $(/usr/bin/chromium --version 2>/dev/null), npm packages ready"
