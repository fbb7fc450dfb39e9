// `citadel perf:report`, `citadel perf:profile-memory` and `citadel resolve --trace FILE`: the profiler
// and the collector, headless. main.ts dispatches to these; they print and return an exit code.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MetricsSnapshot } from '../../../protocol';
import { dashboardHtml, STANDALONE_THEME } from '../../../webview/src/html';
import type { ResolveResult } from '../engine/api';
import { ManifestError, resolveProject } from '../engine/project';
import type { EngineEvent, EventSink } from '../engine/types';
import { MetricsCollector } from '../metrics/collector';
import { graphFromResult, profileResolution, trimProfile, type ProfileOptions } from '../metrics/profiler';
import { toChromeTrace } from '../metrics/trace';
import { PERF_USAGE } from './usage';

/** Writes the Chrome trace-event JSON of one resolution's events (opens in Perfetto and chrome://tracing). */
export async function writeTrace(events: readonly EngineEvent[], file: string, opts: ProfileOptions = {}): Promise<void> {
  await writeFile(file, JSON.stringify(toChromeTrace(profileResolution(events, opts), events)));
}

/**
 * For `citadel resolve --trace FILE`: `onEvent` records (and forwards to `next`, e.g. the progress
 * line); `write(result)` writes the trace once the resolution is done.
 */
export function traceRecorder(file: string, next?: EventSink): { onEvent: EventSink; write(result: ResolveResult): Promise<void> } {
  const events: EngineEvent[] = [];
  return {
    onEvent: (e) => {
      events.push(e);
      next?.(e);
    },
    write: (result) => writeTrace(events, file, { graph: graphFromResult(result) }),
  };
}

function fail(command: string, message: string): number {
  process.stderr.write(`citadel ${command}: ${message}\n`);
  return 2;
}

const COMMON = {
  registry: { type: 'string' },
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function concurrencyOf(raw: string | undefined): number | undefined | Error {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : new Error('--concurrency must be a positive integer');
}

/** `citadel perf:report [dir] --out report.html`. */
export async function perfReportCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { ...COMMON, out: { type: 'string', short: 'o' } } });
  } catch (err) {
    return fail('perf:report', (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(PERF_USAGE + '\n');
    return 0;
  }
  if (!values.out) return fail('perf:report', '--out FILE is required');
  const concurrency = concurrencyOf(values.concurrency);
  if (concurrency instanceof Error) return fail('perf:report', concurrency.message);
  if (positionals.length > 1) return fail('perf:report', 'at most one project directory');
  const dir = resolvePath(positionals[0] ?? '.');
  const events: EngineEvent[] = [];
  const collector = new MetricsCollector({ settings: { intervalMs: 1000, alerts: { cacheHitRate: 0.9, heapMb: 1024, eventLoopP99Ms: 100, errorRate: 0.05 } } });
  collector.onSample = () => undefined;
  collector.runStarted(concurrency);
  collector.start();
  let result;
  try {
    result = await resolveProject({
      dir,
      registry: values.registry,
      concurrency,
      onEvent: (e) => {
        events.push(e);
        collector.onEvent(e);
      },
    });
  } catch (err) {
    collector.dispose();
    return fail('perf:report', err instanceof ManifestError ? err.message : err instanceof Error ? err.message : String(err));
  }
  const profile = profileResolution(events, { graph: graphFromResult(result), concurrency: concurrency ?? result.config.maxsockets ?? 32 });
  collector.runFinished({ t: Date.now(), durationMs: profile.durationMs, packages: result.packages.length, requests: result.stats.requests, bytes: result.stats.bytes, ...(profile.speculationAccuracy !== undefined && { speculationAccuracy: profile.speculationAccuracy }) });
  collector.sample();
  collector.dispose();
  const errors = result.problems.filter((p) => p.severity === 'error').length;
  const snapshot: MetricsSnapshot = {
    ...collector.snapshot(),
    profile: trimProfile(profile, 1000),
    summary: { uri: `file://${join(dir, 'package.json')}`, state: 'idle', packages: result.packages.length, durationMs: result.stats.durationMs, requests: result.stats.requests, bytes: result.stats.bytes, problems: result.problems.length, errors },
  };
  const script = readFileSync(join(__dirname, 'webview.js'), 'utf8');
  const html = dashboardHtml({ nonce: randomBytes(16).toString('base64'), inlineScript: script, data: snapshot, extraStyle: STANDALONE_THEME, title: `Citadel report: ${dir}` });
  await writeFile(values.out, html);
  process.stdout.write(`Wrote ${values.out}: ${result.packages.length} packages in ${Math.round(profile.durationMs)} ms; critical path ${profile.criticalPath.text}\n`);
  return 0;
}

/** Forces a full collection: `global.gc` when Node runs with --expose-gc, else enables it at run time. */
function gcNow(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** Least-squares slope (per index) and R² of a series. */
export function trend(ys: readonly number[]): { slope: number; r2: number } {
  const n = ys.length;
  if (n < 2) return { slope: 0, r2: 0 };
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  ys.forEach((y, x) => {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  });
  const slope = sxy / sxx;
  return { slope, r2: syy === 0 ? 0 : (sxy * sxy) / (sxx * syy) };
}

/** A growth verdict: steady growth above 0.25 MB per iteration with a good linear fit is a suspected leak. */
export function memoryVerdict(heapMb: readonly number[]): { slopeMb: number; r2: number; leak: boolean; text: string } {
  // The first iterations warm caches and JIT: judge the rest.
  const judged = heapMb.length > 4 ? heapMb.slice(2) : heapMb;
  const { slope, r2 } = trend(judged);
  const leak = slope > 0.25 && r2 > 0.8;
  const text = leak
    ? `leak suspected: the heap grows ${slope.toFixed(2)} MB per iteration (R² ${r2.toFixed(2)})`
    : `no leak: ${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB per iteration after warm-up (R² ${r2.toFixed(2)})`;
  return { slopeMb: slope, r2, leak, text };
}

/** Heap per iteration as rows of bars (the terminal has no charts). */
export function heapGraph(heapMb: readonly number[], width = 50): string {
  const max = Math.max(...heapMb);
  const min = Math.min(...heapMb);
  const span = Math.max(0.001, max - min);
  return heapMb
    .map((h, i) => `${String(i + 1).padStart(3)} ${h.toFixed(1).padStart(8)} MB ${'█'.repeat(1 + Math.round(((h - min) / span) * (width - 1)))}`)
    .join('\n');
}

/** `citadel perf:profile-memory [dir] [--live] [--graph] [--leak-detection]`. */
export async function profileMemoryCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...COMMON,
        iterations: { type: 'string' },
        live: { type: 'boolean', default: false },
        graph: { type: 'boolean', default: false },
        'leak-detection': { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return fail('perf:profile-memory', (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(PERF_USAGE + '\n');
    return 0;
  }
  const concurrency = concurrencyOf(values.concurrency);
  if (concurrency instanceof Error) return fail('perf:profile-memory', concurrency.message);
  const iterations = values.iterations === undefined ? (values['leak-detection'] ? 30 : 10) : Number(values.iterations);
  if (!(Number.isInteger(iterations) && iterations >= 2)) return fail('perf:profile-memory', '--iterations must be an integer >= 2');
  const dir = resolvePath(positionals[0] ?? '.');
  const heap: number[] = [];
  gcNow();
  const baseline = process.memoryUsage().heapUsed / 1048576;
  for (let i = 0; i < iterations; i++) {
    let result;
    try {
      result = await resolveProject({ dir, registry: values.registry, concurrency });
    } catch (err) {
      return fail('perf:profile-memory', err instanceof Error ? err.message : String(err));
    }
    gcNow();
    const m = process.memoryUsage();
    heap.push(m.heapUsed / 1048576);
    if (values.live) {
      process.stdout.write(`iteration ${i + 1}/${iterations}: ${result.packages.length} packages in ${Math.round(result.stats.durationMs)} ms, heap ${heap[i]!.toFixed(1)} MB (${(heap[i]! - (heap[i - 1] ?? baseline) >= 0 ? '+' : '')}${(heap[i]! - (heap[i - 1] ?? baseline)).toFixed(2)} MB), rss ${(m.rss / 1048576).toFixed(0)} MB\n`);
    }
  }
  const verdict = memoryVerdict(heap);
  if (values.graph) process.stdout.write(heapGraph(heap) + '\n');
  process.stdout.write(`heap after GC: baseline ${baseline.toFixed(1)} MB, first ${heap[0]!.toFixed(1)} MB, last ${heap.at(-1)!.toFixed(1)} MB over ${iterations} resolutions\n`);
  process.stdout.write(`verdict: ${verdict.text}\n`);
  return values['leak-detection'] && verdict.leak ? 1 : 0;
}
