#!/usr/bin/env python3
"""The per-engine tables of BENCHMARKS.md ("In each browser engine"), from
one run of the bench page in each engine: target/bench-wasm-ENGINE.json,
written by `node web/bench-run.mjs --browser all` (scripts/bench-wasm.sh
--browser all; scripts/bench.sh runs it). Every figure is a ratio within
one engine's run: wasm-vmem against baselines measured in the same engine,
page and run. Replaces the lines between the ENGINES START/END markers.

    scripts/bench-engines.py [--print] [--dir DIR]
      --print  only print the tables
      --dir    read DIR/bench-wasm-ENGINE.json instead (the committed run:
               benches/results/)
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
ENGINES = ["chromium", "firefox", "webkit"]
NAMES = {"chromium": "Chromium", "firefox": "Firefox", "webkit": "WebKitGTK"}


def load():
    src = Path(sys.argv[sys.argv.index("--dir") + 1]) if "--dir" in sys.argv else TARGET
    runs = {}
    for e in ENGINES:
        f = src / f"bench-wasm-{e}.json"
        if f.exists():
            runs[e] = json.loads(f.read_text())
    return runs


def pick(series, prefix):
    """The entry whose name starts with `prefix`."""
    return next(s for s in series if s["name"].startswith(prefix))


def r2(x):
    return "n/a" if x is None else f"{x:.2f}"


def pool_ratio(run, build, backend, trace):
    """Baseline time ÷ wasm-vmem time (> 1: wasm-vmem faster)."""
    f = run["builds"][build]["figures"]
    i = next(k for k, b in enumerate(f["backends"]) if b["name"].startswith(backend))
    t = f[f"{trace}_seconds"]
    return t[i] / t[0]


def steady(run, build, name, what):
    """One thread, steady state: the allocator's M ops/s ÷ dlmalloc's."""
    s = run["builds"][build]["allocs"]["steady"]["series"]
    return pick(s, name)[what] / pick(s, "dlmalloc")[what]


def small_at_top(run, build, name):
    """(a) with cross-thread frees, at the most threads: the allocator ÷ dlmalloc."""
    s = run["builds"][build]["allocs"]["small"]["series"]
    return pick(s, name)["mops"][-1] / pick(s, "dlmalloc")["mops"][-1]


def large64(run, build, name):
    """(b) vec![0u8; 64 MiB], steady: dlmalloc's µs ÷ the allocator's."""
    a = run["builds"][build]["allocs"]["large"]
    return pick(a["series"], "dlmalloc")["us"][-1] / pick(a["series"], name)["us"][-1]


def phase(run, build, alloc):
    p = run["phases"].get(build, {}).get(alloc)
    if not p:
        return None
    return (p["linear_peak"] - p["linear_before"]) / max(p["gc_bytes"], p["app_bytes"])


def both(f):
    """`f(build)` for ST / MT."""
    return f"{r2(f('st'))} / {r2(f('mt'))}"


def summary(runs):
    es = list(runs)
    head = "| figure (ST / MT build) | " + " | ".join(runs[e]["browser"]["version"] for e in es) + " |"
    rows = [head, "|---|" + "---:|" * len(es)]

    def row(label, f):
        rows.append(f"| {label} | " + " | ".join(f(runs[e]) for e in es) + " |")

    row("hardwareConcurrency / rayon threads of the sweeps", lambda r: f"{r['hardwareConcurrency']} / {r['threads']}")
    row("page pool, GC-like trace: alloc_zeroed (std) ÷ wasm-vmem", lambda r: both(lambda b: pool_ratio(r, b, "alloc_zeroed (std)", "gc")))
    row("page pool, GC-like trace: alloc_zeroed (talc) ÷ wasm-vmem", lambda r: both(lambda b: pool_ratio(r, b, "alloc_zeroed (talc)", "gc")))
    row("page pool, GC-like trace: seed design ÷ wasm-vmem", lambda r: both(lambda b: pool_ratio(r, b, "seed design", "gc")))
    row("page pool, churn trace: alloc_zeroed (std) ÷ wasm-vmem", lambda r: both(lambda b: pool_ratio(r, b, "alloc_zeroed (std)", "churn")))
    row("page pool, churn trace: alloc_zeroed (talc) ÷ wasm-vmem", lambda r: both(lambda b: pool_ratio(r, b, "alloc_zeroed (talc)", "churn")))

    def sweep(r):
        s = r["builds"]["mt"]["sweep"]
        v = pick(s["series"], "wasm-vmem")["mops"]
        return f"{v[-1] / v[0]:.2f} at {s['threads'][-1]}"
    row("page pool, contention sweep (MT): wasm-vmem at the most threads ÷ 1 thread", sweep)
    row("allocator (a) one thread, mixed trace: wasm-vmem ÷ dlmalloc", lambda r: both(lambda b: steady(r, b, "wasm-vmem", "mixed")))
    row("allocator (a) one thread, batches: wasm-vmem ÷ dlmalloc", lambda r: both(lambda b: steady(r, b, "wasm-vmem", "batches")))
    row("allocator (a) one thread, batches: talc ÷ dlmalloc", lambda r: both(lambda b: steady(r, b, "talc", "batches")))

    def vs_rusty(r, what):
        s = r["builds"]["st"]["allocs"]["steady"]["series"]
        if not any(x["name"].startswith("rusty_alloc") for x in s):
            return "n/a"
        return f"{pick(s, 'wasm-vmem')[what] / pick(s, 'rusty_alloc')[what]:.2f} (ST)"
    row("allocator (a) one thread, mixed / batches: wasm-vmem ÷ rusty_alloc",
        lambda r: f"{vs_rusty(r, 'mixed')} / {vs_rusty(r, 'batches')}")
    row("allocator (a) cross-thread frees, the most threads: wasm-vmem ÷ dlmalloc (MT)",
        lambda r: f"{small_at_top(r, 'mt', 'wasm-vmem'):.2f} at {r['builds']['mt']['allocs']['small']['threads'][-1]}")
    row("allocator (b) `vec![0u8; 64 MiB]`: dlmalloc µs ÷ wasm-vmem µs", lambda r: both(lambda b: large64(r, b, "wasm-vmem")))
    row("allocator (c) memory grown ÷ larger phase: wasm-vmem", lambda r: both(lambda b: phase(r, b, "vmem")))
    row("allocator (c) memory grown ÷ larger phase: dlmalloc", lambda r: both(lambda b: phase(r, b, "dlmalloc")))
    return rows


def detail(e, r):
    md = [f"#### {r['browser']['version']}", "",
          f"User agent `{r['userAgent']}`; hardwareConcurrency {r['hardwareConcurrency']}, "
          f"sweeps to {r['threads']} rayon threads; run {r.get('when', '?')}, load average "
          f"{r.get('loadavg', {}).get('start', '?')} at start, {r.get('loadavg', {}).get('end', '?')} at end.", "",
          "| build | backend | GC-like ms | churn ms | GC ÷ wasm-vmem | churn ÷ wasm-vmem | zeroed ÷ needed, GC / churn |",
          "|---|---|---:|---:|---:|---:|---:|"]
    for build in ("st", "mt"):
        f = r["builds"][build]["figures"]
        g, c = f["gc_seconds"], f["churn_seconds"]
        for i, b in enumerate(f["backends"]):
            md.append(f"| {build.upper()} | {b['name']} | {g[i] * 1e3:.2f} | {c[i] * 1e3:.2f} | {g[i] / g[0]:.2f} | "
                      f"{c[i] / c[0]:.2f} | {b['zero_ratio_gc']:.2f} / {b['zero_ratio_churn']:.2f} |")
    s = r["builds"]["mt"]["sweep"]
    md += ["", f"Contention sweep (MT), {s['rounds']} rounds per thread, median of {s['reps']}: million operations/s (× 1 thread).", "",
           "| backend | " + " | ".join(str(t) for t in s["threads"]) + " |", "|---|" + "---:|" * len(s["threads"])]
    for x in s["series"]:
        md.append(f"| {x['name']} | " + " | ".join(f"{v:.3f} ({v / x['mops'][0]:.2f})" for v in x["mops"]) + " |")
    md += ["", "Allocators, ST / MT. (a) one thread, steady state: million operations/s (÷ dlmalloc); "
           "(a) half of each batch freed by the next thread (MT build): million operations/s at each thread count; "
           "(b) `vec![0u8; 64 MiB]`, µs steady (first); (c) memory grown ÷ the larger phase.", "",
           "| allocator | (a) mixed | (a) batches | (a) cross-thread, MT: " +
           " → ".join(str(t) for t in r["builds"]["mt"]["allocs"]["small"]["threads"]) + " threads | (b) 64 MiB | (c) |",
           "|---|---:|---:|---:|---:|---:|"]
    short = {"wasm-vmem": "vmem", "dlmalloc": "dlmalloc", "talc": "talc", "lol_alloc": "lol", "rusty_alloc": "rusty"}
    def has(b, n):
        # rusty_alloc builds single-threaded only.
        return any(s["name"].startswith(n) for s in r["builds"][b]["allocs"]["steady"]["series"])

    for x in r["builds"]["st"]["allocs"]["steady"]["series"]:
        n = x["name"]
        builds = [b for b in ("st", "mt") if has(b, n)]
        cells = []
        for what in ("mixed", "batches"):
            cells.append(" / ".join(
                f"{pick(r['builds'][b]['allocs']['steady']['series'], n)[what]:.1f} ({steady(r, b, n, what):.2f})"
                for b in builds))
        mt_small = pick(r["builds"]["mt"]["allocs"]["small"]["series"], n)["mops"] if has("mt", n) else None
        cells.append(" → ".join(f"{v:.1f}" for v in mt_small) if mt_small else "— (single-threaded only)")
        cells.append(" / ".join(
            f"{pick(r['builds'][b]['allocs']['large']['series'], n)['us'][-1]:.0f} "
            f"({pick(r['builds'][b]['allocs']['large']['series'], n)['first_us'][-1]:.0f})" for b in builds))
        cells.append(" / ".join(r2(phase(r, b, short.get(n, n))) for b in builds))
        md.append(f"| {n} | " + " | ".join(cells) + " |")
    return md + [""]


def main():
    runs = load()
    if not runs:
        sys.exit("bench-engines: no target/bench-wasm-ENGINE.json (node web/bench-run.mjs --browser all)")
    md = ["Generated by `scripts/bench-engines.py` from one run of the bench page in each engine "
          "(`scripts/bench-wasm.sh --browser all`). Each column is its own engine's run: wasm-vmem "
          "against the same baselines, in the same page and run; compare ratios, not times, across columns. "
          "Ratios are baseline time ÷ wasm-vmem time (above 1: wasm-vmem faster) or wasm-vmem's "
          "throughput ÷ dlmalloc's (above 1: wasm-vmem faster); (c) is memory grown ÷ the larger phase (lower is better).", "",
          *summary(runs), ""]
    for e, r in runs.items():
        md += detail(e, r)
    if "--print" in sys.argv:
        print("\n".join(md))
        return
    bench_md = ROOT / "BENCHMARKS.md"
    text = bench_md.read_text()
    start, end = "<!-- ENGINES START -->", "<!-- ENGINES END -->"
    a, b = text.index(start) + len(start), text.index(end)
    bench_md.write_text(text[:a] + "\n" + "\n".join(md) + "\n" + text[b:])
    print("\n".join(md))


if __name__ == "__main__":
    main()
