//! The browser demo of wasm-vmem: a GC-like workload on every rayon thread
//! and on the main thread, over the module's own linear memory, with live
//! figures for the page; an allocator workload of ordinary Rust code
//! (collect, sort, maps, strings) with `wasm_vmem::Global` as the module's
//! global allocator; and the benchmarks of `benches/` in this module, for
//! the bench page.
//!
//! The workloads live in [`workload`] and [`alloc_work`] and run natively
//! too (`cargo test -p wasm-vmem-web`); this file only binds them to the
//! page. The GC workload runs over `wasm_vmem::global()`, the pool of the
//! global allocator, so the pages it releases serve `Vec`s afterwards; when
//! the page asks for failing grows (`?failGrow=`), it runs over an
//! instance of its own instead, over a [`flaky::FlakyMemory`] that refuses
//! that fraction of `memory.grow` calls.

pub mod alloc_work;
#[cfg(target_arch = "wasm32")]
pub mod allocators;
pub mod flaky;
pub mod workload;

#[cfg(target_arch = "wasm32")]
pub use bindings::*;

#[cfg(target_arch = "wasm32")]
mod bindings {
    use crate::flaky::{FlakyMemory, GrowCounts};
    use crate::workload::{Board, Worker};
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    use wasm_bindgen::prelude::*;
    use wasm_vmem::lock::SpinLock;
    use wasm_vmem::lock_api::{Mutex, RawMutex};
    use wasm_vmem::sys::Wasm32Memory;
    use wasm_vmem_bench::alloc::median;

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

    static FLAKY: Instance = Instance(wasm_vmem::Vmem::new(FlakyMemory::new(Wasm32Memory::BUILD)));

    fn flaky() -> &'static wasm_vmem::Vmem<FlakyMemory<Wasm32Memory>> {
        &FLAKY.0
    }

    /// The run's instance is [`flaky()`] (grows fail), not `global()`.
    static ON_FLAKY: AtomicBool = AtomicBool::new(false);
    /// `global().stats().grows` when the run started.
    static GROWS_AT_START: AtomicU64 = AtomicU64::new(0);

    /// Evaluates `$body` with `$vm` bound to the run's instance:
    /// `wasm_vmem::global()` (one pool with the global allocator), or the
    /// failure-injecting one while grows are to fail.
    macro_rules! with_pool {
        ($vm:ident => $body:expr) => {
            if ON_FLAKY.load(Relaxed) {
                let $vm = flaky();
                $body
            } else {
                let $vm = wasm_vmem::global();
                $body
            }
        };
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

    /// The name of this build's global allocator ("wasm-vmem" unless the
    /// module was built with another `alloc-*` feature).
    #[wasm_bindgen]
    pub fn global_allocator() -> String {
        crate::allocators::GLOBAL_NAME.into()
    }

    /// Starts a run: one worker on every thread of the rayon pool
    /// (multithreaded build) and one for the main thread, driven by
    /// [`step_main`]. Returns at once: the main thread never waits for the
    /// pool. Returns the number of pool workers started (0 in the
    /// single-threaded build). Call it again only once the previous run is
    /// done. The run is over `wasm_vmem::global()`, or over the
    /// failure-injecting instance if [`set_fail_grow`] set a rate above 0.
    #[wasm_bindgen]
    pub fn start() -> usize {
        ON_FLAKY.store(flaky().memory().counts().rate_ppm > 0, Relaxed);
        GROWS_AT_START.store(wasm_vmem::global().stats().grows, Relaxed);
        #[cfg(feature = "threads")]
        let workers = rayon::current_num_threads().min(crate::workload::MAX_WORKERS - 1);
        #[cfg(not(feature = "threads"))]
        let workers = 0;
        BOARD.reset(workers);
        flaky().memory().reset_counts();
        #[cfg(feature = "threads")]
        rayon::spawn_broadcast(move |ctx| {
            // One worker per pool thread (beyond MAX_WORKERS - 1, none).
            if ctx.index() < workers {
                let mut worker = Worker::new(&BOARD, ctx.index() + 1, Some(ctx.index()));
                while with_pool!(vm => worker.step(vm, 4)) {}
            }
        });
        workers
    }

    /// Makes `rate` (0 ..= 1) of the failure-injecting instance's
    /// `memory.grow` calls fail (for the soak), and the next [`start`] run
    /// over that instance; 0: none, and the next run is over
    /// `wasm_vmem::global()`.
    #[wasm_bindgen]
    pub fn set_fail_grow(rate: f64) {
        flaky().memory().set_failure_rate(rate);
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
                .is_some_and(|worker| with_pool!(vm => worker.step(vm, collections)))
        })
    }

    /// The figures so far, as JSON: statistics, limits, per-worker
    /// operations, verification failures, refused reservations and
    /// recoveries, the memory's grows (carried out, injected failures,
    /// refused by the engine; since [`start`]), threads used, `done`, and
    /// the global allocator's figures (`alloc`; `alloc_held`: the bytes of
    /// the run's instance that the allocator holds).
    ///
    /// Over `global()`, which has no counting memory around it, the grows
    /// are its `Stats::grows` since [`start`] and the engine's refusals the
    /// reservations refused with `OutOfMemory` (nothing else refuses them
    /// there).
    #[wasm_bindgen]
    pub fn snapshot() -> String {
        // Both read before anything is allocated for the answer.
        let a = wasm_vmem::Global.stats();
        if ON_FLAKY.load(Relaxed) {
            let vm = flaky();
            BOARD.to_json(&vm.stats(), &vm.limits(), &vm.memory().counts(), &a, false)
        } else {
            let vm = wasm_vmem::global();
            let s = vm.stats();
            let grown = s.grows - GROWS_AT_START.load(Relaxed);
            let refused = BOARD.out_of_memory();
            let g = GrowCounts {
                rate_ppm: 0,
                calls: grown + refused,
                grown,
                injected: 0,
                refused,
            };
            BOARD.to_json(&s, &vm.limits(), &g, &a, true)
        }
    }

    /// The global allocator's figures (`wasm_vmem::Global.stats()`, which
    /// count only what went through it: all of the module's allocations
    /// in the default build) and linear memory's size, as JSON.
    #[wasm_bindgen]
    pub fn alloc_stats() -> String {
        let figures = crate::workload::alloc_json(&wasm_vmem::Global.stats());
        // The same object, with two fields more in front.
        format!(
            "{{\"global_allocator\":\"{}\",\"linear\":{},{}",
            crate::allocators::GLOBAL_NAME,
            linear_bytes(),
            &figures[1..]
        )
    }

    fn linear_bytes() -> usize {
        core::arch::wasm32::memory_size::<0>() * wasm_vmem::WASM_PAGE_SIZE
    }

    /// Allocates a zeroed `Vec<u8>` of `bytes` and grows a `Vec<u64>` to
    /// `bytes` by pushing (reallocations), checks the first reads zero,
    /// writes both, drops them, and returns as JSON linear memory's size
    /// before and after (after the GC workload released its segments, the
    /// global allocator serves them from those pages: it does not grow)
    /// and whether the vector read zero.
    #[wasm_bindgen]
    pub fn vec_reuse(bytes: usize) -> String {
        let before = linear_bytes();
        let free = {
            let s = wasm_vmem::global().stats();
            s.free_zero_bytes + s.free_dirty_bytes
        };
        let mut v = vec![0u8; bytes];
        let zero = v.iter().all(|&b| b == 0);
        v.fill(0x5A);
        let mut w: Vec<u64> = Vec::new();
        for i in 0..bytes / 8 {
            w.push(i as u64);
        }
        let kept = v[bytes - 1] == 0x5A && w.iter().enumerate().all(|(i, &x)| x == i as u64);
        let after = linear_bytes();
        drop((v, w));
        format!(
            "{{\"bytes\":{bytes},\"linear_before\":{before},\"linear_after\":{after},\"pool_free_before\":{free},\"zero\":{zero},\"kept\":{kept}}}"
        )
    }

    /// The allocator workload's report, once it is done ([`start_alloc_work`]).
    static ALLOC_WORK: Mutex<SpinLock, Option<String>> = Mutex::const_new(SpinLock::INIT, None);

    /// Starts the allocator workload ([`crate::alloc_work`]) over `items`
    /// numbers: on the rayon pool in the multithreaded build (returns at
    /// once; poll [`alloc_work_result`]), here in the single-threaded one.
    #[wasm_bindgen]
    pub fn start_alloc_work(items: usize) {
        *ALLOC_WORK.lock() = None;
        let job = move || {
            let report = crate::alloc_work::run(items, &performance_now).to_json();
            *ALLOC_WORK.lock() = Some(report);
        };
        #[cfg(feature = "threads")]
        rayon::spawn(job);
        #[cfg(not(feature = "threads"))]
        job();
    }

    /// The allocator workload's report as JSON, or `undefined` while it
    /// runs.
    #[wasm_bindgen]
    pub fn alloc_work_result() -> Option<String> {
        ALLOC_WORK.lock().take()
    }

    /// Reserves one page, fills it with `byte` and returns its address, for
    /// the page to read back through a view of the (possibly grown) shared
    /// memory. Returns 0 when the reservation is refused; the board counts
    /// why (`OutOfMemory` is expected while grows fail; anything else is
    /// an error).
    #[wasm_bindgen]
    pub fn probe(byte: u8) -> usize {
        let result = with_pool!(vm => BOARD.reserve(vm, wasm_vmem::PAGE_SIZE, 1));
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

    /// The benchmarks' clock in this module: seconds from `performance.now()`.
    fn seconds() -> f64 {
        performance_now() / 1e3
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
                // Every instance's growth stays in this page's memory.
                churn_seeds: 0,
                ..Sizes::FULL
            }
        };
        let (json, text) = figures::all(sizes, &[cfg!(feature = "threads")], seconds);
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
        let threads = thread_counts(max_threads);
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
                    .map(|mut v| format!("{:.4}", median(&mut v) / 1e6))
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

    /// The allocator benchmarks (a) and (b) of `wasm_vmem_bench::alloc`
    /// for each of its wasm backends (`alloc::wasm::BACKENDS`: wasm-vmem,
    /// dlmalloc, talc, lol_alloc; fresh instances over this module's
    /// memory), medians of `reps` interleaved runs: (a) million
    /// small-object operations (allocations and frees) per second at 1, 2,
    /// 4, … `max_threads` rayon threads, half of each batch freed by the
    /// next thread (1 thread in the single-threaded build), `rounds` rounds
    /// of [`SMALL_BATCH`] objects per thread; (b) at each size of
    /// [`LARGE_SIZES`], microseconds per `vec![0u8; n]` (alloc_zeroed, a
    /// byte written per 4 KiB, free; `large_iters` after a first one timed
    /// apart), the bytes that held old data (had to be zeroed), the bytes
    /// the allocator zeroed where it says, and the bytes linear memory grew
    /// while it ran (the others are idle then: the growth is its own).
    /// Returns JSON `{"small": {"threads", "rounds", "batch", "reps",
    /// "series": [{"name", "mops"}]}, "large": {"sizes", "iters", "series":
    /// [{"name", "us", "first_us", "needed", "zeroed", "grown"}]}}`
    /// (`zeroed` null where unknown). Takes seconds, and waits for the
    /// pool: call it from a worker.
    #[wasm_bindgen]
    pub fn bench_alloc(
        max_threads: usize,
        rounds: usize,
        large_iters: usize,
        reps: usize,
    ) -> String {
        use wasm_vmem_bench::alloc::wasm::{backend, BACKENDS};
        use wasm_vmem_bench::alloc::{large_zeroed, DirtyOracle, Instance, Ring};
        type Backend = Box<dyn Instance + Sync>;
        let (reps, iters) = (reps.max(1), large_iters.max(1));
        #[cfg(feature = "threads")]
        let max_threads = max_threads.clamp(1, rayon::current_num_threads());
        #[cfg(not(feature = "threads"))]
        let max_threads = max_threads.min(1);
        let threads = thread_counts(max_threads);
        let backends: Vec<Backend> = BACKENDS.iter().map(|name| backend(name)).collect();
        // (a): threads 0 .. n of the pool run the workload, the others
        // return at once.
        let small_run = |a: &(dyn Instance + Sync), n: usize| {
            let ring = Ring::new(n);
            let start = seconds();
            #[cfg(feature = "threads")]
            let ops: u64 = {
                let ops = AtomicU64::new(0);
                rayon::broadcast(|ctx| {
                    if ctx.index() < n {
                        let done =
                            a.run_small_worker(&ring, ctx.index(), rounds, SMALL_BATCH, true);
                        ops.fetch_add(done, Relaxed);
                    }
                });
                ops.into_inner()
            };
            #[cfg(not(feature = "threads"))]
            let ops = a.run_small_worker(&ring, 0, rounds, SMALL_BATCH, true);
            let secs = (seconds() - start).max(1e-9);
            // SAFETY: what the workers posted are blocks of `a`.
            unsafe { ring.drain(a) };
            ops as f64 / secs / 1e6
        };
        let n = backends.len();
        let mut small = vec![vec![Vec::new(); threads.len()]; n];
        let mut large = vec![vec![Vec::new(); LARGE_SIZES.len()]; n];
        let mut first = vec![vec![0.0; LARGE_SIZES.len()]; n];
        let mut oracles: Vec<DirtyOracle> = (0..n).map(|_| DirtyOracle::default()).collect();
        let (mut needed, mut grown) = (vec![0u64; n], vec![0usize; n]);
        let zeroed_before: Vec<Option<u64>> = backends.iter().map(|b| b.zeroed_bytes()).collect();
        for rep in 0..reps {
            for (k, &t) in threads.iter().enumerate() {
                for (i, b) in backends.iter().enumerate() {
                    small[i][k].push(small_run(b.as_ref(), t));
                }
            }
            for (k, &size) in LARGE_SIZES.iter().enumerate() {
                for (i, b) in backends.iter().enumerate() {
                    let linear = linear_bytes();
                    let (f, secs, need) =
                        large_zeroed(b.as_ref(), size, iters, &mut oracles[i], seconds);
                    grown[i] += linear_bytes() - linear;
                    needed[i] += need;
                    large[i][k].push(secs * 1e6 / iters as f64);
                    if rep == 0 {
                        first[i][k] = f * 1e6;
                    }
                }
            }
        }
        let list = |v: &[f64], digits: usize| {
            let items: Vec<String> = v.iter().map(|x| format!("{x:.digits$}")).collect();
            items.join(",")
        };
        let medians =
            |s: Vec<Vec<f64>>| -> Vec<f64> { s.into_iter().map(|mut v| median(&mut v)).collect() };
        let small_series: Vec<String> = backends
            .iter()
            .zip(small)
            .map(|(b, s)| {
                format!(
                    "{{\"name\":\"{}\",\"mops\":[{}]}}",
                    b.name(),
                    list(&medians(s), 4)
                )
            })
            .collect();
        let large_series: Vec<String> = (0..n)
            .zip(large)
            .map(|(i, s)| {
                let b = &backends[i];
                let zeroed = match (b.zeroed_bytes(), zeroed_before[i]) {
                    (Some(after), Some(before)) => (after - before).to_string(),
                    _ => "null".into(),
                };
                format!(
                    "{{\"name\":\"{}\",\"us\":[{}],\"first_us\":[{}],\"needed\":{},\"zeroed\":{zeroed},\"grown\":{}}}",
                    b.name(),
                    list(&medians(s), 1),
                    list(&first[i], 1),
                    needed[i],
                    grown[i]
                )
            })
            .collect();
        let to_f64 = |v: &[usize]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        format!(
            concat!(
                "{{\"small\":{{\"threads\":[{}],\"rounds\":{},\"batch\":{},\"reps\":{},\"series\":[{}]}},",
                "\"large\":{{\"sizes\":[{}],\"iters\":{},\"series\":[{}]}}}}"
            ),
            list(&to_f64(&threads), 0),
            rounds,
            SMALL_BATCH,
            reps,
            small_series.join(","),
            list(&to_f64(&LARGE_SIZES), 0),
            iters,
            large_series.join(","),
        )
    }

    /// Single-thread small-object speed in the steady state
    /// (`wasm_vmem_bench::alloc::small_steady`) of each wasm backend (fresh
    /// instances over this module's memory, warmed up first): medians of
    /// `reps` interleaved runs of `rounds` rounds of the mixed trace and of
    /// batches of [`SMALL_BATCH`] allocated then freed, in million
    /// operations per second. Returns JSON `{"rounds", "batch", "reps",
    /// "series": [{"name", "mixed", "batches"}]}`. The (a) figures of
    /// [`bench_alloc`] time fresh instances for milliseconds, where the
    /// engine's tiering and first touches weigh as much as the allocator.
    #[wasm_bindgen]
    pub fn bench_small_steady(rounds: usize, reps: usize) -> String {
        use wasm_vmem_bench::alloc::wasm::{backend, BACKENDS};
        use wasm_vmem_bench::alloc::{small_steady, Instance};
        let backends: Vec<_> = BACKENDS.iter().map(|name| backend(name)).collect();
        let refs: Vec<&(dyn Instance + Sync)> = backends.iter().map(|b| &**b).collect();
        let figures = small_steady(&refs, rounds, SMALL_BATCH, reps, seconds);
        let series: Vec<String> = backends
            .iter()
            .zip(figures)
            .map(|(b, (mixed, batches))| {
                format!(
                    "{{\"name\":\"{}\",\"mixed\":{mixed:.4},\"batches\":{batches:.4}}}",
                    b.name()
                )
            })
            .collect();
        format!(
            "{{\"rounds\":{rounds},\"batch\":{SMALL_BATCH},\"reps\":{},\"series\":[{}]}}",
            reps.max(1),
            series.join(",")
        )
    }

    /// Objects per thread and round in (a).
    pub const SMALL_BATCH: usize = 256;

    /// The sizes of (b): 64 KiB to 64 MiB.
    pub const LARGE_SIZES: [usize; 4] = [64 << 10, 1 << 20, 16 << 20, 64 << 20];

    /// The phase workload (c) on this build's page pool and global
    /// allocator: a GC heap of 2 MiB segments reserved from
    /// `wasm_vmem::global()` up to `scale_mib` MiB and released, then the
    /// app's blocks (16 B – 4 MiB) from the global allocator up to
    /// `scale_mib` MiB. When the global allocator is wasm-vmem, the app
    /// reuses the GC's pages; any other grows memory of its own. Returns
    /// JSON with the allocator's name, linear memory before and at the
    /// app's peak (it never shrinks), the bytes each phase held, and
    /// milliseconds. Run it first in a fresh module for a clean figure.
    #[wasm_bindgen]
    pub fn bench_phases(scale_mib: usize) -> String {
        use wasm_vmem_bench::alloc::{app_phase, gc_phase};
        let total = scale_mib << 20;
        let before = linear_bytes();
        let start = performance_now();
        let segments = gc_phase(wasm_vmem::global(), total, 2 << 20);
        let mut peak = 0;
        let app = app_phase(&crate::allocators::ModuleGlobal, total, &mut || {
            peak = linear_bytes()
        });
        let ms = performance_now() - start;
        format!(
            concat!(
                "{{\"allocator\":\"{}\",\"key\":\"{}\",\"gc_bytes\":{},\"app_bytes\":{},",
                "\"linear_before\":{},\"linear_peak\":{},\"ms\":{:.1}}}"
            ),
            crate::allocators::GLOBAL_NAME,
            crate::allocators::GLOBAL_KEY,
            segments * (2 << 20),
            app,
            before,
            peak,
            ms
        )
    }

    /// 1, 2, 4, … below `max`, then `max`: the thread counts of the
    /// sweeps.
    fn thread_counts(max: usize) -> Vec<usize> {
        std::iter::successors(Some(1usize), |n| Some(n * 2))
            .take_while(|&n| n < max)
            .chain([max])
            .collect()
    }

    /// Releases a page returned by [`probe`].
    #[wasm_bindgen]
    pub fn unprobe(addr: usize) -> bool {
        // SAFETY: `addr` came from `probe` and the page is not used again;
        // a wrong address is refused by the crate.
        unsafe { with_pool!(vm => vm.release(addr as *mut u8, wasm_vmem::PAGE_SIZE).is_ok()) }
    }
}
