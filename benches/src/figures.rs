//! The figures of DESIGN.md §7 that are not times of whole traces: bytes
//! zeroed ÷ bytes that had to be zeroed, peak memory ÷ peak live bytes,
//! lock hold time against range size, 2-thread ÷ 1-thread throughput, and
//! time ratios against each baseline measured in one run (medians of
//! interleaved repetitions).

use crate::backends::{Global, Plain, Seed, Talc, Vmem};
use crate::traces::{churn, contention, gc, Oracle};
use crate::Backend;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;
use wasm_vmem::lock::{SpinLock, TableLock};
use wasm_vmem::policy::{MultiThreaded, Policy, SingleThreaded};
use wasm_vmem::PAGE_SIZE;

const MIB: usize = 1 << 20;
/// Simulated memory for wasm-vmem, arena for talc.
pub const MEMORY: usize = 512 << 20;

/// The backends of one build: wasm-vmem and its baselines.
pub fn backends(threaded: bool) -> Vec<Box<dyn Backend + Sync>> {
    let vmem: Box<dyn Backend + Sync> = if threaded {
        Box::new(Vmem::<MultiThreaded>::new("wasm-vmem (MT)", MEMORY))
    } else {
        Box::new(SyncSt(Vmem::<SingleThreaded>::new(
            "wasm-vmem (ST)",
            MEMORY,
        )))
    };
    vec![
        vmem,
        Box::new(Seed::new(threaded)),
        Box::new(Plain::new("alloc_zeroed (std)", Global::wasm_like())),
        Box::new(Plain::new("alloc_zeroed (talc)", Talc::new(MEMORY))),
    ]
}

/// The single-threaded instance, made `Sync` for the uniform list above.
/// Only the single-threaded traces use it, from one thread at a time.
pub struct SyncSt(pub Vmem<SingleThreaded>);

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

/// A spinlock that measures how long it is held: the multithreaded policy
/// with instrumentation, through the crate's pluggable `Policy`.
pub struct TimedSpinLock {
    lock: SpinLock,
    since: AtomicU64,
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
static HOLD_NS: AtomicU64 = AtomicU64::new(0);
static HOLD_MAX_NS: AtomicU64 = AtomicU64::new(0);
static HOLDS: AtomicU64 = AtomicU64::new(0);

fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

// SAFETY: mutual exclusion, acquire and release come from `SpinLock`.
unsafe impl TableLock for TimedSpinLock {
    const INIT: Self = Self {
        lock: SpinLock::new(),
        since: AtomicU64::new(0),
    };
    fn lock(&self) {
        self.lock.lock();
        self.since.store(now_ns(), Relaxed);
    }
    unsafe fn unlock(&self) {
        let held = now_ns() - self.since.load(Relaxed);
        HOLD_NS.fetch_add(held, Relaxed);
        HOLD_MAX_NS.fetch_max(held, Relaxed);
        HOLDS.fetch_add(1, Relaxed);
        // SAFETY: held by this thread (caller).
        unsafe { self.lock.unlock() }
    }
}

/// The multithreaded policy with a timed lock.
pub struct TimedMt;

impl Policy for TimedMt {
    type Lock = TimedSpinLock;
    const EAGER_DECOMMIT: bool = true;
}

/// Lock hold time for each operation on ranges of `pages` pages: mean and
/// max nanoseconds per acquisition, over `reps` reserve / decommit /
/// commit / release cycles.
pub fn lock_hold(pages: usize, reps: usize) -> (f64, u64) {
    let vm = wasm_vmem::GenericVmem::<_, TimedMt>::new(wasm_vmem::sys::SimMemory::new(MEMORY));
    let size = pages * PAGE_SIZE;
    // Warm up: grow once, so growth is not measured.
    let p = vm.reserve(size, PAGE_SIZE).unwrap().as_ptr();
    // SAFETY: ours.
    unsafe { vm.release(p, size).unwrap() };
    HOLD_NS.store(0, Relaxed);
    HOLD_MAX_NS.store(0, Relaxed);
    HOLDS.store(0, Relaxed);
    for _ in 0..reps {
        let p = vm.reserve(size, PAGE_SIZE).unwrap().as_ptr();
        // SAFETY: ours.
        unsafe {
            vm.decommit(p, size).unwrap();
            vm.commit(p, size).unwrap();
            vm.release(p, size).unwrap();
        }
    }
    let holds = HOLDS.load(Relaxed).max(1);
    (
        HOLD_NS.load(Relaxed) as f64 / holds as f64,
        HOLD_MAX_NS.load(Relaxed),
    )
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
    trace: &dyn Fn(&dyn Backend),
) -> Vec<f64> {
    let mut times = vec![Vec::new(); backends.len()];
    for _ in 0..reps {
        for (b, t) in backends.iter().zip(&mut times) {
            let start = Instant::now();
            trace(b.as_ref());
            t.push(start.elapsed().as_secs_f64());
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
}

impl Sizes {
    /// What `cargo bench` runs.
    pub const FULL: Sizes = Sizes {
        gc: 384,
        churn: 4000,
        contention: 2000,
        reps: 7,
    };
    /// The smoke run in the test command.
    pub const SMOKE: Sizes = Sizes {
        gc: 70,
        churn: 200,
        contention: 50,
        reps: 1,
    };
}

/// Computes every figure and returns them as JSON (for `scripts/bench-report.py`)
/// and as a plain-text table.
pub fn all(sizes: Sizes) -> (String, String) {
    let mut json = String::from("{");
    let mut text = String::new();
    for threaded in [false, true] {
        let build = if threaded { "mt" } else { "st" };
        let _ = writeln!(
            text,
            "\n== {} build ==",
            if threaded {
                "multithreaded"
            } else {
                "single-threaded"
            }
        );
        // Zeroing and memory, each backend fresh.
        let _ = writeln!(
            text,
            "{:<22} {:>14} {:>14} {:>16}",
            "backend", "zeroed/needed gc", "zeroed/needed churn", "peak mem/peak live"
        );
        let _ = write!(json, "\"{build}\":{{\"backends\":[");
        let names: Vec<&str> = backends(threaded).iter().map(|b| b.name()).collect();
        for (i, name) in names.iter().enumerate() {
            let gc_b = backends(threaded).swap_remove(i);
            let o = Oracle::new(gc_b.as_ref());
            gc(&o, sizes.gc);
            let gc_ratio = gc_b.bytes_zeroed() as f64 / o.had_to_zero().max(1) as f64;
            drop(gc_b);
            let churn_b = backends(threaded).swap_remove(i);
            let o = Oracle::new(churn_b.as_ref());
            let peak_live = churn(&o, sizes.churn);
            let churn_ratio = churn_b.bytes_zeroed() as f64 / o.had_to_zero().max(1) as f64;
            let mem = churn_b.footprint().map(|f| f as f64 / peak_live as f64);
            let mem_text = mem.map_or("n/a".into(), |m| format!("{m:.3}"));
            let _ = writeln!(
                text,
                "{name:<22} {gc_ratio:>14.2} {churn_ratio:>14.2} {mem_text:>16}"
            );
            let _ = write!(
                json,
                "{}{{\"name\":\"{name}\",\"zero_ratio_gc\":{gc_ratio:.4},\"zero_ratio_churn\":{churn_ratio:.4},\"peak_memory_ratio\":{}}}",
                if i > 0 { "," } else { "" },
                mem.map_or("null".into(), |m| format!("{m:.4}"))
            );
        }
        json.push(']');
        // Times, interleaved, one backend set per trace.
        let bs = backends(threaded);
        let gc_t = interleaved(&bs, sizes.reps, &|b| {
            gc(b, sizes.gc);
        });
        let bs = backends(threaded);
        let churn_t = interleaved(&bs, sizes.reps, &|b| {
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
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.6}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = write!(
            json,
            ",\"gc_seconds\":[{}],\"churn_seconds\":[{}]",
            list(&gc_t),
            list(&churn_t)
        );
        if threaded {
            let bs = backends(true);
            let mut rows = Vec::new();
            for b in &bs {
                // Warm up: growth, first-touch page faults, allocator pools.
                contention(b.as_ref(), 2, sizes.contention / 4 + 1);
                let mut per = Vec::new();
                for threads in [1, 2] {
                    let start = Instant::now();
                    let ops = contention(b.as_ref(), threads, sizes.contention);
                    per.push(ops as f64 / start.elapsed().as_secs_f64());
                }
                rows.push((b.name(), per[0], per[1]));
            }
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
        json.push_str("},");
    }
    // Lock hold time against range size.
    let _ = writeln!(
        text,
        "\n{:<22} {:>14} {:>14}",
        "lock hold (MT)", "mean ns", "max ns"
    );
    json.push_str("\"lock_hold\":[");
    for (i, pages) in [1usize, 16, 256, 4096].into_iter().enumerate() {
        let reps = if pages >= 4096 {
            sizes.reps * 4
        } else {
            sizes.reps * 40
        };
        let (mean, max) = lock_hold(pages, reps);
        let label = format!("{} KiB", pages * PAGE_SIZE / 1024);
        let _ = writeln!(text, "{label:<22} {mean:>14.0} {max:>14}");
        let _ = write!(
            json,
            "{}{{\"bytes\":{},\"mean_ns\":{mean:.1},\"max_ns\":{max}}}",
            if i > 0 { "," } else { "" },
            pages * PAGE_SIZE
        );
    }
    json.push_str("]}");
    let _ = MIB;
    (json, text)
}
