// The one driver seam of the browser runners (e2e.mjs, soak.mjs,
// bench-run.mjs, probe.mjs): opens a page in one of three engines, all
// Debian's, nothing downloaded, nothing reaching the network:
//
//   chromium  /usr/bin/chromium (or $CHROMIUM), headless, playwright-core
//   firefox   /usr/bin/firefox-esr (or $FIREFOX), headless, puppeteer-core
//             over WebDriver BiDi
//   webkit    WebKitGTK's MiniBrowser (or $MINIBROWSER) through
//             /usr/bin/WebKitWebDriver (plain W3C WebDriver over HTTP), under
//             xvfb-run (MiniBrowser has no headless mode), with
//             JSC_useSharedArrayBuffer=1 (WebKitGTK keeps SharedArrayBuffer
//             behind that flag; Safari turns it on under COOP/COEP; a value
//             set in the environment is kept, 0 tries the page without it)
//
// Every browser starts with a fresh user-data directory (for WebKit, fresh
// HOME, XDG and TMPDIR directories) that close() removes, and close() stops
// every process it started; so does the exit of this process, however it
// exits (a SIGINT, SIGTERM or SIGHUP becomes an exit).
//
//   const browser = await launch('firefox');
//   const page = await browser.newPage({ width: 1220, height: 1000 });
//   await page.goto(url);
//   await page.waitFor(() => document.body.dataset.done, 60_000);
//   const report = await page.evaluate(() => window.__report);
//   await page.errors();    // what web/capture.js (and, in Chromium and
//                           // Firefox, the driver) saw go wrong in the page
//   await browser.close();
//
// evaluate(fn, arg) runs fn(arg) in the page (fn may be async; its source
// is sent, so it sees nothing of this module) and returns its result
// through JSON.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ENGINES = ['chromium', 'firefox', 'webkit'];

// 'all' or a comma-separated list → engine names; throws on anything else.
export function parseEngines(arg = 'chromium') {
  const list = arg === 'all' ? ENGINES : arg.split(',').filter(Boolean);
  for (const e of list) {
    if (!ENGINES.includes(e)) throw new Error(`unknown browser ${e} (${ENGINES.join(', ')} or all)`);
  }
  return list;
}

// --browser NAME from argv (default chromium).
export function browserArg(argv = process.argv.slice(2)) {
  const i = argv.indexOf('--browser');
  return parseEngines(i >= 0 ? argv[i + 1] : 'chromium');
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// The expression sent to the page: fn(arg), awaited, as JSON.
const call = (fn, arg) => `(async () => JSON.stringify(await (${fn})(${JSON.stringify(arg) ?? 'undefined'}) ?? null))()`;
const errorsFn = () => (window.__errors ?? []).slice();

// What is left to clean up if this process exits before close():
// processes (killed, as groups where they were started as such) and
// directories (removed).
const leftovers = new Set();
process.on('exit', () => {
  for (const l of leftovers) l();
});
// A signal (timeout(1) sends SIGTERM, Ctrl-C SIGINT) would end the process
// without 'exit' handlers: turn it into an exit, once a browser is started.
let signalsHooked = false;
function hookSignals() {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the browsers`);
      process.exit(code);
    });
  }
}

function freshDir(engine) {
  const dir = mkdtempSync(join(tmpdir(), `wasm-vmem-${engine}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  leftovers.add(remove);
  return { dir, remove: () => { leftovers.delete(remove); remove(); } };
}

// A page of a playwright or puppeteer browser: the same calls in both.
function driverPage(page, version) {
  const native = [];
  page.on('pageerror', (e) => native.push(String(e?.stack ?? e)));
  page.on('console', (m) => { if (m.type() === 'error') native.push(m.text()); });
  const self = {
    version,
    goto: (url) => page.goto(url, { waitUntil: 'load' }),
    evaluate: async (fn, arg) => JSON.parse(await page.evaluate(call(fn, arg))),
    waitFor: (fn, timeoutMs, pollMs = 250, arg) => poll(self, fn, timeoutMs, pollMs, arg),
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    errors: async () => [...native, ...await self.evaluate(errorsFn).catch(() => [])],
    close: () => page.close(),
  };
  return self;
}

// Polls fn(arg) in the page until it returns something truthy (returned), or
// throws after timeoutMs. Polling, not a page-side wait, so that every
// engine waits the same way (WebDriver has no waitForFunction).
async function poll(page, fn, timeoutMs, pollMs, arg) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${fn}`);
    await sleep(pollMs);
  }
}

async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const exe = process.env.CHROMIUM ?? '/usr/bin/chromium';
  const profile = freshDir('chromium');
  let context;
  try {
    context = await chromium.launchPersistentContext(profile.dir, {
      executablePath: exe,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    profile.remove();
    throw e;
  }
  const version = execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim().replace(/ built on .*/, '');
  for (const p of context.pages()) await p.close();
  return {
    engine: 'chromium',
    version,
    async newPage({ width = 1220, height = 1000 } = {}) {
      const page = await context.newPage();
      await page.setViewportSize({ width, height });
      return driverPage(page, version);
    },
    async close() {
      try {
        await context.close();
      } finally {
        profile.remove();
      }
    },
  };
}

async function launchFirefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = freshDir('firefox');
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      headless: true,
      userDataDir: profile.dir,
      // No updates, telemetry, remote settings or captive-portal checks.
      extraPrefsFirefox: {
        'app.update.enabled': false, 'network.captive-portal-service.enabled': false,
        'datareporting.policy.dataSubmissionEnabled': false, 'toolkit.telemetry.enabled': false,
        'browser.safebrowsing.update.enabled': false, 'network.connectivity-service.enabled': false,
      },
    });
  } catch (e) {
    profile.remove();
    throw e;
  }
  const pid = browser.process()?.pid;
  const kill = () => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } };
  if (pid) leftovers.add(kill);
  const version = execFileSync(process.env.FIREFOX ?? '/usr/bin/firefox-esr', ['--version'], { encoding: 'utf8' })
    .trim().replace(/^Mozilla /, '');
  return {
    engine: 'firefox',
    version,
    async newPage({ width = 1220, height = 1000 } = {}) {
      const page = await browser.newPage();
      await page.setViewport({ width, height });
      return driverPage(page, version);
    },
    async close() {
      try {
        await Promise.race([browser.close(), sleep(15_000).then(kill)]);
      } finally {
        kill();
        leftovers.delete(kill);
        profile.remove();
      }
    },
  };
}

// The processes of a process group, by name (from /proc).
function groupPids(pgid, name) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && comm === name) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function launchWebKit() {
  const driverExe = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const binary = process.env.MINIBROWSER ?? `/usr/lib/${arch}-linux-gnu/webkit2gtk-4.1/MiniBrowser`;
  const home = freshDir('webkit');
  const port = await freePort();
  // Its own process group: xvfb-run, Xvfb, the driver, MiniBrowser and
  // WebKit's web and network processes, stopped together.
  const env = {
    ...process.env,
    HOME: home.dir,
    XDG_CONFIG_HOME: join(home.dir, 'config'),
    XDG_DATA_HOME: join(home.dir, 'data'),
    XDG_CACHE_HOME: join(home.dir, 'cache'),
    XDG_RUNTIME_DIR: home.dir,
    TMPDIR: home.dir, // xvfb-run's directory too
    JSC_useSharedArrayBuffer: process.env.JSC_useSharedArrayBuffer ?? '1',
    // No GPU here; no accessibility bus either.
    LIBGL_ALWAYS_SOFTWARE: '1',
    NO_AT_BRIDGE: '1',
  };
  const child = spawn('xvfb-run', ['-a', '-s', '-screen 0 1920x1200x24', driverExe, `--port=${port}`, '--host=127.0.0.1'], {
    env, detached: true, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let driverLog = '';
  child.stderr.on('data', (d) => { driverLog = (driverLog + d).slice(-4000); });
  const exited = new Promise((ok) => child.once('exit', ok));
  const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* gone */ } };
  const killNow = () => killGroup('SIGKILL');
  leftovers.add(killNow);
  const base = `http://127.0.0.1:${port}`;
  async function wd(method, path, body) {
    const res = await fetch(base + path, {
      method, headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      throw new Error(`WebDriver ${method} ${path}: ${v.error ?? res.status}: ${v.message ?? ''}`);
    }
    return json.value;
  }
  // The driver is stopped first, so that xvfb-run (a shell script that
  // cleans up only when it exits by itself) stops its Xvfb; then anything
  // left of the group is killed.
  async function stop() {
    for (const pid of groupPids(child.pid, 'WebKitWebDriver')) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    if (await Promise.race([exited.then(() => true), sleep(5000)]) !== true) killGroup('SIGTERM');
    await Promise.race([exited, sleep(2000)]);
    killNow();
    leftovers.delete(killNow);
    home.remove();
  }
  let session;
  try {
    const ready = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited: ${driverLog}`);
      try {
        if ((await wd('GET', '/status')).ready) break;
      } catch { /* not listening yet */ }
      if (Date.now() > ready) throw new Error(`WebKitWebDriver did not start: ${driverLog}`);
      await sleep(200);
    }
    const caps = await wd('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          'webkitgtk:browserOptions': { binary, args: ['--automation'] },
          timeouts: { script: 600_000, pageLoad: 120_000 },
        },
      },
    });
    session = `/session/${caps.sessionId}`;
    const version = `WebKitGTK ${caps.capabilities.browserVersion} (MiniBrowser)`;
    let pages = 0;
    return {
      engine: 'webkit',
      version,
      async newPage({ width = 1220, height = 1000 } = {}) {
        // WebDriver drives the session's one window: a page at a time.
        if (pages++ > 0) await wd('POST', `${session}/url`, { url: 'about:blank' });
        await wd('POST', `${session}/window/rect`, { width, height }).catch(() => {});
        const self = {
          version,
          goto: (url) => wd('POST', `${session}/url`, { url }),
          async evaluate(fn, arg) {
            const script = `const done = arguments[0];
              ${call(fn, arg)}.then(done, (e) => done(JSON.stringify({ __evaluateError: String(e && e.stack || e) })));`;
            const v = JSON.parse(await wd('POST', `${session}/execute/async`, { script, args: [] }));
            if (v && typeof v === 'object' && '__evaluateError' in v) throw new Error(v.__evaluateError);
            return v;
          },
          waitFor: (fn, timeoutMs, pollMs = 250, arg) => poll(self, fn, timeoutMs, pollMs, arg),
          async screenshot(path) {
            writeFileSync(path, Buffer.from(await wd('GET', `${session}/screenshot`), 'base64'));
          },
          errors: () => self.evaluate(errorsFn).catch(() => []),
          close: () => wd('POST', `${session}/url`, { url: 'about:blank' }).catch(() => {}),
        };
        return self;
      },
      async close() {
        try {
          await Promise.race([wd('DELETE', session).catch(() => {}), sleep(10_000)]);
        } finally {
          await stop();
        }
      },
    };
  } catch (e) {
    if (session) await wd('DELETE', session).catch(() => {});
    await stop();
    throw e;
  }
}

// Starts a browser of the engine; close() it (a finally block).
export function launch(engine = 'chromium') {
  hookSignals();
  switch (engine) {
  case 'chromium': return launchChromium();
  case 'firefox': return launchFirefox();
  case 'webkit': return launchWebKit();
  default: throw new Error(`unknown browser ${engine}`);
  }
}
