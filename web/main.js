// The demo page: picks the build, starts the workload on every rayon thread
// and on this (main) thread, and plots the figures live. The main thread
// never blocks: it runs its share of the workload in small steps between
// timer ticks, and the crate's lock only spins.
const $ = (id) => document.getElementById(id);
const MiB = 1 << 20;
const params = new URLSearchParams(location.search);
const ROUNDS = Number(params.get('rounds') ?? 1500);
const TICK_MS = 50;

const isolated = globalThis.crossOriginIsolated === true;
const kind = isolated ? 'mt' : 'st';
const mod = await import(`./pkg-${kind}/wasm_vmem_web.js`);
const wasm = await mod.default();
const memory = wasm.memory;

let poolThreads = 0;
if (isolated) {
  poolThreads = Math.max(2, navigator.hardwareConcurrency || 2);
  await mod.initThreadPool(poolThreads);
}
$('mode').innerHTML = isolated
  ? `<span class="badge mt">${mod.build_kind()}</span> cross-origin isolated · shared memory · ${poolThreads} rayon threads + the main thread`
  : `<span class="badge st">${mod.build_kind()}</span> not cross-origin isolated (no COOP/COEP): single-threaded fallback on the main thread`;

// A view of linear memory that follows memory.grow: a shared memory's old
// SharedArrayBuffer keeps its old length, a non-shared one is detached;
// either way memory.buffer is a new object, checked at each use.
let view = new Uint8Array(memory.buffer);
let viewRefreshes = 0;
function bytes() {
  if (view.buffer !== memory.buffer) {
    view = new Uint8Array(memory.buffer);
    viewRefreshes++;
  }
  return view;
}

// Charts.
const series = { t: [], linear: [], owned: [], reserved: [], committed: [], zeroed: [], skipped: [] };
const opsSeries = [];
let lastOps = null;
let lastT = 0;
function chart(id, names, data) {
  const colors = ['#3266cc', '#e8590c', '#2b8a3e', '#ae3ec9', '#1098ad', '#f08c00', '#5c7cfa', '#e64980'];
  const opts = {
    width: 560, height: 200, legend: { live: false },
    scales: { x: { time: false } },
    axes: [{ label: 's' }, {}],
    series: [{}, ...names.map((label, i) => ({ label, stroke: colors[i % colors.length], width: 2 }))],
  };
  return new uPlot(opts, data, $(id));
}
const charts = {};

const started = performance.now();
let jsFailures = 0;
let probes = 0;
mod.start(poolThreads, ROUNDS);

function fmt(bytes) { return (bytes / MiB).toFixed(1) + ' MiB'; }

function render(s, elapsed) {
  const t = elapsed / 1000;
  const st = s.stats;
  series.t.push(t);
  series.linear.push(st.linear / MiB); series.owned.push(st.owned / MiB);
  series.reserved.push(st.reserved / MiB); series.committed.push(st.committed / MiB);
  series.zeroed.push(st.zeroed / MiB); series.skipped.push(st.zero_skipped / MiB);
  const dt = t - lastT;
  s.ops.forEach((n, i) => {
    opsSeries[i] ??= series.t.slice(0, -1).map(() => 0);
    opsSeries[i].push(lastOps && dt > 0 ? (n - (lastOps[i] ?? 0)) / dt : 0);
  });
  lastOps = s.ops; lastT = t;
  if (!charts.memory) {
    charts.memory = chart('c-memory', ['linear memory', 'owned by wasm-vmem'], [series.t, series.linear, series.owned]);
    charts.reserved = chart('c-reserved', ['reserved', 'committed'], [series.t, series.reserved, series.committed]);
    charts.zero = chart('c-zero', ['zeroed', 'skipped (known zero)'], [series.t, series.zeroed, series.skipped]);
    charts.ops = chart('c-ops', s.ops.map((_, i) => (i === 0 ? 'main thread' : `worker ${i}`)), [series.t, ...opsSeries]);
  } else {
    charts.memory.setData([series.t, series.linear, series.owned]);
    charts.reserved.setData([series.t, series.reserved, series.committed]);
    charts.zero.setData([series.t, series.zeroed, series.skipped]);
    charts.ops.setData([series.t, ...opsSeries]);
  }
  const ops = s.ops.reduce((a, b) => a + b, 0);
  const rows = [
    ['build', mod.build_kind()],
    ['threads used', `${s.pool_threads_used} rayon + main`],
    ['collections', s.collections.reduce((a, b) => a + b, 0)],
    ['operations', ops],
    ['operations/s per thread', (ops / Math.max(t, 1e-3) / s.ops.length).toFixed(0)],
    ['verification failures', s.failures + jsFailures],
    ['errors', s.errors],
    ['linear memory (peak)', fmt(st.linear)],
    ['reserved / committed', `${fmt(st.reserved)} / ${fmt(st.committed)}`],
    ['peak reserved', fmt(st.peak_reserved)],
    ['free zero / dirty', `${fmt(st.free_zero)} / ${fmt(st.free_dirty)}`],
    ['bytes zeroed', fmt(st.zeroed)],
    ['zeroing skipped', fmt(st.zero_skipped)],
    ['memory.grow calls', st.grows],
    ['JS view refreshes after grow', viewRefreshes],
    ['memory load', `${s.limits.load_percent} % of ${fmt(s.limits.total)}`],
  ];
  $('summary').innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td class="v">${v}</td></tr>`).join('');
}

function probe() {
  // Reserve a page from JS's side of the API, read it through the view.
  const tag = (probes++ % 200) + 20;
  const addr = mod.probe(tag);
  if (addr === 0) { jsFailures++; return; }
  const b = bytes();
  if (b[addr] !== tag || b[addr + 16383] !== tag) jsFailures++;
  if (!mod.unprobe(addr)) jsFailures++;
}

let lastRender = 0;
function tick() {
  const mainBusy = mod.step_main(16);
  probe();
  const now = performance.now();
  const s = JSON.parse(mod.snapshot());
  if (now - lastRender > 200 || s.done) {
    render(s, now - started);
    lastRender = now;
  }
  if (!s.done || mainBusy) {
    setTimeout(tick, TICK_MS);
    return;
  }
  const elapsed = now - started;
  const ops = s.ops.reduce((a, b) => a + b, 0);
  const report = {
    build: mod.build_kind(),
    crossOriginIsolated: isolated,
    poolThreads,
    poolThreadsUsed: s.pool_threads_used,
    workers: s.workers,
    rounds: s.rounds,
    collections: s.collections.reduce((a, b) => a + b, 0),
    operations: ops,
    opsPerSecondPerThread: Math.round(ops / (elapsed / 1000) / s.ops.length),
    opsPerThread: s.ops,
    failures: s.failures,
    jsFailures,
    errors: s.errors,
    jsViewRefreshes: viewRefreshes,
    elapsedMs: Math.round(elapsed),
    stats: s.stats,
    limits: s.limits,
  };
  window.__report = report;
  $('report').textContent = JSON.stringify(report, null, 2);
  document.body.dataset.done = '1';
  console.log('REPORT ' + JSON.stringify(report));
}
tick();
