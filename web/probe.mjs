// Runs web/probe.html in each engine, with and without COOP/COEP, and
// prints what it measured (README and docs/DESIGN.md "Browser engines"
// quote it): Atomics.wait on the main thread, a grown shared memory seen
// from JS, worker start-up, timer resolution, hardwareConcurrency. Writes
// target/probe.json.
//
//   node web/probe.mjs [--browser chromium|firefox|webkit|all]   (default all)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';
import { launch, parseEngines } from './browser.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const engines = parseEngines(argv.includes('--browser') ? argv[argv.indexOf('--browser') + 1] : 'all');
const timer = setTimeout(() => { console.error('probe: timed out'); process.exit(2); }, 120_000 * engines.length);
timer.unref();

const results = {};
let failed = false;
for (const engine of engines) {
  const browser = await launch(engine);
  results[engine] = { version: browser.version };
  try {
    for (const isolated of [true, false]) {
      const server = await serve({ isolated });
      const page = await browser.newPage();
      try {
        await page.goto(`${server.url}probe.html`);
        await page.waitFor(() => document.body.dataset.done, 60_000);
        const r = await page.evaluate(() => window.__probe);
        const errors = await page.errors();
        if (errors.length) { failed = true; r.errors = errors; }
        results[engine][isolated ? 'isolated' : 'notIsolated'] = r;
      } finally {
        await page.close();
        await server.close();
      }
    }
  } finally {
    await browser.close();
  }
  console.log(`\n== ${engine}: ${browser.version}`);
  console.log(JSON.stringify(results[engine], null, 1));
}
mkdirSync(join(ROOT, 'target'), { recursive: true });
writeFileSync(join(ROOT, 'target', 'probe.json'), JSON.stringify(results, null, 1) + '\n');
console.log('\nprobe: written to target/probe.json');
process.exit(failed ? 1 : 0);
