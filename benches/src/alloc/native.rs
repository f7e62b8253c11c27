//! The native drivers of the allocator benchmarks: the backends as fresh
//! instances, threads, interleaved repetitions, and the JSON that
//! `scripts/bench-alloc.py` turns into tables and plots.

use super::{
    large_zeroed, median, phase_beside, phase_one_pool, realloc_growth, threshold, threshold_fresh,
    AssertSync, Counted, DirtyOracle, Dlmalloc, GrowSys, Instance, PhasePeak, Ring, Vmem,
};
use crate::figures::native_clock;
use serde_json::{json, Value};
use std::alloc::System;
use std::time::Instant;
use wasm_vmem::policy::{MultiThreaded, SingleThreaded};
use wasm_vmem::sys::SimMemory;

/// Size of every simulated memory and talc arena (address space, touched
/// only as used).
pub const MEMORY: usize = 2 << 30;

pub use crate::backends::TalcArena;

/// The backends, fresh, in the order of every table.
pub const BACKENDS: [&str; 5] = [
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
    /// Only these backends in (a) and (b) (to profile one); empty: all.
    pub only: Vec<String>,
}

impl Config {
    fn backends(&self) -> Vec<&'static str> {
        BACKENDS
            .iter()
            .copied()
            .filter(|b| self.only.is_empty() || self.only.iter().any(|o| o == b))
            .collect()
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
    let all = cfg.backends();
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
    let all = cfg.backends();
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
            &["small", "large", "phase", "realloc", "threshold"],
            &mut |_| {},
        );
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
}
