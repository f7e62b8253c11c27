// Runs the benchmarks of one wasm build (pkg-st or pkg-mt, or a build with
// another global allocator: pkg-st-talc, …) off the page's main thread: the
// traces take seconds, and the multithreaded build's allocator may wait on
// a lock (Atomics.wait), which only workers may do.
//
// Every build first runs the phase workload on its global allocator
// (bench_phases: peak linear memory, in the fresh module). The default
// build (global allocator wasm-vmem, alloc 'vmem') then runs the allocator
// benchmarks of wasm_vmem_bench::alloc (bench_alloc: small objects on 1 …
// `threads` rayon threads with cross-thread frees, large zeroed blocks;
// wasm-vmem, dlmalloc, talc and lol_alloc as instances), the traces of
// benches/ (bench) and, in the
// multithreaded build, the thread sweep of the contention trace
// (bench_sweep).
//
// Before each step it posts { step }: the page shows it, and a run that
// never ends says where it stopped.
self.onmessage = async ({ data: { kind, alloc, smoke, threads } }) => {
  const step = (name) => self.postMessage({ step: `${kind} ${alloc}: ${name}` });
  try {
    const pkg = alloc === 'vmem' ? `pkg-${kind}` : `pkg-${kind}-${alloc}`;
    const mod = await import(`./${pkg}/wasm_vmem_web.js`);
    await mod.default();
    const start = performance.now();
    step('phase workload');
    const phases = JSON.parse(mod.bench_phases(smoke ? 8 : 64));
    if (alloc !== 'vmem') {
      self.postMessage({ kind, alloc, build: mod.build_kind(), phases, seconds: (performance.now() - start) / 1e3 });
      return;
    }
    // The allocator benchmarks before the traces, whose baselines leave
    // the module's memory grown.
    if (kind === 'mt') {
      step('thread pool');
      await mod.initThreadPool(threads);
    }
    step('allocators (a) and (b)');
    const allocs = JSON.parse(mod.bench_alloc(threads, smoke ? 10 : 2000, smoke ? 2 : 8, smoke ? 1 : 5));
    // Single-thread speed in the steady state: warmed-up instances, long
    // interleaved runs (a few seconds).
    step('allocators, steady state');
    allocs.steady = JSON.parse(mod.bench_small_steady(smoke ? 5 : 4000, smoke ? 1 : 7));
    step('traces');
    const { figures, text } = JSON.parse(mod.bench(smoke));
    let sweep = null;
    if (kind === 'mt' && mod.bench_sweep) {
      step('thread sweep');
      sweep = JSON.parse(mod.bench_sweep(threads, smoke ? 50 : 20000, smoke ? 1 : 7));
    }
    self.postMessage({ kind, alloc, build: mod.build_kind(), figures, text, sweep, allocs, phases,
      seconds: (performance.now() - start) / 1e3 });
  } catch (e) {
    self.postMessage({ kind, alloc, error: String(e?.stack ?? e) });
  }
};
