//! The global-allocator benchmarks (BENCHMARKS.md, "Global allocator"):
//! (a) small objects across threads, (b) large zeroed vectors, (c) the
//! phase workload's peak memory, realloc growth, and the `LARGE_MIN` threshold, for
//! wasm-vmem's allocator and its baselines as instances, interleaved.
//!
//! ```text
//! alloc [--smoke] [--reps N] [--parts small,large,phase,realloc,threshold] [--out PATH]
//!       [--only BACKEND,...]
//! ```
//!
//! `--only` keeps those backends in (a) and (b) (names as in the tables),
//! for profiling one.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use wasm_vmem_bench::alloc::native::{hardware_threads, run, Config};

    let usage =
        "usage: alloc [--smoke] [--reps N] [--parts small,large,phase,realloc,threshold] [--out PATH] [--only BACKEND,...]";
    let mut cfg = Config::full(hardware_threads());
    let mut parts = vec!["small", "large", "phase", "realloc", "threshold"];
    let mut out = String::from("target/bench-alloc.json");
    let mut args = std::env::args().skip(1);
    let mut parts_arg = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--smoke" => {
                let reps = cfg.reps;
                cfg = Config::smoke(hardware_threads());
                cfg.reps = reps.min(cfg.reps);
            }
            "--reps" => {
                cfg.reps = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| panic!("--reps needs a positive number\n{usage}"))
            }
            "--parts" => parts_arg = Some(args.next().expect("--parts needs a list")),
            "--out" => out = args.next().expect("--out needs a path"),
            "--only" => {
                cfg.only = args
                    .next()
                    .expect("--only needs a list")
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            _ => {
                eprintln!("alloc: unknown argument {a}\n{usage}");
                std::process::exit(2);
            }
        }
    }
    if let Some(p) = &parts_arg {
        parts = p.split(',').collect();
    }
    let t0 = std::time::Instant::now();
    let v = run(&cfg, &parts, &mut |m| {
        eprintln!("[{:6.1} s] {m}", t0.elapsed().as_secs_f64())
    });
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap()).expect("write the JSON");
    eprintln!("alloc: wrote {out} in {:.1} s", t0.elapsed().as_secs_f64());
}

#[cfg(target_arch = "wasm32")]
fn main() {}
