//! The native drivers of the allocator benchmarks: the backends as fresh
//! instances, threads, interleaved repetitions, and the JSON that
//! `scripts/bench-alloc.py` turns into tables and plots.

use super::{
    large_zeroed, median, mid_steady, phase_beside, phase_one_pool, realloc_growth, small_churn,
    small_steady, threshold, threshold_fresh, AssertSync, Block, ChurnConfig, Counted, DirtyOracle,
    Dlmalloc, GrowSys, Instance, PhasePeak, Ring, Vmem, MID,
};
use crate::figures::{native_clock, thread_cpu_clock};
use core::alloc::Layout;
use serde_json::{json, Value};
use std::alloc::System;
use std::time::Instant;
use wasm_vmem::policy::{MultiThreaded, SingleThreaded};
use wasm_vmem::sys::SimMemory;

/// Size of every simulated memory and talc arena (address space, touched
/// only as used).
pub const MEMORY: usize = 2 << 30;

pub use crate::backends::TalcArena;

/// The backends, in the order of every table. mimalloc, rusty_alloc and
/// the system allocator are one heap per process (per thread inside it):
/// their "fresh instance" is the process's heap as the runs before left it.
/// (b) and realloc growth leave out mimalloc and rusty_alloc
/// ([`LARGE_BACKENDS`]).
pub const BACKENDS: [&str; 7] = [
    "wasm-vmem (MT)",
    "wasm-vmem (ST)",
    "dlmalloc",
    "talc",
    "mimalloc",
    "rusty_alloc",
    "system",
];

/// The backends of (b) and realloc growth.
pub const LARGE_BACKENDS: [&str; 5] = [
    "wasm-vmem (MT)",
    "wasm-vmem (ST)",
    "dlmalloc",
    "talc",
    "system",
];

/// Backend `name` of [`BACKENDS`], fresh. "wasm-vmem (ST)" must stay on
/// one thread.
pub fn backend(name: &str) -> Box<dyn Instance + Sync> {
    match name {
        "wasm-vmem (MT)" => Box::new(Vmem::<_, MultiThreaded>::new(
            "wasm-vmem (MT)",
            SimMemory::new(MEMORY),
        )),
        // SAFETY: "wasm-vmem (ST)" stays on one thread (this function's
        // contract with its callers, which skip it in threaded runs).
        "wasm-vmem (ST)" => Box::new(unsafe {
            AssertSync::new(Vmem::<_, SingleThreaded>::new(
                "wasm-vmem (ST)",
                SimMemory::new(MEMORY),
            ))
        }),
        "dlmalloc" => Box::new(Dlmalloc::new(GrowSys(SimMemory::new(MEMORY)))),
        "talc" => Box::new(Counted::new(
            "talc",
            TalcArena::new(MEMORY),
            true,
            Some(|t: &TalcArena| t.high() as u64),
        )),
        "system" => Box::new(Counted::new("system", System, false, None)),
        // mimalloc's and rusty_alloc's `alloc_zeroed` skip memory fresh
        // from the OS: what they zeroed is not seen.
        "mimalloc" => Box::new(Counted::new("mimalloc", mimalloc::MiMalloc, false, None)),
        "rusty_alloc" => Box::new(Counted::new(
            "rusty_alloc",
            rusty_alloc_api::RustyAlloc,
            false,
            None,
        )),
        _ => panic!("no backend {name}"),
    }
}

/// What one run does.
#[derive(Clone, Debug)]
pub struct Config {
    /// Interleaved repetitions (each figure is their median).
    pub reps: usize,
    /// Thread counts of (a), the last the oversubscribed one.
    pub threads: Vec<usize>,
    /// Rounds per thread (batches of [`BATCH`]) in (a).
    pub rounds: usize,
    /// Bytes allocated per size in (b).
    pub large_bytes: usize,
    /// Largest `n` of (b) (64 KiB, × 4, … up to this).
    pub large_max: usize,
    /// Live bytes of each phase in (c).
    pub phase_bytes: usize,
    /// Pairs per threshold case.
    pub threshold_iters: usize,
    /// Bytes of blocks per fresh-memory threshold case.
    pub threshold_fresh_bytes: usize,
    /// Only these backends in (a), (b), the steady state and the churn (to
    /// profile one); empty: all.
    pub only: Vec<String>,
    /// Rounds of each single-thread trace in the steady state.
    pub steady_rounds: usize,
    /// Interleaved repetitions of the steady state (and of the blocks of a
    /// few KiB).
    pub steady_reps: usize,
    /// Blocks per batch size and repetition of the blocks of a few KiB.
    pub mid_blocks: usize,
    /// The small-object churn trace.
    pub churn: ChurnConfig,
    /// Repetitions of the churn trace (one process per backend each).
    pub churn_reps: usize,
}

impl Config {
    fn filter(&self, list: &[&'static str]) -> Vec<&'static str> {
        list.iter()
            .copied()
            .filter(|b| self.only.is_empty() || self.only.iter().any(|o| o == b))
            .collect()
    }
    fn backends(&self) -> Vec<&'static str> {
        self.filter(&BACKENDS)
    }
    fn large_backends(&self) -> Vec<&'static str> {
        self.filter(&LARGE_BACKENDS)
    }
}

impl Config {
    /// The full run (about a minute on 2 cores).
    pub fn full(hw: usize) -> Self {
        Self {
            reps: 7,
            threads: thread_counts(hw),
            rounds: 800,
            large_bytes: 256 << 20,
            large_max: 64 << 20,
            phase_bytes: 200 << 20,
            threshold_iters: 4000,
            threshold_fresh_bytes: 32 << 20,
            only: Vec::new(),
            steady_rounds: 4000,
            steady_reps: 11,
            mid_blocks: 100_000,
            churn: ChurnConfig {
                max_live: 64 << 20,
                cycles: 8,
                seed: 11,
            },
            churn_reps: 3,
        }
    }
    /// A few seconds; numbers meaningless.
    pub fn smoke(hw: usize) -> Self {
        Self {
            reps: 1,
            threads: thread_counts(hw),
            rounds: 10,
            large_bytes: 4 << 20,
            large_max: 4 << 20,
            phase_bytes: 16 << 20,
            threshold_iters: 50,
            threshold_fresh_bytes: 1 << 20,
            only: Vec::new(),
            steady_rounds: 5,
            steady_reps: 1,
            mid_blocks: 256,
            churn: ChurnConfig {
                max_live: 1 << 20,
                cycles: 2,
                seed: 11,
            },
            churn_reps: 1,
        }
    }
}

/// Objects per batch in (a).
pub const BATCH: usize = 256;

/// 1, 2, 4, … `hw`, then `2 hw`.
pub fn thread_counts(hw: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..).map(|i| 1 << i).take_while(|&t| t < hw).collect();
    v.push(hw);
    v.push(2 * hw);
    v
}

fn med(v: &[f64]) -> f64 {
    median(&mut v.to_vec())
}

/// (a) across threads: million operations per second, per backend and
/// thread count; the single-thread batch workload too.
fn small(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    let all = cfg.backends();
    let mt: Vec<&str> = all
        .iter()
        .copied()
        .filter(|b| *b != "wasm-vmem (ST)")
        .collect();
    let modes = [true, false];
    let mut secs = vec![vec![vec![Vec::new(); cfg.threads.len()]; mt.len()]; 2];
    let mut ops_of = vec![vec![vec![0u64; cfg.threads.len()]; mt.len()]; 2];
    let mut single = vec![Vec::new(); all.len()];
    let mut control = vec![Vec::new(); cfg.threads.len()];
    let mut single_ops = 0;
    for rep in 0..cfg.reps {
        for (bi, name) in all.iter().enumerate() {
            let a = backend(name);
            let t0 = Instant::now();
            single_ops = a.run_small_single(cfg.rounds, BATCH);
            single[bi].push(t0.elapsed().as_secs_f64());
        }
        // The control: arithmetic only, the same threads, no allocator.
        for (ti, &threads) in cfg.threads.iter().enumerate() {
            let t0 = Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    s.spawn(move || control_work(t, cfg.rounds * CONTROL_PER_ROUND));
                }
            });
            control[ti].push(t0.elapsed().as_secs_f64());
        }
        for (mi, &cross) in modes.iter().enumerate() {
            for (ti, &threads) in cfg.threads.iter().enumerate() {
                for (bi, name) in mt.iter().enumerate() {
                    let a = backend(name);
                    let ring = Ring::new(threads);
                    let barrier = std::sync::Barrier::new(threads + 1);
                    let (a, ring, barrier) = (&*a, &ring, &barrier);
                    let (elapsed, ops) = std::thread::scope(|s| {
                        let hs: Vec<_> = (0..threads)
                            .map(|t| {
                                s.spawn(move || {
                                    barrier.wait();
                                    a.run_small_worker(ring, t, cfg.rounds, BATCH, cross)
                                })
                            })
                            .collect();
                        // Before the barrier: short runs may end before the
                        // main thread reads the clock after it.
                        let t0 = Instant::now();
                        barrier.wait();
                        let ops: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
                        (t0.elapsed().as_secs_f64(), ops)
                    });
                    // SAFETY: every worker is done; the blocks are `a`'s.
                    unsafe { ring.drain(a) };
                    secs[mi][bi][ti].push(elapsed);
                    ops_of[mi][bi][ti] = ops;
                }
            }
        }
        log(&format!(
            "(a) small objects: rep {} of {}",
            rep + 1,
            cfg.reps
        ));
    }
    let series = |mi: usize| -> Vec<Value> {
        mt.iter()
            .enumerate()
            .map(|(bi, name)| {
                let mops: Vec<f64> = (0..cfg.threads.len())
                    .map(|ti| ops_of[mi][bi][ti] as f64 / med(&secs[mi][bi][ti]) / 1e6)
                    .collect();
                json!({"name": name, "mops": mops})
            })
            .collect()
    };
    let single: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(bi, name)| {
            json!({"name": name, "mops": single_ops as f64 / med(&single[bi]) / 1e6,
                   "secs": single[bi]})
        })
        .collect();
    json!({"threads": cfg.threads, "batch": BATCH, "rounds_per_thread": cfg.rounds,
           "cross": series(0), "local": series(1), "single": single,
           "control": {"name": "control: arithmetic only, no allocator",
                       "mops": cfg.threads.iter().enumerate().map(|(ti, &t)| {
                           (t * cfg.rounds * CONTROL_PER_ROUND) as f64 / med(&control[ti]) / 1e6
                       }).collect::<Vec<_>>()}})
}

/// Control steps per round of (a): about as long as a round of the
/// small-object workload on one thread.
const CONTROL_PER_ROUND: usize = 16384;

/// `steps` multiply-adds, kept from being optimised away.
fn control_work(seed: usize, steps: usize) -> u64 {
    let mut x = seed as u64 | 1;
    for i in 0..steps as u64 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
    }
    std::hint::black_box(x)
}

/// Sizes of (b): 64 KiB, 256 KiB, … up to `max`.
fn large_sizes(max: usize) -> Vec<usize> {
    (0..)
        .map(|i| (64 << 10) << (2 * i))
        .take_while(|&n| n <= max)
        .collect()
}

/// (b): per size and backend, the median time per `vec![0u8; n]` and the
/// bytes zeroed ÷ bytes that had to be zeroed.
fn large(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    let sizes = large_sizes(cfg.large_max);
    let all = cfg.large_backends();
    let mut secs = vec![vec![Vec::new(); sizes.len()]; all.len()];
    let mut first = vec![vec![Vec::new(); sizes.len()]; all.len()];
    let mut ratio = vec![vec![None; sizes.len()]; all.len()];
    let mut zeroed_needed = vec![vec![(None, 0u64); sizes.len()]; all.len()];
    for rep in 0..cfg.reps {
        for (si, &n) in sizes.iter().enumerate() {
            let iters = (cfg.large_bytes / n).max(4);
            for (bi, name) in all.iter().enumerate() {
                let a = backend(name);
                let mut oracle = DirtyOracle::default();
                let before = a.zeroed_bytes();
                let (f, s, needed) = large_zeroed(&*a, n, iters, &mut oracle, native_clock);
                secs[bi][si].push(s / iters as f64);
                first[bi][si].push(f);
                let zeroed = a.zeroed_bytes().zip(before).map(|(x, y)| x - y);
                zeroed_needed[bi][si] = (zeroed, needed);
                ratio[bi][si] = zeroed.map(|z| z as f64 / needed.max(1) as f64);
            }
        }
        log(&format!(
            "(b) large zeroed: rep {} of {}",
            rep + 1,
            cfg.reps
        ));
    }
    let series: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(bi, name)| {
            let us: Vec<f64> = secs[bi].iter().map(|v| med(v) * 1e6).collect();
            let first_us: Vec<f64> = first[bi].iter().map(|v| med(v) * 1e6).collect();
            json!({"name": name, "us": us, "first_us": first_us, "zeroed_over_needed": ratio[bi],
                   "zeroed": zeroed_needed[bi].iter().map(|z| z.0).collect::<Vec<_>>(),
                   "needed": zeroed_needed[bi].iter().map(|z| z.1).collect::<Vec<_>>()})
        })
        .collect();
    json!({"sizes": sizes, "bytes_per_size": cfg.large_bytes, "series": series})
}

/// Realloc growth: a buffer doubled from 1 KiB to 64 MiB on a fresh
/// instance (fresh memory), then again on the same instance (over the
/// memory the first growth used).
fn realloc(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    let all = cfg.large_backends();
    let top = cfg.large_max;
    let mut secs = vec![[Vec::new(), Vec::new()]; all.len()];
    let mut moves = vec![[0usize; 2]; all.len()];
    for _ in 0..cfg.reps {
        for (bi, name) in all.iter().enumerate() {
            let a = backend(name);
            for (k, slot) in secs[bi].iter_mut().enumerate() {
                let (s, m) = realloc_growth(&*a, top, native_clock);
                slot.push(s);
                moves[bi][k] = m;
            }
        }
    }
    log("realloc growth");
    let series: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(bi, name)| {
            json!({"name": name, "first_ms": med(&secs[bi][0]) * 1e3,
                   "again_ms": med(&secs[bi][1]) * 1e3, "moves": moves[bi]})
        })
        .collect();
    json!({"top": top, "series": series})
}

/// (c): peak memory of the phase workload, one pool against an allocator
/// beside a separate wasm-vmem.
fn phase(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    const SEG: usize = 4 << 20;
    let total = cfg.phase_bytes;
    let row = |name: String, p: PhasePeak, secs: f64| {
        json!({"name": name, "peak": p.peak, "gc_peak": p.gc_peak, "app_peak": p.app_peak,
               "app_live": p.app_live, "secs": secs})
    };
    let mut rows = Vec::new();
    // One pool: the GC's segments and the app's Vecs on one wasm-vmem.
    let a = Vmem::<_, MultiThreaded>::new("wasm-vmem (MT)", SimMemory::new(MEMORY));
    let t0 = Instant::now();
    let p = phase_one_pool(&a, total, SEG);
    rows.push(row(
        "wasm-vmem (one pool)".into(),
        p,
        t0.elapsed().as_secs_f64(),
    ));
    drop(a);
    for name in ["dlmalloc", "talc"] {
        let gc = wasm_vmem::mt::Vmem::new(SimMemory::new(MEMORY));
        let app = backend(name);
        let t0 = Instant::now();
        let p = phase_beside(&gc, &*app, total, SEG).expect("footprint");
        rows.push(row(
            format!("{name} beside a separate wasm-vmem"),
            p,
            t0.elapsed().as_secs_f64(),
        ));
    }
    log("(c) phase workload");
    json!({"phase_bytes": total, "segment": SEG, "rows": rows})
}

/// The `LARGE_MIN` threshold: time per allocate+free pair at 16–256 KiB,
/// through a talc heap against a page reservation.
fn thresholds(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    let sizes: Vec<usize> = [16, 32, 64, 128, 256].iter().map(|k| k << 10).collect();
    // (label, backend, alignment)
    let cases: [(&str, &str, usize); 5] = [
        ("talc heap", "talc", 8),
        (
            "page reservation (MT)",
            "wasm-vmem (MT)",
            wasm_vmem::PAGE_SIZE,
        ),
        (
            "page reservation (ST)",
            "wasm-vmem (ST)",
            wasm_vmem::PAGE_SIZE,
        ),
        ("GenericAlloc as shipped (MT)", "wasm-vmem (MT)", 8),
        ("dlmalloc", "dlmalloc", 8),
    ];
    let mut out = Vec::new();
    for zeroed in [false, true] {
        let mut secs = vec![vec![Vec::new(); sizes.len()]; cases.len()];
        for _ in 0..cfg.reps {
            for (si, &n) in sizes.iter().enumerate() {
                for (ci, (_, b, align)) in cases.iter().enumerate() {
                    let a = backend(b);
                    // Warm: the window's memory exists before timing.
                    threshold(&*a, n, *align, zeroed, 16, 8, native_clock);
                    let s = threshold(&*a, n, *align, zeroed, cfg.threshold_iters, 8, native_clock);
                    secs[ci][si].push(s);
                }
            }
        }
        for (ci, (label, _, align)) in cases.iter().enumerate() {
            let ns: Vec<f64> = secs[ci].iter().map(|v| med(v) * 1e9).collect();
            out.push(
                json!({"name": label, "align": align, "zeroed": zeroed, "fresh": false, "ns": ns}),
            );
        }
    }
    // Fresh memory: 16 MiB of blocks per case on a fresh instance.
    let mut secs = vec![vec![Vec::new(); sizes.len()]; cases.len()];
    for _ in 0..cfg.reps {
        for (si, &n) in sizes.iter().enumerate() {
            for (ci, (_, b, align)) in cases.iter().enumerate() {
                let a = backend(b);
                let count = (cfg.threshold_fresh_bytes / n).max(2);
                secs[ci][si].push(threshold_fresh(&*a, n, *align, count, native_clock));
            }
        }
    }
    for (ci, (label, _, align)) in cases.iter().enumerate() {
        let ns: Vec<f64> = secs[ci].iter().map(|v| med(v) * 1e9).collect();
        out.push(json!({"name": label, "align": align, "zeroed": true, "fresh": true, "ns": ns}));
    }
    log("LARGE_MIN threshold");
    json!({"sizes": sizes, "window": 8, "series": out,
           "large_min": wasm_vmem::LARGE_MIN})
}

/// Single-thread small objects in the steady state
/// ([`small_steady`](super::small_steady)): every backend warmed up, then
/// `steady_rounds` rounds of the mixed trace and of batches allocated then
/// freed, interleaved, medians of `steady_reps`, timed in the thread's CPU
/// time ([`thread_cpu_clock`]: on a machine shared with other work, the
/// time the loop ran, not the time it waited for a core).
fn steady(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    let names = cfg.backends();
    let all: Vec<_> = names.iter().map(|&b| backend(b)).collect();
    let refs: Vec<&(dyn Instance + Sync)> = all.iter().map(|a| &**a).collect();
    let figures = small_steady(
        &refs,
        cfg.steady_rounds,
        BATCH,
        cfg.steady_reps,
        thread_cpu_clock,
    );
    log("(a) steady state");
    let series: Vec<Value> = names
        .iter()
        .zip(&figures)
        .map(|(name, (mixed, batches))| json!({"name": name, "mixed": mixed, "batches": batches}))
        .collect();
    json!({"rounds": cfg.steady_rounds, "batch": BATCH, "reps": cfg.steady_reps,
           "clock": "thread CPU time", "loadavg_at_end": loadavg(), "series": series})
}

/// Blocks of a few KiB in the steady state ([`mid_steady`]): batches of
/// 4, 16 and 64 blocks of 2–64 KiB, every backend, interleaved, medians of
/// `steady_reps`, timed in the thread's CPU time.
fn mid(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    const BATCHES: [usize; 3] = [4, 16, 64];
    let names = cfg.backends();
    let all: Vec<_> = names.iter().map(|&b| backend(b)).collect();
    let refs: Vec<&(dyn Instance + Sync)> = all.iter().map(|a| &**a).collect();
    let figures = mid_steady(
        &refs,
        &BATCHES,
        cfg.mid_blocks,
        cfg.steady_reps,
        thread_cpu_clock,
    );
    log("blocks of a few KiB");
    let series: Vec<Value> = names
        .iter()
        .zip(&figures)
        .map(|(name, mops)| json!({"name": name, "mops": mops}))
        .collect();
    json!({"batches": BATCHES, "blocks": cfg.mid_blocks, "reps": cfg.steady_reps,
           "sizes": [MID.0, MID.1], "clock": "thread CPU time", "series": series})
}

/// The small-object churn trace ([`small_churn`]) on backend `name`, alone
/// in this process, and its peak memory: the growth of the resident set
/// from just before the trace to its high-water mark (`VmHWM`, reset
/// before the trace through `/proc/self/clear_refs` where allowed), the
/// same measure for every backend; and, where the backend knows it, the
/// memory it took ([`Instance::footprint`]). The trace's own list of
/// blocks is allocated and written before, from its dry run.
pub fn churn_child(name: &str, cfg: &Config) -> Value {
    let dry = small_churn::<System>(None, cfg.churn, &mut Vec::new());
    let mut live: Vec<Block> = vec![(1, Layout::new::<u8>()); dry.peak_blocks + 1];
    live.clear();
    let a = backend(name);
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = proc_status("VmRSS");
    let t0 = Instant::now();
    let run = small_churn(Some(&*a), cfg.churn, &mut live);
    let secs = t0.elapsed().as_secs_f64();
    let hwm = proc_status("VmHWM");
    assert_eq!(run.peak_live, dry.peak_live, "the trace is the dry run's");
    json!({"name": name, "peak_live": run.peak_live, "peak_blocks": run.peak_blocks,
           "ops": run.ops, "secs": secs, "rss_before": before, "rss_hwm": hwm,
           "hwm_reset": reset, "rss_growth": hwm.saturating_sub(before),
           "footprint": a.footprint()})
}

/// A size field of `/proc/self/status` (`VmRSS`, `VmHWM`) in bytes; 0 when
/// unknown.
pub fn proc_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The churn trace's peak memory ÷ peak live bytes: [`churn_child`] for
/// each backend in a process of its own (this binary again, with
/// `--churn-child`), `churn_reps` times, interleaved.
fn churn(cfg: &Config, log: &mut dyn FnMut(&str)) -> Value {
    let names = cfg.backends();
    let exe = std::env::current_exe().expect("this binary");
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); names.len()];
    for rep in 0..cfg.churn_reps.max(1) {
        for (bi, name) in names.iter().enumerate() {
            let out = std::process::Command::new(&exe)
                .args([
                    "--churn-child",
                    name,
                    "--churn",
                    &format!(
                        "{},{},{}",
                        cfg.churn.max_live, cfg.churn.cycles, cfg.churn.seed
                    ),
                ])
                .output()
                .expect("run the churn child");
            assert!(
                out.status.success(),
                "churn child {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            runs[bi].push(serde_json::from_slice(&out.stdout).expect("the child's JSON"));
        }
        log(&format!(
            "small-object churn: rep {} of {}",
            rep + 1,
            cfg.churn_reps
        ));
    }
    let series: Vec<Value> = names
        .iter()
        .zip(&runs)
        .map(|(name, r)| {
            let live = r[0]["peak_live"].as_f64().unwrap_or(1.0).max(1.0);
            let ratios: Vec<f64> = r
                .iter()
                .map(|x| x["rss_growth"].as_f64().unwrap_or(0.0) / live)
                .collect();
            let footprint = r[0]["footprint"].as_f64().map(|f| f / live);
            json!({"name": name, "peak_live": r[0]["peak_live"], "rss_ratio": med(&ratios),
                   "rss_ratios": ratios, "footprint_ratio": footprint,
                   "secs": med(&r.iter().map(|x| x["secs"].as_f64().unwrap_or(0.0)).collect::<Vec<_>>()),
                   "hwm_reset": r[0]["hwm_reset"], "runs": r})
        })
        .collect();
    json!({"max_live": cfg.churn.max_live, "cycles": cfg.churn.cycles, "seed": cfg.churn.seed,
           "sizes": [super::SMALL.0, super::SMALL.1], "series": series})
}

/// Runs every part; returns the JSON.
pub fn run(cfg: &Config, parts: &[&str], log: &mut dyn FnMut(&str)) -> Value {
    let mut out = json!({
        "config": {"reps": cfg.reps, "threads": cfg.threads, "memory": MEMORY},
        "machine": machine(),
    });
    for &p in parts {
        let v = match p {
            "small" => small(cfg, log),
            "large" => large(cfg, log),
            "phase" => phase(cfg, log),
            "realloc" => realloc(cfg, log),
            "threshold" => thresholds(cfg, log),
            "steady" => steady(cfg, log),
            "mid" => mid(cfg, log),
            "churn" => churn(cfg, log),
            _ => panic!("no part {p}"),
        };
        out[p] = v;
    }
    out["machine"]["loadavg_at_end"] = loadavg().into();
    out
}

/// Hardware threads of this machine.
pub fn hardware_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `/proc/loadavg`: other work on the machine skews every figure.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `nproc` and the CPU model.
fn machine() -> Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    json!({"hardware_threads": hardware_threads(), "cpu": model, "loadavg_at_start": loadavg()})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every part on tiny sizes: the figures exist, and wasm-vmem zeroes
    /// exactly the bytes that held old data.
    #[test]
    fn smoke_run_has_every_figure() {
        let cfg = Config::smoke(2);
        let v = run(
            &cfg,
            &[
                "small",
                "large",
                "phase",
                "realloc",
                "threshold",
                "steady",
                "mid",
            ],
            &mut |_| {},
        );
        assert_eq!(
            v["steady"]["series"].as_array().unwrap().len(),
            BACKENDS.len()
        );
        for s in v["mid"]["series"].as_array().unwrap() {
            let mops = s["mops"].as_array().unwrap();
            assert!(
                mops.len() == 3 && mops.iter().all(|m| m.as_f64().unwrap() > 0.0),
                "{s}"
            );
        }
        for mode in ["cross", "local"] {
            for s in v["small"][mode].as_array().unwrap() {
                assert!(s["mops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|x| x.as_f64().unwrap() > 0.0));
            }
        }
        for s in v["large"]["series"].as_array().unwrap() {
            if s["name"].as_str().unwrap().starts_with("wasm-vmem") {
                assert_eq!(s["zeroed"], s["needed"], "{s}");
            }
        }
        let rows = v["phase"]["rows"].as_array().unwrap();
        let peak = |i: usize| rows[i]["peak"].as_u64().unwrap();
        // One pool needs less than the GC heap plus the app's allocator.
        assert!(peak(0) < peak(1), "{rows:?}");
    }

    /// The churn trace in this process: every backend's peak live is the
    /// dry run's, and a child's figures exist.
    #[test]
    fn churn_child_measures() {
        let cfg = Config::smoke(2);
        for name in BACKENDS {
            let v = churn_child(name, &cfg);
            assert!(v["peak_live"].as_u64().unwrap() > 0, "{v}");
            assert!(v["rss_hwm"].as_u64().unwrap() > 0, "{v}");
        }
    }
}
