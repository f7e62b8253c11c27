// A small static server for the demo: 127.0.0.1 only, COOP/COEP headers
// (cross-origin isolation, which SharedArrayBuffer and so the multithreaded
// build need) unless --no-isolation, application/wasm for .wasm.
//
//   node web/serve.mjs [--port 8080] [--no-isolation] [--exit-after SECONDS]
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
// URL prefix → directory, for files the page needs from npm packages.
const MOUNTS = [['/vendor/uplot/', join(ROOT, 'node_modules', 'uplot', 'dist')]];

function resolve(urlPath) {
  for (const [prefix, dir] of MOUNTS) {
    if (urlPath.startsWith(prefix)) return join(dir, normalize(urlPath.slice(prefix.length)));
  }
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
  return new Promise((ok) => {
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      ok({ url, close: () => new Promise((done) => server.close(done)), server });
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
  const { url, server } = await serve({ port: Number(opt('--port') ?? 8080), isolated });
  console.log(`serving ${ROOT} at ${url} (${isolated ? 'cross-origin isolated: multithreaded build' : 'no COOP/COEP: single-threaded fallback'})`);
  const exitAfter = Number(opt('--exit-after') ?? 0);
  if (exitAfter > 0) {
    setTimeout(() => server.close(() => process.exit(0)), exitAfter * 1000).unref();
    server.closeIdleConnections?.();
  }
}
