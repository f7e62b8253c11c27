// The demo page: picks the build, starts the workload on every rayon thread
// and on this (main) thread, and plots the figures live. The main thread
// never blocks: it runs its share of the workload in slices of a few
// milliseconds between timer ticks, and the crate's lock only spins.
//
// URL parameters: ?seconds=N (length of a run, default 20), ?threads=N
// (rayon pool size, default navigator.hardwareConcurrency, within 2..32),
// ?failGrow=R (fraction 0..1 of wasm-vmem's memory.grow calls that fail,
// default 0), ?cycle=S (seconds per up-and-down cycle of the heap target,
// default one cycle per run; the peak rises from cycle to cycle), ?peak=N
// (segments per thread at the peak, 2..16, default 8), ?allocItems=N (numbers
// the allocator workload collects and sorts after the run, default 10^6; 0
// skips it).
//
// The run is over wasm_vmem::global(), the pool of the module's global
// allocator (wasm_vmem::Global), unless failGrow > 0: then over an instance
// of its own whose memory.grow calls fail at that rate.
const $ = (id) => document.getElementById(id);
const MiB = 1 << 20;
const params = new URLSearchParams(location.search);
const SECONDS = Number(params.get('seconds') ?? 20);
const FAIL_GROW = Math.min(1, Math.max(0, Number(params.get('failGrow') ?? 0) || 0));
const CYCLE = Math.min(SECONDS, Number(params.get('cycle') ?? SECONDS) || SECONDS);
const SLICE_MS = 6; // target length of one main-thread call into the workload
const RENDER_MS = 200;
const MAX_SEGMENTS = Math.min(16, Math.max(2, Number(params.get('peak') ?? 8) || 8)); // the heap target's peak, per thread
const ALLOC_ITEMS = Math.max(0, Number(params.get('allocItems') ?? 1e6) || 0);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function fail(e) {
  console.error(e);
  $('state').className = 'badge bad';
  $('state').textContent = 'error: ' + (e?.message ?? e);
  window.__report = { error: String(e?.stack ?? e) };
  document.body.dataset.done = 'error';
}
window.addEventListener('error', (e) => fail(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => fail(e.reason));

const isolated = globalThis.crossOriginIsolated === true;
// The multithreaded build needs its memory posted to workers: cross-origin
// isolation, and SharedArrayBuffer exposed. WebKitGTK keeps it behind a
// runtime flag even under COOP/COEP (JSC_useSharedArrayBuffer=1); without
// it the module's shared memory can be created but never reaches the
// workers, and the pool would wait for them forever.
const threaded = isolated && typeof SharedArrayBuffer === 'function';
const kind = threaded ? 'mt' : 'st';
const mod = await import(`./pkg-${kind}/wasm_vmem_web.js`);
const wasm = await mod.default();
const memory = wasm.memory;

let poolThreads = 0;
let poolStartMs = 0;
if (threaded) {
  // At least 2 (the point is to run on threads), at most 32 (the workload's
  // slots; more threads would only contend for the same memory bandwidth).
  poolThreads = Math.min(32, Math.max(2, Number(params.get('threads') ?? navigator.hardwareConcurrency ?? 2)));
  const t0 = performance.now();
  await mod.initThreadPool(poolThreads);
  poolStartMs = Number((performance.now() - t0).toFixed(1)); // every worker started and ready
}
$('mode').innerHTML = threaded
  ? `<span class="badge mt">${mod.build_kind()}</span> cross-origin isolated · shared memory · ${poolThreads} rayon threads + the main thread`
  : `<span class="badge st">${mod.build_kind()}</span> ${isolated
    ? 'cross-origin isolated, but this browser exposes no SharedArrayBuffer'
    : 'not cross-origin isolated (no COOP/COEP headers)'}: fallback, main thread only`;
$('mode').innerHTML += ` · global allocator: ${mod.global_allocator()}`;
$('alloc-name').textContent = mod.global_allocator();

// A view of linear memory that follows memory.grow. After a grow, a shared
// memory's old SharedArrayBuffer keeps its old length and a non-shared
// one's ArrayBuffer is detached; either way memory.buffer is a new object.
// Checked at each use (an API boundary), not per byte.
let view = new Uint8Array(memory.buffer);
let viewRefreshes = 0;
function bytes() {
  if (view.buffer !== memory.buffer) {
    view = new Uint8Array(memory.buffer);
    viewRefreshes++;
  }
  return view;
}

// The JS side of the API: reserve a page from wasm, fill it there, read it
// back here through the (refreshed) view, release it.
let jsFailures = 0;
let probes = 0;
function probe() {
  const tag = (probes++ % 200) + 20;
  const addr = mod.probe(tag);
  // Refused (0): counted by the module, as out of memory (expected while
  // grows fail) or as an error.
  if (addr === 0) return;
  const b = bytes();
  if (b[addr] !== tag || b[addr + 8191] !== tag || b[addr + 16383] !== tag) jsFailures++;
  if (!mod.unprobe(addr)) jsFailures++;
}

// The heap target: up from 2 segments per thread to a peak and back, once
// per CYCLE seconds. The peak rises from cycle to cycle, to MAX_SEGMENTS in
// the last one, so that memory.grow keeps being called during a long run.
function heapTarget(t) {
  const cycles = Math.max(1, Math.round(SECONDS / CYCLE));
  const k = Math.min(Math.floor(t / CYCLE), cycles - 1);
  const phase = Math.min((t - k * CYCLE) / CYCLE, 1);
  const peak = 2 + (MAX_SEGMENTS - 2) * (k + 1) / cycles;
  return 2 + Math.round((peak - 2) * Math.sin(Math.PI * phase));
}

// The statistics after every worker released its heap must balance:
// nothing reserved or committed but what the global allocator holds
// (alloc_held: its small heaps and large blocks, when the run's instance is
// its pool; else 0), every other owned byte free (zero or dirty) or
// metadata, and wasm-vmem owns no more than linear memory. Returns the
// problems.
function balance(s) {
  const st = s.stats, held = s.alloc_held;
  const problems = [];
  if (st.reserved !== held) problems.push(`reserved ${st.reserved} != held by the allocator ${held}`);
  if (st.committed !== held) problems.push(`committed ${st.committed} != held by the allocator ${held}`);
  if (st.decommitted !== 0) problems.push(`decommitted ${st.decommitted}`);
  if (st.free_zero + st.free_dirty + st.reserved + st.metadata !== st.owned) {
    problems.push(`free ${st.free_zero} + ${st.free_dirty} + reserved ${st.reserved} + metadata ${st.metadata} != owned ${st.owned}`);
  }
  if (st.owned > st.linear) problems.push(`owned ${st.owned} > linear ${st.linear}`);
  return problems;
}

// The allocator's figures as table rows.
function allocRows(a, held, extra = []) {
  return [
    ['in use', `${fmt(a.in_use)} (small ${fmt(a.small_in_use)})`],
    ['small heaps hold', `${fmt(a.small_held)} in ${a.small_spans} spans of 16–256 KiB`],
    ['large blocks', fmt(a.large)],
    ['zeroed / zeroing skipped', `${fmt(a.zeroed)} / ${fmt(a.zeroing_skipped)} (pages known zero)`],
    ['held in the run\'s pool', held > 0 ? `${fmt(held)} of its reserved pages` : 'none (the run has a pool of its own)'],
    ...extra,
  ];
}
const rowsHtml = (rows) => rows.map(([k, v]) => `<tr><td>${k}</td><td class="v">${v}</td></tr>`).join('');

const COLORS = ['#3266cc', '#e8590c', '#2b8a3e', '#ae3ec9', '#1098ad', '#f08c00', '#5c7cfa', '#e64980', '#495057', '#94d82d'];
// The charts need uPlot (vendor/uplot/, a classic script before this
// module). Without it the page runs and reports all the same, with a note
// in place of each chart (web/capture.js has recorded why it did not load).
const plots = typeof uPlot === 'function';
function chart(id, names, data, dashed = []) {
  if (!plots) {
    $(id).textContent = 'chart unavailable: the plotting library (uPlot) did not load';
    return { setData() {} };
  }
  return new uPlot({
    width: 560, height: 190, legend: { live: false },
    cursor: { show: false },
    scales: { x: { time: false } },
    axes: [{ label: 'seconds', labelSize: 20, size: 30 }, { size: 56 }],
    series: [{}, ...names.map((label, i) => ({
      label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false },
      dash: dashed.includes(i) ? [6, 4] : undefined,
    }))],
  }, data, $(id));
}
const fmt = (b) => (b / MiB).toFixed(1) + ' MiB';
const threadName = (i) => (i === 0 ? 'main thread' : `rayon ${i - 1}`);

async function run() {
  $('again').disabled = true;
  $('state').className = 'badge run';
  $('state').textContent = 'running';
  delete document.body.dataset.done;
  for (const id of ['c-memory', 'c-reserved', 'c-zero', 'c-ops', 'c-alloc']) $(id).replaceChildren();

  const series = { t: [], linear: [], owned: [], reserved: [], committed: [], dirty: [], zeroed: [], skipped: [],
    allocT: [], inUse: [], smallHeld: [], large: [] };
  const opsSeries = [];
  const charts = {};
  let lastOps = null;
  let lastT = 0;
  const refreshesBefore = viewRefreshes;
  jsFailures = 0;

  mod.set_fail_grow(FAIL_GROW);
  // The allocator's figures before the run: in use must come back to this.
  const allocAtStart = JSON.parse(mod.alloc_stats());
  const workers = mod.start();
  const started = performance.now();
  let stopping = false;
  let slice = 1;
  let calls = 0, callMs = 0, longestCallMs = 0;
  // A whole tick (the slice, the probe, the snapshot and the charts), and
  // the longest time between two ticks (the timer's delay, or anything else
  // that kept the event loop from this page).
  let longestTickMs = 0, longestGapMs = 0, lastTickEnd = null;
  let lastRender = -Infinity;

  // The allocator's chart goes on after the GC run, while the allocator
  // workload runs.
  function plotAlloc(t, a) {
    series.allocT.push(t);
    series.inUse.push(a.in_use / MiB); series.smallHeld.push(a.small_held / MiB); series.large.push(a.large / MiB);
    charts.alloc?.setData([series.allocT, series.inUse, series.smallHeld, series.large]);
  }

  function render(s, now) {
    const t = (now - started) / 1000;
    const st = s.stats;
    series.t.push(t);
    series.linear.push(st.linear / MiB); series.owned.push(st.owned / MiB);
    series.reserved.push(st.reserved / MiB); series.committed.push(st.committed / MiB);
    series.dirty.push(st.free_dirty / MiB);
    series.zeroed.push(st.zeroed / MiB); series.skipped.push(st.zero_skipped / MiB);
    plotAlloc(t, s.alloc);
    const dt = t - lastT;
    s.ops.forEach((n, i) => {
      opsSeries[i] ??= series.t.slice(0, -1).map(() => 0);
      opsSeries[i].push(lastOps && dt > 0 ? (n - (lastOps[i] ?? 0)) / dt : 0);
    });
    lastOps = s.ops; lastT = t;
    const data = {
      memory: [series.t, series.linear, series.owned, series.reserved],
      reserved: [series.t, series.reserved, series.committed, series.dirty],
      zero: [series.t, series.zeroed, series.skipped],
      ops: [series.t, ...opsSeries],
      alloc: [series.allocT, series.inUse, series.smallHeld, series.large],
    };
    if (!charts.memory) {
      charts.memory = chart('c-memory', ['linear memory', 'owned by wasm-vmem', 'reserved'], data.memory, [2]);
      charts.reserved = chart('c-reserved', ['reserved', 'committed', 'free dirty'], data.reserved);
      charts.zero = chart('c-zero', ['zeroed', 'skipped (known zero)'], data.zero);
      charts.ops = chart('c-ops', s.ops.map((_, i) => threadName(i)), data.ops);
      charts.alloc = chart('c-alloc', ['in use', 'small heaps hold', 'large blocks'], data.alloc);
    } else {
      for (const k of Object.keys(data)) charts[k].setData(data[k]);
    }
    const ops = s.ops.reduce((a, b) => a + b, 0);
    const collections = s.collections.reduce((a, b) => a + b, 0);
    const g = s.grow;
    window.__live = {
      t, ops, collections, failures: s.failures + jsFailures, errors: s.errors, linear: st.linear, reserved: st.reserved,
      grows: st.grows, growCalls: g.calls, injected: g.injected, refused: g.refused, outOfMemory: s.out_of_memory,
      recoveries: s.recoveries, rescued: s.rescued, heapTarget: s.heap_target, done: s.done,
    };
    const problems = s.done ? balance(s) : null;
    const rows = [
      ['build', mod.build_kind()],
      ['threads used', threaded ? `${s.pool_threads_used} rayon + main` : 'main only'],
      ['heap target', `${s.heap_target} × 2 MiB per thread`],
      ['collections', collections.toLocaleString()],
      ['operations', `${ops.toLocaleString()} (${Math.round(ops / Math.max(t, 1e-3)).toLocaleString()}/s)`],
      ['verification failures', s.failures + jsFailures],
      ['errors', s.errors],
      ['linear memory (peak)', `${fmt(st.linear)} · ${st.grows} memory.grow`],
      ['memory.grow calls', `${g.calls} · ${g.grown} grown · <span id="injected">${g.injected}</span> failures injected (${+(FAIL_GROW * 100).toFixed(2)} %)` +
        ` · ${g.refused} refused by the engine`],
      ['out of memory → recovered', `${s.out_of_memory} reservations refused · ${s.recoveries} recovered after a refusal` +
        ` · ${s.rescued} served by another arena after a failed grow`],
      ['balance after release', problems === null ? 'when every thread has released its heap'
        : `<span id="balance">${problems.length ? 'UNBALANCED: ' + problems.join(', ') : 'ok'}</span>` +
          ' (reserved = committed = held by the allocator, free zero + free dirty + reserved + metadata = owned ≤ linear memory)'],
      ['reserved now (peak)', `${fmt(st.reserved)} (${fmt(st.peak_reserved)})`],
      ['free zero / dirty', `${fmt(st.free_zero)} / ${fmt(st.free_dirty)}`],
      ['metadata (page tables)', fmt(st.metadata)],
      ['bytes zeroed / skipped', `${fmt(st.zeroed)} / ${fmt(st.zero_skipped)}`],
      ['zeroed ÷ decommitted', (st.zeroed / Math.max(1, collections * s.gen0)).toFixed(2)],
      ['main thread: longest call', `${longestCallMs.toFixed(1)} ms (${calls} calls)`],
      ['JS view refreshes after grow', viewRefreshes - refreshesBefore],
      ['memory load', `${s.limits.load_percent} % of ${fmt(s.limits.total)}`],
    ];
    $('summary').innerHTML = rowsHtml(rows);
    $('alloc').innerHTML = rowsHtml(allocRows(s.alloc, s.alloc_held));
    $('threads').innerHTML = '<tr><th>thread</th><th>collections</th><th>operations</th><th>ops/s now</th><th>ops/s mean</th></tr>' +
      s.ops.map((n, i) => `<tr><td><span style="color:${COLORS[i % COLORS.length]}">■</span> ${threadName(i)}</td>` +
        `<td>${s.collections[i].toLocaleString()}</td><td>${n.toLocaleString()}</td>` +
        `<td>${Math.round(opsSeries[i].at(-1)).toLocaleString()}</td><td>${Math.round(n / Math.max(t, 1e-3)).toLocaleString()}</td></tr>`).join('');
  }

  return new Promise((resolve) => {
    function tick() {
      try {
        const tickStart = performance.now();
        if (lastTickEnd !== null) longestGapMs = Math.max(longestGapMs, tickStart - lastTickEnd);
        const t = (tickStart - started) / 1000;
        if (!stopping && t >= SECONDS) {
          mod.stop();
          stopping = true;
          $('state').textContent = 'releasing';
        } else if (!stopping) {
          mod.set_heap_target(heapTarget(t));
        }
        // The main thread's share, in a slice of about SLICE_MS.
        const t0 = performance.now();
        const more = mod.step_main(slice);
        const took = performance.now() - t0;
        calls++; callMs += took; longestCallMs = Math.max(longestCallMs, took);
        if (more) slice = Math.max(1, Math.min(64, Math.round(slice * SLICE_MS / Math.max(took, 0.5))));
        probe();
        const now = performance.now();
        const s = JSON.parse(mod.snapshot());
        if (now - lastRender > RENDER_MS || s.done) {
          render(s, now);
          lastRender = now;
        }
        lastTickEnd = performance.now();
        longestTickMs = Math.max(longestTickMs, lastTickEnd - tickStart);
        if (!s.done) {
          setTimeout(tick, more ? 0 : 20);
          return;
        }
        finish(now).then(resolve, fail);
      } catch (e) {
        fail(e);
      }
    }
    tick();
  });

  async function finish(now) {
    const elapsed = (now - started) / 1000;
    // A moment for the pool threads to return from their workers (they
    // free what rayon allocated for the job), then figures that stand still.
    await sleep(100);
    const s = JSON.parse(mod.snapshot());
    const ops = s.ops.reduce((a, b) => a + b, 0);
    const st = s.stats;
    const problems = balance(s);
    const report = {
      build: mod.build_kind(),
      globalAllocator: mod.global_allocator(),
      crossOriginIsolated: isolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
      poolThreads,
      poolStartMs,
      poolThreadsUsed: s.pool_threads_used,
      poolWorkers: workers,
      threads: s.ops.length,
      seconds: Number(elapsed.toFixed(2)),
      collections: s.collections.reduce((a, b) => a + b, 0),
      operations: ops,
      operationsPerSecond: Math.round(ops / elapsed),
      perThread: s.ops.map((n, i) => ({
        thread: threadName(i), collections: s.collections[i], operations: n, operationsPerSecond: Math.round(n / elapsed),
      })),
      failures: s.failures,
      jsFailures,
      errors: s.errors,
      failGrow: FAIL_GROW,
      grow: { calls: s.grow.calls, grown: s.grow.grown, injectedFailures: s.grow.injected, refusedByEngine: s.grow.refused },
      outOfMemory: s.out_of_memory,
      recoveries: s.recoveries,
      rescued: s.rescued,
      balance: { ok: problems.length === 0, problems },
      probes,
      jsViewRefreshes: viewRefreshes - refreshesBefore,
      mainThread: { calls, longestCallMs: Number(longestCallMs.toFixed(2)), meanCallMs: Number((callMs / calls).toFixed(2)),
        longestTickMs: Number(longestTickMs.toFixed(2)), longestGapMs: Number(longestGapMs.toFixed(2)) },
      segmentBytes: s.segment,
      gen0Bytes: s.gen0,
      peakLinearMiB: st.linear / MiB,
      peakReservedMiB: st.peak_reserved / MiB,
      zeroedMiB: st.zeroed / MiB,
      zeroSkippedMiB: st.zero_skipped / MiB,
      stats: st,
      limits: s.limits,
      pool: s.pool,
      allocHeld: s.alloc_held,
      alloc: s.alloc,
      allocAtStart,
    };
    $('state').textContent = 'allocator checks';
    Object.assign(report, await afterRun(s, allocAtStart, (a) => plotAlloc((performance.now() - started) / 1000, a)));
    window.__report = report;
    $('report').textContent = JSON.stringify(report, null, 2);
    const allocBad = report.allocWork?.failed.length ?? 0;
    const bad = s.failures + jsFailures + s.errors + allocBad;
    const unbalanced = [...problems, ...report.final.balance.map((p) => `after the allocator workload: ${p}`)];
    $('state').className = bad || unbalanced.length ? 'badge bad' : 'badge ok';
    $('state').textContent = bad ? `finished with ${bad} failures`
      : unbalanced.length ? `finished: statistics unbalanced (${unbalanced.join(', ')})`
        : `finished: ${report.seconds} s, no verification failures, statistics balanced` +
          (FAIL_GROW > 0 ? `, ${s.grow.injected} failed memory.grow recovered from` : '');
    $('again').disabled = false;
    document.body.dataset.done = '1';
    console.log('REPORT ' + JSON.stringify(report));
    return report;
  }
}

// After the GC workload, on the figures `s` it ended with (allocAtStart: the
// allocator's at its start; plot: adds a point to the allocator's chart): a
// Vec from the pages it released (linear memory must not grow; only over
// the global pool), then the allocator workload; the allocator's figures
// after each, and the balance at the end.
async function afterRun(s, allocAtStart, plot) {
  const out = {};
  if (s.pool === 'global') out.vecReuse = JSON.parse(mod.vec_reuse(s.segment));
  if (ALLOC_ITEMS > 0) {
    const before = JSON.parse(mod.alloc_stats());
    mod.start_alloc_work(ALLOC_ITEMS);
    let result;
    while ((result = mod.alloc_work_result()) === undefined) {
      await sleep(20);
      plot(JSON.parse(mod.alloc_stats()));
    }
    await sleep(50); // the rayon thread frees its job
    out.allocWork = { ...JSON.parse(result), before, after: JSON.parse(mod.alloc_stats()) };
    plot(out.allocWork.after);
  }
  const end = JSON.parse(mod.snapshot());
  out.final = { stats: end.stats, alloc: end.alloc, allocHeld: end.alloc_held, balance: balance(end) };
  const w = out.allocWork, v = out.vecReuse;
  $('alloc').innerHTML = rowsHtml(allocRows(end.alloc, end.alloc_held, [
    ['Vec after the run', v ? `${fmt(v.bytes)} zeroed + ${fmt(v.bytes)} pushed: linear memory ${fmt(v.linear_before)} → ${fmt(v.linear_after)}` +
      (v.linear_after === v.linear_before ? ' (no growth: released pages reused)' : '') : 'n/a (the run had a pool of its own)'],
    ['allocator workload', w ? `${w.items.toLocaleString()} items, ${w.threads_used} rayon threads, ` +
      (w.failed.length ? `<span class="bad">FAILED: ${w.failed.join(', ')}</span>` : 'all checks passed') +
      ` · sort ${w.ms.sort} ms, maps ${w.ms.map} ms, strings ${w.ms.strings} ms, large ${w.ms.large} ms` : 'skipped'],
    ['in use: run start → end', `${fmt(allocAtStart.in_use)} → ${fmt(end.alloc.in_use)}`],
  ]));
  return out;
}

$('again').addEventListener('click', () => run().catch(fail));
await run();
