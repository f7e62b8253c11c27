// What the engine allows a threaded wasm page, measured (web/probe.html;
// web/probe.mjs runs it in every engine). The result is window.__probe.
const PAGE = 65536;
const out = {
  userAgent: navigator.userAgent,
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  sharedArrayBuffer: typeof SharedArrayBuffer,
  hardwareConcurrency: navigator.hardwareConcurrency,
};
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, d = 3) => Number(x.toFixed(d));
const attempt = (f) => { try { return f(); } catch (e) { return `throws ${e.name}: ${e.message}`; } };

function startWorker() {
  const t0 = performance.now();
  const w = new Worker('probe-worker.js', { type: 'module' });
  const first = new Promise((ok, fail) => {
    w.onmessage = () => ok(performance.now() - t0);
    w.onerror = (e) => fail(new Error(e.message || 'worker error'));
  });
  return { w, first };
}
const ask = (w, msg) => new Promise((ok) => { w.onmessage = ({ data }) => ok(data); w.postMessage(msg); });

// The main thread: may it block?
out.atomicsWaitMain = out.sharedArrayBuffer === 'function'
  ? attempt(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0)) : 'no SharedArrayBuffer';
out.atomicsWaitAsync = typeof Atomics.waitAsync;

// A shared memory grown from JS on this thread, and by a worker.
if (out.sharedArrayBuffer === 'function') {
  const m = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const b0 = m.buffer;
  out.sharedMemory = {
    bufferIsSharedArrayBuffer: b0 instanceof SharedArrayBuffer,
    sameBufferObjectWithoutGrow: m.buffer === m.buffer,
    maximum4GiB: true,
  };
  m.grow(1);
  Object.assign(out.sharedMemory, {
    afterGrowHere: { oldBufferBytes: b0.byteLength, newBufferBytes: m.buffer.byteLength, sameObject: b0 === m.buffer },
  });
  const { w, first } = startWorker();
  await first;
  const b1 = m.buffer;
  const r = await ask(w, { grow: m });
  out.sharedMemory.afterGrowByWorker = {
    workerSaw: r.bytes ?? r.error, oldBufferBytes: b1.byteLength, newBufferBytes: m.buffer.byteLength, sameObject: b1 === m.buffer,
  };
  out.atomicsWaitWorker = (await ask(w, { wait: new SharedArrayBuffer(4) })).wait;
  w.terminate();
  out.textDecoderOnSharedView = attempt(() => typeof new TextDecoder().decode(new Uint8Array(m.buffer, 0, 4)));
} else {
  out.sharedMemory = attempt(() => String(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer));
}
{
  const m = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const b0 = m.buffer;
  m.grow(1);
  out.unsharedMemoryAfterGrow = { oldBufferBytes: b0.byteLength, newBufferBytes: m.buffer.byteLength };
}

// Worker start-up: new Worker (a module worker, as wasm-bindgen-rayon starts
// them) to its first message, one at a time, then 4 at once.
{
  const one = [];
  for (let i = 0; i < 7; i++) {
    const { w, first } = startWorker();
    one.push(await first);
    w.terminate();
  }
  const t0 = performance.now();
  const four = Array.from({ length: 4 }, startWorker);
  await Promise.all(four.map((x) => x.first));
  out.workerStartMs = { oneMedian: round(median(one), 1), oneMin: round(Math.min(...one), 1), fourAtOnce: round(performance.now() - t0, 1) };
  for (const x of four) x.w.terminate();
}

// Timers: performance.now() granularity (smallest step seen), and
// setTimeout(0) when nested (browsers clamp from the 5th level on).
{
  const steps = new Set();
  let last = performance.now();
  const end = last + 50;
  let n = 0;
  while (n < 200 && performance.now() < end) {
    const t = performance.now();
    if (t !== last) { steps.add(round(t - last, 4)); last = t; n++; }
  }
  out.performanceNowStepMs = Math.min(...steps);
  const delays = [];
  let prev = performance.now();
  await new Promise((done) => {
    const tick = () => {
      const t = performance.now();
      delays.push(t - prev);
      prev = t;
      if (delays.length < 30) setTimeout(tick, 0); else done();
    };
    setTimeout(tick, 0);
  });
  out.setTimeout0Ms = { firstFour: round(median(delays.slice(0, 4)), 2), nestedMedian: round(median(delays.slice(10)), 2) };
}
await sleep(0);
window.__probe = out;
document.getElementById('report').textContent = JSON.stringify(out, null, 2);
document.body.dataset.done = '1';
