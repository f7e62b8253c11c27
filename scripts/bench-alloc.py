#!/usr/bin/env python3
"""Tables and plots of the global-allocator benchmarks (scripts/bench-alloc.sh).

Reads the `alloc` binary's JSON ((a)-(c), LARGE_MIN threshold) and the
`alloc_apps` runs ((d), one JSON line per run); writes target/bench-alloc.md,
replaces the section of BENCHMARKS.md between the ALLOC markers with it, and
draws docs/bench/alloc-*.png (matplotlib).

  python3 scripts/bench-alloc.py ALLOC_JSON APPS_JSONL
  python3 scripts/bench-alloc.py --check ALLOC_JSON APPS_JSONL   (smoke: structure only)
"""
import json
import pathlib
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "bench"
VMEM = "wasm-vmem (MT)"
BEGIN, END = "<!-- ALLOC BEGIN -->", "<!-- ALLOC END -->"


def load(alloc_path, apps_path):
    d = json.loads(pathlib.Path(alloc_path).read_text())
    apps = [json.loads(l) for l in pathlib.Path(apps_path).read_text().splitlines() if l.strip()]
    return d, apps


def check(d, apps):
    for part in ("small", "large", "phase", "realloc", "threshold"):
        assert part in d, part
    names = {s["name"] for s in d["small"]["cross"]}
    assert {VMEM, "dlmalloc", "talc", "system"} <= names, names
    for mode in ("cross", "local"):
        for s in d["small"][mode]:
            assert len(s["mops"]) == len(d["small"]["threads"]) and all(x > 0 for x in s["mops"]), s
    for s in d["large"]["series"]:
        assert all(x > 0 for x in s["us"]), s
        if s["name"].startswith("wasm-vmem"):
            assert all(abs(r - 1) < 1e-9 for r in s["zeroed_over_needed"]), s
    rows = {r["name"]: r for r in d["phase"]["rows"]}
    assert rows["wasm-vmem (one pool)"]["peak"] > 0 and rows["dlmalloc beside a separate wasm-vmem"]["peak"] > 0
    assert len(d["threshold"]["series"]) >= 4
    work = {(a["alloc"], a["workload"]) for a in apps}
    for w in ("sort", "json", "image"):
        for a in (VMEM, "dlmalloc", "talc", "system"):
            assert (a, w) in work, (a, w)
    print(f"bench-alloc smoke: ok ({len(apps)} app runs; allocators {sorted({a['alloc'] for a in apps})})")


def mib(b):
    return b / 2**20


def size_label(n):
    return f"{n >> 20} MiB" if n >= 2**20 else f"{n >> 10} KiB"


def tables(d, apps):
    L = []
    m = d["machine"]
    L.append(f"Run: {m['hardware_threads']} hardware threads, CPU \"{m['cpu']}\"; "
             f"{d['config']['reps']} interleaved repetitions, medians; "
             f"load average at start {m.get('loadavg_at_start', '?')}, at end {m.get('loadavg_at_end', '?')}.")
    L.append("")
    # (a) single thread
    sm = d["small"]
    single = {s["name"]: s["mops"] for s in sm["single"]}
    L.append(f"#### (a) small objects (16–2048 B, batches of {sm['batch']}), one thread — million operations/s")
    L.append("")
    L.append("| backend | Mops/s | ÷ dlmalloc |")
    L.append("|---|---|---|")
    for n, v in single.items():
        L.append(f"| {n} | {v:.1f} | {v / single['dlmalloc']:.2f} |")
    L.append("")
    for mode, what in (("cross", "half of each batch freed by the next thread"),
                       ("local", "every block freed by the thread that allocated it")):
        th = sm["threads"]
        L.append(f"#### (a) small objects across threads, {what} — total million operations/s (× 1 thread); {sm['rounds_per_thread']} batches per thread")
        L.append("")
        L.append("| backend | " + " | ".join(f"{t} thr" for t in th) + " |")
        L.append("|---|" + "---|" * len(th))
        for s in sm[mode]:
            L.append(f"| {s['name']} | " + " | ".join(
                f"{x:.1f} ({x / s['mops'][0]:.2f}×)" for x in s["mops"]) + " |")
        c = sm["control"]
        L.append(f"| *{c['name']} (M steps/s)* | " + " | ".join(
            f"{x:.0f} ({x / c['mops'][0]:.2f}×)" for x in c["mops"]) + " |")
        vm = next(s for s in sm[mode] if s["name"] == VMEM)
        L.append("| **wasm-vmem ÷ dlmalloc / talc / system** | " + " | ".join(
            " / ".join(f"{vm['mops'][i] / next(s for s in sm[mode] if s['name'] == b)['mops'][i]:.2f}"
                       for b in ("dlmalloc", "talc", "system")) for i in range(len(th))) + " |")
        L.append("")
    # (b)
    lg = d["large"]
    sizes = lg["sizes"]
    L.append("#### (b) `vec![0u8; n]`, a byte written per 4 KiB, freed — µs per vector (steady state; first one on a fresh instance in brackets)")
    L.append("")
    L.append("| backend | " + " | ".join(size_label(n) for n in sizes) + " |")
    L.append("|---|" + "---|" * len(sizes))
    for s in lg["series"]:
        L.append(f"| {s['name']} | " + " | ".join(
            f"{u:.1f} ({f:.0f})" for u, f in zip(s["us"], s["first_us"])) + " |")
    vm = next(s for s in lg["series"] if s["name"] == VMEM)
    for b in ("dlmalloc", "talc", "system"):
        bs = next(s for s in lg["series"] if s["name"] == b)
        L.append(f"| *{b} ÷ wasm-vmem (steady / first)* | " + " | ".join(
            f"{x / y:.2f} / {fx / fy:.2f}" for x, y, fx, fy in zip(bs["us"], vm["us"], bs["first_us"], vm["first_us"])) + " |")
    L.append("")
    L.append("Bytes zeroed ÷ bytes that had to be zeroed (pages holding old data; 1.00 is the floor):")
    L.append("")
    L.append("| backend | " + " | ".join(size_label(n) for n in sizes) + " |")
    L.append("|---|" + "---|" * len(sizes))
    for s in lg["series"]:
        L.append(f"| {s['name']} | " + " | ".join(
            "n/a" if r is None else f"{r:.2f}" for r in s["zeroed_over_needed"]) + " |")
    L.append("")
    # (c)
    ph = d["phase"]
    rows = {r["name"]: r for r in ph["rows"]}
    one = rows["wasm-vmem (one pool)"]
    L.append(f"#### (c) phase workload: GC heap of {mib(ph['phase_bytes']):.0f} MiB ({mib(ph['segment']):.0f} MiB segments) grown and released, then {mib(one['app_live']):.0f} MiB of `Vec`s (16 B – 4 MiB) — peak memory")
    L.append("")
    L.append("| configuration | GC peak MiB | app allocator MiB | peak linear memory MiB | wasm-vmem ÷ this |")
    L.append("|---|---|---|---|---|")
    for r in ph["rows"]:
        app = "(same pool)" if r is one else f"{mib(r['app_peak']):.1f}"
        L.append(f"| {r['name']} | {mib(r['gc_peak']):.1f} | {app} | {mib(r['peak']):.1f} | {one['peak'] / r['peak']:.2f} |")
    L.append("")
    # realloc growth
    if "realloc" in d:
        rg = d["realloc"]
        vm = next(s for s in rg["series"] if s["name"] == VMEM)
        L.append(f"#### realloc growth: a buffer doubled from 1 KiB to {size_label(rg['top'])}, a byte written per 4 KiB of each new part — ms (moves)")
        L.append("")
        L.append("| backend | fresh instance | again, same instance | again ÷ wasm-vmem (MT) |")
        L.append("|---|---|---|---|")
        for s in rg["series"]:
            L.append(f"| {s['name']} | {s['first_ms']:.2f} ({s['moves'][0]}) | {s['again_ms']:.2f} ({s['moves'][1]}) | {s['again_ms'] / vm['again_ms']:.2f} |")
        L.append("")
    # threshold
    t = d["threshold"]
    L.append(f"#### `LARGE_MIN` threshold: ns per allocate + free, window of {t['window']} live blocks (the first byte written); fresh memory: ns per block")
    L.append("")
    L.append("| path | " + " | ".join(size_label(n) for n in t["sizes"]) + " |")
    L.append("|---|" + "---|" * len(t["sizes"]))
    for s in t["series"]:
        kind = "`alloc_zeroed`" if s["zeroed"] else "`alloc`"
        if s.get("fresh"):
            kind = "fresh memory, `alloc_zeroed` + a byte per 4 KiB"
        L.append(f"| {kind}: {s['name']} | " + " | ".join(f"{x:.0f}" for x in s["ns"]) + " |")
    L.append("")
    # (d)
    if apps:
        allocs = []
        for a in apps:
            if a["alloc"] not in allocs:
                allocs.append(a["alloc"])
        reps = max(sum(1 for a in apps if a["alloc"] == allocs[0] and a["workload"] == w) for w in ("sort", "json", "image"))
        L.append(f"#### (d) real crates' work on the process's global allocator — seconds, median of {reps} interleaved runs (peak RSS MiB)")
        L.append("")
        L.append("| workload | " + " | ".join(allocs) + " |" + (" time ÷ wasm-vmem: " + ", ".join(a for a in allocs if a != VMEM) + " |" if VMEM in allocs else ""))
        L.append("|---|" + "---|" * (len(allocs) + (1 if VMEM in allocs else 0)))
        med = {}
        for w, label in (("sort", "rayon `par_sort`, 10^7 u64"), ("json", "serde_json, ~50 MB serialize + parse"),
                         ("image", "4096² RGBA blur, 3 passes")):
            cells = []
            for a in allocs:
                runs = [x for x in apps if x["alloc"] == a and x["workload"] == w]
                s = statistics.median(x["secs"] for x in runs)
                r = statistics.median(x["peak_rss"] for x in runs)
                med[(a, w)] = s
                cells.append(f"{s:.3f} ({mib(r):.0f})")
            row = f"| {label} | " + " | ".join(cells) + " |"
            if VMEM in allocs:
                row += " " + ", ".join(f"{med[(a, w)] / med[(VMEM, w)]:.2f}" for a in allocs if a != VMEM) + " |"
            L.append(row)
        L.append("")
    return "\n".join(L)


def plots(d):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    OUT.mkdir(parents=True, exist_ok=True)
    sm = d["small"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, mode in zip(axes, ("cross", "local")):
        for s in sm[mode]:
            ax.plot(sm["threads"], s["mops"], marker="o", label=s["name"])
        ax.set_xscale("log", base=2)
        ax.set_xticks(sm["threads"], [str(t) for t in sm["threads"]])
        ax.set_xlabel("threads")
        ax.set_ylabel("million operations/s (total)")
        ax.set_title("small objects, " + ("cross-thread frees" if mode == "cross" else "local frees"))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "alloc-small.png", dpi=110)
    plt.close(fig)

    lg = d["large"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for s in lg["series"]:
        ax.plot([n / 2**10 for n in lg["sizes"]], s["us"], marker="o", label=s["name"])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("n (KiB)")
    ax.set_ylabel("µs per vec![0u8; n] (steady state)")
    ax.set_title("large zeroed vectors")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "alloc-large.png", dpi=110)
    plt.close(fig)

    t = d["threshold"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (z, fresh) in zip(axes, ((False, False), (True, False), (True, True))):
        for s in t["series"]:
            if s["zeroed"] == z and s.get("fresh", False) == fresh:
                ax.plot([n / 2**10 for n in t["sizes"]], s["ns"], marker="o", label=s["name"])
        ax.axvline(t["large_min"] / 2**10, color="grey", ls="--", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("block size (KiB); dashed: LARGE_MIN")
        ax.set_ylabel("ns per block (allocate, touch)" if fresh else "ns per allocate + free")
        ax.set_title("fresh memory: alloc_zeroed, touched" if fresh else "alloc_zeroed, reused" if z else "alloc, reused")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "alloc-threshold.png", dpi=110)
    plt.close(fig)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--check":
        d, apps = load(args[1], args[2])
        check(d, apps)
        tables(d, apps)
        return
    d, apps = load(args[0], args[1])
    check(d, apps)
    md = tables(d, apps)
    (ROOT / "target" / "bench-alloc.md").write_text(md + "\n")
    bm = ROOT / "BENCHMARKS.md"
    text = bm.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        bm.write_text(head + BEGIN + "\n" + md + "\n" + END + tail)
    plots(d)
    print(md)


if __name__ == "__main__":
    main()
