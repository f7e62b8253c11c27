// End-to-end test of the demo in headless Chromium (Debian's, driven by
// playwright-core): with COOP/COEP the multithreaded build must run on more
// than one rayon thread; without them the single-threaded fallback must
// run. Both must finish with zero verification failures and consistent
// statistics. Screenshots go to target/.
//
//   node web/e2e.mjs [--report] [--seconds N]
//     --report   only print the reports (scripts/demo.sh --headless)
//     --seconds  length of each run (default 6)
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';
import { launch } from './browser.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const reportOnly = argv.includes('--report');
const SECONDS = argv.includes('--seconds') ? Number(argv[argv.indexOf('--seconds') + 1]) : 6;
if (!(SECONDS > 0)) throw new Error('--seconds needs a positive number');
// A run takes SECONDS plus loading and the pool's start; bounded anyway.
const TIMEOUT_MS = (SECONDS + 90) * 1000;
let passed = 0;
let failed = 0;

function check(what, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ': ' + detail : ''}`);
}

async function run(browser, isolated) {
  const server = await serve({ isolated });
  const page = await browser.newPage({ viewport: { width: 1220, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await page.goto(`${server.url}?seconds=${SECONDS}`, { waitUntil: 'load' });
    await page.waitForSelector('body[data-done]', { timeout: TIMEOUT_MS });
    const report = await page.evaluate(() => window.__report);
    const shot = join(ROOT, 'target', `web-${isolated ? 'mt' : 'st'}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    let again = null;
    if (isolated && !report.error) {
      // "Run again": a second run on the same rayon pool and the same
      // global instance, which must reuse the pages the first released.
      await page.evaluate(() => { window.__report = null; });
      await page.click('#again');
      await page.waitForFunction(() => window.__report && document.body.dataset.done, null, { timeout: TIMEOUT_MS });
      again = await page.evaluate(() => window.__report);
    }
    return { report, errors, shot, again };
  } finally {
    await page.close();
    await server.close();
  }
}

function verify(label, { report: r, errors, shot }, isolated, first = null) {
  if (r.error) {
    check(`${label}: page ran`, false, r.error);
    return;
  }
  const s = r.stats;
  const summary = {
    build: r.build, crossOriginIsolated: r.crossOriginIsolated, hardwareConcurrency: r.hardwareConcurrency,
    rayonThreadsUsed: r.poolThreadsUsed, threadsIncludingMain: r.threads, seconds: r.seconds,
    collections: r.collections, operations: r.operations, operationsPerSecond: r.operationsPerSecond,
    perThread: r.perThread.map((t) => `${t.thread}: ${t.operations} ops, ${t.operationsPerSecond}/s`),
    verificationFailures: r.failures + r.jsFailures, errors: r.errors,
    zeroedMiB: r.zeroedMiB, zeroSkippedMiB: r.zeroSkippedMiB, peakLinearMiB: r.peakLinearMiB,
    peakReservedMiB: r.peakReservedMiB, grows: s.grows, growCalls: r.grow.calls,
    injectedGrowFailures: r.grow.injectedFailures, balance: r.balance.ok ? 'ok' : r.balance.problems.join(', '),
    jsViewRefreshes: r.jsViewRefreshes,
    mainThreadLongestCallMs: r.mainThread.longestCallMs, mainThreadMeanCallMs: r.mainThread.meanCallMs,
  };
  console.log(`\n${label}:`);
  for (const [k, v] of Object.entries(summary)) console.log(`    ${k.padEnd(24)} ${Array.isArray(v) ? v.join('; ') : v}`);
  console.log(`    ${'screenshot'.padEnd(24)} ${shot}`);
  if (reportOnly) return;
  check(`${label}: no page errors`, errors.length === 0, errors.join(' | '));
  check(`${label}: crossOriginIsolated is ${isolated}`, r.crossOriginIsolated === isolated);
  check(`${label}: build`, r.build === (isolated ? 'multithreaded' : 'single-threaded'), r.build);
  if (isolated) {
    check(`${label}: more than one rayon thread used`, r.poolThreadsUsed > 1 && r.poolThreadsUsed === r.poolWorkers,
      `${r.poolThreadsUsed} of ${r.poolWorkers}`);
  } else {
    check(`${label}: main thread only`, r.threads === 1 && r.poolWorkers === 0);
  }
  check(`${label}: every thread collected`, r.perThread.every((t) => t.collections > 0),
    r.perThread.map((t) => t.collections).join(','));
  check(`${label}: operations add up`, r.perThread.reduce((a, t) => a + t.operations, 0) === r.operations
    && r.operations > 2 * r.collections);
  check(`${label}: zero verification failures`, r.failures === 0 && r.jsFailures === 0 && r.errors === 0,
    `${r.failures}/${r.jsFailures}/${r.errors}`);
  if (!first) {
    check(`${label}: JS read pages through refreshed views`, r.probes > 0 && r.jsViewRefreshes > 0,
      `${r.probes} probes, ${r.jsViewRefreshes} refreshes`);
  } else {
    // The same heap again: released pages are reused, linear memory (almost) does not grow.
    const grown = s.linear - first.stats.linear;
    check(`${label}: the second run reused released pages`, r.probes > 0 && grown <= 2 * r.segmentBytes,
      `linear memory ${first.stats.linear / 2 ** 20} -> ${s.linear / 2 ** 20} MiB, ${s.grows - first.stats.grows} more memory.grow`);
  }
  check(`${label}: main thread never blocked long`, r.mainThread.longestCallMs < 1000, `${r.mainThread.longestCallMs} ms`);
  check(`${label}: everything released`, s.reserved === 0 && s.committed === 0 && s.decommitted === 0);
  check(`${label}: owned = free zero + free dirty + metadata`, s.owned === s.free_zero + s.free_dirty + s.metadata);
  check(`${label}: the page found the statistics balanced`, r.balance.ok, r.balance.problems.join(', '));
  check(`${label}: no grow failure injected (failGrow 0)`, r.failGrow === 0 && r.grow.injectedFailures === 0
    && r.outOfMemory === r.grow.refusedByEngine && r.grow.calls === r.grow.grown + r.grow.refusedByEngine,
    JSON.stringify(r.grow));
  check(`${label}: linear memory >= owned >= peak reserved`, s.linear >= s.owned && s.owned >= s.peak_reserved,
    `${s.linear} >= ${s.owned} >= ${s.peak_reserved}`);
  check(`${label}: the heap grew to its target`, s.peak_reserved >= r.threads * 4 * r.segmentBytes && s.grows > 0,
    `peak reserved ${s.peak_reserved / 2 ** 20} MiB`);
  check(`${label}: released pages were reused`, s.peak_reserved < r.collections * r.gen0Bytes && s.owned < 2 * s.peak_reserved + 16 * r.segmentBytes,
    `owned ${s.owned / 2 ** 20} MiB`);
  check(`${label}: every decommitted byte zeroed or still dirty`, s.zeroed + s.free_dirty >= r.collections * r.gen0Bytes);
  check(`${label}: zeroing was skipped for fresh pages`, s.zero_skipped > 0);
  check(`${label}: no sentinel violations`, s.sentinel_violations === 0);
  check(`${label}: limits`, r.limits.total === 4 * 2 ** 30 && r.limits.hard === 3 * 2 ** 30, JSON.stringify(r.limits));
}

mkdirSync(join(ROOT, 'target'), { recursive: true });
const timer = setTimeout(() => { console.error('e2e: timed out'); process.exit(2); }, 3 * TIMEOUT_MS + 60_000);
timer.unref();
const browser = await launch();
try {
  const mt = await run(browser, true);
  verify('with COOP/COEP', mt, true);
  if (mt.again) verify('with COOP/COEP, run again', { ...mt, report: mt.again }, true, mt.report);
  verify('without COOP/COEP', await run(browser, false), false);
} finally {
  await browser.close();
}
if (!reportOnly) {
  console.log(`\ne2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
