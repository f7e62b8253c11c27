// The browser soak: the demo's multithreaded build in a browser engine
// (web/browser.mjs: Chromium, Firefox or WebKit), with a rayon thread per hardware
// thread (navigator.hardwareConcurrency) plus the main thread, for a long
// run in which a chosen fraction of wasm-vmem's memory.grow calls fail
// (the page's ?failGrow=, a FlakyMemory in the demo module). Prints
// progress every few seconds and a final JSON report (also written to
// --out), and exits non-zero on any verification failure or error, on
// statistics that do not balance once every worker released its heap, or
// when the rate is > 0 but no failed grow was injected, surfaced as a
// refused reservation and recovered from. Bounded in time: the server and
// the browser stop with it.
//
//   node web/soak.mjs [--browser chromium|firefox|webkit] [--seconds 300]
//                     [--fail-grow 0.2] [--cycle S] [--peak 16] [--threads N]
//                     [--progress 15] [--out target/soak-report.json]
//     --browser   the engine (default chromium)
//     --cycle     seconds per up-and-down cycle of the heap target
//                 (default: a tenth of the run, at least 5)
//     --threads   rayon threads (default: the page's, hardwareConcurrency)
//
// Exit status: 0 all checks passed, 1 a check failed, 2 the page did not
// finish in time or could not run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, parseEngines } from './browser.mjs';
import { serve } from './serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const SECONDS = Number(opt('--seconds', 300));
const FAIL_GROW = Number(opt('--fail-grow', 0.2));
const CYCLE = Number(opt('--cycle', Math.max(5, SECONDS / 10)));
const PEAK = Number(opt('--peak', 16));
const THREADS = opt('--threads');
const PROGRESS = Number(opt('--progress', 15));
const OUT = resolve(ROOT, opt('--out', 'target/soak-report.json'));
const ENGINES = parseEngines(opt('--browser', 'chromium'));
if (ENGINES.length !== 1) {
  console.error('soak: one browser at a time');
  process.exit(2);
}
const [ENGINE] = ENGINES;
for (const [k, v, ok] of [['--seconds', SECONDS, SECONDS > 0], ['--fail-grow', FAIL_GROW, FAIL_GROW >= 0 && FAIL_GROW <= 1],
  ['--cycle', CYCLE, CYCLE > 0], ['--peak', PEAK, PEAK >= 2 && PEAK <= 16], ['--progress', PROGRESS, PROGRESS > 0]]) {
  if (!ok) {
    console.error(`soak: bad ${k} ${v}`);
    process.exit(2);
  }
}
// Loading, the pool's start and the final release take seconds; bounded.
const TIMEOUT_MS = (SECONDS + 120) * 1000;
const hardStop = setTimeout(() => {
  console.error('soak: timed out');
  process.exit(2);
}, TIMEOUT_MS + 60_000);
hardStop.unref();

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const MiB = 2 ** 20;
const checks = [];
function check(what, ok, detail = '') {
  checks.push({ what, ok, detail: String(detail) });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail !== '' ? ': ' + detail : ''}`);
}

mkdirSync(join(ROOT, 'target'), { recursive: true });
const server = await serve({ isolated: true });
let browser;
let exitCode = 2;
try {
  browser = await launch(ENGINE);
  const page = await browser.newPage({ width: 1220, height: 1000 });
  const query = new URLSearchParams({ seconds: SECONDS, failGrow: FAIL_GROW, cycle: CYCLE, peak: PEAK });
  if (THREADS) query.set('threads', THREADS);
  const url = `${server.url}?${query}`;
  console.log(`soak: ${browser.version}, ${url}  (${SECONDS} s, ${+(FAIL_GROW * 100).toFixed(2)} % of memory.grow failing)`);
  const began = Date.now();
  await page.goto(url);

  let lastPrint = 0;
  let done = null;
  while (Date.now() - began < TIMEOUT_MS) {
    await sleep(1000);
    done = await page.evaluate(() => document.body.dataset.done ?? null);
    if (done) break;
    const now = (Date.now() - began) / 1000;
    if (now - lastPrint >= PROGRESS) {
      lastPrint = now;
      const l = await page.evaluate(() => window.__live ?? null);
      if (l) {
        console.log(`[${l.t.toFixed(0).padStart(4)} s] ${l.ops.toLocaleString('en')} ops (${Math.round(l.ops / l.t).toLocaleString('en')}/s), ` +
          `${l.collections.toLocaleString('en')} collections, linear ${(l.linear / MiB).toFixed(0)} MiB, reserved ${(l.reserved / MiB).toFixed(0)} MiB, ` +
          `memory.grow ${l.grows} ok / ${l.injected} injected failures / ${l.refused} refused, ` +
          `${l.outOfMemory} out of memory, ${l.rescued} rescued, ${l.recoveries} recovered, ${l.failures} verification failures, ${l.errors} errors`);
      }
    }
  }
  if (!done) {
    console.error(`soak: the page did not finish within ${TIMEOUT_MS / 1000} s`);
  } else {
    const r = await page.evaluate(() => window.__report);
    await page.screenshot(join(ROOT, 'target', `soak-${ENGINE}.png`)).catch(() => {});
    exitCode = verify(r, await page.errors(), (Date.now() - began) / 1000, browser.version);
  }
} catch (e) {
  console.error('soak:', e?.stack ?? e);
} finally {
  await browser?.close().catch((e) => console.error('soak: closing the browser:', e));
  await server.close();
}
process.exit(exitCode);

function verify(r, errors, wallSeconds, version) {
  if (!r || r.error) {
    check('page ran', false, r?.error ?? 'no report');
    return 2;
  }
  const s = r.stats;
  const hc = r.hardwareConcurrency;
  const poolWanted = Math.min(32, Math.max(2, THREADS ? Number(THREADS) : hc));
  check('no page errors', errors.length === 0, errors.join(' | '));
  check('multithreaded build, cross-origin isolated', r.crossOriginIsolated && r.build === 'multithreaded', r.build);
  check('a rayon worker on every pool thread', r.poolThreads === poolWanted && r.poolThreadsUsed === r.poolWorkers
    && r.poolWorkers === r.poolThreads, `${r.poolThreadsUsed} used of ${r.poolWorkers} workers, ${r.poolThreads} threads, hardwareConcurrency ${hc}`);
  check(`ran for ${SECONDS} s`, r.seconds >= SECONDS, `${r.seconds} s`);
  check('every thread collected', r.perThread.every((t) => t.collections > 0), r.perThread.map((t) => t.collections).join(','));
  check('zero verification failures', r.failures === 0 && r.jsFailures === 0, `${r.failures} in wasm, ${r.jsFailures} in JS`);
  check('no errors (other than out of memory)', r.errors === 0, r.errors);
  const problems = [];
  if (s.reserved !== 0 || s.committed !== 0 || s.decommitted !== 0) problems.push('something still reserved');
  if (s.free_zero + s.free_dirty + s.metadata !== s.owned) problems.push('free zero + free dirty + metadata != owned');
  if (s.owned > s.linear) problems.push('owned > linear memory');
  check('statistics balance after every worker released its heap', problems.length === 0 && r.balance.ok,
    `reserved ${s.reserved}, committed ${s.committed}, free zero ${s.free_zero} + free dirty ${s.free_dirty} + metadata ${s.metadata} = ${s.free_zero + s.free_dirty + s.metadata}` +
    ` vs owned ${s.owned}, linear ${s.linear}${problems.length ? ' — ' + problems.join(', ') : ''}`);
  const g = r.grow;
  check('every memory.grow counted', g.calls === g.grown + g.injectedFailures + g.refusedByEngine && g.grown === s.grows,
    `${g.calls} calls = ${g.grown} grown + ${g.injectedFailures} injected + ${g.refusedByEngine} refused; the instance counts ${s.grows} grows`);
  if (FAIL_GROW > 0) {
    check('grow failures were injected', g.injectedFailures > 0, g.injectedFailures);
    // A reservation meets at most one failed grow; it is refused, or
    // served by an arena where another thread released pages meanwhile.
    check('every failed grow surfaced as a refused or rescued reservation',
      r.outOfMemory + r.rescued === g.injectedFailures + g.refusedByEngine,
      `${r.outOfMemory} out of memory + ${r.rescued} rescued for ${g.injectedFailures + g.refusedByEngine} failed grows`);
    check('refused reservations were recovered from', r.recoveries > 0, `${r.recoveries} recoveries`);
  } else {
    check('no grow failure injected at rate 0', g.injectedFailures === 0, g.injectedFailures);
  }
  const ok = checks.every((c) => c.ok);
  const report = {
    ok,
    browser: version,
    seconds: r.seconds,
    wallSeconds: Number(wallSeconds.toFixed(1)),
    failGrow: FAIL_GROW,
    cycleSeconds: CYCLE,
    peakSegmentsPerThread: PEAK,
    hardwareConcurrency: hc,
    rayonThreads: r.poolThreads,
    rayonThreadsUsed: r.poolThreadsUsed,
    threadsIncludingMain: r.threads,
    collections: r.collections,
    operations: r.operations,
    operationsPerSecond: r.operationsPerSecond,
    growCalls: g.calls,
    grows: g.grown,
    injectedGrowFailures: g.injectedFailures,
    growsRefusedByEngine: g.refusedByEngine,
    reservationsOutOfMemory: r.outOfMemory,
    reservationsRescued: r.rescued,
    recoveries: r.recoveries,
    verificationFailures: r.failures + r.jsFailures,
    errors: r.errors,
    balance: {
      ok: problems.length === 0 && r.balance.ok,
      reserved: s.reserved, committed: s.committed, decommitted: s.decommitted,
      freeZero: s.free_zero, freeDirty: s.free_dirty, metadata: s.metadata, owned: s.owned, linear: s.linear,
    },
    peakLinearMiB: r.peakLinearMiB,
    peakReservedMiB: r.peakReservedMiB,
    zeroedMiB: r.zeroedMiB,
    zeroSkippedMiB: r.zeroSkippedMiB,
    mainThread: r.mainThread,
    probes: r.probes,
    checks,
    page: r,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
  const { page: _page, checks: _checks, ...summary } = report;
  console.log('SOAK REPORT ' + JSON.stringify(summary, null, 2));
  console.log(`soak (${ENGINE}): ${ok ? 'passed' : 'FAILED'} (${checks.filter((c) => c.ok).length} of ${checks.length} checks); report in ${OUT}`);
  return ok ? 0 : 1;
}
