//! The browser demo of wasm-vmem: a GC-like workload on every rayon thread
//! and on the main thread, over the module's own linear memory, with live
//! figures for the page; and the benchmarks of `benches/` in this module,
//! for the bench page.
//!
//! The workload lives in [`workload`] and runs natively too (`cargo test -p
//! wasm-vmem-web`), over any `LinearMemory`; this file only binds it to the
//! page. The demo's instance is its own (not `wasm_vmem::global()`): the
//! module's memory wrapped in a [`flaky::FlakyMemory`], which refuses the
//! fraction of `memory.grow` calls that the page asks for (`?failGrow=`;
//! none by default).

pub mod flaky;
pub mod workload;

#[cfg(target_arch = "wasm32")]
pub use bindings::*;

#[cfg(target_arch = "wasm32")]
mod bindings {
    use crate::flaky::FlakyMemory;
    use crate::workload::{Board, Worker};
    use wasm_bindgen::prelude::*;
    use wasm_vmem::sys::Wasm32Memory;

    #[cfg(feature = "threads")]
    pub use wasm_bindgen_rayon::init_thread_pool;

    static BOARD: Board = Board::new();

    /// The demo's instance: over memory 0, like `wasm_vmem::global()`, but
    /// through a [`FlakyMemory`] (the multithreaded instance is `Sync` by
    /// itself; the single-threaded one gets its `Sync` below).
    struct Instance(wasm_vmem::Vmem<FlakyMemory<Wasm32Memory>>);

    // SAFETY: without the `threads` feature this module is built without
    // `+atomics` (the library refuses the other combinations at compile
    // time), so its memory cannot be shared and it runs on one thread only.
    #[cfg(not(feature = "threads"))]
    unsafe impl Sync for Instance {}

    static VMEM: Instance = Instance(wasm_vmem::Vmem::new(FlakyMemory::new(Wasm32Memory::BUILD)));

    fn vmem() -> &'static wasm_vmem::Vmem<FlakyMemory<Wasm32Memory>> {
        &VMEM.0
    }

    /// "multithreaded" or "single-threaded": the build this module is.
    #[wasm_bindgen]
    pub fn build_kind() -> String {
        if cfg!(feature = "threads") {
            "multithreaded"
        } else {
            "single-threaded"
        }
        .into()
    }

    /// Starts a run: one worker on every thread of the rayon pool
    /// (multithreaded build) and one for the main thread, driven by
    /// [`step_main`]. Returns at once: the main thread never waits for the
    /// pool. Returns the number of pool workers started (0 in the
    /// single-threaded build). Call it again only once the previous run is
    /// done.
    #[wasm_bindgen]
    pub fn start() -> usize {
        #[cfg(feature = "threads")]
        let workers = rayon::current_num_threads().min(crate::workload::MAX_WORKERS - 1);
        #[cfg(not(feature = "threads"))]
        let workers = 0;
        BOARD.reset(workers);
        vmem().memory().reset_counts();
        #[cfg(feature = "threads")]
        rayon::spawn_broadcast(move |ctx| {
            // One worker per pool thread (beyond MAX_WORKERS - 1, none).
            if ctx.index() < workers {
                let mut worker = Worker::new(&BOARD, ctx.index() + 1, Some(ctx.index()));
                while worker.step(vmem(), 4) {}
            }
        });
        workers
    }

    /// Makes `rate` (0 ..= 1) of the instance's `memory.grow` calls fail
    /// from now on (failure injection for the soak; 0: none).
    #[wasm_bindgen]
    pub fn set_fail_grow(rate: f64) {
        vmem().memory().set_failure_rate(rate);
    }

    /// Sets how many 2 MiB segments each worker keeps.
    #[wasm_bindgen]
    pub fn set_heap_target(segments: usize) {
        BOARD.set_heap_target(segments);
    }

    /// Asks every worker to release its heap and finish.
    #[wasm_bindgen]
    pub fn stop() {
        BOARD.stop();
    }

    thread_local! {
        static MAIN: core::cell::RefCell<Option<Worker<'static>>> = const { core::cell::RefCell::new(None) };
    }

    /// Runs up to `collections` collections of the main thread's own worker
    /// (slot 0) and returns whether it has more to do: the main thread
    /// calls the crate too, in short slices between frames, and never
    /// blocks (the crate's lock only spins).
    #[wasm_bindgen]
    pub fn step_main(collections: u32) -> bool {
        MAIN.with(|main| {
            let mut main = main.borrow_mut();
            if !main.as_ref().is_some_and(Worker::is_current) {
                *main = Some(Worker::new(&BOARD, 0, None));
            }
            main.as_mut()
                .is_some_and(|worker| worker.step(vmem(), collections))
        })
    }

    /// The figures so far, as JSON: statistics, limits, per-worker
    /// operations, verification failures, refused reservations and
    /// recoveries, the memory's grows (carried out, injected failures,
    /// refused by the engine; since [`start`]), threads used, and `done`.
    #[wasm_bindgen]
    pub fn snapshot() -> String {
        BOARD.to_json(&vmem().stats(), &vmem().limits(), &vmem().memory().counts())
    }

    /// Reserves one page, fills it with `byte` and returns its address, for
    /// the page to read back through a view of the (possibly grown) shared
    /// memory. Returns 0 when the reservation is refused; the board counts
    /// why (`OutOfMemory` is expected while grows fail; anything else is
    /// an error).
    #[wasm_bindgen]
    pub fn probe(byte: u8) -> usize {
        let result = vmem().reserve(wasm_vmem::PAGE_SIZE, 1);
        BOARD.note_probe(result.map(|_| ()));
        match result {
            Ok(p) => {
                // SAFETY: a page just reserved by this call, committed.
                unsafe { p.as_ptr().write_bytes(byte, wasm_vmem::PAGE_SIZE) };
                p.as_ptr() as usize
            }
            Err(_) => 0,
        }
    }

    #[wasm_bindgen]
    extern "C" {
        /// `performance.now()`: milliseconds (wasm32-unknown-unknown has no
        /// clock of its own). Exists on the page and in workers.
        #[wasm_bindgen(js_namespace = performance, js_name = now)]
        fn performance_now() -> f64;
    }

    /// Runs the GC-like and churn benchmarks of `benches/` (docs/DESIGN.md §7)
    /// on this module's build: wasm-vmem over this module's memory against
    /// the seed design and `alloc_zeroed` over the module's allocator and
    /// over talc. Returns `{"figures": …, "text": …}` as JSON: the same
    /// figures as the native run (`scripts/bench-report.py` reads both) and
    /// a plain-text table. Takes seconds: call it from a worker, never from
    /// the page's main thread. `smoke` runs tiny traces.
    #[wasm_bindgen]
    pub fn bench(smoke: bool) -> String {
        use wasm_vmem_bench::figures::{self, Sizes};
        // The traces take milliseconds here (no first-touch page faults as
        // in the native simulation): more repetitions steady the medians.
        let sizes = if smoke {
            Sizes::SMOKE
        } else {
            Sizes {
                reps: 21,
                ..Sizes::FULL
            }
        };
        let (json, text) = figures::all(sizes, &[cfg!(feature = "threads")], || {
            performance_now() / 1e3
        });
        let text: String = text
            .chars()
            .flat_map(|c| match c {
                '"' => vec!['\\', '"'],
                '\\' => vec!['\\', '\\'],
                '\n' => vec!['\\', 'n'],
                c => vec![c],
            })
            .collect();
        format!("{{\"figures\":{json},\"text\":\"{text}\"}}")
    }

    /// The thread sweep of the contention trace in the multithreaded
    /// build (BENCHMARKS.md, "Throughput against threads"): 1, 2, 4, … up
    /// to `max_threads` threads of the rayon pool (which must have that
    /// many), each doing `rounds` rounds, medians of `reps` interleaved
    /// runs, for wasm-vmem (one instance over this module's memory shared
    /// by all threads), the seed design and `alloc_zeroed` over the
    /// module's allocator and over talc (per-thread bookkeeping over the
    /// shared heap, as natively), and one private wasm-vmem instance per
    /// thread. Returns JSON: `{"threads": […], "rounds", "reps",
    /// "series": [{"name", "kind", "mops": […]}]}`. The caller waits for
    /// the pool: call it from a worker, never from the page's main thread.
    #[cfg(feature = "threads")]
    #[wasm_bindgen]
    pub fn bench_sweep(max_threads: usize, rounds: usize, reps: usize) -> String {
        use wasm_vmem::policy::MultiThreaded;
        use wasm_vmem_bench::backends::{Global, Plain, Seed, Talc, Vmem};
        use wasm_vmem_bench::figures::{memory, MEMORY};
        use wasm_vmem_bench::traces::contention_rounds;
        use wasm_vmem_bench::Backend;

        type Slots<'a> = Vec<Box<dyn Backend + Sync + 'a>>;
        let max_threads = max_threads.clamp(1, rayon::current_num_threads());
        let talc = Talc::new(MEMORY / 4);
        fn each<'h, B: Backend + Sync + 'h>(n: usize, f: impl Fn() -> B) -> Slots<'h> {
            (0..n)
                .map(|_| Box::new(f()) as Box<dyn Backend + Sync + 'h>)
                .collect()
        }
        let rows: Vec<(&str, &str, Slots<'_>)> = vec![
            (
                "wasm-vmem (MT)",
                "wasm-vmem",
                vec![Box::new(Vmem::<_, MultiThreaded>::new(
                    "wasm-vmem (MT)",
                    memory(),
                ))],
            ),
            (
                "seed design (MT)",
                "baseline",
                each(max_threads, || Seed::new(true)),
            ),
            (
                "alloc_zeroed (std)",
                "baseline",
                each(max_threads, || {
                    Plain::new("alloc_zeroed (std)", Global::wasm_like())
                }),
            ),
            (
                "alloc_zeroed (talc)",
                "baseline",
                each(max_threads, || Plain::new("alloc_zeroed (talc)", &talc)),
            ),
            (
                "control: private wasm-vmem per thread",
                "control",
                each(max_threads, || {
                    Vmem::<_, MultiThreaded>::new("private", memory())
                }),
            ),
        ];
        let threads: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
            .take_while(|&n| n < max_threads)
            .chain([max_threads])
            .collect();
        // Threads `0 .. n` of the pool run the trace, the others return at
        // once; ops per second from the call to the return of all.
        let run = |slots: &Slots<'_>, n: usize, rounds: usize| {
            let start = performance_now();
            rayon::broadcast(|ctx| {
                if ctx.index() < n {
                    contention_rounds(
                        slots[ctx.index() % slots.len()].as_ref(),
                        ctx.index(),
                        rounds,
                    );
                }
            });
            (n * rounds * 4) as f64 / ((performance_now() - start) / 1e3).max(1e-9)
        };
        for (_, _, slots) in &rows {
            run(slots, max_threads, rounds / 4 + 1);
        }
        let mut samples = vec![vec![Vec::new(); threads.len()]; rows.len()];
        for _ in 0..reps.max(1) {
            for (k, &n) in threads.iter().enumerate() {
                for ((_, _, slots), s) in rows.iter().zip(&mut samples) {
                    s[k].push(run(slots, n, rounds));
                }
            }
        }
        let series: Vec<String> = rows
            .iter()
            .zip(samples)
            .map(|((name, kind, _), s)| {
                let mops: Vec<String> = s
                    .into_iter()
                    .map(|mut v| {
                        v.sort_by(f64::total_cmp);
                        format!("{:.4}", v[v.len() / 2] / 1e6)
                    })
                    .collect();
                format!(
                    "{{\"name\":\"{name}\",\"kind\":\"{kind}\",\"mops\":[{}]}}",
                    mops.join(",")
                )
            })
            .collect();
        let list: Vec<String> = threads.iter().map(|t| t.to_string()).collect();
        format!(
            "{{\"threads\":[{}],\"rounds\":{rounds},\"reps\":{},\"series\":[{}]}}",
            list.join(","),
            reps.max(1),
            series.join(",")
        )
    }

    /// Releases a page returned by [`probe`].
    #[wasm_bindgen]
    pub fn unprobe(addr: usize) -> bool {
        // SAFETY: `addr` came from `probe` and the page is not used again;
        // a wrong address is refused by the crate.
        unsafe {
            vmem()
                .release(addr as *mut u8, wasm_vmem::PAGE_SIZE)
                .is_ok()
        }
    }
}
