#!/usr/bin/env bash
# Code size of the demo module with each global allocator: bytes of the
# .wasm as shipped (web/pkg-*/wasm_vmem_web_bg.wasm after wasm-bindgen, the
# files the test command's build makes and the page loads), in both builds
# where the allocator builds: wasm-vmem's (variants st, mt), dlmalloc,
# talc, lol_alloc (st-X, mt-X) and rusty_alloc (st-rusty only: it assumes
# one thread on wasm32 even with atomics).
#
# Every module also holds the bench page (web/bench.html), whose instances
# of dlmalloc, talc and lol_alloc are in every variant: a row's difference
# to another is what its global allocator costs beyond that. The
# single-threaded build is also measured with the bench page's rusty_alloc
# instance (web feature bench-rusty, on in scripts/bench-wasm.sh's builds
# only), to say what that instance costs.
#
# Writes target/code-size.json and target/code-size.md, and with --md
# puts the table between the CODE SIZE markers of BENCHMARKS.md.
#   scripts/code-size.sh [--md] [VARIANT ...]   (default: all of them)
# Needs scripts/setup.sh first. A few minutes on 2 cores once the
# toolchains are built (one build per variant; the web crate alone rebuilds).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
MD=0
if [ "${1:-}" = --md ]; then MD=1; shift; fi
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(st st-dlmalloc st-talc st-lol st-rusty mt mt-dlmalloc mt-talc mt-lol)

bash scripts/build-wasm.sh "${variants[@]}"

# The single-threaded module with the bench page's rusty_alloc instance.
withrusty=target/code-size/st-bench-rusty
if printf '%s\n' "${variants[@]}" | grep -qx st; then
    cargo wasm-st --features bench-rusty
    rm -rf "$withrusty"
    wasm-bindgen --target web --out-dir "$withrusty" target/wasm32-unknown-unknown/release/wasm_vmem_web.wasm
fi

python3 - "$MD" "$withrusty" "${variants[@]}" <<'PY'
import json, os, pathlib, re, subprocess, sys
md_flag, withrusty, variants = sys.argv[1] == "1", sys.argv[2], sys.argv[3:]
root = pathlib.Path(".")
names = {"": "wasm-vmem", "dlmalloc": "dlmalloc", "talc": "talc", "lol": "lol_alloc", "rusty": "rusty_alloc"}
rows = {}
for v in variants:
    build, _, alloc = v.partition("-")
    f = root / f"web/pkg-{v}/wasm_vmem_web_bg.wasm"
    rows.setdefault(names[alloc], {})[build] = f.stat().st_size
extra = None
wr = pathlib.Path(withrusty) / "wasm_vmem_web_bg.wasm"
if wr.exists() and "st" in variants:
    extra = wr.stat().st_size
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
nightly = subprocess.run(["rustc", "+nightly", "--version"], capture_output=True, text=True).stdout.strip()
out = {"rows": rows, "st_with_bench_rusty": extra, "rustc": rustc, "rustc_nightly": nightly}
pathlib.Path("target").mkdir(exist_ok=True)
pathlib.Path("target/code-size.json").write_text(json.dumps(out, indent=1))
vm = rows.get("wasm-vmem", {})
def cell(n, build):
    if build not in rows[n]:
        return "does not build"
    b = rows[n][build]
    if n == "wasm-vmem" or build not in vm:
        return f"{b:,}"
    return f"{b:,} ({b - vm[build]:+,})"
L = [f"Bytes of `wasm_vmem_web_bg.wasm` after wasm-bindgen, as `scripts/build-wasm.sh` ships it "
     f"(single-threaded: {rustc}; multithreaded: {nightly}, `-Z build-std`). In brackets: the difference "
     f"to the same build with wasm-vmem's allocator (positive: larger). Every module holds the bench page, "
     f"whose dlmalloc, talc and lol_alloc instances are in every row.", "",
     "| global allocator | single-threaded (ST) | multithreaded (MT) |", "|---|---:|---:|"]
for n in rows:
    L.append(f"| {n} | {cell(n, 'st')} | {cell(n, 'mt')} |")
if extra is not None:
    L.append("")
    L.append(f"With the bench page's rusty_alloc instance (web feature `bench-rusty`, on in the builds of "
             f"`scripts/bench-wasm.sh` only): ST with wasm-vmem's allocator {extra:,} bytes "
             f"(the instance: {extra - vm.get('st', extra):+,}).")
md = "\n".join(L)
pathlib.Path("target/code-size.md").write_text(md + "\n")
print(md)
if md_flag:
    bm = pathlib.Path("BENCHMARKS.md")
    t = bm.read_text()
    b, e = "<!-- CODE SIZE BEGIN -->", "<!-- CODE SIZE END -->"
    if b in t and e in t:
        head, rest = t.split(b, 1)
        _, tail = rest.split(e, 1)
        bm.write_text(head + b + "\n" + md + "\n" + e + tail)
    else:
        print("code-size: no CODE SIZE markers in BENCHMARKS.md", file=sys.stderr)
PY
