// End-to-end test of the demo in a browser engine (web/browser.mjs:
// Chromium, Firefox or WebKit, each Debian's): with COOP/COEP the
// multithreaded build must run on more than one rayon thread; without them
// the single-threaded fallback must run. Both must finish with zero
// verification failures and consistent statistics. Both builds have
// wasm_vmem::Global as their global allocator and run the GC workload over
// its pool: after it, a Vec must come from the released pages (no growth),
// and the allocator workload (collect, sort, maps, strings, large zeroed
// vectors; on rayon threads in the multithreaded build) must check out,
// with the bytes in use back where they started. The same checks in every
// engine. Screenshots go to target/web-ENGINE-{mt,st}.png.
//
//   node web/e2e.mjs [--browser chromium|firefox|webkit|all] [--report] [--seconds N]
//     --browser  the engine(s) (default chromium); all: one after the other
//     --report   only print the reports (scripts/demo.sh --headless)
//     --seconds  length of each run (default 6)
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';
import { launch, browserArg } from './browser.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const reportOnly = argv.includes('--report');
const engines = browserArg(argv);
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
  const page = await browser.newPage({ width: 1220, height: 1000 });
  try {
    await page.goto(`${server.url}?seconds=${SECONDS}`);
    await page.waitFor(() => document.body.dataset.done, TIMEOUT_MS);
    const report = await page.evaluate(() => window.__report);
    const shot = join(ROOT, 'target', `web-${browser.engine}-${isolated ? 'mt' : 'st'}.png`);
    await page.screenshot(shot);
    let again = null;
    if (isolated && !report.error) {
      // "Run again": a second run on the same rayon pool and the same
      // global instance, which must reuse the pages the first released.
      await page.evaluate(() => {
        window.__report = null;
        document.getElementById('again').click();
      });
      await page.waitFor(() => window.__report && document.body.dataset.done, TIMEOUT_MS);
      again = await page.evaluate(() => window.__report);
    }
    return { report, errors: await page.errors(), shot, again };
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
    rayonThreadsUsed: r.poolThreadsUsed, rayonPoolStartMs: r.poolStartMs, threadsIncludingMain: r.threads, seconds: r.seconds,
    collections: r.collections, operations: r.operations, operationsPerSecond: r.operationsPerSecond,
    perThread: r.perThread.map((t) => `${t.thread}: ${t.operations} ops, ${t.operationsPerSecond}/s`),
    verificationFailures: r.failures + r.jsFailures, errors: r.errors,
    zeroedMiB: r.zeroedMiB, zeroSkippedMiB: r.zeroSkippedMiB, peakLinearMiB: r.peakLinearMiB,
    peakReservedMiB: r.peakReservedMiB, grows: s.grows, growCalls: r.grow.calls,
    injectedGrowFailures: r.grow.injectedFailures, balance: r.balance.ok ? 'ok' : r.balance.problems.join(', '),
    jsViewRefreshes: r.jsViewRefreshes,
    mainThreadLongestCallMs: r.mainThread.longestCallMs, mainThreadMeanCallMs: r.mainThread.meanCallMs,
    mainThreadLongestTickMs: r.mainThread.longestTickMs, mainThreadLongestGapMs: r.mainThread.longestGapMs,
    globalAllocator: r.globalAllocator, pool: r.pool,
    allocInUseStartEndKiB: `${r.allocAtStart.in_use / 1024} -> ${r.final.alloc.in_use / 1024}`,
    allocSmallHeldMiB: r.final.alloc.small_held / 2 ** 20, allocZeroingSkippedMiB: r.final.alloc.zeroing_skipped / 2 ** 20,
    vecReuse: r.vecReuse ? `${r.vecReuse.bytes / 2 ** 20} MiB x 2, linear ${r.vecReuse.linear_before / 2 ** 20} -> ${r.vecReuse.linear_after / 2 ** 20} MiB` : 'n/a',
    allocWork: r.allocWork ? `${r.allocWork.items} items on ${r.allocWork.threads_used} rayon threads, failed [${r.allocWork.failed}], ms ${JSON.stringify(r.allocWork.ms)}` : 'n/a',
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
    // The same heap and allocator workload again: released pages are
    // reused, linear memory (almost) does not grow.
    const grown = r.final.stats.linear - first.final.stats.linear;
    check(`${label}: the second run reused released pages`, r.probes > 0 && grown <= 2 * r.segmentBytes,
      `linear memory ${first.final.stats.linear / 2 ** 20} -> ${r.final.stats.linear / 2 ** 20} MiB, ` +
      `${r.final.stats.grows - first.final.stats.grows} more memory.grow`);
  }
  check(`${label}: main thread never blocked long`, r.mainThread.longestCallMs < 1000, `${r.mainThread.longestCallMs} ms`);
  check(`${label}: everything released but the allocator's blocks`, s.reserved === r.allocHeld && s.committed === r.allocHeld
    && s.decommitted === 0, `reserved ${s.reserved}, committed ${s.committed}, held by the allocator ${r.allocHeld}`);
  check(`${label}: owned = free zero + free dirty + reserved + metadata`,
    s.owned === s.free_zero + s.free_dirty + s.reserved + s.metadata);
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

  // The global allocator on the same pool.
  const a0 = r.allocAtStart, a = r.final.alloc, w = r.allocWork, v = r.vecReuse;
  check(`${label}: wasm_vmem::Global is the global allocator, the run on its pool`, r.globalAllocator === 'wasm-vmem'
    && r.pool === 'global' && r.allocHeld === r.alloc.small_held + r.alloc.large && r.allocHeld > 0,
    `${r.globalAllocator}, pool ${r.pool}, held ${r.allocHeld}`);
  check(`${label}: a Vec after the run came from the released pages`, v && v.zero && v.kept
    && v.linear_after === v.linear_before && v.pool_free_before >= 2 * v.bytes,
    JSON.stringify(v));
  check(`${label}: the allocator workload checked out`, w && w.failed.length === 0 && w.items === 1e6
    && (isolated ? w.threads_used > 1 : w.threads_used === 0), JSON.stringify(w && { ...w, before: undefined, after: undefined }));
  const KiB = 1024;
  check(`${label}: in use back where it was after the allocator workload`, w && Math.abs(w.after.in_use - w.before.in_use) <= 64 * KiB,
    w && `${w.before.in_use} -> ${w.after.in_use} bytes`);
  check(`${label}: in use back where it was at the run's start`, Math.abs(a.in_use - a0.in_use) <= 256 * KiB,
    `${a0.in_use} -> ${a.in_use} bytes`);
  const zeroWork = w && (w.after.zeroed + w.after.zeroing_skipped) - (w.before.zeroed + w.before.zeroing_skipped);
  check(`${label}: large zeroed allocations: every byte zeroed or known zero, some skipped`,
    w && zeroWork >= w.zeroed_bytes && a.zeroing_skipped > 0,
    `zeroed + skipped ${zeroWork} for ${w?.zeroed_bytes} bytes of large vectors; skipped in all ${a.zeroing_skipped}`);
  check(`${label}: the pool balances with the allocator's blocks after the workload`, r.final.balance.length === 0
    && r.final.allocHeld === a.small_held + a.large, r.final.balance.join(', '));
}

mkdirSync(join(ROOT, 'target'), { recursive: true });
const timer = setTimeout(() => { console.error('e2e: timed out'); process.exit(2); }, engines.length * (3 * TIMEOUT_MS + 60_000));
timer.unref();
const totals = [];
for (const engine of engines) {
  const before = { passed, failed };
  const browser = await launch(engine);
  console.log(`\n===== ${engine}: ${browser.version}`);
  try {
    const mt = await run(browser, true);
    verify(`${engine}, with COOP/COEP`, mt, true);
    if (mt.again) verify(`${engine}, with COOP/COEP, run again`, { ...mt, report: mt.again }, true, mt.report);
    else if (!reportOnly) check(`${engine}, with COOP/COEP, run again: page ran`, false, 'the first run failed');
    verify(`${engine}, without COOP/COEP`, await run(browser, false), false);
  } finally {
    await browser.close();
  }
  totals.push(`${engine} (${browser.version}): ${passed - before.passed} passed, ${failed - before.failed} failed`);
}
if (!reportOnly) {
  for (const t of totals) console.log(`e2e: ${t}`);
  console.log(`\ne2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
