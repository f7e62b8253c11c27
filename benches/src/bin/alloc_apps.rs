//! Real crates' work on the process's global allocator (BENCHMARKS.md,
//! "Global allocator", (d)): rayon's `par_sort` of 10^7 `u64`, `serde_json`
//! on a generated document of about 50 MB (serialize and parse), and an
//! image-like pipeline (4096×4096 RGBA buffers: allocate, blur into a new
//! buffer, free). One binary per allocator, chosen by a feature of this
//! crate (`alloc-vmem`, `alloc-dlmalloc`, `alloc-talc`, `alloc-system`,
//! `alloc-mimalloc`, `alloc-rusty`);
//! `scripts/bench-alloc.sh` builds them all and runs them interleaved.
//!
//! ```text
//! alloc_apps WORKLOAD [--smoke]     WORKLOAD: sort | json | image
//! ```
//!
//! Prints one JSON line: the allocator, the workload, the seconds and the
//! peak resident memory (`VmHWM`).

#[cfg(all(feature = "alloc-vmem", not(target_arch = "wasm32")))]
#[global_allocator]
static ALLOC: wasm_vmem::mt::Alloc<wasm_vmem::sys::SimMemory> =
    wasm_vmem::mt::Alloc::new(wasm_vmem::sys::SimMemory::lazy(16 << 30));

#[cfg(all(feature = "alloc-dlmalloc", not(target_arch = "wasm32")))]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// talc over one arena taken from the OS on first use (address space,
/// touched only as used), as on wasm, where it grows one contiguous memory.
#[cfg(all(feature = "alloc-talc", not(target_arch = "wasm32")))]
mod talc_global {
    use std::alloc::{GlobalAlloc, Layout, System};

    const ARENA: usize = 16 << 30;

    /// Claims the arena on the first call, fails afterwards.
    #[derive(Debug)]
    pub struct OsArena {
        claimed: bool,
    }

    // SAFETY: the arena comes from the system allocator, not this one, is
    // claimed once and never freed.
    unsafe impl talc::source::Source for OsArena {
        fn acquire<B: talc::base::binning::Binning>(
            talc: &mut talc::base::Talc<Self, B>,
            _: Layout,
        ) -> Result<(), ()> {
            if talc.source.claimed {
                return Err(());
            }
            talc.source.claimed = true;
            // Alignment 8: `calloc`, untouched pages from the OS.
            // SAFETY: non-zero size.
            let base = unsafe { System.alloc_zeroed(Layout::from_size_align(ARENA, 8).unwrap()) };
            if base.is_null() {
                return Err(());
            }
            // SAFETY: the arena is this allocator's alone, forever.
            unsafe { talc.claim(base, ARENA) }.map(|_| ()).ok_or(())
        }
    }

    #[global_allocator]
    static ALLOC: talc::TalcLock<wasm_vmem::lock::SpinLock, OsArena> =
        talc::TalcLock::new(OsArena { claimed: false });
}

#[cfg(all(feature = "alloc-system", not(target_arch = "wasm32")))]
#[global_allocator]
static ALLOC: std::alloc::System = std::alloc::System;

/// mimalloc (C, the `mimalloc` crate, its default options).
#[cfg(all(feature = "alloc-mimalloc", not(target_arch = "wasm32")))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// rusty_alloc (a pure-Rust remake of mimalloc, `rusty_alloc-api`).
#[cfg(all(feature = "alloc-rusty", not(target_arch = "wasm32")))]
#[global_allocator]
static ALLOC: rusty_alloc_api::RustyAlloc = rusty_alloc_api::RustyAlloc;

/// The allocator's name in the output.
const NAME: &str = if cfg!(feature = "alloc-vmem") {
    "wasm-vmem (MT)"
} else if cfg!(feature = "alloc-dlmalloc") {
    "dlmalloc"
} else if cfg!(feature = "alloc-talc") {
    "talc"
} else if cfg!(feature = "alloc-mimalloc") {
    "mimalloc"
} else if cfg!(feature = "alloc-rusty") {
    "rusty_alloc"
} else {
    "system"
};

#[cfg(not(target_arch = "wasm32"))]
mod work {
    use rayon::prelude::*;
    use serde_json::{json, Value};

    /// `par_sort` of `n` pseudo-random `u64`s; returns a checksum.
    pub fn sort(n: usize) -> u64 {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut v: Vec<u64> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect();
        v.par_sort();
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        v[n / 2]
    }

    /// A document of `records` records built as a `Value`, serialized, and
    /// parsed back; returns the text's length.
    pub fn json(records: usize) -> usize {
        let doc: Value = (0..records)
            .map(|i| {
                json!({
                    "id": i,
                    "name": format!("record number {i}"),
                    "email": format!("user{i}@example.org"),
                    "active": i % 3 == 0,
                    "score": i as f64 * 0.37,
                    "tags": ["alpha", "beta", format!("t{}", i % 97)],
                    "history": (0..(i % 8)).map(|k| json!({"t": k * 1000 + i, "v": k})).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>()
            .into();
        let text = serde_json::to_string(&doc).unwrap();
        drop(doc);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back.as_array().map(Vec::len), Some(records));
        text.len()
    }

    /// `passes` times: a new `side`×`side` RGBA buffer gets a 3×3 box blur
    /// of the previous one (rows in parallel), which is then freed.
    pub fn image(side: usize, passes: usize) -> u64 {
        let row = side * 4;
        let mut img = vec![0u8; side * row];
        img.par_chunks_mut(row).enumerate().for_each(|(y, r)| {
            for (i, p) in r.iter_mut().enumerate() {
                *p = ((i * 7 + y * 13) % 251) as u8;
            }
        });
        for _ in 0..passes {
            let mut out = vec![0u8; side * row];
            out.par_chunks_mut(row).enumerate().for_each(|(y, o)| {
                let ys = [y.saturating_sub(1), y, (y + 1).min(side - 1)];
                for x in 0..side {
                    let xs = [x.saturating_sub(1), x, (x + 1).min(side - 1)];
                    for c in 0..4 {
                        let mut s = 0u32;
                        for yy in ys {
                            for xx in xs {
                                s += u32::from(img[yy * row + xx * 4 + c]);
                            }
                        }
                        o[x * 4 + c] = (s / 9) as u8;
                    }
                }
            });
            img = out;
        }
        img.iter().step_by(4099).map(|&b| u64::from(b)).sum()
    }

    /// Peak resident memory of this process, in bytes (`VmHWM`).
    pub fn peak_rss() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let Some(workload) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: alloc_apps sort|json|image [--smoke]");
        std::process::exit(2)
    };
    let t0 = std::time::Instant::now();
    let check = match (workload.as_str(), smoke) {
        ("sort", false) => work::sort(10_000_000),
        ("sort", true) => work::sort(100_000),
        ("json", false) => work::json(240_000) as u64,
        ("json", true) => work::json(3_000) as u64,
        ("image", false) => work::image(4096, 3),
        ("image", true) => work::image(256, 2),
        _ => {
            eprintln!("alloc_apps: no workload {workload}");
            std::process::exit(2)
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"alloc": NAME, "workload": workload, "secs": secs,
                           "peak_rss": work::peak_rss(), "check": check,
                           "threads": rayon::current_num_threads()})
    );
}

#[cfg(target_arch = "wasm32")]
fn main() {
    let _ = NAME;
}
