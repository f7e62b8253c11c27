//! The thread sweep (BENCHMARKS.md, "Throughput against threads"):
//! throughput of the contention and per-thread GC-like traces at 1, 2, 4,
//! … threads up to the hardware threads and at twice that, for wasm-vmem
//! (MT, spinlock and parking lock), the baselines and one private instance
//! per thread. Standalone: build it once, copy the binary, run it anywhere.
//!
//! ```text
//! sweep [--seconds S] [--reps N] [--max-threads N] [--threads 1,2,4]
//!       [--rounds N] [--collections N] [--traces contention,gc]
//!       [--out PATH] [--smoke]
//! ```
//!
//! - `--seconds S`: time budget of the measured runs (default 60); the work
//!   per thread is derived from a calibration pass, unless `--rounds`
//!   (contention trace) or `--collections` (GC-like trace) fix it;
//! - `--reps N`: interleaved repetitions, each point their median (7);
//! - `--max-threads N`: the top thread count (default: the hardware
//!   threads); the sweep runs 1, 2, 4, … N and 2N (oversubscribed);
//!   `--threads` gives the counts instead (the largest above the top
//!   counts as oversubscribed);
//! - `--out PATH`: the JSON (default target/sweep.json when run from the
//!   repository, else sweep.json);
//! - `--smoke`: a few seconds, 1 and 2 threads, numbers meaningless.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use wasm_vmem_bench::sweep::{hardware_threads, sweep, thread_counts, Config, Trace};

    let usage = "usage: sweep [--seconds S] [--reps N] [--max-threads N] [--threads 1,2,4] \
                 [--rounds N] [--collections N] [--traces contention,gc] [--out PATH] [--smoke]";
    let fail = |msg: String| -> ! {
        eprintln!("sweep: {msg}\n{usage}");
        std::process::exit(2)
    };
    let mut cfg = Config {
        threads: Vec::new(),
        top: hardware_threads(),
        reps: 7,
        traces: Trace::ALL.to_vec(),
        work: [None, None],
        seconds: 60.0,
    };
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(format!("{name} needs a value")))
        };
        let number = |name: &str, v: String| -> usize {
            v.parse()
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or_else(|| fail(format!("{name}: not a positive number: {v}")))
        };
        match arg.as_str() {
            "--seconds" => {
                let v = value("--seconds");
                cfg.seconds = v
                    .parse()
                    .ok()
                    .filter(|&s: &f64| s > 0.0)
                    .unwrap_or_else(|| fail(format!("--seconds: {v}")));
            }
            "--reps" => cfg.reps = number("--reps", value("--reps")),
            "--max-threads" => cfg.top = number("--max-threads", value("--max-threads")),
            "--rounds" => cfg.work[0] = Some(number("--rounds", value("--rounds"))),
            "--collections" => cfg.work[1] = Some(number("--collections", value("--collections"))),
            "--threads" => {
                cfg.threads = value("--threads")
                    .split(',')
                    .map(|t| number("--threads", t.trim().to_string()))
                    .collect();
            }
            "--traces" => {
                cfg.traces = value("--traces")
                    .split(',')
                    .map(|t| {
                        Trace::ALL
                            .into_iter()
                            .find(|x| x.name() == t.trim())
                            .unwrap_or_else(|| fail(format!("--traces: unknown trace {t}")))
                    })
                    .collect();
            }
            "--out" => out = Some(value("--out")),
            "--smoke" => {
                cfg.threads = vec![1, 2];
                cfg.top = 1;
                cfg.reps = 1;
                cfg.work = [Some(50), Some(64)];
            }
            "-h" | "--help" => {
                println!("{usage}");
                return;
            }
            _ => fail(format!("unknown argument {arg}")),
        }
    }
    if cfg.threads.is_empty() {
        cfg.threads = thread_counts(cfg.top);
    }
    cfg.threads.sort_unstable();
    cfg.threads.dedup();
    let out = out.unwrap_or_else(|| {
        if std::path::Path::new("target").is_dir() {
            "target/sweep.json".into()
        } else {
            "sweep.json".into()
        }
    });
    let (json, text) = sweep(&cfg);
    println!("{text}");
    std::fs::write(&out, json).unwrap_or_else(|e| fail(format!("writing {out}: {e}")));
    println!("sweep written to {out}");
}

/// No threads to sweep in wasm32-unknown-unknown: the browser's sweep is
/// the bench page's (web/bench.html).
#[cfg(target_arch = "wasm32")]
fn main() {}
