//! The global-allocator benchmarks (BENCHMARKS.md, "Global allocator"):
//! (a) small objects in the steady state on one thread and across threads,
//! blocks of a few KiB in the steady state, the small-object churn trace's
//! peak memory, (b) large zeroed vectors,
//! (c) the phase workload's peak memory, realloc growth, and the
//! `LARGE_MIN` threshold, for wasm-vmem's allocator and its baselines as
//! instances, interleaved.
//!
//! ```text
//! alloc [--smoke] [--reps N] [--parts steady,mid,small,churn,large,phase,realloc,threshold]
//!       [--out PATH] [--only BACKEND,...]
//! alloc --churn-child BACKEND --churn MAX_LIVE,CYCLES,SEED
//! ```
//!
//! `--only` keeps those backends in (a), (b), the steady state and the
//! churn (names as in the tables), for profiling one. `--churn-child` is
//! how the churn part runs each backend in a process of its own: it prints
//! that process's figures as JSON.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use wasm_vmem_bench::alloc::native::{churn_child, hardware_threads, run, Config};

    let usage = "usage: alloc [--smoke] [--reps N] [--parts steady,mid,small,churn,large,phase,realloc,threshold] [--out PATH] [--only BACKEND,...]";
    let mut cfg = Config::full(hardware_threads());
    let mut parts = vec![
        "steady",
        "mid",
        "small",
        "churn",
        "large",
        "phase",
        "realloc",
        "threshold",
    ];
    let mut child = None;
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
            "--churn-child" => child = Some(args.next().expect("--churn-child needs a backend")),
            "--churn" => {
                let v: Vec<u64> = args
                    .next()
                    .expect("--churn needs MAX_LIVE,CYCLES,SEED")
                    .split(',')
                    .map(|x| x.parse().expect("a number"))
                    .collect();
                assert_eq!(v.len(), 3, "--churn needs MAX_LIVE,CYCLES,SEED");
                cfg.churn.max_live = v[0] as usize;
                cfg.churn.cycles = v[1] as usize;
                cfg.churn.seed = v[2];
            }
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
    if let Some(name) = child {
        println!("{}", churn_child(&name, &cfg));
        return;
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
