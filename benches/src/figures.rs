//! The figures of docs/DESIGN.md §7 that are not times of whole traces: bytes
//! zeroed ÷ bytes that had to be zeroed, peak memory ÷ peak live bytes,
//! lock hold time against range size, 2-thread ÷ 1-thread throughput, and
//! time ratios against each baseline measured in one run (medians of
//! interleaved repetitions).
//!
//! The same code runs natively (`cargo bench`, wasm-vmem over a
//! `SimMemory`) and in the browser (the bench page of `web/`, wasm-vmem
//! over the module's own memory, the baselines over the module's global
//! allocator). The contention trace and lock hold times are native only:
//! they need `std::thread` and a clock inside the lock.

use crate::backends::{Global, Plain, Seed, Talc, Vmem};
use crate::traces::{churn, churn_seeded, gc, Oracle, CHURN_SEED};
use crate::Backend;
use std::fmt::Write as _;
use wasm_vmem::policy::{MultiThreaded, SingleThreaded};

/// The memory wasm-vmem runs over here.
#[cfg(not(target_arch = "wasm32"))]
pub type Mem = wasm_vmem::sys::SimMemory;
/// The memory wasm-vmem runs over here.
#[cfg(target_arch = "wasm32")]
pub type Mem = wasm_vmem::sys::Wasm32Memory;

/// Size of the simulated memory and of talc's arena. In wasm the arena is
/// smaller (it is real memory of the page, and never given back).
#[cfg(not(target_arch = "wasm32"))]
pub const MEMORY: usize = 512 << 20;
/// Size of the simulated memory and of talc's arena. In wasm the arena is
/// smaller (it is real memory of the page, and never given back).
#[cfg(target_arch = "wasm32")]
pub const MEMORY: usize = 256 << 20;

/// A new memory for a wasm-vmem instance: a fresh simulated memory
/// natively; in wasm the module's memory, of which a new instance owns only
/// what it grows itself.
pub fn memory() -> Mem {
    #[cfg(not(target_arch = "wasm32"))]
    return wasm_vmem::sys::SimMemory::new(MEMORY);
    #[cfg(target_arch = "wasm32")]
    return wasm_vmem::sys::Wasm32Memory::BUILD;
}

/// How many backends each build compares (wasm-vmem first).
pub const BACKENDS: usize = 4;

/// Backend `i` of one build, fresh: wasm-vmem, the seed design, then
/// `alloc_zeroed` over the global allocator and over talc.
pub fn backend(threaded: bool, i: usize) -> Box<dyn Backend + Sync> {
    match (i, threaded) {
        (0, true) => Box::new(Vmem::<_, MultiThreaded>::new("wasm-vmem (MT)", memory())),
        (0, false) => Box::new(SyncSt(Vmem::new("wasm-vmem (ST)", memory()))),
        (1, _) => Box::new(Seed::new(threaded)),
        (2, _) => Box::new(Plain::new("alloc_zeroed (std)", Global::wasm_like())),
        (3, _) => Box::new(Plain::new("alloc_zeroed (talc)", Talc::new(MEMORY))),
        _ => panic!("backend {i} of {BACKENDS}"),
    }
}

/// The backends of one build: wasm-vmem and its baselines, fresh.
pub fn backends(threaded: bool) -> Vec<Box<dyn Backend + Sync>> {
    (0..BACKENDS).map(|i| backend(threaded, i)).collect()
}

/// The single-threaded instance, made `Sync` for the uniform list above.
/// Only the single-threaded traces use it, from one thread at a time.
pub struct SyncSt(pub Vmem<Mem, SingleThreaded>);

// SAFETY: `backends(false)` values are only driven by single-threaded
// traces, one thread at a time; `contention` uses `backends(true)` only.
unsafe impl Sync for SyncSt {}

impl Backend for SyncSt {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn reserve(&self, size: usize) -> *mut u8 {
        self.0.reserve(size)
    }
    unsafe fn commit(&self, p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.0.commit(p, size) }
    }
    unsafe fn decommit(&self, p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.0.decommit(p, size) }
    }
    unsafe fn release(&self, p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.0.release(p, size) }
    }
    fn bytes_zeroed(&self) -> u64 {
        self.0.bytes_zeroed()
    }
    fn footprint(&self) -> Option<usize> {
        self.0.footprint()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `trace` on each backend `reps` times, interleaved (ABCD ABCD …) so
/// that all see the same machine state; returns median seconds each.
fn interleaved(
    backends: &[Box<dyn Backend + Sync>],
    reps: usize,
    clock: Clock,
    trace: &dyn Fn(&dyn Backend),
) -> Vec<f64> {
    let mut times = vec![Vec::new(); backends.len()];
    for _ in 0..reps {
        for (b, t) in backends.iter().zip(&mut times) {
            let start = clock();
            trace(b.as_ref());
            t.push(clock() - start);
        }
    }
    times.into_iter().map(median).collect()
}

/// Trace sizes: full for `cargo bench`, tiny for the smoke run.
#[derive(Clone, Copy)]
pub struct Sizes {
    /// Collections per GC-like trace.
    pub gc: usize,
    /// Steps per churn trace.
    pub churn: usize,
    /// Rounds per thread of the contention trace.
    pub contention: usize,
    /// Interleaved repetitions for medians.
    pub reps: usize,
    /// Seeds of the churn trace for peak memory ÷ peak live over seeds
    /// (each a fresh instance; 0 in the browser, where every instance's
    /// growth stays in the page's memory).
    pub churn_seeds: usize,
}

impl Sizes {
    /// What `cargo bench` runs.
    pub const FULL: Sizes = Sizes {
        gc: 384,
        churn: 4000,
        contention: 50_000,
        reps: 7,
        churn_seeds: 32,
    };
    /// The smoke run in the test command.
    pub const SMOKE: Sizes = Sizes {
        gc: 70,
        churn: 200,
        contention: 50,
        reps: 1,
        churn_seeds: 2,
    };
}

/// Peak memory ÷ peak live of the churn trace over seeds.
#[derive(Clone, Copy, Debug)]
pub struct OverSeeds {
    /// How many seeds (others than [`CHURN_SEED`], whose figure is the
    /// single one beside it).
    pub seeds: usize,
    /// Mean over the seeds.
    pub mean: f64,
    /// Median over the seeds.
    pub median: f64,
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
}

impl OverSeeds {
    fn json(&self) -> String {
        format!(
            "{{\"seeds\":{},\"mean\":{:.4},\"median\":{:.4},\"min\":{:.4},\"max\":{:.4}}}",
            self.seeds, self.mean, self.median, self.min, self.max
        )
    }
}

/// Peak memory ÷ peak live of backend `i` over `sizes.churn_seeds` seeds,
/// a fresh backend each (`None` for none).
fn over_seeds(threaded: bool, i: usize, sizes: Sizes) -> Option<OverSeeds> {
    let mut ratios: Vec<f64> = (1..=sizes.churn_seeds as u64)
        .filter_map(|k| {
            // Distinct streams (the generator ignores the seed's low bit).
            let seed = CHURN_SEED ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let b = backend(threaded, i);
            let peak = churn_seeded(b.as_ref(), sizes.churn, seed);
            b.footprint().map(|f| f as f64 / peak as f64)
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    Some(OverSeeds {
        seeds: n,
        mean: ratios.iter().sum::<f64>() / n as f64,
        median: median(ratios.clone()),
        min: ratios[0],
        max: ratios[n - 1],
    })
}

/// A monotonic clock in seconds: `Instant` natively, `performance.now()`
/// in the browser (wasm32-unknown-unknown has no clock of its own).
pub type Clock = fn() -> f64;

/// The native clock.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_clock() -> f64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// The CPU time of the calling thread, in seconds (Linux
/// `CLOCK_THREAD_CPUTIME_ID`; elsewhere [`native_clock`]): time this thread
/// ran, not time it waited for a core. For single-thread figures on a
/// shared machine, where other work takes the cores for seconds at a time
/// and a wall clock would time the others.
#[cfg(not(target_arch = "wasm32"))]
pub fn thread_cpu_clock() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a pointer to a live timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0 {
            return t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9;
        }
    }
    native_clock()
}

fn json_list(v: impl IntoIterator<Item = f64>) -> String {
    v.into_iter()
        .map(|x| format!("{x:.6}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Computes every figure for the given builds (`false`: single-threaded,
/// `true`: multithreaded) and returns them as JSON (for
/// `scripts/bench-report.py`) and as a plain-text table.
pub fn all(sizes: Sizes, builds: &[bool], clock: Clock) -> (String, String) {
    let platform = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    let mut json = format!("{{\"platform\":\"{platform}\"");
    let mut text = String::new();
    for &threaded in builds {
        let build = if threaded { "mt" } else { "st" };
        let _ = writeln!(
            text,
            "\n== {} build ({platform}) ==",
            if threaded {
                "multithreaded"
            } else {
                "single-threaded"
            }
        );
        // Zeroing and memory, each backend fresh.
        let _ = writeln!(
            text,
            "{:<22} {:>14} {:>14} {:>16} {:>20}",
            "backend",
            "zeroed/needed gc",
            "zeroed/needed churn",
            "peak mem/peak live",
            format!("same, {} seeds", sizes.churn_seeds)
        );
        let _ = write!(json, ",\"{build}\":{{\"backends\":[");
        let mut names = Vec::new();
        for i in 0..BACKENDS {
            let gc_b = backend(threaded, i);
            let name = gc_b.name();
            names.push(name);
            let o = Oracle::new(gc_b.as_ref());
            gc(&o, sizes.gc);
            let gc_ratio = gc_b.bytes_zeroed() as f64 / o.had_to_zero().max(1) as f64;
            drop(gc_b);
            let churn_b = backend(threaded, i);
            let o = Oracle::new(churn_b.as_ref());
            let peak_live = churn(&o, sizes.churn);
            let churn_ratio = churn_b.bytes_zeroed() as f64 / o.had_to_zero().max(1) as f64;
            let mem = churn_b.footprint().map(|f| f as f64 / peak_live as f64);
            let mem_text = mem.map_or("n/a".into(), |m| format!("{m:.3}"));
            let seeds = mem.and_then(|_| over_seeds(threaded, i, sizes));
            let seeds_text = seeds.map_or("n/a".into(), |s| {
                format!("{:.3} ({:.2}–{:.2})", s.mean, s.min, s.max)
            });
            let _ = writeln!(
                text,
                "{name:<22} {gc_ratio:>14.2} {churn_ratio:>14.2} {mem_text:>16} {seeds_text:>20}"
            );
            let _ = write!(
                json,
                "{}{{\"name\":\"{name}\",\"zero_ratio_gc\":{gc_ratio:.4},\"zero_ratio_churn\":{churn_ratio:.4},\"peak_memory_ratio\":{},\"peak_memory_ratio_seeds\":{}}}",
                if i > 0 { "," } else { "" },
                mem.map_or("null".into(), |m| format!("{m:.4}")),
                seeds.map_or("null".into(), |s| s.json())
            );
        }
        json.push(']');
        // Times, interleaved, one backend set per trace.
        let gc_t = interleaved(&backends(threaded), sizes.reps, clock, &|b| {
            gc(b, sizes.gc);
        });
        let churn_t = interleaved(&backends(threaded), sizes.reps, clock, &|b| {
            churn(b, sizes.churn);
        });
        let _ = writeln!(
            text,
            "{:<22} {:>12} {:>12} {:>14} {:>14}",
            "time (median)", "gc ms", "churn ms", "gc ÷ wasm-vmem", "churn ÷ wasm-vmem"
        );
        for (i, name) in names.iter().enumerate() {
            let _ = writeln!(
                text,
                "{name:<22} {:>12.2} {:>12.2} {:>14.2} {:>14.2}",
                gc_t[i] * 1e3,
                churn_t[i] * 1e3,
                gc_t[i] / gc_t[0],
                churn_t[i] / churn_t[0]
            );
        }
        let _ = write!(
            json,
            ",\"gc_seconds\":[{}],\"churn_seconds\":[{}]",
            json_list(gc_t),
            json_list(churn_t)
        );
        #[cfg(not(target_arch = "wasm32"))]
        if threaded {
            contention_figures(sizes, clock, &mut json, &mut text);
        }
        json.push('}');
    }
    #[cfg(not(target_arch = "wasm32"))]
    lock_hold_figures(sizes, &mut json, &mut text);
    json.push('}');
    (json, text)
}

/// 2-thread ÷ 1-thread throughput of the contention trace, every backend
/// of the multithreaded build, and three controls that say what the
/// machine allows: the trace on one wasm-vmem instance per thread (nothing
/// shared), and 64 KiB of stores per round into a thread's own buffer or
/// into buffers the threads hand to each other (no allocator at all: the
/// cost of memory moving between cores, which any shared pool of pages
/// pays when one thread reuses what another released).
#[cfg(not(target_arch = "wasm32"))]
fn contention_figures(sizes: Sizes, clock: Clock, json: &mut String, text: &mut String) {
    use crate::traces::{contention, contention_on};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let bs = backends(true);
    let private = [backend(true, 0), backend(true, 0)];
    let private: Vec<&(dyn Backend + Sync)> = private.iter().map(|b| b.as_ref()).collect();
    let private = &private;
    let buffers: Vec<Vec<AtomicU64>> = (0..2)
        .map(|_| (0..8192).map(|_| AtomicU64::new(0)).collect())
        .collect();
    // Stores into buffer `(t + r) % 2` (handed over) or `t` (own), on
    // `threads` threads; atomics, as two threads may hit one buffer.
    let stores = |threads: usize, rounds: usize, handoff: bool| {
        std::thread::scope(|s| {
            for t in 0..threads {
                let buffers = &buffers;
                s.spawn(move || {
                    for r in 0..rounds {
                        let buffer = &buffers[if handoff { (t + r) % 2 } else { t }];
                        buffer.iter().for_each(|w| w.store(r as u64, Relaxed));
                    }
                });
            }
        });
        (threads * rounds) as u64
    };
    type Run<'a> = Box<dyn Fn(usize, usize) -> u64 + 'a>;
    let mut runs: Vec<(&str, Run)> = bs
        .iter()
        .map(|b| -> (&str, Run) { (b.name(), Box::new(|t, n| contention(b.as_ref(), t, n))) })
        .collect();
    runs.push((
        "control: no sharing",
        Box::new(move |t, n| contention_on(&private[..t], n)),
    ));
    runs.push((
        "control: own buffer",
        Box::new(|t, n| stores(t, n / 8, false)),
    ));
    runs.push((
        "control: handed buffers",
        Box::new(|t, n| stores(t, n / 8, true)),
    ));
    for (_, run) in &runs {
        // Warm up: growth, first-touch page faults, allocator pools.
        run(2, sizes.contention / 4 + 1);
    }
    // Medians of 1- and 2-thread runs, interleaved over the rows so that a
    // slow spell of the machine hits them alike; each run is long (tens of
    // milliseconds) so that starting threads is noise.
    let mut per = vec![[Vec::new(), Vec::new()]; runs.len()];
    for _ in 0..sizes.reps {
        for ((_, run), samples) in runs.iter().zip(&mut per) {
            for (threads, samples) in [1, 2].into_iter().zip(samples.iter_mut()) {
                let start = clock();
                let ops = run(threads, sizes.contention);
                samples.push(ops as f64 / (clock() - start));
            }
        }
    }
    let rows: Vec<_> = runs
        .iter()
        .zip(per)
        .map(|((name, _), [one, two])| (*name, median(one), median(two)))
        .collect();
    let _ = writeln!(
        text,
        "{:<22} {:>14} {:>14} {:>10}",
        "contention", "ops/s 1 thread", "ops/s 2 threads", "2t ÷ 1t"
    );
    json.push_str(",\"contention\":[");
    for (i, (name, one, two)) in rows.iter().enumerate() {
        let _ = writeln!(
            text,
            "{name:<22} {one:>14.0} {two:>14.0} {:>10.2}",
            two / one
        );
        let _ = write!(
            json,
            "{}{{\"name\":\"{name}\",\"ops_1t\":{one:.1},\"ops_2t\":{two:.1}}}",
            if i > 0 { "," } else { "" }
        );
    }
    json.push(']');
}

/// Lock hold time against range size, 16 KiB to 64 MiB.
#[cfg(not(target_arch = "wasm32"))]
fn lock_hold_figures(sizes: Sizes, json: &mut String, text: &mut String) {
    use wasm_vmem::PAGE_SIZE;
    let _ = writeln!(
        text,
        "\n{:<22} {:>10} {:>10} {:>10} {:>10}",
        "lock hold (MT)", "mean ns", "median ns", "p99 ns", "max ns"
    );
    fn row(
        json: &mut String,
        text: &mut String,
        key: &str,
        value: usize,
        label: String,
        h: crate::lock_hold::Holds,
        first: bool,
    ) {
        let _ = writeln!(
            text,
            "{label:<22} {:>10.0} {:>10} {:>10} {:>10}",
            h.mean_ns, h.p50_ns, h.p99_ns, h.max_ns
        );
        let _ = write!(
            json,
            "{}{{\"{key}\":{},\"mean_ns\":{:.1},\"p50_ns\":{},\"p99_ns\":{},\"max_ns\":{}}}",
            if first { "" } else { "," },
            value,
            h.mean_ns,
            h.p50_ns,
            h.p99_ns,
            h.max_ns
        );
    }
    json.push_str(",\"lock_hold\":[");
    for (i, pages) in [1usize, 16, 256, 4096, 16384].into_iter().enumerate() {
        let reps = if pages >= 16384 {
            sizes.reps
        } else if pages >= 4096 {
            sizes.reps * 4
        } else {
            sizes.reps * 40
        };
        let h = crate::lock_hold::lock_hold(pages, reps);
        let label = format!("{} KiB", pages * PAGE_SIZE / 1024);
        row(json, text, "bytes", pages * PAGE_SIZE, label, h, i == 0);
    }
    json.push(']');
    // Against the number of free runs a search passes over.
    json.push_str(",\"lock_hold_runs\":[");
    for (i, runs) in [1usize, 100, 10_000].into_iter().enumerate() {
        let h = crate::lock_hold::lock_hold_free_runs(runs, sizes.reps * 40);
        row(
            json,
            text,
            "runs",
            runs,
            format!("{runs} free runs"),
            h,
            i == 0,
        );
    }
    json.push(']');
    // After foreign gaps: reserves that record someone else's growth.
    json.push_str(",\"lock_hold_gap\":[");
    for (i, gap) in [1usize, 64, 1024].into_iter().enumerate() {
        let reps = (sizes.reps * 4).min(4096 / gap).max(2);
        let h = crate::lock_hold::lock_hold_foreign_gap(gap, reps);
        row(
            json,
            text,
            "gap_wasm_pages",
            gap,
            format!("{gap} wasm-page gaps"),
            h,
            i == 0,
        );
    }
    json.push(']');
}
