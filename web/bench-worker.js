// Runs the benchmarks of one wasm build (pkg-st or pkg-mt) off the page's
// main thread: the traces take seconds, and the multithreaded build's
// allocator may wait on a lock (Atomics.wait), which only workers may do.
// In the multithreaded build it then runs the thread sweep of the
// contention trace on 1, 2, 4, … `threads` rayon threads (bench_sweep).
self.onmessage = async ({ data: { kind, smoke, threads } }) => {
  try {
    const mod = await import(`./pkg-${kind}/wasm_vmem_web.js`);
    await mod.default();
    const start = performance.now();
    const { figures, text } = JSON.parse(mod.bench(smoke));
    let sweep = null;
    if (kind === 'mt' && mod.bench_sweep) {
      await mod.initThreadPool(threads);
      sweep = JSON.parse(mod.bench_sweep(threads, smoke ? 50 : 20000, smoke ? 1 : 7));
    }
    self.postMessage({ kind, build: mod.build_kind(), figures, text, sweep, seconds: (performance.now() - start) / 1e3 });
  } catch (e) {
    self.postMessage({ kind, error: String(e?.stack ?? e) });
  }
};
