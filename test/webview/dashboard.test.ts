// The dashboard webview in real headless Chromium (Debian's, through playwright-core): served from
// 127.0.0.1 with the same page and CSP as the VS Code panel, fed a recorded metric stream (an hour of
// 1 s samples), asserting the figures, that the charts drew, the themes (screenshots in
// out/webview-screenshots/), the CSP, and that hostile text stays text.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { MetricSample, MetricsSnapshot, ToWebview } from '../../protocol';
import type { EngineEvent } from '../../server/src/engine/types';
import { profileResolution } from '../../server/src/metrics/profiler';
import { dashboardHtml } from '../../webview/src/html';
import { GRAPH, RECORDED } from '../metrics/recorded';

const ROOT = resolve(__dirname, '../../../..');
const SHOTS = join(ROOT, 'out/webview-screenshots');
const NONCE = 'dGVzdC1ub25jZS0xMjM0NQ==';
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let server: Server;
let browser: Browser;
let page: Page;
let base: string;

/** An hour of 1 s samples, shaped so each chart has something to draw. */
function hourOfSamples(): MetricSample[] {
  const t0 = Date.UTC(2025, 0, 1, 12);
  return Array.from({ length: 3600 }, (_, i) => ({
    t: t0 + i * 1000,
    inFlight: i % 60 < 5 ? 32 : 0,
    queued: i % 60 < 3 ? 10 : 0,
    requestsPerSec: i % 60 < 5 ? 400 : 0,
    mbPerSec: i % 60 < 5 ? 3.5 : 0,
    errors: i % 600 === 0 ? 1 : 0,
    retries: 0,
    ...(i % 60 < 5 && { latencyP50: 20, latencyP95: 45, latencyP99: 80 }),
    ...(i % 60 < 5 && { cacheHitRate: 0.8 }),
    rssMb: 180 + (i % 100) / 10,
    heapUsedMb: 90 + (i % 50) / 10,
    externalMb: 12,
    cpuPercent: i % 60 < 5 ? 85 : 1,
    eventLoopP99Ms: 21,
    gcMs: i % 60 === 4 ? 12 : 0,
  }));
}

function snapshot(): MetricsSnapshot {
  // The recorded stream with one package renamed to a hostile string.
  const events = RECORDED.map((e) => ('name' in e && e.name === 'b' ? { ...e, name: HOSTILE } : e)) as EngineEvent[];
  const graph = { ...GRAPH, root: ['a', HOSTILE], names: new Set(['a', HOSTILE, 'c', 'd']) };
  const profile = profileResolution(events, { graph });
  const samples = hourOfSamples();
  return {
    intervalMs: 1000,
    samples,
    runs: samples.filter((_, i) => i % 60 === 5).map((s, i) => ({ t: s.t, durationMs: 500 + (i % 7) * 10, packages: 443, requests: 460, bytes: 4_500_000, speculationAccuracy: 0.97 })),
    alerts: [{ id: 'cacheHitRate', severity: 'warning', message: `Cache hit rate 80% over the last minute (threshold 90%). ${HOSTILE}`, hint: 'Resolve again to warm it.' }],
    registries: [{ registry: 'http://127.0.0.1:4873', requests: 27_600, errors: 6, p50: 20, p95: 45, p99: 80 }],
    cache: { hits: { memory: 300, disk: 100 }, misses: 100, revalidated: 0, stale: 0, evictions: 2, corrupt: 0 },
    profile,
    summary: { uri: 'file:///p/package.json', state: 'idle', packages: 443, durationMs: 510, requests: 460, bytes: 4_500_000, problems: 1, errors: 0 },
  };
}

/** Posts the messages at once (one task) and resolves once the page acknowledges the last one drawn. */
async function post(...messages: ToWebview[]): Promise<void> {
  await page.evaluate(async (ms) => {
    const w = window as unknown as { __posted: { type: string; what?: string }[] };
    const before = w.__posted.length;
    for (const m of ms) window.postMessage(m, '*');
    for (;;) {
      if (w.__posted.slice(before).some((p) => p.type === 'rendered' && p.what === ms.at(-1)!.type)) return;
      await new Promise((r) => setTimeout(r, 0)); // yield to the page's message handler
    }
  }, messages);
}

/** What each chart drew: the samples it was given, the points it drew, its canvas ink, the y axis's top. */
async function chartsDrawn() {
  return page.locator('[data-chart]').evaluateAll((els) =>
    els.map((e) => {
      const box = e as HTMLElement;
      const canvas = box.querySelector('canvas')!;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) inked++;
      return { id: box.dataset.chart, samples: box.dataset.samples, points: Number(box.dataset.points), width: canvas.width, yMax: Number(box.dataset.yMax), inked };
    }),
  );
}

const THEMES: Record<string, Record<string, string>> = {
  'vscode-dark': { '--vscode-foreground': '#cccccc', '--vscode-editor-background': '#1f1f1f', '--vscode-panel-border': '#2b2b2b', '--vscode-charts-blue': '#3794ff', '--vscode-charts-green': '#89d185', '--vscode-charts-orange': '#d18616', '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#cca700', '--vscode-charts-purple': '#b180d7', '--vscode-button-background': '#0078d4', '--vscode-button-foreground': '#ffffff' },
  'vscode-light': { '--vscode-foreground': '#3b3b3b', '--vscode-editor-background': '#ffffff', '--vscode-panel-border': '#e5e5e5', '--vscode-charts-blue': '#1a85ff', '--vscode-charts-green': '#388a34', '--vscode-charts-orange': '#d18616', '--vscode-charts-red': '#e51400', '--vscode-charts-yellow': '#bf8803', '--vscode-charts-purple': '#652d90', '--vscode-button-background': '#005fb8', '--vscode-button-foreground': '#ffffff' },
  'vscode-high-contrast': { '--vscode-foreground': '#ffffff', '--vscode-editor-background': '#000000', '--vscode-panel-border': '#6fc3df', '--vscode-contrastBorder': '#6fc3df', '--vscode-charts-blue': '#3794ff', '--vscode-charts-green': '#89d185', '--vscode-charts-orange': '#d18616', '--vscode-charts-red': '#f14c4c', '--vscode-charts-yellow': '#ffd700', '--vscode-charts-purple': '#b180d7', '--vscode-button-background': '#000000', '--vscode-button-foreground': '#ffffff' },
};

async function setTheme(name: string): Promise<void> {
  await page.evaluate(
    ({ name, vars }) => {
      for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
      document.body.className = name;
    },
    { name, vars: THEMES[name]! },
  );
}

before(async () => {
  const script = readFileSync(join(ROOT, 'dist/webview.js'));
  const html = dashboardHtml({ nonce: NONCE, scriptUri: '/webview.js' });
  server = createServer((req, res) => {
    if (req.url === '/webview.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  // What VS Code injects into a webview: acquireVsCodeApi with postMessage and state.
  await page.addInitScript(() => {
    const w = window as unknown as { __posted: unknown[]; __state: unknown; __violations: string[]; acquireVsCodeApi: () => unknown };
    w.__posted = [];
    w.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(e.violatedDirective));
    w.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => w.__posted.push(m), getState: () => w.__state, setState: (s: unknown) => (w.__state = s) });
  });
  await page.goto(base);
  await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => server?.close(ok));
});

test('an hour of samples: figures, charts drawn from every sample, waterfall and critical path', async () => {
  await post({ type: 'snapshot', snapshot: snapshot() });
  const figure = (key: string) => page.locator(`[data-figure="${key}"]`).textContent();
  assert.equal(await figure('packages'), '443');
  assert.equal(await figure('lastResolution'), '530 ms');
  assert.equal(await figure('cacheHitRate'), '80.0% (400/500)');
  assert.equal(await figure('latency'), '20 / 45 ms');
  assert.equal(await figure('speculation'), '97.0%');
  assert.equal(await figure('state'), 'idle');
  assert.equal(await page.locator('#critical-path').textContent(), 'Critical path: a > c > d = 502 ms of 510 ms');
  assert.equal(await page.locator('#waterfall .wf-row').count(), 4);
  assert.equal(await page.locator('#waterfall .critical-row').count(), 3);
  // Every phase of the profiler is drawn: a's fetch opened a socket (connect) and was gzipped (decompress).
  assert.equal(await page.locator('.legend span').count(), 7);
  const barOf = (name: string) => page.locator('#waterfall .wf-row', { has: page.locator('.wf-name', { hasText: new RegExp(`^${name}$`) }) }).locator('.wf-bar').getAttribute('style');
  const a = (await barOf('a')) ?? '';
  for (const phase of ['connect', 'ttfb', 'decompress']) assert.ok(a.includes(`--seg-${phase}`), `a's bar lacks ${phase}: ${a}`);
  assert.ok(!((await barOf('c')) ?? '').includes('--seg-connect'), 'c reused a connection');
  const charts = await chartsDrawn();
  assert.equal(charts.length, 7);
  for (const c of charts) {
    assert.ok(c.inked > 500, `chart ${c.id} drew nothing: ${JSON.stringify(c)}`);
    if (c.id === 'runs') {
      assert.equal(c.points, 60, JSON.stringify(c));
    } else {
      // Every sample of the hour went in; at most two points per pixel column came out.
      assert.equal(c.samples, '3600', JSON.stringify(c));
      assert.ok(c.points > 0 && c.points <= 2 * c.width, JSON.stringify(c));
    }
  }
  // A percentage stays on a 0..100 axis (uPlot's padding once took it to 150).
  const cache = charts.find((c) => c.id === 'cache')!;
  assert.equal(cache.yMax, 100, JSON.stringify(cache));
  // A live update on top of the hour.
  const s = hourOfSamples().at(-1)!;
  await post({ type: 'metrics', update: { sample: { ...s, t: s.t + 1000, inFlight: 7, queued: 2, cacheHitRate: 1 }, alerts: [], registries: [], cache: snapshot().cache } });
  assert.equal(await figure('inFlight'), '7 (2 queued)');
  assert.equal(await page.locator('[data-chart="network"]').getAttribute('data-samples'), '3600', 'bounded at an hour');
  assert.equal((await chartsDrawn()).find((c) => c.id === 'cache')!.yMax, 100);
});

test('a snapshot right behind a sample update: the charts draw the snapshot', async () => {
  const snap = snapshot();
  const short = { ...snap, samples: snap.samples.slice(-100) };
  const s = snap.samples.at(-1)!;
  await post({ type: 'metrics', update: { sample: { ...s, t: s.t + 1000 }, alerts: [], registries: [], cache: snap.cache } }, { type: 'snapshot', snapshot: short });
  for (const c of await chartsDrawn()) if (c.id !== 'runs') assert.equal(c.samples, '100', JSON.stringify(c));
  await post({ type: 'snapshot', snapshot: snap });
});

test('a profile of 400 packuments: the waterfall holds the rows in view and draws others as they scroll in', async () => {
  const p = snapshot().profile!;
  const spans = Array.from({ length: 400 }, (_, i) => ({ ...p.spans[0]!, name: `package-${i}`, start: i, end: i + 20 }));
  await post({ type: 'profile', profile: { ...p, spans, spanCount: 400 } });
  assert.equal(await page.locator('#waterfall').getAttribute('data-rows'), '400');
  const rows = await page.locator('#waterfall .wf-row').count();
  assert.ok(rows > 20 && rows < 100, `${rows} rows in the DOM`);
  await page.locator('#waterfall').evaluate((e) => e.scrollTo(0, e.scrollHeight));
  await page.locator('#waterfall .wf-name', { hasText: /^package-399$/ }).waitFor();
});

/** WCAG contrast ratio of two computed CSS colours (`rgb(...)` or `color(srgb ...)`). */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const n = css.match(/[\d.]+/g)!.slice(0, 3).map(Number);
    const rgb = css.startsWith('color(') ? n : n.map((v) => v / 255);
    const [r, g, bl] = rgb.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
}

test('dark, light and high contrast themes: theme colours, readable buttons that stand out; screenshots', async () => {
  for (const theme of Object.keys(THEMES)) {
    await setTheme(theme);
    await post({ type: 'status', summary: snapshot().summary! }); // acknowledged once the rebuilt charts are drawn
    const fg = await page.evaluate(() => getComputedStyle(document.body).color);
    const expected = THEMES[theme]!['--vscode-foreground']!;
    const hex = `#${fg.match(/\d+/g)!.slice(0, 3).map((n) => Number(n).toString(16).padStart(2, '0')).join('')}`;
    assert.equal(hex, expected, theme);
    assert.equal(await page.locator('[data-chart]').count(), 7);
    const page_ = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const buttons = await page.locator('vscode-button').evaluateAll((els) =>
      els.map((e) => {
        const cs = getComputedStyle(e.shadowRoot!.querySelector('.base')!);
        return { label: e.textContent, color: cs.color, background: cs.backgroundColor, border: cs.borderTopColor };
      }),
    );
    for (const b of buttons) {
      const what = `${theme} ${JSON.stringify(b)}`;
      assert.ok(contrast(b.color, b.background) >= 4.5, `label unreadable: ${what}`);
      const bordered = !/^rgba\(.*, 0\)$|transparent/.test(b.border);
      assert.ok(Math.max(contrast(b.background, page_), bordered ? contrast(b.border, page_) : 1) >= 1.2, `button lost in the page: ${what}`);
    }
    await page.screenshot({ path: join(SHOTS, `dashboard-${theme}.png`), fullPage: true });
  }
});

test('state survives a reload through setState/getState, bounded', async () => {
  await page.waitForFunction(() => (window as unknown as { __state?: { samples: unknown[] } }).__state?.samples.length === 3600, undefined, { timeout: 5000 });
});

test('the CSP blocks an injected inline script', async () => {
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.append(s);
    await new Promise((r) => setTimeout(r, 0));
    return (window as unknown as { __injected?: boolean }).__injected === true;
  });
  assert.equal(ran, false);
  const violations = await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
  assert.ok(violations.some((v) => v.startsWith('script-src')), JSON.stringify(violations));
});

test('a hostile package name, alert, recommendation and error message render as text', async () => {
  const snap = snapshot();
  snap.profile!.recommendations.push({ id: 'hostile', message: `Pin ${HOSTILE}` });
  await post({ type: 'snapshot', snapshot: snap });
  const names = await page.locator('#waterfall .wf-name').allTextContents();
  assert.ok(names.includes(HOSTILE), JSON.stringify(names));
  assert.match((await page.locator('[data-alert="cacheHitRate"]').textContent()) ?? '', /<img src=x onerror=/);
  assert.equal(await page.locator('#recommendations [data-id="hostile"]').textContent(), `Pin ${HOSTILE}`);
  await post({ type: 'status', summary: { ...snap.summary!, state: 'error', message: HOSTILE } });
  assert.equal(await page.locator('[data-figure="state"]').textContent(), `error: ${HOSTILE}`);
  assert.equal(await page.locator('img').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
});

test('the buttons post the palette commands', async () => {
  await page.locator('vscode-button[data-command="citadel.profileResolution"]').click();
  const posted = await page.evaluate(() => (window as unknown as { __posted: { type: string; command?: string }[] }).__posted.filter((m) => m.type === 'command'));
  assert.deepEqual(posted.at(-1), { type: 'command', command: 'citadel.profileResolution' });
});
