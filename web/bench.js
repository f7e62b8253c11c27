// The bench page: runs the benchmarks of each wasm build in a worker, one
// build after the other, and shows the ratios. The multithreaded build needs
// shared memory, so it runs only when the page is cross-origin isolated and
// the browser exposes SharedArrayBuffer (WebKitGTK: behind a runtime flag).
//
// URL parameters: ?smoke=1 (tiny traces, for the tests), ?builds=st,mt,
// ?threads=N (the multithreaded build's thread sweep: 1, 2, 4, … N rayon
// threads; default navigator.hardwareConcurrency, within 1..32),
// ?allocs=vmem,dlmalloc,talc,lol,rusty (the global allocators whose builds
// run the phase workload, for its peak linear memory; default vmem; each but
// vmem needs its build: scripts/build-wasm.sh st-dlmalloc …; rusty in the
// single-threaded build only).
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const smoke = params.get('smoke') === '1';
const isolated = globalThis.crossOriginIsolated === true;
const threaded = isolated && typeof SharedArrayBuffer === 'function';
const wanted = (params.get('builds') ?? 'st,mt').split(',');
const threads = Math.min(32, Math.max(1, Number(params.get('threads') ?? navigator.hardwareConcurrency ?? 2) || 2));
const kinds = wanted.filter((k) => k === 'st' || (k === 'mt' && threaded));
// The global allocators that build multithreaded (rusty_alloc does not).
const MT_ALLOCS = new Set(['vmem', 'dlmalloc', 'talc', 'lol']);
const allocs = ['vmem', ...(params.get('allocs') ?? 'vmem').split(',').filter((a) => a && a !== 'vmem')];
const report = { crossOriginIsolated: isolated, hardwareConcurrency: navigator.hardwareConcurrency,
  userAgent: navigator.userAgent, smoke, threads, allocs, builds: {}, phases: {},
  skipped: wanted.filter((k) => !kinds.includes(k)) };

$('mode').innerHTML = (threaded
  ? '<span class="badge mt">cross-origin isolated</span> both builds'
  : isolated ? '<span class="badge st">no SharedArrayBuffer</span> the single-threaded build only (the multithreaded one needs it)'
    : '<span class="badge st">not cross-origin isolated</span> the single-threaded build only (the multithreaded one needs COOP/COEP)')
  + (smoke ? ' · smoke run (tiny traces)' : '');

function finish(state, error) {
  if (error) report.error = error;
  $('state').className = `badge ${error ? 'bad' : 'ok'}`;
  $('state').textContent = state;
  $('report').textContent = Object.values(report.builds).map((b) => b.text).join('\n') + (report.phasesText ?? '')
    + (error ? `\n${error}` : '');
  window.__bench = report;
  document.body.dataset.done = error ? 'error' : 'ok';
}

function runBuild(kind, alloc) {
  return new Promise((ok, fail) => {
    const worker = new Worker('bench-worker.js', { type: 'module' });
    worker.onmessage = ({ data }) => {
      if (data.step) {
        window.__benchStep = data.step;
        window.__benchStepAt = performance.now();
        $('state').textContent = `running: ${data.step}…`;
        return;
      }
      worker.terminate();
      if (data.error) fail(new Error(`${kind}: ${data.error}`));
      else ok(data);
    };
    worker.onerror = (e) => { worker.terminate(); fail(new Error(`${kind}: ${e.message}`)); };
    worker.postMessage({ kind, alloc, smoke, threads });
  });
}

const fmt = (x, digits = 2) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

function render(kind, { build, figures, seconds }) {
  const f = figures[kind];
  const t = (i, k) => f[`${k}_seconds`][i] / f[`${k}_seconds`][0];
  const rows = f.backends.map((b, i) => `<tr><td>${b.name}</td>
    <td class="v">${fmt(f.gc_seconds[i] * 1e3)}</td><td class="v">${fmt(t(i, 'gc'))}</td>
    <td class="v">${fmt(f.churn_seconds[i] * 1e3)}</td><td class="v">${fmt(t(i, 'churn'))}</td>
    <td class="v">${fmt(b.zero_ratio_gc)}</td><td class="v">${fmt(b.zero_ratio_churn)}</td>
    <td class="v">${fmt(b.peak_memory_ratio)}</td></tr>`).join('');
  const card = document.createElement('div');
  card.className = 'card';
  card.innerHTML = `<h2><span class="badge ${kind}">${build}</span> build — ran in ${seconds.toFixed(1)} s</h2>
    <table><tr><th>backend</th><th>gc ms</th><th>gc ÷ wasm-vmem</th><th>churn ms</th><th>churn ÷ wasm-vmem</th>
    <th>zeroed ÷ needed gc</th><th>zeroed ÷ needed churn</th><th>peak mem ÷ peak live</th></tr>${rows}</table>`;
  $('builds').append(card);
}

// The thread sweep: million operations/s (× 1 thread) at each thread count.
function renderSweep(sweep) {
  const head = sweep.threads.map((t) => `<th>${t}</th>`).join('');
  const rows = sweep.series.map((s) => `<tr><td>${s.name}</td>${s.mops.map((x) =>
    `<td class="v">${fmt(x, 3)} (${fmt(x / s.mops[0])})</td>`).join('')}</tr>`).join('');
  const card = document.createElement('div');
  card.className = 'card';
  card.innerHTML = `<h2>thread sweep — contention trace, ${sweep.rounds} rounds per thread, median of ${sweep.reps}</h2>
    <table><tr><th>million ops/s (× 1 thread) \\ threads</th>${head}</tr>${rows}</table>`;
  $('builds').append(card);
}

// (a) and (b): the allocators as instances inside the default build.
const mib = (b) => (b >= 1 << 20 ? `${+(b / (1 << 20)).toFixed(1)} MiB` : `${b / 1024} KiB`);
function renderAllocs(kind, { small, large, steady }) {
  const card = document.createElement('div');
  card.className = 'card';
  card.innerHTML = `<h2><span class="badge ${kind}">${kind}</span> allocators — (a) small objects, cross-thread frees</h2>
    <p class="note">Fresh instances over this module's memory (<code>wasm_vmem_bench::alloc::wasm</code>). Million allocations +
    frees per second; per thread and round ${small.batch} objects of 16–2048 B, half freed by the next thread; ${small.rounds} rounds
    per thread, median of ${small.reps}.</p>
    <table><tr><th>allocator \\ threads</th>${small.threads.map((t) => `<th>${t}</th>`).join('')}</tr>
    ${small.series.map((s) => `<tr><td>${s.name}</td>${s.mops.map((x) => `<td class="v">${fmt(x, 2)}</td>`).join('')}</tr>`).join('')}</table>
    <h2 style="margin-top:10px">(a) one thread, steady state: million ops/s and ÷ dlmalloc</h2>
    <p class="note">Each instance warmed up, then ${steady.rounds} rounds of each trace, interleaved, median of ${steady.reps}.</p>
    <table><tr><th>allocator</th><th>mixed trace</th><th>÷ dlmalloc</th><th>batches of ${steady.batch} allocated then freed</th><th>÷ dlmalloc</th></tr>
    ${steadyRows(steady).map((r) => `<tr><td>${r.name}</td><td class="v">${fmt(r.mixed, 1)}</td><td class="v">${fmt(r.mixedRatio)}</td>` +
      `<td class="v">${fmt(r.batches, 1)}</td><td class="v">${fmt(r.batchesRatio)}</td></tr>`).join('')}</table>
    <h2 style="margin-top:10px">(b) repeated <code>vec![0u8; n]</code>: µs per alloc_zeroed + a write per 4 KiB + free (the first one apart)</h2>
    <table><tr><th>allocator \\ size</th>${large.sizes.map((b) => `<th>${mib(b)}</th>`).join('')}<th>first 64 MiB</th>
    <th>had to zero</th><th>zeroed ÷ had to</th><th>memory grown</th></tr>
    ${large.series.map((s) => `<tr><td>${s.name}</td>${s.us.map((x) => `<td class="v">${fmt(x, 0)}</td>`).join('')}` +
      `<td class="v">${fmt(s.first_us.at(-1), 0)}</td><td class="v">${mib(s.needed)}</td>` +
      `<td class="v">${s.zeroed === null ? 'n/a' : fmt(s.zeroed / s.needed)}</td><td class="v">${mib(s.grown)}</td></tr>`).join('')}</table>`;
  $('builds').append(card);
}

// The steady-state rows with their ratios to dlmalloc.
function steadyRows(steady) {
  const dl = steady.series.find((s) => s.name === 'dlmalloc');
  return steady.series.map((s) => ({ ...s, mixedRatio: s.mixed / dl.mixed, batchesRatio: s.batches / dl.batches }));
}

function allocText(kind, { small, large, steady }) {
  const lines = [`\n== ${kind}: (a) small objects, cross-thread frees (million ops/s at ${small.threads.join(', ')} threads) ==`];
  for (const s of small.series) lines.push(`${s.name.padEnd(20)}${s.mops.map((x) => x.toFixed(2).padStart(10)).join('')}`);
  lines.push(`== ${kind}: (a) one thread, steady state (${steady.rounds} rounds, median of ${steady.reps}): mixed M ops/s, ÷ dlmalloc; batches M ops/s, ÷ dlmalloc ==`);
  for (const r of steadyRows(steady)) {
    lines.push(`${r.name.padEnd(20)}${r.mixed.toFixed(2).padStart(10)}${r.mixedRatio.toFixed(2).padStart(8)}` +
      `${r.batches.toFixed(2).padStart(10)}${r.batchesRatio.toFixed(2).padStart(8)}`);
  }
  lines.push(`== ${kind}: (b) vec![0u8; n], µs per op at ${large.sizes.map(mib).join(', ')}; first 64 MiB; had to zero; zeroed ÷ had to; memory grown ==`);
  for (const s of large.series) {
    lines.push(`${s.name.padEnd(20)}${s.us.map((x) => x.toFixed(0).padStart(10)).join('')}${s.first_us.at(-1).toFixed(0).padStart(10)}` +
      `${mib(s.needed).padStart(11)}${(s.zeroed === null ? 'n/a' : (s.zeroed / s.needed).toFixed(2)).padStart(8)}${mib(s.grown).padStart(11)}`);
  }
  return lines.join('\n') + '\n';
}

// (c): one build per global allocator: a GC heap on the page pool grows and
// shrinks, then the app allocates; linear memory's peak against the larger
// of the two.
const phaseRow = (p) => {
  const grown = p.linear_peak - p.linear_before, live = Math.max(p.gc_bytes, p.app_bytes);
  return { grown, live, ratio: grown / live };
};
function renderPhases() {
  const card = document.createElement('div');
  card.className = 'card';
  const rows = [];
  for (const [kind, byAlloc] of Object.entries(report.phases)) {
    for (const p of Object.values(byAlloc)) {
      const r = phaseRow(p);
      rows.push(`<tr><td><span class="badge ${kind}">${kind}</span> ${p.allocator}</td><td class="v">${mib(p.gc_bytes)}</td>
        <td class="v">${mib(p.app_bytes)}</td><td class="v">${mib(r.grown)}</td><td class="v">${fmt(r.ratio)}</td><td class="v">${fmt(p.ms, 0)}</td></tr>`);
    }
  }
  card.innerHTML = `<h2>(c) phase workload on each build's global allocator: peak linear memory</h2>
    <p class="note">A GC heap of 2 MiB segments on wasm-vmem's page pool (<code>global()</code>) grows and is released; then the app
    allocates blocks of 16 B – 4 MiB from the module's global allocator. Linear memory never shrinks: what it grew to is the
    footprint. With wasm-vmem as the global allocator the app reuses the GC's pages. One module per allocator, in a fresh worker.</p>
    <table><tr><th>build, global allocator</th><th>GC heap</th><th>app live</th><th>memory grown</th><th>grown ÷ larger phase</th><th>ms</th></tr>
    ${rows.join('')}</table>`;
  $('builds').append(card);
}

function phasesText() {
  const lines = ['\n== (c) phase workload: linear memory grown ÷ the larger phase, per global allocator =='];
  for (const [kind, byAlloc] of Object.entries(report.phases)) {
    for (const p of Object.values(byAlloc)) {
      const r = phaseRow(p);
      lines.push(`${kind} ${p.allocator.padEnd(12)} GC ${mib(p.gc_bytes).padStart(9)}, app ${mib(p.app_bytes).padStart(9)}, ` +
        `grown ${mib(r.grown).padStart(9)}, ratio ${r.ratio.toFixed(2)}, ${p.ms.toFixed(0)} ms`);
    }
  }
  return lines.join('\n') + '\n';
}

function sweepText(sweep) {
  const lines = [`\n== thread sweep (contention, ${sweep.rounds} rounds per thread; million ops/s, × 1 thread) ==`];
  for (const s of sweep.series) {
    lines.push(`${s.name.padEnd(38)}${s.mops.map((x, i) => `${sweep.threads[i]}t ${x.toFixed(3)} (${(x / s.mops[0]).toFixed(2)})`.padStart(22)).join('')}`);
  }
  return lines.join('\n') + '\n';
}

try {
  for (const kind of kinds) {
    report.phases[kind] = {};
    for (const alloc of allocs) {
      if (kind === 'mt' && !MT_ALLOCS.has(alloc)) continue;
      $('state').textContent = `running the ${kind === 'mt' ? 'multithreaded' : 'single-threaded'} build` +
        (alloc === 'vmem' ? '…' : ` with ${alloc} as its global allocator…`);
      const result = await runBuild(kind, alloc);
      report.phases[kind][alloc] = result.phases;
      if (alloc !== 'vmem') continue;
      report.builds[kind] = { build: result.build, seconds: result.seconds, figures: result.figures[kind],
        text: result.text + allocText(kind, result.allocs) + (result.sweep ? sweepText(result.sweep) : ''),
        sweep: result.sweep, allocs: result.allocs };
      render(kind, result);
      renderAllocs(kind, result.allocs);
      if (result.sweep) renderSweep(result.sweep);
    }
  }
  renderPhases();
  report.phasesText = phasesText();
  finish('done');
} catch (e) {
  finish('error', String(e?.stack ?? e));
}
