// Runs the benchmarks of one wasm build (pkg-st or pkg-mt) off the page's
// main thread: the traces take seconds, and the multithreaded build's
// allocator may wait on a lock (Atomics.wait), which only workers may do.
self.onmessage = async ({ data: { kind, smoke } }) => {
  try {
    const mod = await import(`./pkg-${kind}/wasm_vmem_web.js`);
    await mod.default();
    const start = performance.now();
    const { figures, text } = JSON.parse(mod.bench(smoke));
    self.postMessage({ kind, build: mod.build_kind(), figures, text, seconds: (performance.now() - start) / 1e3 });
  } catch (e) {
    self.postMessage({ kind, error: String(e?.stack ?? e) });
  }
};
