#!/usr/bin/env python3
"""Tables and plots of the global-allocator benchmarks (scripts/bench-alloc.sh).

Reads the `alloc` binary's JSON ((a)-(c), LARGE_MIN threshold) and the
`alloc_apps` runs ((d), one JSON line per run); writes target/bench-alloc.md,
replaces the section of BENCHMARKS.md between the ALLOC markers with it, and
draws docs/bench/alloc-*.png (matplotlib).

  python3 scripts/bench-alloc.py ALLOC_JSON APPS_JSONL
  python3 scripts/bench-alloc.py --check ALLOC_JSON APPS_JSONL   (smoke: structure only)
  python3 scripts/bench-alloc.py --wasm [BENCH_WASM_JSON]
      the allocator figures of the bench page in Chromium
      (scripts/bench-wasm.sh: target/bench-wasm.json) between the
      ALLOC CHROMIUM markers
  python3 scripts/bench-alloc.py --done
      the targets table of the small-object engine from target/bench-alloc.json,
      target/bench-wasm.json and target/code-size.json (scripts/code-size.sh)
      between the DONE SMALL markers
"""
import json
import os
import pathlib
import platform
import statistics
import subprocess
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
    for part in ("small", "large", "phase", "realloc", "threshold", "steady", "mid", "churn"):
        assert part in d, part
    for s in d["mid"]["series"]:
        assert len(s["mops"]) == len(d["mid"]["batches"]) and all(x > 0 for x in s["mops"]), s
    names = {s["name"] for s in d["small"]["cross"]}
    assert {VMEM, "dlmalloc", "talc", "system", "mimalloc", "rusty_alloc"} <= names, names
    steady = {s["name"]: s for s in d["steady"]["series"]}
    assert {VMEM, "wasm-vmem (ST)", "dlmalloc", "mimalloc", "rusty_alloc"} <= steady.keys(), steady.keys()
    assert all(s["mixed"] > 0 and s["batches"] > 0 for s in steady.values()), steady
    for s in d["churn"]["series"]:
        assert s["peak_live"] > 0 and s["rss_ratio"] >= 0, s
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
        for a in (VMEM, "dlmalloc", "talc", "system", "mimalloc", "rusty_alloc"):
            assert (a, w) in work, (a, w)
    print(f"bench-alloc smoke: ok ({len(apps)} app runs; allocators {sorted({a['alloc'] for a in apps})})")


def mib(b):
    return b / 2**20


def size_label(n):
    return f"{n >> 20} MiB" if n >= 2**20 else f"{n >> 10} KiB"


def rustc():
    return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()


def machine_name(d):
    """The machine next to every figure: this VM's cores, its CPU model, the
    compiler; or the label a run on another machine was given (`--remote`)."""
    if d.get("machine_label"):
        return d["machine_label"]
    m = d["machine"]
    return (f"this {m['hardware_threads']}-core VM ({m['cpu'] or 'unknown CPU'}, "
            f"{platform.system()} {platform.release()}, {d.get('rustc') or rustc()})")


def chromium_version(w):
    """The browser's version: the user agent's major version (it hides the
    rest), completed by `chromium --version` where that is the same major."""
    ua = w.get("userAgent", "")
    i = ua.find("Chrome/")
    v = ua[i + 7:].split(" ")[0] if i >= 0 else ua
    try:
        full = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.split()
        full = next((x for x in full if x[:1].isdigit()), "")
        if full.split(".")[0] == v.split(".")[0]:
            v = full
    except OSError:
        pass
    return "Chromium " + v


def steady_tables(d):
    """The steady-state single-thread table: ratios to dlmalloc and to mimalloc."""
    st = d["steady"]
    ser = {s["name"]: s for s in st["series"]}
    dl, mi = ser["dlmalloc"], ser.get("mimalloc")
    L = [f"#### (a) one thread, steady state — million operations/s, {machine_name(d)}",
         "",
         f"Each backend warmed up, then {st['rounds']} rounds of each trace (batches of {st['batch']}, "
         f"16–2048 B), interleaved, medians of {st['reps']} (`alloc::small_steady`; load average after: "
         f"{st.get('loadavg_at_end', '?')}).",
         "",
         "| backend | mixed trace | ÷ dlmalloc | ÷ mimalloc | batches allocated then freed | ÷ dlmalloc | ÷ mimalloc |",
         "|---|---:|---:|---:|---:|---:|---:|"]
    for n, s in ser.items():
        L.append(f"| {n} | {s['mixed']:.1f} | {s['mixed'] / dl['mixed']:.2f} | "
                 f"{s['mixed'] / mi['mixed']:.2f} | {s['batches']:.1f} | {s['batches'] / dl['batches']:.2f} | "
                 f"{s['batches'] / mi['batches']:.2f} |")
    L.append("")
    return L


def mid_table(d):
    """Blocks of a few KiB in batches, steady state: ratios to dlmalloc and to mimalloc."""
    md = d["mid"]
    ser = {s["name"]: s["mops"] for s in md["series"]}
    dl, mi = ser["dlmalloc"], ser.get("mimalloc")
    lo, hi = (x // 1024 for x in md["sizes"])
    L = [f"#### Blocks of {lo}–{hi} KiB in batches, one thread, steady state — million operations/s, {machine_name(d)}",
         "",
         f"Batches of {', '.join(str(b) for b in md['batches'])} blocks (log-uniform sizes, first and last byte "
         f"written) allocated then all freed, about {md['blocks']} blocks per batch size; every backend warmed up, "
         f"interleaved, medians of {md['reps']} in the thread's CPU time (`alloc::mid_steady`).",
         "",
         "| backend | " + " | ".join(f"batches of {b} | ÷ dlmalloc | ÷ mimalloc" for b in md["batches"]) + " |",
         "|---|" + "---:|---:|---:|" * len(md["batches"])]
    for n, v in ser.items():
        L.append(f"| {n} | " + " | ".join(f"{x:.1f} | {x / dl[i]:.2f} | {x / mi[i]:.2f}" for i, x in enumerate(v)) + " |")
    L.append("")
    return L


def churn_table(d):
    ch = d["churn"]
    L = [f"#### Small-object churn: peak memory ÷ peak live bytes, {machine_name(d)}",
         "",
         f"{ch['cycles']} cycles of growing the live set to a random high (½–1 × {mib(ch['max_live']):.0f} MiB) "
         f"and shrinking it to a random low (0.1–0.5 × the high), random 16–2048 B objects, random victims "
         f"(`alloc::small_churn`, seed {ch['seed']}). Peak memory: the growth of the process's resident set "
         f"from just before the trace to its high-water mark (`VmHWM`, reset first), each backend alone in a "
         f"process of its own — the same measure for every backend, mimalloc's and glibc's included "
         f"(native allocators return memory to the OS, which `VmHWM` ignores: it is the peak). Median of "
         f"{len(ch['series'][0]['rss_ratios'])} processes; the backend's own count of the memory it took, where it "
         f"has one, beside it.",
         "",
         "| backend | peak live MiB | peak RSS growth ÷ peak live | the runs | own count ÷ peak live | ms |",
         "|---|---:|---:|---|---:|---:|"]
    for s in ch["series"]:
        fp = "n/a" if s["footprint_ratio"] is None else f"{s['footprint_ratio']:.3f}"
        L.append(f"| {s['name']} | {mib(s['peak_live']):.1f} | {s['rss_ratio']:.3f} | "
                 f"{', '.join(f'{x:.3f}' for x in s['rss_ratios'])} | {fp} | {s['secs'] * 1e3:.0f} |")
    L.append("")
    return L


def across_tables(d):
    """(a) across threads, cross-thread frees and own frees: every backend
    at every thread count, and wasm-vmem ÷ each other backend."""
    L = []
    sm = d["small"]
    others = [b for b in ("dlmalloc", "talc", "mimalloc", "rusty_alloc", "system")
              if any(s["name"] == b for s in sm["cross"])]
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
        L.append(f"| **wasm-vmem ÷ {' / '.join(others)}** | " + " | ".join(
            " / ".join(f"{vm['mops'][i] / next(s for s in sm[mode] if s['name'] == b)['mops'][i]:.2f}"
                       for b in others) for i in range(len(th))) + " |")
        L.append("")
    return L


def tables(d, apps):
    L = []
    m = d["machine"]
    L.append(f"Run: {machine_name(d)}, {m['hardware_threads']} hardware threads; "
             f"{d['config']['reps']} interleaved repetitions, medians; "
             f"load average at start {m.get('loadavg_at_start', '?')}, at end {m.get('loadavg_at_end', '?')}.")
    L.append("")
    if "steady" in d:
        L += steady_tables(d)
    if "mid" in d:
        L += mid_table(d)
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
    L += across_tables(d)
    if "churn" in d:
        L += churn_table(d)
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
    name = machine_name(d)
    L = [l + f" — {name}" if l.startswith("#### ") and "-core VM" not in l else l for l in L]
    return "\n".join(L)


WASM_BEGIN, WASM_END = "<!-- ALLOC CHROMIUM BEGIN -->", "<!-- ALLOC CHROMIUM END -->"
DONE_BEGIN, DONE_END = "<!-- DONE SMALL BEGIN -->", "<!-- DONE SMALL END -->"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def wasm_machine(w):
    return (f"{chromium_version(w)} (headless), this {os.cpu_count()}-core VM ({cpu_model()}), "
            f"{w.get('hardwareConcurrency', '?')} hardware threads seen by the page")


def wasm_tables(w):
    """The allocator figures of the bench page (target/bench-wasm.json)."""
    L = [f"Bench page run of `scripts/bench-wasm.sh`: {wasm_machine(w)}; single-threaded build with "
         f"{rustc()}, multithreaded with nightly (`-Z build-std`).", ""]
    for kind in ("st", "mt"):
        b = w["builds"].get(kind)
        if not b or "allocs" not in b:
            continue
        st = b["allocs"]["steady"]
        ser = {s["name"]: s for s in st["series"]}
        dl, ra = ser["dlmalloc"], ser.get("rusty_alloc")
        label = "single-threaded (ST)" if kind == "st" else "multithreaded (MT)"
        L.append(f"#### (a) one thread, steady state, {label} build in {chromium_version(w)} — million operations/s, this {os.cpu_count()}-core VM")
        L.append("")
        L.append(f"Instances over the module's memory, warmed up, {st['rounds']} rounds of each trace, interleaved, "
                 f"median of {st['reps']}; each backend in a loop compiled for it alone.")
        L.append("")
        head = "| backend | mixed trace | ÷ dlmalloc |" + (" ÷ rusty_alloc |" if ra else "") + \
            " batches | ÷ dlmalloc |" + (" ÷ rusty_alloc |" if ra else "")
        L.append(head)
        L.append("|---|" + "---:|" * (head.count("|") - 2))
        for n, x in ser.items():
            row = f"| {n} | {x['mixed']:.1f} | {x['mixed'] / dl['mixed']:.2f} |"
            if ra:
                row += f" {x['mixed'] / ra['mixed']:.2f} |"
            row += f" {x['batches']:.1f} | {x['batches'] / dl['batches']:.2f} |"
            if ra:
                row += f" {x['batches'] / ra['batches']:.2f} |"
            L.append(row)
        L.append("")
        sm = b["allocs"]["small"]
        if kind == "mt":
            th = sm["threads"]
            L.append(f"#### (a) across rayon threads, half of each batch freed by the next thread, MT build in "
                     f"{chromium_version(w)} — total million operations/s (× 1 thread), {sm['rounds']} rounds per "
                     f"thread, median of {sm['reps']}, this {os.cpu_count()}-core VM")
            L.append("")
            L.append("| backend | " + " | ".join(f"{t} thr" for t in th) + " |")
            L.append("|---|" + "---:|" * len(th))
            for x in sm["series"]:
                L.append(f"| {x['name']} | " + " | ".join(f"{v:.1f} ({v / x['mops'][0]:.2f}×)" for v in x["mops"]) + " |")
            vm = sm["series"][0]
            L.append("| **wasm-vmem ÷ " + " / ".join(x["name"] for x in sm["series"][1:]) + "** | " + " | ".join(
                " / ".join(f"{vm['mops'][i] / x['mops'][i]:.2f}" for x in sm["series"][1:]) for i in range(len(th))) + " |")
            L.append("")
    ph = w.get("phases", {})
    if ph:
        L.append(f"#### (c) phase workload on each build's global allocator: linear memory grown ÷ the larger phase, "
                 f"{chromium_version(w)}, this {os.cpu_count()}-core VM")
        L.append("")
        L.append("| global allocator | ST | MT |")
        L.append("|---|---:|---:|")
        allocs = []
        for kind in ph.values():
            for a in kind:
                if a not in allocs:
                    allocs.append(a)
        for a in allocs:
            cells = []
            for kind in ("st", "mt"):
                p = ph.get(kind, {}).get(a)
                if not p:
                    cells.append("does not build")
                    continue
                grown = p["linear_peak"] - p["linear_before"]
                cells.append(f"{grown / max(p['gc_bytes'], p['app_bytes']):.2f}")
            name = next((p["allocator"] for k in ph.values() for x, p in k.items() if x == a), a)
            L.append(f"| {name} | " + " | ".join(cells) + " |")
        L.append("")
    return "\n".join(L)


def replace_between(begin, end, md):
    bm = ROOT / "BENCHMARKS.md"
    text = bm.read_text()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        bm.write_text(head + begin + "\n" + md + "\n" + end + tail)
    else:
        print(f"bench-alloc: no {begin} … {end} in BENCHMARKS.md", file=sys.stderr)


# The single-threaded and multithreaded demo modules with the talc-based
# engine, as the test command's build shipped them.
CODE_SIZE_BEFORE = {"st": 308_431, "mt": 742_771}


def done_table(d, w, cs):
    """Issue 20's Done-when targets for small objects, each with its figure."""
    rows = []

    def met(ok):
        return "**met**" if ok else "**not met**"
    ser = {s["name"]: s for s in d["steady"]["series"]}
    mi = ser["mimalloc"]
    for n, mixed_t, batch_t in ((VMEM, 0.9, 1.0), ("wasm-vmem (ST)", 1.0, 1.0)):
        x = ser[n]
        rm, rb = x["mixed"] / mi["mixed"], x["batches"] / mi["batches"]
        rows.append((f"natively, one thread, steady state: {n} ≥ {mixed_t}× mimalloc on the mixed trace, "
                     f"≥ {batch_t}× on batches",
                     f"mixed **{rm:.2f}×**, batches **{rb:.2f}×**",
                     met(rm >= mixed_t and rb >= batch_t)))
    if w:
        for kind in ("st", "mt"):
            b = w["builds"].get(kind)
            if not b:
                continue
            ws = {s["name"]: s for s in b["allocs"]["steady"]["series"]}
            x, dl = ws["wasm-vmem"], ws["dlmalloc"]
            rm, rb = x["mixed"] / dl["mixed"], x["batches"] / dl["batches"]
            rows.append((f"{chromium_version(w)}, one thread, steady state, {kind.upper()} build: ≥ 2× dlmalloc "
                         f"on the mixed trace, ≥ 1.1× on batches",
                         f"mixed **{rm:.2f}×**, batches **{rb:.2f}×**", met(rm >= 2 and rb >= 1.1)))
            if "rusty_alloc" in ws:
                ra = ws["rusty_alloc"]
                rm, rb = x["mixed"] / ra["mixed"], x["batches"] / ra["batches"]
                rows.append((f"{chromium_version(w)}, ST build ≥ 1.0× rusty_alloc on both traces",
                             f"mixed **{rm:.2f}×**, batches **{rb:.2f}×**", met(rm >= 1 and rb >= 1)))
    sm = d["small"]
    if 2 in sm["threads"]:
        i = sm["threads"].index(2)
        cross = {s["name"]: s["mops"][i] for s in sm["cross"]}
        rd, rmi = cross[VMEM] / cross["dlmalloc"], cross[VMEM] / cross["mimalloc"]
        ctl = sm["control"]["mops"]
        rows.append(("(a) at 2 threads with cross-thread frees, natively: ≥ 4× dlmalloc and ≥ 0.9× mimalloc",
                     f"**{rd:.2f}×** dlmalloc, **{rmi:.2f}×** mimalloc (rusty_alloc "
                     f"{cross[VMEM] / cross['rusty_alloc']:.2f}×; the arithmetic control "
                     f"{ctl[i] / ctl[0]:.2f}× at 2 threads)",
                     met(rd >= 4 and rmi >= 0.9)))
    ch = {s["name"]: s for s in d["churn"]["series"]}
    mr = ch["mimalloc"]["rss_ratio"]
    for n in (VMEM, "wasm-vmem (ST)"):
        r = ch[n]["rss_ratio"]
        rows.append((f"small-object churn: peak ÷ peak live of {n} no worse than mimalloc's",
                     f"**{r:.3f}** against mimalloc's **{mr:.3f}** (rusty_alloc {ch['rusty_alloc']['rss_ratio']:.3f}, "
                     f"dlmalloc {ch['dlmalloc']['rss_ratio']:.3f}; peak RSS growth)", met(r <= mr)))
    prow = {r["name"]: r for r in d["phase"]["rows"]}
    one = prow["wasm-vmem (one pool)"]["peak"]
    c = one / prow["dlmalloc beside a separate wasm-vmem"]["peak"]
    cells = [f"**{c:.3f}** natively ({mib(one):.1f} ÷ {mib(prow['dlmalloc beside a separate wasm-vmem']['peak']):.1f} MiB)"]
    ok = round(c, 2) <= 0.51
    for kind in ("st", "mt"):
        ph = (w or {}).get("phases", {}).get(kind, {})
        if "vmem" in ph and "dlmalloc" in ph:
            r = [(p["linear_peak"] - p["linear_before"]) / max(p["gc_bytes"], p["app_bytes"])
                 for p in (ph["vmem"], ph["dlmalloc"])]
            # The pool grows at least the larger phase (r[0] >= 1): the
            # browser's phases are 64 and 67 MiB, so 1 / r[1] is a floor
            # above 0.51 that only an allocator without any overhead would
            # reach; the target is judged on the native run, whose phases
            # (200 and 204 MiB) leave room under it.
            cells.append(f"{kind.upper()} in {chromium_version(w)} {r[0]:.2f} ÷ {r[1]:.2f} = **{r[0] / r[1]:.3f}** "
                         f"(floor {1 / r[1]:.3f}: the larger phase alone)")
    rows.append(("(c) ≤ 0.51 (peak linear memory, one pool ÷ dlmalloc beside a separate wasm-vmem)",
                 "; ".join(cells), met(ok)))
    if cs:
        vm = cs["rows"].get("wasm-vmem", {})
        dl = cs["rows"].get("dlmalloc", {})
        for k in ("st", "mt"):
            if k in vm:
                rows.append((f"code size of the demo module with wasm-vmem's allocator ({k.upper()}) no larger than "
                             f"the talc-based engine's {CODE_SIZE_BEFORE[k]:,} bytes",
                             f"**{vm[k]:,}** bytes (dlmalloc {dl.get(k, 0):,}: {vm[k] - dl.get(k, 0):+,})"
                             + (f"; with the bench page's rusty_alloc instance (bench builds only) "
                                f"{cs['st_with_bench_rusty']:,}"
                                if k == "st" and cs.get("st_with_bench_rusty") else ""),
                             met(vm[k] <= CODE_SIZE_BEFORE[k])))
    L = [f"Native figures: `scripts/bench-alloc.sh`, {machine_name(d)}, load average "
         f"{d['machine'].get('loadavg_at_start', '?').split(' ')[0]} at the start; Chromium: "
         + (f"`scripts/bench-wasm.sh`, {wasm_machine(w)}" if w else "no run") + "; code size: "
         + (f"`scripts/code-size.sh`, {cs['rustc']} (ST), {cs['rustc_nightly']} (MT)" if cs else "no run") + ".", "",
         "| target | measured | |", "|---|---|---|"]
    L += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(L) + "\n"


def plot_steady(d, w):
    """Steady-state single-thread speed ÷ dlmalloc, natively and in Chromium."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    OUT.mkdir(parents=True, exist_ok=True)
    panels = [("native (" + machine_name(d).split(" (")[0].replace("this ", "") + ")", d["steady"]["series"])]
    if w:
        for kind in ("st", "mt"):
            b = w["builds"].get(kind)
            if b:
                panels.append((f"{chromium_version(w)}, {kind.upper()} build", b["allocs"]["steady"]["series"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (title, ser) in zip(axes[0], panels):
        dl = next(s for s in ser if s["name"] == "dlmalloc")
        names = [s["name"] for s in ser]
        xs = range(len(ser))
        ax.bar([x - 0.2 for x in xs], [s["mixed"] / dl["mixed"] for s in ser], 0.4, label="mixed trace")
        ax.bar([x + 0.2 for x in xs], [s["batches"] / dl["batches"] for s in ser], 0.4, label="batches")
        ax.axhline(1, color="grey", lw=1)
        ax.set_xticks(list(xs), names, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("÷ dlmalloc (higher: faster)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "alloc-steady.png", dpi=110)
    plt.close(fig)


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

    if "churn" in d:
        ch = d["churn"]["series"]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar([s["name"] for s in ch], [s["rss_ratio"] for s in ch])
        ax.axhline(1, color="grey", lw=1)
        ax.set_ylabel("peak RSS growth ÷ peak live bytes")
        ax.set_title("small-object churn: peak memory (lower is better)")
        ax.tick_params(axis="x", labelrotation=35, labelsize=8)
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        fig.savefig(OUT / "alloc-churn.png", dpi=110)
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


def load_optional(path):
    p = ROOT / path
    return json.loads(p.read_text()) if p.exists() else None


def main():
    args = sys.argv[1:]
    if args and args[0] == "--wasm":
        w = json.loads(pathlib.Path(args[1] if len(args) > 1 else ROOT / "target" / "bench-wasm.json").read_text())
        md = wasm_tables(w)
        (ROOT / "target" / "bench-alloc-wasm.md").write_text(md + "\n")
        replace_between(WASM_BEGIN, WASM_END, md)
        d = load_optional("target/bench-alloc.json")
        if d and "steady" in d:
            plot_steady(d, w)
        print(md)
        return
    if args and args[0] == "--done":
        d = json.loads((ROOT / "target" / "bench-alloc.json").read_text())
        md = done_table(d, load_optional("target/bench-wasm.json"), load_optional("target/code-size.json"))
        replace_between(DONE_BEGIN, DONE_END, md)
        print(md)
        return
    if args and args[0] == "--remote":
        # --remote FILE MARKER LABEL: the steady state and (a) across
        # threads of a run on another machine (the binary carried there),
        # between the markers <!-- ALLOC MARKER BEGIN/END -->.
        d = json.loads(pathlib.Path(args[1]).read_text())
        d["machine_label"] = args[3]
        m = d["machine"]
        md = "\n".join([f"Run: {args[3]}; {m['hardware_threads']} hardware threads; "
                        f"{d['config']['reps']} interleaved repetitions, medians; load average at start "
                        f"{m.get('loadavg_at_start', '?')}, at end {m.get('loadavg_at_end', '?')}.", ""]
                       + steady_tables(d) + across_tables(d))
        replace_between(f"<!-- ALLOC {args[2]} BEGIN -->", f"<!-- ALLOC {args[2]} END -->", md)
        print(md)
        return
    if args and args[0] == "--check":
        d, apps = load(args[1], args[2])
        check(d, apps)
        tables(d, apps)
        return
    d, apps = load(args[0], args[1])
    check(d, apps)
    md = tables(d, apps)
    (ROOT / "target" / "bench-alloc.md").write_text(md + "\n")
    replace_between(BEGIN, END, md)
    plots(d)
    if "steady" in d:
        plot_steady(d, load_optional("target/bench-wasm.json"))
    print(md)


if __name__ == "__main__":
    main()
