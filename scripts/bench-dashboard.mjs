// Dashboard budgets, measured (tests assert behaviour, never time): the webview in headless Chromium
// with an hour of 1 s samples (first paint, one new sample per update, JS heap; budgets 16 ms and
// 50 MB), and the language server's CPU while idle with metrics streaming at the default interval
// (budget 2%). Uses dist/ (run `npm run build` first); talks only to 127.0.0.1.
// Usage: node scripts/bench-dashboard.mjs [--updates 60] [--loads 10] [--seconds 10] [--out .bench] [--only webview|collector]
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({
  options: {
    updates: { type: 'string', default: '60' },
    loads: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    out: { type: 'string', default: '.bench' },
    only: { type: 'string' }, // webview | collector
  },
});
const BUDGET = { frameMs: 16, heapMb: 50, cpuPercent: 2 };

// ---- data: what the server sends for an hour of 1 s samples ----
const T0 = Date.UTC(2025, 0, 1, 12);
function sample(i) {
  const busy = i % 60 < 5;
  return {
    t: T0 + i * 1000,
    inFlight: busy ? 32 : 0,
    queued: i % 60 < 3 ? 10 : 0,
    requestsPerSec: busy ? 400 + (i % 7) : 0,
    mbPerSec: busy ? 3.5 : 0,
    errors: i % 600 === 0 ? 1 : 0,
    retries: 0,
    ...(busy && { latencyP50: 20 + (i % 5), latencyP95: 45, latencyP99: 80, cacheHitRate: 0.8 + (i % 20) / 100 }),
    rssMb: 180 + (i % 100) / 10,
    heapUsedMb: 90 + (i % 50) / 10,
    externalMb: 12,
    cpuPercent: busy ? 85 : 1,
    eventLoopP99Ms: 21,
    gcMs: i % 60 === 4 ? 12 : 0,
  };
}

/** A profile as large as the server sends (400 spans). */
function profile() {
  const spans = Array.from({ length: 400 }, (_, i) => {
    const start = i * 1.2;
    return { name: `package-${i}`, start, queueMs: 2, ttfbMs: 20, downloadMs: 8, parseMs: 1, pickMs: 0.5, end: start + 31.5, bytes: 20_000 + i * 100, status: 200, attempts: 1 };
  });
  const names = spans.filter((_, i) => i % 40 === 0).map((s) => s.name);
  return {
    durationMs: 510, packages: 443, requests: 460, bytes: 4_500_000, spans, spanCount: 460,
    criticalPath: { names, ms: 480, text: `${names.join(' > ')} = 480 ms of 510 ms` },
    slowest: spans.slice(0, 10).map((s) => ({ name: s.name, ms: 31.5 })),
    largest: spans.slice(-10).map((s) => ({ name: s.name, bytes: s.bytes })),
    phases: { queue: 800, ttfb: 8000, download: 3200, parse: 400, pick: 200 },
    recommendations: [{ id: 'concurrency', message: 'Raise the concurrency.' }],
    speculationAccuracy: 0.97,
  };
}

function snapshot() {
  const samples = Array.from({ length: 3600 }, (_, i) => sample(i));
  return {
    intervalMs: 1000,
    samples,
    runs: samples.filter((_, i) => i % 60 === 5).map((s, i) => ({ t: s.t, durationMs: 500 + (i % 7) * 10, packages: 443, requests: 460, bytes: 4_500_000, speculationAccuracy: 0.97 })),
    alerts: [{ id: 'cacheHitRate', severity: 'warning', message: 'Cache hit rate 80% over the last minute (threshold 90%).', hint: 'Resolve again to warm it.' }],
    registries: [{ registry: 'http://127.0.0.1:4873', requests: 27_600, errors: 6, p50: 20, p95: 45, p99: 80 }],
    cache: { hits: { memory: 300, disk: 100 }, misses: 100, revalidated: 0, stale: 0, evictions: 2, corrupt: 0 },
    profile: profile(),
    summary: { uri: 'file:///p/package.json', state: 'idle', packages: 443, durationMs: 510, requests: 460, bytes: 4_500_000, problems: 1, errors: 0 },
  };
}

const update = (i) => ({ type: 'metrics', update: { sample: sample(3600 + i), alerts: [], registries: [], cache: { hits: { memory: 300 + i, disk: 100 }, misses: 100, revalidated: 0, stale: 0, evictions: 2, corrupt: 0 } } });

// ---- statistics ----
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const spread = (xs) => ({ median: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs), n: xs.length });

// ---- the webview ----
/** The panel's own page (webview/src/html.ts, compiled here: dist/ holds it only inside other bundles). */
async function pageHtml() {
  const { outputFiles } = await esbuild.build({ entryPoints: ['webview/src/html.ts'], bundle: true, format: 'esm', platform: 'neutral', write: false });
  const { dashboardHtml } = await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString('base64')}`);
  return dashboardHtml({ nonce: 'YmVuY2gtbm9uY2U=', scriptUri: '/webview.js' });
}

/** Runs in the page before its script: what VS Code injects, and `__frames`, which posts messages as the extension does. */
function installProbe() {
  let drawn;
  // setState serializes as VS Code's does (JSON), so saving the state costs here what it costs there.
  window.acquireVsCodeApi = () => ({ postMessage: (m) => m.type === 'rendered' && drawn?.(), getState: () => undefined, setState: (s) => JSON.stringify(s) });
  // Each message between two marks: from posting it until the page acknowledges it drawn and that frame
  // is done. The sender's serializing is left out: in VS Code the workbench does it, not the webview.
  window.__frames = async () => {
    for (const m of window.__messages) {
      await new Promise((resolve) => {
        drawn = () => requestAnimationFrame(() => setTimeout(resolve, 0));
        window.postMessage(m, '*');
        performance.mark('frame-start');
      });
      performance.mark('frame-end');
    }
  };
}

/**
 * Main-thread CPU time of each message, from a Chrome trace: every task the renderer's main thread ran
 * between the marks (the handler, the chart drawing, style, layout, paint, canvas flush), as thread time,
 * so neither the idle wait for the next frame nor other processes on a busy machine count. `frameMs` is
 * the longest frame among them: the time up to the end of each rendering update (its Layerize step).
 */
async function frames(page, messages) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
  const complete = new Promise((ok) => cdp.once('Tracing.tracingComplete', ok));
  // Handed over first: the page's copy of the messages is the harness's work, not the dashboard's.
  await page.evaluate((m) => (window.__messages = m), messages);
  await cdp.send('Tracing.start', { categories: 'toplevel,blink.user_timing,devtools.timeline', transferMode: 'ReportEvents' });
  await page.evaluate(() => window.__frames());
  await cdp.send('Tracing.end');
  await complete;
  await cdp.detach();
  const marks = events.filter((e) => e.name === 'frame-start' || e.name === 'frame-end').sort((a, b) => a.ts - b.ts);
  const main = marks[0].tid;
  const onMain = events.filter((e) => e.tid === main && e.ph === 'X');
  // Top-level tasks only: a task run inside another (a nested loop) is already in its parent's time.
  const tasks = onMain.filter((e) => e.name === 'ThreadControllerImpl::RunTask').sort((a, b) => a.ts - b.ts);
  const outer = tasks.filter((t, i) => !tasks.slice(0, i).some((p) => p.ts + p.dur >= t.ts + t.dur));
  const frameEnds = onMain.filter((e) => e.name === 'Layerize').map((e) => e.ts + e.dur).sort((a, b) => a - b);
  // CPU ms of the tasks that start in [a, b): the one that posted the message (the sender's) is left out.
  const cpu = (a, b) => outer.reduce((sum, t) => sum + (t.ts >= a && t.ts < b ? t.tdur : 0), 0) / 1000;
  const out = [];
  for (let i = 0; i + 1 < marks.length; i += 2) {
    const [from, to] = [marks[i].ts, marks[i + 1].ts];
    // A frame: the tasks from the end of the previous rendering update through the end of its own.
    const cuts = [from, ...frameEnds.filter((c) => c > from && c < to), to];
    const perFrame = cuts.slice(1).map((c, k) => cpu(cuts[k], c));
    out.push({ mainMs: cpu(from, to), frameMs: Math.max(...perFrame), frames: perFrame.length, wallMs: (to - from) / 1000 });
  }
  return out;
}

async function benchWebview() {
  const script = readFileSync('dist/webview.js');
  const html = await pageHtml();
  const server = createServer((req, res) => {
    if (req.url === '/webview.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const snap = { type: 'snapshot', snapshot: snapshot() };
  try {
    // Tall enough that every section is on screen: nothing is spared for being scrolled out of view.
    const open = async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 2400 } });
      await page.addInitScript(installProbe);
      await page.goto(base);
      await page.waitForFunction(() => document.querySelectorAll('[data-chart]').length > 0);
      // The empty page's own first frames belong to loading it, not to the snapshot.
      await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 200))));
      return page;
    };
    const firstPaint = [];
    for (let i = 0; i < Number(opts.loads); i++) {
      const page = await open();
      firstPaint.push(...(await frames(page, [snap])));
      await page.close();
    }
    const page = await open();
    await frames(page, [snap]);
    const updates = await frames(page, Array.from({ length: Number(opts.updates) }, (_, i) => update(i)));
    const samples = await page.locator('[data-chart="network"]').getAttribute('data-samples');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const heapMb = metrics.find((m) => m.name === 'JSHeapUsedSize').value / 1048576;
    const pick = (xs, k) => spread(xs.map((x) => x[k]));
    const figures = (xs) => ({ mainMs: pick(xs, 'mainMs'), frameMs: pick(xs, 'frameMs'), frames: pick(xs, 'frames'), wallMs: pick(xs, 'wallMs') });
    return {
      chromium: browser.version(),
      firstPaint: figures(firstPaint),
      update: figures(updates),
      heapMb,
      samplesShown: Number(samples),
    };
  } finally {
    await browser.close();
    server.close();
  }
}

// ---- the language server's CPU, idle, metrics streaming on and off ----
/** CPU seconds of a process so far: every thread's run time (/proc/<pid>/task/<tid>/schedstat, in ns). */
function cpuSeconds(pid) {
  return readdirSync(`/proc/${pid}/task`).reduce((sum, tid) => {
    try {
      return sum + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
    } catch {
      return sum; // the thread ended meanwhile
    }
  }, 0);
}

async function benchCollector() {
  const child = spawn(process.execPath, ['dist/server.js', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const send = (msg) => {
    const body = JSON.stringify({ jsonrpc: '2.0', ...msg });
    child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
  let buffered = Buffer.alloc(0);
  let notifications = 0;
  let initialized;
  const ready = new Promise((ok) => (initialized = ok));
  child.stdout.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const head = buffered.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(buffered.subarray(0, head).toString())[1]);
      if (buffered.length < head + 4 + length) return;
      const msg = JSON.parse(buffered.subarray(head + 4, head + 4 + length).toString());
      buffered = buffered.subarray(head + 4 + length);
      if (msg.id === 1) initialized();
      if (msg.method === 'citadel/metrics') notifications++;
    }
  });
  const measure = async () => {
    const before = cpuSeconds(child.pid);
    const t = performance.now();
    const n = notifications;
    await new Promise((ok) => setTimeout(ok, Number(opts.seconds) * 1000));
    return { cpuPercent: ((cpuSeconds(child.pid) - before) / ((performance.now() - t) / 1000)) * 100, notifications: notifications - n };
  };
  try {
    // No workspace/configuration capability: the server uses the default settings (a 1 s interval).
    send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: null, capabilities: {} } });
    await ready;
    send({ method: 'initialized', params: {} });
    await new Promise((ok) => setTimeout(ok, 5000)); // start-up work (loading, compiling) done
    // Off: the server idles with its collector built but not sampling (its event-loop monitor already
    // runs, so `on` is the figure to hold to the budget: the whole idle server, streaming).
    const off = await measure();
    // The collector starts sampling and streaming at the first configuration read.
    send({ method: 'workspace/didChangeConfiguration', params: { settings: {} } });
    await new Promise((ok) => setTimeout(ok, 1500));
    const on = await measure();
    return { intervalMs: 1000, seconds: Number(opts.seconds), off, on };
  } finally {
    child.kill();
  }
}

// ---- report ----
const webview = opts.only === 'collector' ? undefined : await benchWebview();
const collector = opts.only === 'webview' ? undefined : await benchCollector();
const f = (n) => n.toFixed(1);
const verdict = (ok) => (ok ? 'ok' : '**over**');
const rows = [];
if (webview) {
  const { firstPaint: fp, update: up } = webview;
  const ms = (x) => `${f(x.median)} / ${f(x.p95)}`;
  rows.push(
    [`first paint of a snapshot of an hour: longest frame (main-thread CPU ms, ${fp.frameMs.n} page loads)`, ms(fp.frameMs), BUDGET.frameMs, verdict(fp.frameMs.p95 < BUDGET.frameMs)],
    [`first paint: all of it, in ${fp.frames.median} frames (main-thread CPU ms)`, ms(fp.mainMs), '', ''],
    [`update, one sample onto an hour: longest frame (main-thread CPU ms, ${up.frameMs.n} updates)`, ms(up.frameMs), BUDGET.frameMs, verdict(up.frameMs.p95 < BUDGET.frameMs)],
    [`update: all of it, in ${up.frames.median} frames (main-thread CPU ms)`, ms(up.mainMs), '', ''],
    ['webview JS heap after GC (MB)', f(webview.heapMb), BUDGET.heapMb, verdict(webview.heapMb < BUDGET.heapMb)],
  );
}
if (collector) {
  rows.push(
    [`server CPU, idle, metrics streaming every ${collector.intervalMs} ms (%, ${collector.on.notifications} samples sent)`, f(collector.on.cpuPercent), BUDGET.cpuPercent, verdict(collector.on.cpuPercent < BUDGET.cpuPercent)],
    ['server CPU, idle, not streaming (%)', f(collector.off.cpuPercent), '', ''],
  );
}
// Thread CPU time is steadier than wall time on a shared machine, not immune to it: the load goes with the figures.
const load = loadavg()[0];
const md = [
  '| measure | median / p95 | budget | |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  '',
  `Headless Chromium ${webview?.chromium ?? ''} with software rendering, ${cpus().length} CPUs, load average ${load.toFixed(1)} when done.`,
].join('\n');
console.log(md);
mkdirSync(opts.out, { recursive: true });
writeFileSync(join(opts.out, 'dashboard.json'), JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, loadAverage: load, budget: BUDGET, webview, collector }, null, 2));
writeFileSync(join(opts.out, 'dashboard.md'), md + '\n');
