// A small static server for the demo: 127.0.0.1 only, COOP/COEP headers
// (cross-origin isolation, which SharedArrayBuffer and so the multithreaded
// build need) unless --no-isolation, application/wasm for .wasm.
//
//   node web/serve.mjs [--port 8080] [--no-isolation] [--exit-after SECONDS]
// A port in use falls back to a free one. As a module, serve() starts a
// server on a free port and returns { url, close }.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(fileURLToPath(import.meta.url));
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ts': 'text/plain; charset=utf-8',
};
// web/ is served as it is: scripts/build-wasm.sh puts the modules in
// pkg-st/ and pkg-mt/ and copies uPlot from npm into vendor/, so that the
// directory also works on a static host (where, without headers, the page
// runs the single-threaded build).
function resolve(urlPath) {
  const rel = normalize(urlPath === '/' ? '/index.html' : urlPath);
  return join(ROOT, rel);
}

export function serve({ port = 0, isolated = true } = {}) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.includes('..') || path.includes('node_modules')) {
      res.writeHead(403).end();
      return;
    }
    const headers = { 'Cache-Control': 'no-store' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    try {
      const file = resolve(path);
      const body = await readFile(file);
      headers['Content-Type'] = MIME[extname(file)] ?? 'application/octet-stream';
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404, headers).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      const close = () => new Promise((done) => {
        server.close(done);
        server.closeAllConnections();
      });
      ok({ url, close, server });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const isolated = !args.includes('--no-isolation');
  const port = Number(opt('--port') ?? 8080);
  let served;
  try {
    served = await serve({ port, isolated });
  } catch (e) {
    if (e.code !== 'EADDRINUSE') throw e;
    console.log(`port ${port} is in use; taking a free one`);
    served = await serve({ port: 0, isolated });
  }
  const { url, close } = served;
  console.log(`serving ${ROOT} on ${url} (${isolated
    ? 'COOP/COEP: cross-origin isolated, the multithreaded build'
    : 'no COOP/COEP: the single-threaded fallback'})`);
  console.log(`open ${url}   (Ctrl-C stops the server)`);
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const exitAfter = Number(opt('--exit-after') ?? 0);
  if (exitAfter > 0) setTimeout(stop, exitAfter * 1000);
}
