#!/usr/bin/env python3
"""Turns one benchmark run into tables and plots.

Reads target/bench-figures.json (written by `cargo bench -p wasm-vmem-bench`),
criterion's estimates (target/criterion/<group>/<backend>/new/estimates.json)
and, when present, target/bench-wasm.json (the browser run of both wasm
builds, written by `node web/bench-run.mjs`), writes PNG plots to docs/bench/
and replaces the results section of BENCHMARKS.md (between the RESULTS
markers) with tables.

When target/sweep.json is present (written by the `sweep` binary), the thread
sweep's tables and docs/bench/sweep.png replace the section between the SWEEP
markers.

  python3 scripts/bench-report.py           (needs matplotlib: scripts/bench.sh installs it)
  python3 scripts/bench-report.py --sweep   the thread sweep's section only
  python3 scripts/bench-report.py --sweep FILE   ... from another sweep JSON
  python3 scripts/bench-report.py --sweep FILE SECTION PLOT   ... into the
      SECTION markers and docs/bench/PLOT (a run on another machine)
"""
import json
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
OUT = ROOT / "docs" / "bench"


def criterion_ms(group, backend):
    safe = backend.replace("(", "_").replace(")", "_").replace(" ", "_")
    for name in (backend, safe):
        f = TARGET / "criterion" / group / name / "new" / "estimates.json"
        if f.exists():
            return json.loads(f.read_text())["mean"]["point_estimate"] / 1e6
    hits = [p for p in (TARGET / "criterion" / group).glob("*/new/estimates.json")
            if json.loads((p.parent.parent / "new" / "benchmark.json").read_text()).get("value_str") == backend]
    if hits:
        return json.loads(hits[0].read_text())["mean"]["point_estimate"] / 1e6
    return None


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    import os
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {rustc}"


def medians_table(builds):
    """Markdown rows: interleaved median times and ratios, per build."""
    rows = ["| build | backend | GC-like ms | churn ms | GC ÷ wasm-vmem | churn ÷ wasm-vmem |",
            "|---|---|---:|---:|---:|---:|"]
    for build, f in builds.items():
        g, c = f["gc_seconds"], f["churn_seconds"]
        for i, b in enumerate(f["backends"]):
            rows.append(f"| {build.upper()} | {b['name']} | {g[i]*1e3:.2f} | {c[i]*1e3:.2f} | {g[i]/g[0]:.2f} | {c[i]/c[0]:.2f} |")
    return rows


def replace_section(name, md):
    """Puts the lines `md` between the <!-- NAME START/END --> markers of BENCHMARKS.md."""
    bench_md = ROOT / "BENCHMARKS.md"
    text = bench_md.read_text()
    start, end = f"<!-- {name} START -->", f"<!-- {name} END -->"
    a, b = text.index(start) + len(start), text.index(end)
    bench_md.write_text(text[:a] + "\n" + "\n".join(md) + "\n" + text[b:])


def sweep_report(path, section="SWEEP", plot="sweep.png"):
    """Tables and a plot (docs/bench/PLOT) from one run of the `sweep`
    binary, between the SECTION markers of BENCHMARKS.md."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sw = json.loads(pathlib.Path(path).read_text())
    m, cfg = sw["machine"], sw["config"]
    threads, top = cfg["threads"], m["top_threads"]
    over = max((t for t in threads if t > top), default=None)
    head = lambda t: f"{t} (over)" if t > top else str(t)
    md = [f"Machine: {m['cpu']}, {m['available_parallelism']} hardware threads "
          f"(`std::thread::available_parallelism`), {m['os']} {m['arch']}; top thread count {top}"
          + (f", oversubscribed {over}" if over else "") + f". Load average (1, 5, 15 min) "
          f"before the run {m['load_before']}, after {m['load_after']}. Medians of {cfg['reps']} "
          f"interleaved repetitions; the whole sweep took {cfg['seconds_taken']:.0f} s.", ""]
    OUT.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(sw["traces"]), figsize=(6 * len(sw["traces"]), 4.5), squeeze=False)
    for ax, tr in zip(axes[0], sw["traces"]):
        md += [f"#### {tr['trace']} trace: {tr['work_per_thread']} {tr['unit']} per thread — "
               f"million operations/s (× 1 thread), median of {tr.get('reps_done', cfg['reps'])}", "",
               "| backend | " + " | ".join(head(t) for t in threads) + " |",
               "|---|" + "---:|" * len(threads)]
        for s in tr["series"]:
            cells = [f"{x:.3f} ({r:.2f})" for x, r in zip(s["mops"], s["ratio_1t"])]
            md.append(f"| {s['name']} | " + " | ".join(cells) + " |")
            style = {"wasm-vmem": "o-", "baseline": "s--", "control": "^:"}[s["kind"]]
            ax.plot(threads, s["mops"], style, label=s["name"],
                    color="tab:gray" if s["kind"] == "control" else None)
        md.append("")
        for t in (top, over):
            rs = [r for r in tr["ratios"] if r["threads"] == t]
            if not rs:
                continue
            md += [f"wasm-vmem ÷ each other backend at {t} threads"
                   + (" (oversubscribed)" if t > top else "") + " (above 1: wasm-vmem faster):", "",
                   "| wasm-vmem | " + " | ".join(dict.fromkeys(r["to"] for r in rs)) + " |",
                   "|---|" + "---:|" * len(dict.fromkeys(r["to"] for r in rs))]
            by = {}
            for r in rs:
                by.setdefault(r["of"], {})[r["to"]] = r["ratio"]
            tos = list(dict.fromkeys(r["to"] for r in rs))
            for of, row in by.items():
                md.append(f"| {of} | " + " | ".join(f"{row[x]:.2f}" if x in row else "—" for x in tos) + " |")
            md.append("")
        ax.axvline(top, color="black", lw=0.6, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(threads, [head(t) for t in threads])
        ax.set_xlabel("threads (dotted: hardware threads)")
        ax.set_ylabel("million operations/s")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{tr['trace']} trace: throughput against threads", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / plot, dpi=110)
    md += [f"![throughput against threads](docs/bench/{plot})", ""]
    replace_section(section, md)
    print("\n".join(md))


def main():
    if sys.argv[1:2] == ["--sweep"]:
        # --sweep [FILE [SECTION PLOT]]: another run (say, from a machine
        # with more cores) into its own section and plot.
        sweep_report(sys.argv[2] if len(sys.argv) > 2 else TARGET / "sweep.json", *sys.argv[3:5])
        return
    if (TARGET / "sweep.json").exists():
        sweep_report(TARGET / "sweep.json")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = json.loads((TARGET / "bench-figures.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    md = [f"Machine: {machine()}.", ""]

    # Time ratios from criterion (one `cargo bench` run).
    md += ["### Time (criterion, mean per trace) and ratio baseline ÷ wasm-vmem", "",
           "| build | trace | backend | ms | ÷ wasm-vmem |", "|---|---|---|---:|---:|"]
    ratios = {}
    for build in ("st", "mt"):
        names = [b["name"] for b in fig[build]["backends"]]
        for trace in ("gc", "churn"):
            times = [criterion_ms(f"{trace}-{build}", n) for n in names]
            for n, t in zip(names, times):
                r = t / times[0] if t and times[0] else None
                ratios[(build, trace, n)] = r
                md.append(f"| {build.upper()} | {trace} | {n} | {t:.2f} | {r:.2f} |" if t else f"| {build.upper()} | {trace} | {n} | n/a | n/a |")
    md.append("")

    md += ["### Bytes zeroed ÷ bytes that had to be zeroed (1.00 is the floor), peak memory ÷ peak live", "",
           "| build | backend | GC-like | churn | churn peak memory ÷ peak live | same, mean over seeds (range) |",
           "|---|---|---:|---:|---:|---:|"]
    for build in ("st", "mt"):
        for b in fig[build]["backends"]:
            mem = f"{b['peak_memory_ratio']:.3f}" if b["peak_memory_ratio"] is not None else "n/a (not measurable)"
            seeds = b.get("peak_memory_ratio_seeds")
            over = (f"{seeds['mean']:.3f} over {seeds['seeds']} ({seeds['min']:.2f}–{seeds['max']:.2f})"
                    if seeds else "n/a")
            md.append(f"| {build.upper()} | {b['name']} | {b['zero_ratio_gc']:.2f} | {b['zero_ratio_churn']:.2f} | {mem} | {over} |")
    md.append("")

    md += ["### Interleaved medians (same run, all backends alternating)", "",
           *medians_table({b: fig[b] for b in ("st", "mt")}), ""]

    md += ["### Contention: reserve/write/decommit/commit/release of 64 KiB, and controls", "",
           "Controls (ops are rounds): the trace on one wasm-vmem instance per thread; 64 KiB of stores per round "
           "into each thread's own buffer, or into buffers the two threads hand to each other.", "",
           "| backend | ops/s, 1 thread | ops/s, 2 threads | 2 ÷ 1 |", "|---|---:|---:|---:|"]
    for c in fig["mt"]["contention"]:
        md.append(f"| {c['name']} | {c['ops_1t']:.0f} | {c['ops_2t']:.0f} | {c['ops_2t']/c['ops_1t']:.2f} |")
    md.append("")

    md += ["### Lock hold time (multithreaded build) against range size", "",
           "| range | mean ns per acquisition | median ns | 99th percentile ns | max ns |", "|---:|---:|---:|---:|---:|"]
    for h in fig["lock_hold"]:
        md.append(f"| {h['bytes'] // 1024} KiB | {h['mean_ns']:.0f} | {h['p50_ns']} | {h['p99_ns']} | {h['max_ns']} |")
    md.append("")

    # Plots.
    fig1, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, build in zip(axes, ("st", "mt")):
        names = [b["name"] for b in fig[build]["backends"]]
        x = range(len(names))
        for k, trace in enumerate(("gc", "churn")):
            vals = [ratios.get((build, trace, n)) or 0 for n in names]
            ax.bar([i + k * 0.4 for i in x], vals, 0.4, label=trace)
        ax.axhline(1, color="black", lw=0.8)
        ax.set_xticks([i + 0.2 for i in x], [n.replace(" (", "\n(") for n in names], fontsize=8)
        ax.set_title(f"time ÷ wasm-vmem ({build.upper()}), higher = wasm-vmem faster")
        ax.legend()
    fig1.tight_layout()
    fig1.savefig(OUT / "time-ratios.png", dpi=110)

    fig2, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, build in zip(axes, ("st", "mt")):
        bs = fig[build]["backends"]
        x = range(len(bs))
        ax.bar([i for i in x], [b["zero_ratio_gc"] for b in bs], 0.4, label="GC-like")
        ax.bar([i + 0.4 for i in x], [b["zero_ratio_churn"] for b in bs], 0.4, label="churn")
        ax.axhline(1, color="black", lw=0.8)
        ax.set_xticks([i + 0.2 for i in x], [b["name"].replace(" (", "\n(") for b in bs], fontsize=8)
        ax.set_title(f"bytes zeroed ÷ bytes that had to be ({build.upper()})")
        ax.legend()
    fig2.tight_layout()
    fig2.savefig(OUT / "zeroing.png", dpi=110)

    fig3, ax = plt.subplots(figsize=(6, 4))
    hs = fig["lock_hold"]
    ax.plot([h["bytes"] / 1024 for h in hs], [h["mean_ns"] for h in hs], "o-", label="mean")
    ax.plot([h["bytes"] / 1024 for h in hs], [h["p50_ns"] for h in hs], "v-", label="median")
    ax.plot([h["bytes"] / 1024 for h in hs], [h["p99_ns"] for h in hs], "^-", label="99th percentile")
    ax.plot([h["bytes"] / 1024 for h in hs], [h["max_ns"] for h in hs], "s--", label="max")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("range size (KiB)")
    ax.set_ylabel("ns per lock hold")
    ax.set_title("lock hold time against range size (MT)")
    ax.legend()
    fig3.tight_layout()
    fig3.savefig(OUT / "lock-hold.png", dpi=110)

    fig4, ax = plt.subplots(figsize=(8, 4))
    cs = fig["mt"]["contention"]
    ax.bar(range(len(cs)), [c["ops_2t"] / c["ops_1t"] for c in cs], 0.6,
           color=["tab:gray" if c["name"].startswith("control") else "tab:blue" for c in cs])
    ax.axhline(1, color="black", lw=0.8)
    ax.axhline(2, color="black", lw=0.5, ls=":")
    ax.set_xticks(range(len(cs)), [c["name"].replace(" (", "\n(").replace(": ", ":\n") for c in cs], fontsize=7)
    ax.set_ylabel("2-thread ÷ 1-thread throughput")
    ax.set_title("contention trace: scaling to 2 threads (grey: controls)")
    fig4.tight_layout()
    fig4.savefig(OUT / "contention.png", dpi=110)

    wasm_file = TARGET / "bench-wasm.json"
    if wasm_file.exists():
        web = json.loads(wasm_file.read_text())
        builds = {k: v["figures"] for k, v in web["builds"].items()}
        md += ["### In the browser: both wasm builds in headless Chromium", "",
               f"Browser: {web['userAgent'].split(')')[-1].strip() or web['userAgent']}, "
               f"{web['hardwareConcurrency']} hardware threads, cross-origin isolated: {web['crossOriginIsolated']}. "
               "wasm-vmem over the module's own memory; baselines over the module's global allocator "
               "(dlmalloc) and talc; medians of 21 interleaved repetitions.", "",
               *medians_table(builds), "",
               "| build | backend | zeroed ÷ needed, GC-like | zeroed ÷ needed, churn | churn peak memory ÷ peak live |",
               "|---|---|---:|---:|---:|"]
        for build, f in builds.items():
            for b in f["backends"]:
                mem = f"{b['peak_memory_ratio']:.3f}" if b["peak_memory_ratio"] is not None else "n/a (not measurable)"
                md.append(f"| {build.upper()} | {b['name']} | {b['zero_ratio_gc']:.2f} | {b['zero_ratio_churn']:.2f} | {mem} |")
        md.append("")
        sweep = web["builds"].get("mt", {}).get("sweep")
        if sweep:
            ts = sweep["threads"]
            md += [f"Thread sweep of the multithreaded build in the browser: contention trace, {sweep['rounds']} rounds "
                   f"per rayon thread, medians of {sweep['reps']} interleaved runs; million operations/s (× 1 thread).", "",
                   "| backend | " + " | ".join(str(t) for t in ts) + " |", "|---|" + "---:|" * len(ts)]
            for sr in sweep["series"]:
                md.append(f"| {sr['name']} | " + " | ".join(f"{x:.3f} ({x / sr['mops'][0]:.2f})" for x in sr["mops"]) + " |")
            md.append("")
        fig5, axes = plt.subplots(1, len(builds), figsize=(5.5 * len(builds), 4), squeeze=False)
        for ax, (build, f) in zip(axes[0], builds.items()):
            names = [b["name"] for b in f["backends"]]
            for k, trace in enumerate(("gc", "churn")):
                t = f[f"{trace}_seconds"]
                ax.bar([i + k * 0.4 for i in range(len(names))], [x / t[0] for x in t], 0.4, label=trace)
            ax.axhline(1, color="black", lw=0.8)
            ax.set_xticks([i + 0.2 for i in range(len(names))], [n.replace(" (", "\n(") for n in names], fontsize=8)
            ax.set_title(f"browser, {build.upper()}: time ÷ wasm-vmem (higher = wasm-vmem faster)", fontsize=9)
            ax.legend()
        fig5.tight_layout()
        fig5.savefig(OUT / "browser-time-ratios.png", dpi=110)
        md += ["![browser time ratios](docs/bench/browser-time-ratios.png)", ""]
    else:
        md += ["(No browser run: `scripts/bench-wasm.sh` writes target/bench-wasm.json.)", ""]

    md += ["![time ratios](docs/bench/time-ratios.png)", "![zeroing](docs/bench/zeroing.png)",
           "![lock hold](docs/bench/lock-hold.png)", "![contention](docs/bench/contention.png)", ""]

    replace_section("RESULTS", md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
