// End-to-end test of the demo in headless Chromium (Debian's, driven by
// playwright-core): with COOP/COEP the multithreaded build must run on more
// than one rayon thread; without them the single-threaded fallback must
// run. Both must finish with zero verification failures and consistent
// statistics. Screenshots go to target/.
//
//   node web/e2e.mjs [--report]     (--report: only print the reports)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_MS = 180_000;
const reportOnly = process.argv.includes('--report');
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
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-done="1"]', { timeout: TIMEOUT_MS });
    const report = await page.evaluate(() => window.__report);
    const shot = join(ROOT, 'target', `web-${isolated ? 'mt' : 'st'}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    return { report, errors, shot };
  } finally {
    await page.close();
    await server.close();
  }
}

function verify(label, { report: r, errors, shot }, isolated) {
  const s = r.stats;
  console.log(`\n${label}: ${JSON.stringify({ build: r.build, poolThreadsUsed: r.poolThreadsUsed, workers: r.workers, collections: r.collections, operations: r.operations, opsPerSecondPerThread: r.opsPerSecondPerThread, zeroedMiB: s.zeroed / 2 ** 20, skippedMiB: s.zero_skipped / 2 ** 20, peakLinearMiB: s.linear / 2 ** 20, grows: s.grows, jsViewRefreshes: r.jsViewRefreshes, elapsedMs: r.elapsedMs })}`);
  console.log(`    screenshot: ${shot}`);
  if (reportOnly) return;
  check(`${label}: no page errors`, errors.length === 0, errors.join(' | '));
  check(`${label}: crossOriginIsolated is ${isolated}`, r.crossOriginIsolated === isolated);
  check(`${label}: build`, r.build === (isolated ? 'multithreaded' : 'single-threaded'), r.build);
  if (isolated) {
    check(`${label}: more than one rayon thread used`, r.poolThreadsUsed > 1, `${r.poolThreadsUsed}`);
    check(`${label}: every worker collected`, r.opsPerThread.every((n) => n > 0), JSON.stringify(r.opsPerThread));
  }
  check(`${label}: all collections ran`, r.collections === r.rounds * r.workers, `${r.collections} of ${r.rounds * r.workers}`);
  check(`${label}: zero verification failures`, r.failures === 0 && r.jsFailures === 0 && r.errors === 0, `${r.failures}/${r.jsFailures}/${r.errors}`);
  check(`${label}: everything released`, s.reserved === 0 && s.committed === 0 && s.decommitted === 0);
  check(`${label}: owned = free zero + free dirty`, s.owned === s.free_zero + s.free_dirty);
  check(`${label}: linear memory holds what we own`, s.linear >= s.owned && s.owned >= s.peak_reserved);
  check(`${label}: zeroing was skipped for fresh pages`, s.zero_skipped > 0);
  check(`${label}: no sentinel violations`, s.sentinel_violations === 0);
  check(`${label}: JS views followed memory.grow`, r.jsViewRefreshes > 0, `${r.jsViewRefreshes}`);
}

mkdirSync(join(ROOT, 'target'), { recursive: true });
// playwright launches with a fresh temporary profile (--user-data-dir) of its own.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  headless: true,
});
try {
  verify('with COOP/COEP', await run(browser, true), true);
  verify('without COOP/COEP', await run(browser, false), false);
} finally {
  await browser.close();
}
if (!reportOnly) {
  console.log(`\ne2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
