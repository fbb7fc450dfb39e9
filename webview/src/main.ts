// Dashboard webview script (one browser IIFE): renders the metrics snapshot and the live updates the
// extension forwards, the last resolution's profile (waterfall, critical path, phases) and alerts.
// All text goes in with textContent, never as HTML; all data in the page is bounded.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css';
import {
  DASHBOARD_COMMANDS,
  type DashboardCommand,
  type FromWebview,
  type MetricSample,
  type MetricsSnapshot,
  type ResolutionProfile,
  type SeriesKey,
  type ToWebview,
} from '../../protocol';

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** An hour of 1 s samples; older samples drop off. */
export const MAX_SAMPLES = 3600;
const MAX_RUNS = 200;
/** Waterfall rows drawn at most (the server already sends the critical path and the slowest first). */
const MAX_SPANS = 400;

const api: VsCodeApi =
  typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : { postMessage: () => undefined, getState: () => undefined, setState: () => undefined };

const sheet = new CSSStyleSheet();
sheet.replaceSync(uplotCss);
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

const empty = (): MetricsSnapshot => ({
  intervalMs: 1000,
  samples: [],
  runs: [],
  alerts: [],
  registries: [],
  cache: { hits: { memory: 0, disk: 0 }, misses: 0, revalidated: 0, stale: 0, evictions: 0, corrupt: 0 },
});

let model: MetricsSnapshot = empty();

function bound(s: MetricsSnapshot): MetricsSnapshot {
  return {
    ...s,
    samples: s.samples.slice(-MAX_SAMPLES),
    runs: s.runs.slice(-MAX_RUNS),
    ...(s.profile && { profile: { ...s.profile, spans: s.profile.spans.slice(0, MAX_SPANS) } }),
  };
}

// ---- helpers ----
const $ = (id: string) => document.getElementById(id)!;
function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
const fmt = (n: number | undefined, digits = 0, unit = '') => (n === undefined || !Number.isFinite(n) ? '–' : `${n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${unit}`);
const pct = (f: number | undefined) => (f === undefined ? '–' : `${(f * 100).toFixed(f < 0.995 ? 1 : 0)}%`);
const bytes = (b: number) => (b >= 1048576 ? `${(b / 1048576).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} KiB`);

function table(id: string, head: string[], rows: (string | number)[][], numeric: number[] = []): void {
  const t = $(id);
  const out: HTMLElement[] = [];
  const hr = el('tr');
  head.forEach((h, i) => hr.append(el('th', h, numeric.includes(i) ? 'n' : undefined)));
  out.push(hr);
  for (const r of rows) {
    const tr = el('tr');
    r.forEach((c, i) => tr.append(el('td', String(c), numeric.includes(i) ? 'n' : undefined)));
    out.push(tr);
  }
  t.replaceChildren(...out);
}

// ---- overview figures ----
const FIGURES: [string, string][] = [
  ['lastResolution', 'Last resolution'],
  ['packages', 'Packages'],
  ['cacheHitRate', 'Cache hit rate'],
  ['memory', 'Heap / RSS'],
  ['inFlight', 'Requests in flight'],
  ['speculation', 'Speculation accuracy'],
  ['latency', 'Latency p50 / p95'],
  ['throughput', 'Requests/s'],
  ['cpu', 'CPU'],
  ['eventLoop', 'Event loop p99'],
  ['criticalPath', 'Critical path'],
  ['problems', 'Problems'],
];

function buildFigures(): void {
  $('figures').replaceChildren(
    ...FIGURES.map(([key, label]) => {
      const box = el('div', undefined, 'figure');
      const value = el('div', '–', 'value');
      value.dataset.figure = key;
      box.append(el('div', label, 'label'), value);
      return box;
    }),
  );
}

function setFigure(key: string, text: string): void {
  const e = document.querySelector(`[data-figure="${key}"]`);
  if (e && e.textContent !== text) e.textContent = text;
}

function lastWith(key: keyof MetricSample): MetricSample | undefined {
  for (let i = model.samples.length - 1; i >= 0; i--) if (model.samples[i]![key] !== undefined) return model.samples[i];
  return undefined;
}

function renderFigures(): void {
  const s = model.samples.at(-1);
  const run = model.runs.at(-1);
  const summary = model.summary;
  const c = model.cache;
  const hits = c.hits.memory + c.hits.disk;
  const lookups = hits + c.misses + c.revalidated;
  const lat = lastWith('latencyP50');
  setFigure('state', summary ? `${summary.state}${summary.state === 'error' && summary.message ? `: ${summary.message}` : ''}` : 'no resolution yet');
  setFigure('lastResolution', fmt(run?.durationMs ?? (summary?.state === 'idle' ? summary.durationMs : undefined), 0, ' ms'));
  setFigure('packages', fmt(run?.packages ?? summary?.packages));
  setFigure('cacheHitRate', lookups ? `${pct(hits / lookups)} (${hits}/${lookups})` : '–');
  setFigure('memory', s ? `${fmt(s.heapUsedMb)} / ${fmt(s.rssMb)} MB` : '–');
  setFigure('inFlight', s ? `${s.inFlight}${s.queued ? ` (${s.queued} queued)` : ''}` : '–');
  setFigure('speculation', pct(run?.speculationAccuracy ?? model.profile?.speculationAccuracy));
  setFigure('latency', lat ? `${fmt(lat.latencyP50)} / ${fmt(lat.latencyP95)} ms` : '–');
  setFigure('throughput', s ? `${fmt(s.requestsPerSec, 1)} (${fmt(s.mbPerSec, 2)} MB/s)` : '–');
  setFigure('cpu', s ? fmt(s.cpuPercent, 1, '%') : '–');
  setFigure('eventLoop', s ? fmt(s.eventLoopP99Ms, 1, ' ms') : '–');
  setFigure('criticalPath', model.profile ? `${fmt(model.profile.criticalPath.ms)} of ${fmt(model.profile.durationMs)} ms` : '–');
  setFigure('problems', summary ? `${summary.problems} (${summary.errors} errors)` : '–');
  document.body.dataset.state = summary?.state ?? 'none';
}

// ---- charts ----
interface ChartSpec {
  id: string;
  title: string;
  series: { key: SeriesKey; label: string; color: string; scale?: number }[];
}

const CHARTS: ChartSpec[] = [
  { id: 'network', title: 'Requests', series: [
    { key: 'inFlight', label: 'in flight', color: 'blue' },
    { key: 'queued', label: 'queued', color: 'yellow' },
    { key: 'requestsPerSec', label: 'per second', color: 'green' },
  ] },
  { id: 'latency', title: 'Latency, time to first byte (ms)', series: [
    { key: 'latencyP50', label: 'p50', color: 'green' },
    { key: 'latencyP95', label: 'p95', color: 'orange' },
    { key: 'latencyP99', label: 'p99', color: 'red' },
  ] },
  { id: 'throughput', title: 'Throughput (MB/s) and errors', series: [
    { key: 'mbPerSec', label: 'MB/s', color: 'blue' },
    { key: 'errors', label: 'errors', color: 'red' },
    { key: 'retries', label: 'retries', color: 'orange' },
  ] },
  { id: 'memory', title: 'Memory (MB)', series: [
    { key: 'rssMb', label: 'rss', color: 'purple' },
    { key: 'heapUsedMb', label: 'heap used', color: 'blue' },
    { key: 'externalMb', label: 'external', color: 'green' },
  ] },
  { id: 'cpu', title: 'CPU (%), event loop p99 and GC (ms)', series: [
    { key: 'cpuPercent', label: 'CPU %', color: 'blue' },
    { key: 'eventLoopP99Ms', label: 'event loop p99', color: 'orange' },
    { key: 'gcMs', label: 'GC', color: 'purple' },
  ] },
  { id: 'cache', title: 'Cache hit rate (%)', series: [{ key: 'cacheHitRate', label: 'hit rate', color: 'green', scale: 100 }] },
];

const FALLBACK: Record<string, string> = { blue: '#3794ff', green: '#89d185', yellow: '#cca700', orange: '#d18616', red: '#f14c4c', purple: '#b180d7', foreground: '#cccccc' };

function themeColor(name: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name === 'foreground' ? '--vscode-foreground' : `--vscode-charts-${name}`).trim();
  return v || FALLBACK[name]!;
}

const charts = new Map<string, uPlot>();

function chartOptions(title: string, labels: { label: string; color: string }[], width: number): uPlot.Options {
  const fg = themeColor('foreground');
  const axis = { stroke: fg, grid: { stroke: `${fg}22`, width: 1 }, ticks: { stroke: `${fg}44`, width: 1 } };
  return {
    title,
    width,
    height: 170,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [axis, { ...axis, size: 50 }],
    series: [{}, ...labels.map((l) => ({ label: l.label, stroke: themeColor(l.color), width: 1.5, spanGaps: false }))],
    hooks: {
      draw: [
        (u: uPlot) => {
          const root = u.root.parentElement!;
          root.dataset.draws = String(Number(root.dataset.draws ?? 0) + 1);
          root.dataset.points = String(u.data[0]?.length ?? 0);
        },
      ],
    },
  };
}

function chartWidth(): number {
  return Math.max(300, Math.min(900, ($('charts').clientWidth || 900) / (($('charts').clientWidth || 0) > 900 ? 2 : 1) - 16));
}

function chartData(spec: ChartSpec): uPlot.AlignedData {
  const xs = model.samples.map((s) => s.t / 1000);
  return [xs, ...spec.series.map((sr) => model.samples.map((s) => (s[sr.key] === undefined ? null : (s[sr.key] as number) * (sr.scale ?? 1))))];
}

function runsData(): uPlot.AlignedData {
  return [model.runs.map((r) => r.t / 1000), model.runs.map((r) => r.durationMs)];
}

function buildCharts(): void {
  for (const c of charts.values()) c.destroy();
  charts.clear();
  const host = $('charts');
  host.replaceChildren();
  const width = chartWidth();
  const specs: [string, string, { label: string; color: string }[], uPlot.AlignedData][] = [
    ...CHARTS.map((c) => [c.id, c.title, c.series, chartData(c)] as [string, string, { label: string; color: string }[], uPlot.AlignedData]),
    ['runs', 'Resolution time per run (ms)', [{ label: 'duration', color: 'orange' }], runsData()],
  ];
  for (const [id, title, series, data] of specs) {
    const box = el('div', undefined, 'chart');
    box.dataset.chart = id;
    host.append(box);
    charts.set(id, new uPlot(chartOptions(title, series, width), data, box));
  }
}

function renderCharts(): void {
  if (charts.size === 0) return buildCharts();
  for (const spec of CHARTS) charts.get(spec.id)?.setData(chartData(spec));
  charts.get('runs')?.setData(runsData());
}

// ---- profile: waterfall, critical path, phases, slowest, largest, recommendations ----
function renderProfile(p: ResolutionProfile | undefined): void {
  if (!p) return;
  $('critical-path').textContent = `Critical path: ${p.criticalPath.text}`;
  const critical = new Set(p.criticalPath.names);
  const total = Math.max(1, p.durationMs, ...p.spans.map((s) => s.end));
  const rows = p.spans.slice(0, MAX_SPANS).map((s) => {
    const row = el('div', undefined, critical.has(s.name) ? 'wf-row critical-row' : 'wf-row');
    const name = el('div', s.name, 'wf-name');
    row.title = `${s.name}: ${Math.round(s.end - s.start)} ms (queue ${s.queueMs}, ttfb ${s.ttfbMs}, download ${s.downloadMs}, parse ${s.parseMs}, pick ${s.pickMs}), ${bytes(s.bytes)}${s.attempts > 1 ? `, ${s.attempts} attempts` : ''}${s.error ? `, ${s.error}` : ''}`;
    const track = el('div', undefined, 'wf-track');
    let t = s.start;
    for (const [phase, ms] of [['queue', s.queueMs], ['ttfb', s.ttfbMs], ['download', s.downloadMs], ['parse', s.parseMs], ['pick', s.pickMs]] as const) {
      if (ms <= 0) continue;
      const seg = el('div', undefined, `wf-seg seg-${phase}`);
      seg.style.left = `${(t / total) * 100}%`;
      seg.style.width = `${(ms / total) * 100}%`;
      track.append(seg);
      t += ms;
    }
    row.append(name, track);
    return row;
  });
  $('waterfall').replaceChildren(...rows);
  $('waterfall').dataset.rows = String(rows.length);
  const fetchTotal = Object.values(p.phases).reduce((a, b) => a + b, 0) || 1;
  table('phases', ['phase', 'ms (summed)', 'share'], Object.entries(p.phases).map(([k, v]) => [k, fmt(v), pct(v / fetchTotal)]), [1, 2]);
  table('slowest', ['packument', 'ms'], p.slowest.map((s) => [s.name, fmt(s.ms)]), [1]);
  table('largest', ['packument', 'size'], p.largest.map((s) => [s.name, bytes(s.bytes)]), [1]);
  $('recommendations').replaceChildren(...p.recommendations.map((r) => {
    const li = el('li', r.message);
    li.dataset.id = r.id;
    return li;
  }));
}

function renderAlerts(): void {
  $('alerts').replaceChildren(...model.alerts.map((a) => {
    const box = el('div', undefined, `alert ${a.severity}`);
    box.dataset.alert = a.id;
    box.append(el('div', a.message), el('div', a.hint, 'hint'));
    return box;
  }));
}

function renderTables(): void {
  table('network', ['registry', 'requests', 'errors', 'p50', 'p95', 'p99'], model.registries.map((r) => [r.registry, r.requests, r.errors, fmt(r.p50), fmt(r.p95), fmt(r.p99)]), [1, 2, 3, 4, 5]);
  const c = model.cache;
  table('cache', ['', 'count'], [
    ['hits (memory)', c.hits.memory],
    ['hits (disk)', c.hits.disk],
    ['misses', c.misses],
    ['revalidated', c.revalidated],
    ['served stale', c.stale],
    ['evictions', c.evictions],
    ['corrupt entries', c.corrupt],
  ], [1]);
  table('runs', ['when', 'ms', 'packages', 'requests', 'size'], model.runs.slice(-10).reverse().map((r) => [new Date(r.t).toLocaleTimeString(), fmt(r.durationMs), r.packages, r.requests, bytes(r.bytes)]), [1, 2, 3, 4]);
}

// ---- state and messages ----
let saveTimer: ReturnType<typeof setTimeout> | undefined;
/** Saving an hour of samples on every update would cost more than drawing them: at most every 2 s. */
function saveState(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    api.setState(model);
  }, 2000);
}

function renderAll(): void {
  renderFigures();
  renderAlerts();
  renderTables();
  renderCharts();
  renderProfile(model.profile);
}

export function handle(message: ToWebview): void {
  const t0 = performance.now();
  switch (message.type) {
    case 'snapshot':
      model = bound({ ...message.snapshot, summary: message.snapshot.summary ?? model.summary, profile: message.snapshot.profile ?? model.profile });
      renderAll();
      break;
    case 'metrics': {
      const u = message.update;
      model.samples.push(u.sample);
      if (model.samples.length > MAX_SAMPLES) model.samples.splice(0, model.samples.length - MAX_SAMPLES);
      if (u.run) {
        model.runs.push(u.run);
        if (model.runs.length > MAX_RUNS) model.runs.shift();
      }
      model.alerts = u.alerts;
      model.registries = u.registries;
      model.cache = u.cache;
      renderFigures();
      renderAlerts();
      renderTables();
      renderCharts();
      break;
    }
    case 'profile':
      model.profile = bound({ ...model, profile: message.profile }).profile;
      renderProfile(model.profile);
      renderFigures();
      break;
    case 'status':
      model.summary = message.summary;
      renderFigures();
      break;
  }
  saveState();
  const ms = performance.now() - t0;
  document.body.dataset.lastRenderMs = ms.toFixed(2);
  api.postMessage({ type: 'rendered', what: message.type, ms, ...(model.summary && { state: model.summary.state, packages: model.summary.packages }) });
}

buildFigures();
const embedded = document.getElementById('citadel-data');
const saved = embedded ? (JSON.parse(embedded.textContent ?? 'null') as MetricsSnapshot | null) : (api.getState() as MetricsSnapshot | undefined);
if (saved && Array.isArray(saved.samples)) model = bound({ ...empty(), ...saved });
renderAll();

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  if (event.data && typeof event.data === 'object' && typeof event.data.type === 'string') handle(event.data);
});
for (const b of document.querySelectorAll<HTMLElement>('[data-command]')) {
  b.addEventListener('click', () => {
    const command = b.dataset.command as DashboardCommand;
    if (DASHBOARD_COMMANDS.includes(command)) api.postMessage({ type: 'command', command });
  });
}
// VS Code switches themes by the body's class: charts take their colours at creation, so rebuild them.
new MutationObserver(() => buildCharts()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const c of charts.values()) c.setSize({ width: chartWidth(), height: 170 });
  }, 100);
});
api.postMessage({ type: 'ready' });
