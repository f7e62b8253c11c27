// Runs the bench page (bench.html) in a browser engine (web/browser.mjs:
// Chromium, Firefox or WebKit) with COOP/COEP, so both wasm builds run (the
// multithreaded one with its thread sweep up to navigator.hardwareConcurrency
// rayon threads), prints the figures, writes them to
// target/bench-wasm-ENGINE.json (scripts/bench-report.py puts Chromium's in
// BENCHMARKS.md's results, scripts/bench-engines.py every engine's in its
// per-engine tables; Chromium's also go to target/bench-wasm.json) and a
// screenshot to target/bench-wasm-ENGINE.png.
//
//   node web/bench-run.mjs [--browser chromium|firefox|webkit|all] [--smoke]
//                          [--allocs vmem,dlmalloc,talc,lol]
//     --browser the engine(s) (default chromium); all: one after the other,
//               each with its own figures
//     --smoke   tiny traces: checks that the page, both builds and every
//               figure work (the test command runs this); no timing is
//               asserted, only that each figure exists and that no backend
//               zeroed less than had to be zeroed.
//     --allocs  the global allocators whose builds run the phase workload
//               (default vmem; the others need scripts/build-wasm.sh
//               st-dlmalloc mt-dlmalloc …)
//     --threads the multithreaded build's sweeps go to this many rayon
//               threads (default: this machine's cores, the same in every
//               engine; navigator.hardwareConcurrency is 4 in WebKitGTK on
//               2 cores)
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';
import { launch, browserArg } from './browser.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = process.argv.includes('--smoke');
const allocsArg = process.argv.includes('--allocs') ? process.argv[process.argv.indexOf('--allocs') + 1] : 'vmem';
const engines = browserArg();
const threadsArg = process.argv.includes('--threads') ? Number(process.argv[process.argv.indexOf('--threads') + 1])
  : availableParallelism();
// Firefox (153 ESR here) now and then never starts the multithreaded
// build's rayon pool: in the bench worker, wasm-bindgen-rayon's
// initThreadPool creates its workers from a worker, and about one run in
// 25 to 90 one `new Worker()` call never returns (the worker's own event
// loop stops; the pool's first worker has started and waits). The page
// names the step it is in, so a pool that has not started after
// POOL_STALL_MS is that stall and the page is loaded once more in a fresh
// browser; a stall in any other step fails the run. The demo, the
// end-to-end test and the soak start their pools from the page's main
// thread and never meet it (docs/decisions/0044-bench-page-pool-stall.md).
const POOL_STALL_MS = 30_000;
class PoolStall extends Error {}
const TIMEOUT_MS = (smoke ? 120 : 900) * 1000;
const timer = setTimeout(() => { console.error('bench-run: timed out'); process.exit(2); }, engines.length * (TIMEOUT_MS + POOL_STALL_MS + 90_000));
timer.unref();

const server = await serve({ isolated: true });
const results = [];
try {
  for (const engine of engines) results.push([engine, await runPage(engine)]);
} finally {
  await server.close();
}
let failed = 0;
for (const [engine, { report, errors, version }] of results) {
  const problems = verify(report, errors);
  console.log(problems.length ? `\nbench-run (${engine}, ${version}): FAIL\n  ${problems.join('\n  ')}`
    : `\nbench-run (${engine}, ${version}): both builds ran, every figure present and consistent`);
  if (problems.length) failed++;
}
process.exit(failed ? 1 : 0);

async function runPage(engine) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runPageOnce(engine);
    } catch (e) {
      if (!(e instanceof PoolStall) || attempt === 2) throw e;
      console.log(`bench-run (${engine}): ${e.message}; the page once more, in a fresh browser`);
    }
  }
}

async function runPageOnce(engine) {
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`, loadStart = load();
  const browser = await launch(engine);
  let report, errors;
  try {
    const page = await browser.newPage({ width: 1220, height: 800 });
    const query = new URLSearchParams({ allocs: allocsArg, threads: threadsArg });
    if (smoke) query.set('smoke', '1');
    await page.goto(`${server.url}bench.html?${query}`);
    let state;
    try {
      // 'ok' or 'error' when the page is done, { stalled: step } for a
      // pool that has not started in time.
      state = await page.waitFor((stallMs) => document.body.dataset.done
        ?? (window.__benchStep?.endsWith(': thread pool') && performance.now() - window.__benchStepAt > stallMs
          ? { stalled: window.__benchStep } : null), TIMEOUT_MS, 1000, POOL_STALL_MS);
    } catch (e) {
      // Where the page stopped: the worker's last step and what the
      // engine reported, then the screenshot.
      const step = await page.evaluate(() => window.__benchStep ?? null).catch(() => null);
      const errs = await page.errors().catch(() => []);
      await page.screenshot(join(ROOT, 'target', `bench-wasm-${engine}-timeout.png`)).catch(() => {});
      throw new Error(`${e.message}; last step: ${step ?? 'none'}${errs.length ? `; errors: ${errs.join(' | ')}` : ''}`);
    }
    if (state.stalled) throw new PoolStall(`${state.stalled}: the rayon pool did not start in ${POOL_STALL_MS / 1000} s`);
    report = await page.evaluate(() => window.__bench);
    errors = await page.errors();
    mkdirSync(join(ROOT, 'target'), { recursive: true });
    await page.screenshot(join(ROOT, 'target', `bench-wasm-${engine}.png`));
  } finally {
    await browser.close();
  }
  Object.assign(report, { browser: { engine, version: browser.version }, when, loadavg: { start: loadStart, end: load() } });
  console.log(`\n===== ${engine}: ${browser.version}`);
  for (const b of Object.values(report.builds)) console.log(`${b.text.trimEnd()}\n(${b.build} build ran in ${b.seconds.toFixed(1)} s)`);
  if (report.phasesText) console.log(report.phasesText.trimEnd());
  if (!smoke) {
    const outs = [`bench-wasm-${engine}.json`, ...(engine === 'chromium' ? ['bench-wasm.json'] : [])];
    for (const out of outs) writeFileSync(join(ROOT, 'target', out), JSON.stringify(report, null, 1));
    console.log(`\nfigures written to target/${outs.join(' and target/')}, screenshot to target/bench-wasm-${engine}.png`);
  }
  return { report, errors, version: browser.version };
}

// What must hold whatever the machine: both builds ran, every figure is
// there and finite, and no backend zeroed less than the oracle says had to
// be zeroed (that would be a correctness bug, not a speed).
function verify(report, errors) {
  const problems = [...errors];
  if (report.error) problems.push(report.error);
  for (const kind of ['st', 'mt']) {
    const f = report.builds[kind]?.figures;
    if (!f) { problems.push(`${kind}: no figures`); continue; }
    const times = [...f.gc_seconds, ...f.churn_seconds];
    if (f.backends.length !== 4 || times.length !== 8 || !times.every((t) => t > 0 && Number.isFinite(t))) {
      problems.push(`${kind}: times missing or not positive: ${times}`);
    }
    for (const b of f.backends) {
      for (const r of [b.zero_ratio_gc, b.zero_ratio_churn]) {
        if (!(r >= 0.9999)) problems.push(`${kind}: ${b.name} zeroed ${r} of what had to be zeroed`);
      }
      if (b.peak_memory_ratio !== null && !(b.peak_memory_ratio >= 1)) {
        problems.push(`${kind}: ${b.name} peak memory ratio ${b.peak_memory_ratio} below 1`);
      }
    }
    if (f.backends[0].peak_memory_ratio === null) problems.push(`${kind}: no peak memory figure for wasm-vmem`);
  }
  // The multithreaded build's thread sweep: every backend, every thread count.
  const sweep = report.builds.mt?.sweep;
  if (!sweep) problems.push('mt: no thread sweep');
  else {
    for (const s of sweep.series) {
      if (s.mops.length !== sweep.threads.length || !s.mops.every((x) => x > 0 && Number.isFinite(x))) {
        problems.push(`mt sweep: ${s.name}: ${s.mops}`);
      }
    }
  }
  // The allocator benchmarks: every allocator, every thread count and size
  // (a block that does not read zero fails the page); the phase workload in
  // every build asked for.
  for (const kind of ['st', 'mt']) {
    const a = report.builds[kind]?.allocs;
    if (!a) { problems.push(`${kind}: no allocator figures`); continue; }
    // rusty_alloc's instance is in the single-threaded bench builds
    // (scripts/bench-wasm.sh), not in the module as shipped.
    const rusty = kind === 'st' && a.small.series.some((s) => s.name === 'rusty_alloc');
    const names = ['wasm-vmem', 'dlmalloc', 'talc', 'lol_alloc', ...(rusty ? ['rusty_alloc'] : [])];
    if (a.small.series.map((s) => s.name).join() !== names.join() || a.large.series.map((s) => s.name).join() !== names.join()) {
      problems.push(`${kind}: allocators ${a.small.series.map((s) => s.name)}`);
    }
    if (a.small.threads.at(-1) !== (kind === 'mt' ? report.threads : 1)) problems.push(`${kind}: small objects at ${a.small.threads} threads`);
    if (a.steady?.series.map((s) => s.name).join() !== names.join()) problems.push(`${kind}: steady state: ${a.steady?.series.map((s) => s.name)}`);
    for (const s of a.steady?.series ?? []) {
      if (![s.mixed, s.batches].every((x) => x > 0 && Number.isFinite(x))) problems.push(`${kind} (a) steady: ${s.name}: ${s.mixed}, ${s.batches}`);
    }
    for (const s of a.small.series) {
      if (s.mops.length !== a.small.threads.length || !s.mops.every((x) => x > 0 && Number.isFinite(x))) problems.push(`${kind} (a): ${s.name}: ${s.mops}`);
    }
    for (const s of a.large.series) {
      const ok = (v) => v.length === a.large.sizes.length && v.every((x) => x >= 0 && Number.isFinite(x));
      if (!ok(s.us) || !ok(s.first_us) || !(s.needed >= 0) || !(s.grown >= 0)) problems.push(`${kind} (b): ${JSON.stringify(s)}`);
      // An allocator that says what it zeroed zeroed no less than had to be.
      if (s.zeroed !== null && !(s.zeroed >= s.needed)) problems.push(`${kind} (b): ${s.name} zeroed ${s.zeroed} < needed ${s.needed}`);
    }
    for (const alloc of report.allocs) {
      if (kind === 'mt' && alloc === 'rusty') continue; // single-threaded only
      const p = report.phases[kind]?.[alloc];
      if (!p || !(p.gc_bytes > 0 && p.app_bytes > 0) || !(p.linear_peak >= p.linear_before)) {
        problems.push(`${kind} (c) ${alloc}: ${JSON.stringify(p)}`);
      }
    }
  }
  return problems;
}
