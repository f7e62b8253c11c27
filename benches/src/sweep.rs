//! Throughput against threads (docs/DESIGN.md §7, second round; §8): the
//! contention trace and a per-thread GC-like trace at 1, 2, 4, … threads up
//! to the machine's hardware threads, and at twice that (oversubscribed),
//! over the multithreaded build of wasm-vmem (one instance shared by all
//! threads, with its spinlock and with a parking lock), the baselines, and
//! the control of one private wasm-vmem instance per thread.
//!
//! Work is fixed per thread, so a backend that scales perfectly shows a
//! throughput proportional to the threads the machine can run at once.
//! Every point is the median of interleaved repetitions (repetition, then
//! thread count, then backend, so that a slow spell of the machine hits all
//! alike), and every figure is a ratio within the one run. Native only (it
//! needs `std::thread`); the `sweep` binary drives it.

use crate::backends::{Backend, Global, Plain, Seed, Talc, Vmem};
use crate::traces::{contention_rounds, gc, SEGMENT};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::Instant;
use wasm_vmem::policy::{MultiThreaded, MultiThreadedParking};
use wasm_vmem::sys::SimMemory;

/// A workload of the sweep; each thread does a fixed amount of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trace {
    /// The contention trace: `work` rounds of reserve 64 KiB, write a byte
    /// per page, decommit and recommit half, release (4 operations a
    /// round).
    Contention,
    /// The GC-like trace on each thread, with its own segments: three 4 MiB
    /// segments reserved once, `work` collections (commit, fill and
    /// decommit a 512 KiB gen0 budget, recommitted later), a segment
    /// released and another reserved every 64 collections.
    Gc,
}

impl Trace {
    /// Both, in the order they run.
    pub const ALL: [Trace; 2] = [Trace::Contention, Trace::Gc];

    /// Name in tables and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Trace::Contention => "contention",
            Trace::Gc => "gc",
        }
    }

    /// What `work` counts.
    pub fn unit(self) -> &'static str {
        match self {
            Trace::Contention => "rounds",
            Trace::Gc => "collections",
        }
    }

    /// Thread `t`'s part; returns operations.
    pub fn run<B: Backend + ?Sized>(self, b: &B, t: usize, work: usize) -> u64 {
        match self {
            Trace::Contention => contention_rounds(b, t, work),
            Trace::Gc => gc(b, work),
        }
    }
}

/// What the sweep runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Thread counts, ascending; the last is normally the oversubscribed
    /// point (twice `top`).
    pub threads: Vec<usize>,
    /// The machine's hardware threads (or what `--max-threads` says): the
    /// count at which the summary ratios are given.
    pub top: usize,
    /// Interleaved repetitions; each point is their median.
    pub reps: usize,
    /// The traces.
    pub traces: Vec<Trace>,
    /// Work per thread per trace (`rounds`, `collections`); `None`: from
    /// the time budget.
    pub work: [Option<usize>; 2],
    /// Time budget in seconds for the measured runs, when the work is not
    /// given: the work is derived from a calibration pass.
    pub seconds: f64,
}

/// 1, 2, 4, … below `top`, then `top`, then `2 × top`.
pub fn thread_counts(top: usize) -> Vec<usize> {
    let top = top.max(1);
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n < top)
        .collect();
    v.extend([top, 2 * top]);
    v
}

/// The machine's hardware threads, as the standard library sees them.
pub fn hardware_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What the backend is in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A wasm-vmem instance shared by every thread.
    Vmem,
    /// A baseline: per-thread front ends (their own bookkeeping of blocks)
    /// over one shared heap — the process allocator or one talc.
    Baseline,
    /// One private wasm-vmem instance per thread: nothing shared.
    Control,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Vmem => "wasm-vmem",
            Kind::Baseline => "baseline",
            Kind::Control => "control",
        }
    }
}

struct Row<'h> {
    name: &'static str,
    kind: Kind,
    /// Thread `t` runs on `slots[t % slots.len()]`.
    slots: Vec<Box<dyn Backend + Sync + 'h>>,
}

/// Memory for one thread's share of the traces: the GC-like trace holds up
/// to four segments, with room for the pool's fragmentation.
const PER_THREAD: usize = 12 * SEGMENT;

/// `n` backends made by `f`, one per thread.
fn per_thread<'h, B: Backend + Sync + 'h>(
    n: usize,
    f: impl Fn() -> B,
) -> Vec<Box<dyn Backend + Sync + 'h>> {
    (0..n)
        .map(|_| Box::new(f()) as Box<dyn Backend + Sync + 'h>)
        .collect()
}

fn rows(talc: &Talc, max_threads: usize) -> Vec<Row<'_>> {
    let shared = SimMemory::new(PER_THREAD * max_threads + PER_THREAD);
    vec![
        Row {
            name: "wasm-vmem (MT)",
            kind: Kind::Vmem,
            slots: vec![Box::new(Vmem::<_, MultiThreaded>::new(
                "wasm-vmem (MT)",
                shared,
            ))],
        },
        Row {
            name: "wasm-vmem (MT, parking lock)",
            kind: Kind::Vmem,
            slots: vec![Box::new(Vmem::<_, MultiThreadedParking>::new(
                "wasm-vmem (MT, parking lock)",
                SimMemory::new(PER_THREAD * max_threads + PER_THREAD),
            ))],
        },
        Row {
            name: "seed design (MT)",
            kind: Kind::Baseline,
            slots: per_thread(max_threads, || Seed::new(true)),
        },
        Row {
            name: "alloc_zeroed (std)",
            kind: Kind::Baseline,
            slots: per_thread(max_threads, || {
                Plain::new("alloc_zeroed (std)", Global::wasm_like())
            }),
        },
        Row {
            name: "alloc_zeroed (talc)",
            kind: Kind::Baseline,
            slots: per_thread(max_threads, || Plain::new("alloc_zeroed (talc)", talc)),
        },
        Row {
            name: "control: private wasm-vmem per thread",
            kind: Kind::Control,
            slots: per_thread(max_threads, || {
                Vmem::<_, MultiThreaded>::new("private wasm-vmem", SimMemory::new(2 * PER_THREAD))
            }),
        },
    ]
}

/// One run: `threads` threads, released together by a barrier, each doing
/// `work` of `trace` on its slot; returns operations per second, timed from
/// the release to the last join.
fn run_once(row: &Row<'_>, trace: Trace, threads: usize, work: usize) -> f64 {
    let barrier = Barrier::new(threads + 1);
    let ops = AtomicU64::new(0);
    let seconds = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let b: &(dyn Backend + Sync) = row.slots[t % row.slots.len()].as_ref();
                let (barrier, ops) = (&barrier, &ops);
                s.spawn(move || {
                    barrier.wait();
                    ops.fetch_add(trace.run(b, t, work), Relaxed);
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            h.join().expect("a sweep thread panicked");
        }
        start.elapsed().as_secs_f64()
    });
    ops.into_inner() as f64 / seconds.max(1e-9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One backend's points for one trace: operations per second at each
/// thread count, every repetition.
struct Series {
    name: &'static str,
    kind: Kind,
    samples: Vec<Vec<f64>>,
}

impl Series {
    fn medians(&self) -> Vec<f64> {
        self.samples.iter().map(|s| median(s.clone())).collect()
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1, 5 and 15 minute load averages (Linux), to say how busy the
/// machine was: other work on the cores skews every thread count.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn json_list(v: impl IntoIterator<Item = f64>) -> String {
    v.into_iter()
        .map(|x| format!("{x:.4}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the sweep; returns the JSON (for `scripts/bench-report.py`) and a
/// plain-text table. Progress goes to stderr.
pub fn sweep(cfg: &Config) -> (String, String) {
    let wall = Instant::now();
    let load_before = load_average();
    let max_threads = cfg.threads.iter().copied().max().unwrap_or(1);
    let talc = Talc::new(PER_THREAD * max_threads + PER_THREAD);
    let rows = rows(&talc, max_threads);
    let reps = cfg.reps.max(1);

    // Warm-up and calibration: one short run of every backend at every
    // thread count (growth, first-touch page faults, allocator pools, and
    // the cost per unit of work of each point, for the time budget).
    let mut work = [0usize; 2];
    let mut planned = 0.0;
    for (i, &trace) in Trace::ALL.iter().enumerate() {
        if !cfg.traces.contains(&trace) {
            continue;
        }
        let probe = match trace {
            Trace::Contention => 400,
            Trace::Gc => 64,
        };
        let mut per_unit = 0.0;
        for &threads in &cfg.threads {
            for row in &rows {
                let start = Instant::now();
                run_once(row, trace, threads, probe);
                per_unit += start.elapsed().as_secs_f64() / probe as f64;
            }
        }
        let share = cfg.seconds / cfg.traces.len() as f64;
        work[i] = cfg.work[i].unwrap_or_else(|| {
            let min = if trace == Trace::Gc { 64 } else { 100 };
            ((share / (per_unit * reps as f64)) as usize).max(min)
        });
        planned += per_unit * work[i] as f64 * reps as f64;
        eprintln!(
            "sweep: {} — {} {} per thread, {reps} repetitions, about {:.0} s",
            trace.name(),
            work[i],
            trace.unit(),
            per_unit * work[i] as f64 * reps as f64
        );
    }

    let mut results: Vec<(Trace, usize, usize, Vec<Series>)> = Vec::new();
    for (i, &trace) in Trace::ALL.iter().enumerate() {
        if !cfg.traces.contains(&trace) {
            continue;
        }
        let mut series: Vec<Series> = rows
            .iter()
            .map(|r| Series {
                name: r.name,
                kind: r.kind,
                samples: vec![Vec::new(); cfg.threads.len()],
            })
            .collect();
        // The calibration is short and may miss what long runs meet (a
        // lock holder descheduled, a busy machine): past twice the trace's
        // share of the budget, no further repetition starts.
        let started = Instant::now();
        let deadline = 2.0 * cfg.seconds / cfg.traces.len() as f64;
        let mut done = 0;
        while done < reps {
            for (k, &threads) in cfg.threads.iter().enumerate() {
                for (row, s) in rows.iter().zip(&mut series) {
                    s.samples[k].push(run_once(row, trace, threads, work[i]));
                }
            }
            done += 1;
            eprintln!("sweep: {} repetition {done}/{reps} done", trace.name());
            if cfg.work[i].is_none() && started.elapsed().as_secs_f64() > deadline && done < reps {
                eprintln!(
                    "sweep: {} past twice its share of the budget: {done} repetitions",
                    trace.name()
                );
                break;
            }
        }
        results.push((trace, work[i], done, series));
    }
    let taken = wall.elapsed().as_secs_f64();
    let load_after = load_average();

    // Report.
    let top = cfg.top;
    let over = cfg.threads.iter().copied().filter(|&t| t > top).max();
    let mut json = format!(
        "{{\"machine\":{{\"available_parallelism\":{},\"top_threads\":{top},\"cpu\":{},\"os\":{},\"arch\":{},\"load_before\":{},\"load_after\":{}}}",
        hardware_threads(),
        json_str(&cpu_model()),
        json_str(std::env::consts::OS),
        json_str(std::env::consts::ARCH),
        json_str(&load_before),
        json_str(&load_after)
    );
    let _ = write!(
        json,
        ",\"config\":{{\"threads\":[{}],\"reps\":{reps},\"seconds_planned\":{planned:.1},\"seconds_taken\":{taken:.1}}}",
        cfg.threads
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    json.push_str(",\"traces\":[");
    let mut text = String::new();
    let _ = writeln!(
        text,
        "thread sweep: {} hardware threads ({}), top {top}{}; million operations/s, median of {reps} interleaved runs, (× 1 thread)",
        hardware_threads(),
        cpu_model(),
        over.map_or(String::new(), |o| format!(", oversubscribed {o}"))
    );
    for (n, (trace, work, done, series)) in results.iter().enumerate() {
        let _ = writeln!(
            text,
            "\n== {} trace, {work} {} per thread, median of {done} ==",
            trace.name(),
            trace.unit()
        );
        let _ = write!(text, "{:<38}", "backend \\ threads");
        for &t in &cfg.threads {
            let _ = write!(
                text,
                "{:>17}",
                if t > top {
                    format!("{t} (over)")
                } else {
                    t.to_string()
                }
            );
        }
        text.push('\n');
        let _ = write!(
            json,
            "{}{{\"trace\":\"{}\",\"unit\":\"{}\",\"work_per_thread\":{work},\"reps_done\":{done},\"series\":[",
            if n > 0 { "," } else { "" },
            trace.name(),
            trace.unit()
        );
        let medians: Vec<Vec<f64>> = series.iter().map(Series::medians).collect();
        for (j, (s, m)) in series.iter().zip(&medians).enumerate() {
            let _ = write!(text, "{:<38}", s.name);
            for &x in m {
                let _ = write!(text, "{:>17}", format!("{:.3} ({:.2})", x / 1e6, x / m[0]));
            }
            text.push('\n');
            let _ = write!(
                json,
                "{}{{\"name\":{},\"kind\":\"{}\",\"mops\":[{}],\"ratio_1t\":[{}],\"samples_mops\":[{}]}}",
                if j > 0 { "," } else { "" },
                json_str(s.name),
                s.kind.name(),
                json_list(m.iter().map(|x| x / 1e6)),
                json_list(m.iter().map(|x| x / m[0])),
                s.samples
                    .iter()
                    .map(|v| format!("[{}]", json_list(v.iter().map(|x| x / 1e6))))
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
        json.push_str("],\"ratios\":[");
        // wasm-vmem (each lock) against every other backend, at the top
        // thread count and oversubscribed.
        let mut first = true;
        for threads in [Some(top), over].into_iter().flatten() {
            let Some(k) = cfg.threads.iter().position(|&t| t == threads) else {
                continue;
            };
            let _ = writeln!(
                text,
                "at {threads} threads{}:",
                if threads > top {
                    " (oversubscribed)"
                } else {
                    ""
                }
            );
            for (a, sa) in series
                .iter()
                .enumerate()
                .filter(|(_, s)| s.kind == Kind::Vmem)
            {
                let parts: Vec<String> = series
                    .iter()
                    .enumerate()
                    .filter(|&(b, _)| b != a)
                    .map(|(b, sb)| {
                        let r = medians[a][k] / medians[b][k];
                        let _ = write!(
                            json,
                            "{}{{\"threads\":{threads},\"of\":{},\"to\":{},\"ratio\":{r:.4}}}",
                            if first { "" } else { "," },
                            json_str(sa.name),
                            json_str(sb.name)
                        );
                        first = false;
                        format!("÷ {} {r:.2}", sb.name)
                    })
                    .collect();
                let _ = writeln!(text, "  {}: {}", sa.name, parts.join("; "));
            }
        }
        json.push_str("]}");
    }
    json.push_str("]}");
    let _ = writeln!(
        text,
        "\n(measured runs planned {planned:.0} s; the whole sweep took {taken:.0} s; \
         load average before: {load_before}, after: {load_after})"
    );
    (json, text)
}
