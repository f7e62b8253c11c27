#!/usr/bin/env bash
# Installs what the demo and the tests need, only what is missing
# (idempotent, quick when everything is there):
#   - the stable wasm32-unknown-unknown target (single-threaded build);
#   - a nightly toolchain with rust-src (multithreaded build: -Z build-std)
#     and Miri;
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock,
#     into .tools/ (gitignored);
#   - the three browser engines of the browser tests, from Debian:
#     chromium and chromium-driver, firefox-esr, and WebKitGTK's
#     webkit2gtk-driver (WebKitWebDriver + MiniBrowser) with xvfb and xauth
#     (MiniBrowser has no headless mode; it runs under xvfb-run);
#   - the npm packages of web/ (playwright-core, puppeteer-core, uPlot) from
#     web/package-lock.json, again whenever the lock file changes.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
start=$SECONDS

command -v node >/dev/null && command -v npm >/dev/null || {
    echo "setup: node and npm are needed (Node.js >= 20)" >&2
    exit 1
}

rustup toolchain list | grep -q '^stable' || rustup toolchain install stable --profile minimal
rustup target list --installed --toolchain stable | grep -qx wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown --toolchain stable
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
installed=$(rustup component list --toolchain nightly --installed)
for c in rust-src miri; do
    grep -q "^$c" <<<"$installed" || rustup component add "$c" --toolchain nightly
done

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$want" ] || { echo "setup: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
have=$(.tools/bin/wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
have_runner=$(.tools/bin/wasm-bindgen-test-runner --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ] || [ "$have_runner" != "$want" ]; then
    # Not --locked: one of its locked dependency versions is missing from the
    # registry reachable here (see shared/WASM-NOTES.md).
    echo "setup: installing wasm-bindgen-cli $want into .tools/ (was: ${have:-none})"
    cargo install wasm-bindgen-cli --version "=$want" --root .tools --force
fi

MINIBROWSER=/usr/lib/$(uname -m)-linux-gnu/webkit2gtk-4.1/MiniBrowser
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
{ [ -x /usr/bin/WebKitWebDriver ] && [ -x "$MINIBROWSER" ]; } || missing+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || missing+=(xvfb)
command -v xauth >/dev/null || missing+=(xauth) # xvfb-run needs it; xvfb only recommends it
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} (Debian)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# npm ci again only when package-lock.json changed since the last install.
lock_sum=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ "$(cat web/node_modules/.installed-lock 2>/dev/null)" != "$lock_sum" ]; then
    (cd web && npm ci --no-audit --no-fund)
    echo "$lock_sum" >web/node_modules/.installed-lock
fi

echo "setup: ready in $((SECONDS - start)) s: $(rustc +stable --version | cut -d' ' -f1-2) + wasm32," \
    "$(rustc +nightly --version | cut -d' ' -f1-2) + rust-src, wasm-bindgen $want," \
    "$(/usr/bin/chromium --version 2>/dev/null | head -1), $(firefox-esr --version 2>/dev/null | head -1)," \
    "WebKitGTK $(dpkg-query -W -f '${Version}' webkit2gtk-driver 2>/dev/null | cut -d- -f1), node $(node --version)," \
    "playwright-core $(node -p "require('./web/node_modules/playwright-core/package.json').version")," \
    "puppeteer-core $(node -p "require('./web/node_modules/puppeteer-core/package.json').version")"
