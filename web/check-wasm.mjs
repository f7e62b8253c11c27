// Reads a module's import section and checks its memory import:
//   node web/check-wasm.mjs FILE shared|unshared [MAX_BYTES]
// The multithreaded build must import a *shared* memory: a build with only
// `+atomics` compiles and binds fine, then dies in the browser with
// "#<Memory> could not be cloned" (rust-lang/rust#147225).
// Also checks that no data segment carries a long run of zero bytes: a
// `static` whose initial value is all zero lies in `.bss` and costs the
// `.wasm` nothing, but one non-zero byte puts all of it in `.data` (the
// global instance's heaps and arenas, about 16 KB, once did).
import { readFileSync } from 'node:fs';

const [file, want, wantMax] = process.argv.slice(2);
const mod = new WebAssembly.Module(readFileSync(file));
const imports = WebAssembly.Module.imports(mod).filter((i) => i.kind === 'memory');
const exports = WebAssembly.Module.exports(mod).filter((e) => e.kind === 'memory');

// The JS API does not say whether a memory is shared: decode the import
// section's limits flags ourselves (bit 1: shared, bit 0: has maximum).
function memoryImports(bytes) {
  let p = 8;
  const u32 = () => { let r = 0, s = 0, b; do { b = bytes[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
  const name = () => { const n = u32(); const s = Buffer.from(bytes.subarray(p, p + n)).toString(); p += n; return s; };
  const found = [];
  while (p < bytes.length) {
    const id = bytes[p++]; const size = u32(); const end = p + size;
    if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        const m = name(), f = name(), kind = bytes[p++];
        if (kind === 0) { u32(); }
        else if (kind === 1) { p++; const fl = u32(); u32(); if (fl & 1) u32(); }
        else if (kind === 2) { const fl = u32(); const min = u32(); const max = fl & 1 ? u32() : null; found.push({ m, f, shared: !!(fl & 2), min, max }); }
        else if (kind === 3) { p += 2; }
        else if (kind === 4) { p++; u32(); }
      }
    }
    p = end;
  }
  return found;
}

// The longest run of zero bytes in any data segment, and its segment.
function longestZeroRun(bytes) {
  let p = 8;
  const u32 = () => { let r = 0, s = 0, b; do { b = bytes[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
  let best = { run: 0, segment: -1 };
  while (p < bytes.length) {
    const id = bytes[p++]; const size = u32(); const end = p + size;
    if (id === 11) {
      for (let n = u32(), k = 0; k < n; k++) {
        const flags = u32();
        if (flags === 2) u32();
        if (flags !== 1) { p++; u32(); p++; } // i32.const OFFSET end
        const len = u32();
        let run = 0;
        for (let i = p; i < p + len; i++) {
          run = bytes[i] === 0 ? run + 1 : 0;
          if (run > best.run) best = { run, segment: k };
        }
        p += len;
      }
    }
    p = end;
  }
  return best;
}

const ZERO_RUN_MAX = 4096;
const zeros = longestZeroRun(readFileSync(file));
if (zeros.run > ZERO_RUN_MAX) {
  console.error(`${file}: data segment ${zeros.segment} holds ${zeros.run} zero bytes in a row: a static that should lie in .bss is in .data (a non-zero byte in its initial value)`);
  process.exit(1);
}

const mems = memoryImports(readFileSync(file));
if (want === 'shared') {
  if (mems.length !== 1 || !mems[0].shared) {
    console.error(`${file}: expected one imported shared memory, found ${JSON.stringify(mems)}`);
    process.exit(1);
  }
  const maxBytes = mems[0].max * 65536;
  if (wantMax !== undefined && maxBytes !== Number(wantMax)) {
    console.error(`${file}: the shared memory's maximum is ${maxBytes} bytes, not ${wantMax} (--max-memory vs WASM_VMEM_MAX_MEMORY)`);
    process.exit(1);
  }
  console.log(`ok: ${file} imports a shared memory, maximum ${maxBytes / 2 ** 30} GiB`);
} else {
  if (mems.some((m) => m.shared) || imports.length + exports.length === 0) {
    console.error(`${file}: expected an unshared memory, found ${JSON.stringify(mems)}`);
    process.exit(1);
  }
  console.log(`ok: ${file} has an unshared memory`);
}
