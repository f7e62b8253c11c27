// The bench page: runs the benchmarks of each wasm build in a worker, one
// build after the other, and shows the ratios. The multithreaded build needs
// shared memory, so it runs only when the page is cross-origin isolated.
//
// URL parameters: ?smoke=1 (tiny traces, for the tests), ?builds=st,mt,
// ?threads=N (the multithreaded build's thread sweep: 1, 2, 4, … N rayon
// threads; default navigator.hardwareConcurrency, within 1..32).
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const smoke = params.get('smoke') === '1';
const isolated = globalThis.crossOriginIsolated === true;
const wanted = (params.get('builds') ?? 'st,mt').split(',');
const threads = Math.min(32, Math.max(1, Number(params.get('threads') ?? navigator.hardwareConcurrency ?? 2) || 2));
const kinds = wanted.filter((k) => k === 'st' || (k === 'mt' && isolated));
const report = { crossOriginIsolated: isolated, hardwareConcurrency: navigator.hardwareConcurrency,
  userAgent: navigator.userAgent, smoke, threads, builds: {}, skipped: wanted.filter((k) => !kinds.includes(k)) };

$('mode').innerHTML = (isolated
  ? '<span class="badge mt">cross-origin isolated</span> both builds'
  : '<span class="badge st">not cross-origin isolated</span> the single-threaded build only (the multithreaded one needs COOP/COEP)')
  + (smoke ? ' · smoke run (tiny traces)' : '');

function finish(state, error) {
  if (error) report.error = error;
  $('state').className = `badge ${error ? 'bad' : 'ok'}`;
  $('state').textContent = state;
  $('report').textContent = Object.values(report.builds).map((b) => b.text).join('\n') + (error ? `\n${error}` : '');
  window.__bench = report;
  document.body.dataset.done = error ? 'error' : 'ok';
}

function runBuild(kind) {
  return new Promise((ok, fail) => {
    const worker = new Worker('bench-worker.js', { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) fail(new Error(`${kind}: ${data.error}`));
      else ok(data);
    };
    worker.onerror = (e) => { worker.terminate(); fail(new Error(`${kind}: ${e.message}`)); };
    worker.postMessage({ kind, smoke, threads });
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

function sweepText(sweep) {
  const lines = [`\n== thread sweep (contention, ${sweep.rounds} rounds per thread; million ops/s, × 1 thread) ==`];
  for (const s of sweep.series) {
    lines.push(`${s.name.padEnd(38)}${s.mops.map((x, i) => `${sweep.threads[i]}t ${x.toFixed(3)} (${(x / s.mops[0]).toFixed(2)})`.padStart(22)).join('')}`);
  }
  return lines.join('\n') + '\n';
}

try {
  for (const kind of kinds) {
    $('state').textContent = `running the ${kind === 'mt' ? 'multithreaded' : 'single-threaded'} build…`;
    const result = await runBuild(kind);
    report.builds[kind] = { build: result.build, seconds: result.seconds, figures: result.figures[kind],
      text: result.text + (result.sweep ? sweepText(result.sweep) : ''), sweep: result.sweep };
    render(kind, result);
    if (result.sweep) renderSweep(result.sweep);
  }
  finish('done');
} catch (e) {
  finish('error', String(e?.stack ?? e));
}
