// Dashboard webview script (one browser IIFE): renders the metrics snapshot and the live updates the
// extension forwards, the last resolution's profile (waterfall, critical path, phases) and alerts.
// All text goes in with textContent, never as HTML; all data in the page is bounded.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css';
import {
  DASHBOARD_COMMANDS,
  phaseList,
  type DashboardCommand,
  type FromWebview,
  type MetricSample,
  type MetricsSnapshot,
  type ResolutionProfile,
  type RunRecord,
  type PackumentSpan,
  type ToWebview,
} from '../../protocol';
import { Columns, decimate, type Line } from './series';

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
// One formatter per precision: toLocaleString builds a new one on every call, which showed in every frame.
const formats = new Map<number, Intl.NumberFormat>();
function fmt(n: number | undefined, digits = 0, unit = ''): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  let f = formats.get(digits);
  if (!f) formats.set(digits, (f = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })));
  return `${f.format(n)}${unit}`;
}
const pct = (f: number | undefined) => (f === undefined ? '–' : `${(f * 100).toFixed(f < 0.995 ? 1 : 0)}%`);
const bytes = (b: number) => (b >= 1048576 ? `${(b / 1048576).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} KiB`);

/** What each table and list shows now, so an update that changes nothing touches no DOM. */
const shown = new Map<string, string>();
function changed(id: string, content: unknown): boolean {
  const key = JSON.stringify(content);
  if (shown.get(id) === key) return false;
  shown.set(id, key);
  return true;
}

function table(id: string, head: string[], rows: (string | number)[][], numeric: number[] = []): void {
  if (!changed(id, rows)) return;
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

const figures = new Map<string, HTMLElement>();

function buildFigures(): void {
  figures.set('state', document.querySelector<HTMLElement>('[data-figure="state"]')!);
  $('figures').replaceChildren(
    ...FIGURES.map(([key, label]) => {
      const box = el('div', undefined, 'figure');
      const value = el('div', '–', 'value');
      value.dataset.figure = key;
      figures.set(key, value);
      box.append(el('div', label, 'label'), value);
      return box;
    }),
  );
}

function setFigure(key: string, text: string): void {
  const e = figures.get(key)!;
  if (e.textContent !== text) e.textContent = text;
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
  series: (Line & { label: string; color: string })[];
  /** A fixed y range, for figures with natural bounds (a percentage). */
  range?: [number, number];
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
  { id: 'cache', title: 'Cache hit rate (%)', series: [{ key: 'cacheHitRate', label: 'hit rate', color: 'green', scale: 100 }], range: [0, 100] },
];
const RUNS_CHART: Omit<ChartSpec, 'series'> & { series: { label: string; color: string }[] } = { id: 'runs', title: 'Resolution time per run (ms)', series: [{ label: 'duration', color: 'orange' }] };
const CHART_HEIGHT = 170;

const FALLBACK: Record<string, string> = { blue: '#3794ff', green: '#89d185', yellow: '#cca700', orange: '#d18616', red: '#f14c4c', purple: '#b180d7', foreground: '#cccccc' };

function themeColor(name: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name === 'foreground' ? '--vscode-foreground' : `--vscode-charts-${name}`).trim();
  return v || FALLBACK[name]!;
}

/** The samples as columns, kept in step with model.samples. */
const columns = new Columns(MAX_SAMPLES);
const charts = new Map<string, uPlot>();

function chartOptions(spec: Omit<ChartSpec, 'series'> & { series: { label: string; color: string }[] }, width: number): uPlot.Options {
  const fg = themeColor('foreground');
  const axis = { stroke: fg, grid: { stroke: `${fg}22`, width: 1 }, ticks: { stroke: `${fg}44`, width: 1 } };
  return {
    title: spec.title,
    width,
    height: CHART_HEIGHT,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, ...(spec.range && { y: { range: spec.range } }) },
    axes: [axis, { ...axis, size: 50 }],
    series: [{}, ...spec.series.map((l) => ({ label: l.label, stroke: themeColor(l.color), width: 1.5, spanGaps: false }))],
    hooks: {
      draw: [
        // What was drawn, for the tests; written only when it changes, as each write restyles the box.
        (u: uPlot) => {
          const root = u.root.parentElement!;
          setData(root, 'points', String(u.data[0]?.length ?? 0));
          setData(root, 'yMax', String(u.scales.y?.max ?? ''));
        },
      ],
    },
  };
}

function setData(e: HTMLElement, key: string, value: string): void {
  if (e.dataset[key] !== value) e.dataset[key] = value;
}

function chartWidth(): number {
  return Math.max(300, Math.min(900, ($('charts').clientWidth || 900) / (($('charts').clientWidth || 0) > 900 ? 2 : 1) - 16));
}

/** Pixel columns of a chart's plot area (uPlot's bbox is in device pixels). */
const plotColumns = (u: uPlot) => Math.max(1, Math.round(u.bbox.width / uPlot.pxRatio) || u.width);

function chartData(spec: ChartSpec, u: uPlot): uPlot.AlignedData {
  return decimate(columns, spec.series, plotColumns(u)) as uPlot.AlignedData;
}

function runsData(): uPlot.AlignedData {
  return [model.runs.map((r) => r.t / 1000), model.runs.map((r) => r.durationMs)];
}

function buildCharts(): void {
  for (const c of charts.values()) c.destroy();
  charts.clear();
  runsDrawn = null;
  const host = $('charts');
  host.replaceChildren();
  const width = chartWidth();
  for (const spec of [...CHARTS, RUNS_CHART]) {
    const box = el('div', undefined, 'chart');
    box.dataset.chart = spec.id;
    host.append(box);
    charts.set(spec.id, new uPlot(chartOptions(spec, width), [[]], box));
  }
  renderCharts();
}

// ---- drawing in animation frames ----
// A message updates the model and marks the parts of the page it changed; they are drawn in the next
// animation frames, in page order, within a budget per frame. A burst of messages draws once, and the
// first paint of an hour (deserialized, seven charts, the waterfall) spreads over a few frames instead
// of holding one for all of it.
/** Script time a frame spends drawing before it leaves the rest to the next (style, layout and paint follow). */
const FRAME_BUDGET_MS = 2;
/** Out of date on screen: one entry per part, so marking it twice draws it once. */
const pending = new Map<string, () => void>();
/** `rendered` acknowledgements, sent once everything is drawn. */
const acks: { message: Extract<FromWebview, { type: 'rendered' }>; t0: number }[] = [];
let frame = 0;
/** Script time spent receiving messages since the last frame. */
let spentOnMessages = 0;
/** model.samples changed wholesale: the columns are rebuilt, as a part of their own or by the next chart drawn. */
let columnsStale = true;
/** The last run drawn: a sample update without a new run leaves that chart as it is. */
let runsDrawn: RunRecord | undefined | null = null;

function invalidate(part: string, draw: () => void): void {
  pending.set(part, draw);
  frame ||= requestAnimationFrame(drawFrame);
}

function drawFrame(): void {
  frame = 0;
  // The messages handled since the last frame are part of this one: a snapshot's deserializing leaves
  // room for little else.
  const start = performance.now() - spentOnMessages;
  spentOnMessages = 0;
  for (const [part, draw] of pending) {
    pending.delete(part);
    draw();
    if (performance.now() - start > FRAME_BUDGET_MS) break;
  }
  if (pending.size) frame = requestAnimationFrame(drawFrame);
  else for (const { message, t0 } of acks.splice(0)) api.postMessage({ ...message, ms: performance.now() - t0 });
}

function syncColumns(): void {
  if (!columnsStale) return;
  columns.reset(model.samples);
  columnsStale = false;
}

function drawChart(id: string): void {
  syncColumns(); // a chart marked before a snapshot came in may be drawn before the columns part
  const u = charts.get(id)!;
  const spec = CHARTS.find((c) => c.id === id);
  // batch: uPlot draws now rather than in a microtask, inside the frame's budget.
  u.batch(() => u.setData(spec ? chartData(spec, u) : runsData()));
  if (spec) setData(u.root.parentElement!, 'samples', String(columns.length));
}

function renderCharts(): void {
  if (columnsStale) invalidate('columns', syncColumns);
  for (const spec of CHARTS) invalidate(spec.id, () => drawChart(spec.id));
  if (runsDrawn === model.runs.at(-1)) return;
  runsDrawn = model.runs.at(-1);
  invalidate(RUNS_CHART.id, () => drawChart(RUNS_CHART.id));
}

// ---- profile: waterfall, critical path, phases, slowest, largest, recommendations ----
// The waterfall holds only the rows scrolled into view: 400 rows of bars made a third of a first
// paint's style and layout, and its box shows 30 at a time.
const ROW_PX = 14;
const WATERFALL_PX = 420;
const OVERSCAN = 4;
let waterfall: { spans: PackumentSpan[]; critical: Set<string>; total: number; body: HTMLElement; from: number; to: number } | undefined;
/** Kept by the scroll listener, so drawing rows never reads layout. */
let waterfallTop = 0;

function waterfallRow(s: PackumentSpan, i: number, critical: Set<string>, total: number): HTMLElement {
  const row = el('div', undefined, critical.has(s.name) ? 'wf-row critical-row' : 'wf-row');
  row.style.top = `${i * ROW_PX}px`;
  row.title = `${s.name}: ${Math.round(s.end - s.start)} ms (queue ${s.queueMs}, connect ${s.connectMs}, ttfb ${s.ttfbMs}, download ${s.downloadMs}, decompress ${s.decompressMs}, parse ${s.parseMs}, pick ${s.pickMs}), ${bytes(s.bytes)}${s.attempts > 1 ? `, ${s.attempts} attempts` : ''}${s.error ? `, ${s.error}` : ''}`;
  // One bar whose background holds the phases: half the elements of a box per phase.
  const phases = phaseList(s);
  const ms = phases.reduce((sum, [, m]) => sum + Math.max(0, m), 0);
  const stops: string[] = [];
  let at = 0;
  for (const [phase, m] of phases) {
    if (m <= 0) continue;
    stops.push(`var(--seg-${phase}) ${(at / ms) * 100}% ${((at + m) / ms) * 100}%`);
    at += m;
  }
  const track = el('div', undefined, 'wf-track');
  if (ms > 0) {
    const bar = el('div', undefined, 'wf-bar');
    bar.style.left = `${(s.start / total) * 100}%`;
    bar.style.width = `${(ms / total) * 100}%`;
    bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
    track.append(bar);
  }
  row.append(el('div', s.name, 'wf-name'), track);
  return row;
}

function renderWaterfallRows(): void {
  if (!waterfall) return;
  const w = waterfall;
  const from = Math.max(0, Math.floor(waterfallTop / ROW_PX) - OVERSCAN);
  const to = Math.min(w.spans.length, Math.ceil((waterfallTop + WATERFALL_PX) / ROW_PX) + OVERSCAN);
  if (from === w.from && to === w.to) return;
  w.from = from;
  w.to = to;
  w.body.replaceChildren(...w.spans.slice(from, to).map((s, i) => waterfallRow(s, from + i, w.critical, w.total)));
}

function renderWaterfall(p: ResolutionProfile | undefined): void {
  if (!p) return;
  $('critical-path').textContent = `Critical path: ${p.criticalPath.text}`;
  const spans = p.spans.slice(0, MAX_SPANS);
  const body = el('div', undefined, 'wf-body');
  body.style.height = `${spans.length * ROW_PX}px`;
  waterfall = { spans, critical: new Set(p.criticalPath.names), total: Math.max(1, p.durationMs, ...spans.map((s) => s.end)), body, from: -1, to: -1 };
  renderWaterfallRows();
  $('waterfall').replaceChildren(body);
  $('waterfall').dataset.rows = String(spans.length);
}

function renderProfileTables(p: ResolutionProfile | undefined): void {
  if (!p) return;
  const fetchTotal = Object.values(p.phases).reduce((a, b) => a + b, 0) || 1;
  table('phases', ['phase', 'ms (summed)', 'share'], Object.entries(p.phases).map(([k, v]) => [k, fmt(v), pct(v / fetchTotal)]), [1, 2]);
  table('slowest', ['packument', 'ms'], p.slowest.map((s) => [s.name, fmt(s.ms)]), [1]);
  table('largest', ['packument', 'size'], p.largest.map((s) => [s.name, bytes(s.bytes)]), [1]);
  if (!changed('recommendations', p.recommendations)) return;
  $('recommendations').replaceChildren(...p.recommendations.map((r) => {
    const li = el('li', r.message);
    li.dataset.id = r.id;
    return li;
  }));
}

function renderAlerts(): void {
  if (!changed('alerts', model.alerts)) return;
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
  table('runs', ['when', 'ms', 'packages', 'requests', 'size'], model.runs.slice(-10).reverse().map((r) => [new Date(r.t).toLocaleTimeString(), fmt(r.durationMs), r.packages, r.requests, bytes(r.bytes)]), [0, 1, 2, 3, 4]);
}

// ---- state and messages ----
let saveTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * VS Code turns the state into JSON, a few ms for an hour of samples, more than drawing an update: so at
 * most every 2 s, and when the page is idle rather than in a frame's time.
 */
function saveState(): void {
  if (saveTimer) return;
  saveTimer = setTimeout(() =>
    requestIdleCallback(() => {
      saveTimer = undefined;
      api.setState(model);
    }),
  2000);
}

function setModel(m: MetricsSnapshot): void {
  model = bound(m);
  columnsStale = true;
}

function renderProfile(): void {
  invalidate('waterfall', () => renderWaterfall(model.profile));
  invalidate('profileTables', () => renderProfileTables(model.profile));
}

/** Marks every part of the page out of date, in page order. */
function renderAll(): void {
  invalidate('alerts', renderAlerts);
  invalidate('figures', renderFigures);
  renderProfile();
  renderCharts();
  invalidate('tables', renderTables);
}

export function handle(message: ToWebview): void {
  const t0 = performance.now();
  switch (message.type) {
    case 'snapshot':
      setModel({ ...message.snapshot, summary: message.snapshot.summary ?? model.summary, profile: message.snapshot.profile ?? model.profile });
      renderAll();
      break;
    case 'metrics': {
      const u = message.update;
      model.samples.push(u.sample);
      if (model.samples.length > MAX_SAMPLES) model.samples.splice(0, model.samples.length - MAX_SAMPLES);
      if (!columnsStale) columns.push(u.sample);
      if (u.run) {
        model.runs.push(u.run);
        if (model.runs.length > MAX_RUNS) model.runs.shift();
      }
      model.alerts = u.alerts;
      model.registries = u.registries;
      model.cache = u.cache;
      invalidate('alerts', renderAlerts);
      invalidate('figures', renderFigures);
      renderCharts();
      invalidate('tables', renderTables);
      break;
    }
    case 'profile':
      model.profile = bound({ ...model, profile: message.profile }).profile;
      invalidate('figures', renderFigures);
      renderProfile();
      break;
    case 'status':
      model.summary = message.summary;
      invalidate('figures', renderFigures);
      break;
  }
  saveState();
  acks.push({ message: { type: 'rendered', what: message.type, ms: 0, ...(model.summary && { state: model.summary.state, packages: model.summary.packages }) }, t0 });
  frame ||= requestAnimationFrame(drawFrame);
}

buildFigures();
const embedded = document.getElementById('citadel-data');
const saved = embedded ? (JSON.parse(embedded.textContent ?? 'null') as MetricsSnapshot | null) : (api.getState() as MetricsSnapshot | undefined);
if (saved && Array.isArray(saved.samples)) setModel({ ...empty(), ...saved });
buildCharts();
renderAll();
$('waterfall').addEventListener('scroll', (e) => {
  waterfallTop = (e.target as HTMLElement).scrollTop;
  renderWaterfallRows();
}, { passive: true });

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const t0 = performance.now();
  const data = event.data; // deserialized here, on first access
  if (data && typeof data === 'object' && typeof data.type === 'string') handle(data);
  spentOnMessages += performance.now() - t0;
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
    for (const c of charts.values()) c.setSize({ width: chartWidth(), height: CHART_HEIGHT });
    renderCharts(); // decimated anew for the new width
  }, 100);
});
api.postMessage({ type: 'ready' });
