// The metrics collector: subscribes to the engine's events, samples its own process, keeps the history
// in ring buffers and evaluates alerts. Sampling runs every `intervalMs`, and ten times as often (at
// most every 100 ms) while a resolution runs, so a 500 ms resolution still draws a curve.
// Every figure comes from an event or a process reading; nothing is estimated.
import type { Alert, CacheFigures, MetricSample, MetricsNotification, MetricsSnapshot, RegistryLatency, RunRecord } from '../../../protocol';
import type { EngineEvent } from '../engine/types';
import { percentiles, RingBuffer } from './ringBuffer';
import { DEFAULT_METRICS_SETTINGS, type MetricsSettings } from './settings';
import { createSystemProbe, type SystemProbe } from './systemProbe';

/** An hour of 1 s samples (plus the faster samples of the resolutions in it). */
export const DEFAULT_CAPACITY = 3600;
/** TTFB samples kept per registry for its percentiles. */
const LATENCY_WINDOW = 1000;
/** Alerts on rates look at this much history, so one bad interval does not flap the status bar. */
const ALERT_WINDOW_MS = 60_000;
/** Below this many requests (or cache lookups) in the alert window a rate is not judged. */
const MIN_FOR_RATE = 20;
/** The registry client's default bound on requests in flight, when neither the setting nor .npmrc names one. */
export const DEFAULT_REQUEST_LIMIT = 32;

export interface CollectorOptions {
  settings?: MetricsSettings;
  probe?: SystemProbe;
  capacity?: number;
  now?: () => number;
  /** Called with every sample taken by the timer (not by explicit `sample()` calls). */
  onSample?: (update: MetricsNotification.Params) => void;
}

interface Window {
  requests: number;
  failures: number;
  retries: number;
  bytes: number;
  /** Wire and decoded body bytes of the responses that had a body, for the compression ratio. */
  wireBodyBytes: number;
  decodedBytes: number;
  ttfb: number[];
  hits: number;
  lookups: number;
}

const emptyWindow = (): Window => ({ requests: 0, failures: 0, retries: 0, bytes: 0, wireBodyBytes: 0, decodedBytes: 0, ttfb: [], hits: 0, lookups: 0 });

function origin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return url;
  }
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export class MetricsCollector {
  private settings: MetricsSettings;
  private readonly probe: SystemProbe;
  private readonly now: () => number;
  private readonly samples: RingBuffer<MetricSample>;
  private readonly runs = new RingBuffer<RunRecord>(200);
  /** Per-sample request/failure/cache counts for the rate alerts. */
  private readonly recent = new RingBuffer<{ t: number; requests: number; failures: number; hits: number; lookups: number }>(4096);
  private readonly latency = new Map<string, { ttfb: RingBuffer<number>; requests: number; errors: number }>();
  private readonly cache: CacheFigures = { hits: { memory: 0, disk: 0 }, misses: 0, revalidated: 0, stale: 0, evictions: 0, corrupt: 0 };
  private window = emptyWindow();
  private windowStart: number;
  private open = 0;
  private activeRuns = 0;
  private limit = DEFAULT_REQUEST_LIMIT;
  private pendingRun: RunRecord | undefined;
  private current: Alert[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Receives every sample the timer takes. */
  onSample?: (update: MetricsNotification.Params) => void;

  constructor(opts: CollectorOptions = {}) {
    this.settings = opts.settings ?? DEFAULT_METRICS_SETTINGS;
    this.probe = opts.probe ?? createSystemProbe();
    this.now = opts.now ?? Date.now;
    this.samples = new RingBuffer(opts.capacity ?? DEFAULT_CAPACITY);
    this.windowStart = this.now();
    this.onSample = opts.onSample;
  }

  configure(settings: MetricsSettings): void {
    this.settings = settings;
    if (this.timer) this.schedule();
  }

  get intervalMs(): number {
    return this.settings.intervalMs;
  }

  /** The engine's event sink: pass `collector.onEvent` as `onEvent`. */
  readonly onEvent = (e: EngineEvent): void => {
    const w = this.window;
    switch (e.type) {
      case 'fetchStart':
        this.open++;
        break;
      case 'fetchEnd': {
        this.open = Math.max(0, this.open - 1);
        w.requests++;
        w.bytes += e.bytes;
        if (e.decodedBytes > 0) {
          w.wireBodyBytes += e.bytes;
          w.decodedBytes += e.decodedBytes;
        }
        const reg = origin(e.url);
        let l = this.latency.get(reg);
        if (!l) this.latency.set(reg, (l = { ttfb: new RingBuffer(LATENCY_WINDOW), requests: 0, errors: 0 }));
        l.requests++;
        if (e.error) {
          w.failures++;
          l.errors++;
        } else if (e.status === 200 || e.status === 304) {
          w.ttfb.push(e.ttfbMs);
          l.ttfb.push(e.ttfbMs);
        }
        break;
      }
      case 'retry':
        w.retries++;
        break;
      case 'cache':
        switch (e.action) {
          case 'hit':
            w.hits++;
            w.lookups++;
            this.cache.hits[e.tier ?? 'memory']++;
            break;
          case 'miss':
            w.lookups++;
            this.cache.misses++;
            break;
          case 'revalidate':
            w.lookups++;
            this.cache.revalidated++;
            break;
          case 'stale':
            this.cache.stale++;
            break;
          case 'evict':
            this.cache.evictions++;
            break;
          case 'corrupt':
            this.cache.corrupt++;
            break;
        }
        break;
      default:
        break;
    }
  };

  /** A resolution starts; `limit` is its bound on requests in flight (for the queued figure). */
  runStarted(limit?: number): void {
    this.activeRuns++;
    if (limit) this.limit = limit;
    if (this.timer) this.schedule();
  }

  runFinished(run?: RunRecord): void {
    this.activeRuns = Math.max(0, this.activeRuns - 1);
    if (run) {
      this.runs.push(run);
      this.pendingRun = run;
    }
  }

  /** Takes a sample now: closes the current window, stores it and re-evaluates the alerts. */
  sample(): MetricSample {
    const t = this.now();
    const seconds = Math.max(0.001, (t - this.windowStart) / 1000);
    const w = this.window;
    const p = this.probe.read();
    const s: MetricSample = {
      t,
      inFlight: this.open,
      queued: Math.max(0, this.open - this.limit),
      requestsPerSec: round(w.requests / seconds),
      mbPerSec: round(w.bytes / (1024 * 1024) / seconds, 3),
      errors: w.failures,
      retries: w.retries,
      rssMb: round(p.rssMb, 1),
      heapUsedMb: round(p.heapUsedMb, 1),
      externalMb: round(p.externalMb, 1),
      cpuPercent: round(p.cpuPercent, 1),
      eventLoopP99Ms: round(p.eventLoopP99Ms, 1),
      gcMs: round(p.gcMs, 1),
    };
    if (w.ttfb.length) {
      const [p50, p95, p99] = percentiles(w.ttfb, [50, 95, 99]);
      s.latencyP50 = round(p50!, 1);
      s.latencyP95 = round(p95!, 1);
      s.latencyP99 = round(p99!, 1);
    }
    if (w.lookups) s.cacheHitRate = round(w.hits / w.lookups, 4);
    if (w.wireBodyBytes) s.compressionRatio = round(w.decodedBytes / w.wireBodyBytes, 3);
    this.samples.push(s);
    this.recent.push({ t, requests: w.requests, failures: w.failures + w.retries, hits: w.hits, lookups: w.lookups });
    this.window = emptyWindow();
    this.windowStart = t;
    this.current = this.evaluate(s);
    return s;
  }

  /** The alerts in force after the last sample. */
  alerts(): Alert[] {
    return this.current;
  }

  private evaluate(s: MetricSample): Alert[] {
    const a = this.settings.alerts;
    const alerts: Alert[] = [];
    let requests = 0;
    let failures = 0;
    let hits = 0;
    let lookups = 0;
    for (const r of this.recent.toArray()) {
      if (r.t <= s.t - ALERT_WINDOW_MS) continue;
      requests += r.requests;
      failures += r.failures;
      hits += r.hits;
      lookups += r.lookups;
    }
    if (lookups >= MIN_FOR_RATE && hits / lookups < a.cacheHitRate) {
      alerts.push({
        id: 'cacheHitRate',
        severity: 'warning',
        message: `Cache hit rate ${pct(hits / lookups)} over the last minute (threshold ${pct(a.cacheHitRate)}).`,
        hint: 'A cold or freshly invalidated cache: resolve again to warm it; if it stays low, check that the cache directory is writable and not cleared between runs.',
      });
    }
    if (s.heapUsedMb > a.heapMb) {
      alerts.push({
        id: 'heap',
        severity: s.heapUsedMb > a.heapMb * 1.5 ? 'error' : 'warning',
        message: `Server heap ${Math.round(s.heapUsedMb)} MB (threshold ${a.heapMb} MB).`,
        hint: 'Close package.json files you no longer need, or run Citadel: Restart Server; if the heap keeps growing, run `citadel perf:profile-memory --leak-detection` and attach its output to an issue.',
      });
    }
    if (s.eventLoopP99Ms > a.eventLoopP99Ms) {
      alerts.push({
        id: 'eventLoop',
        severity: 'warning',
        message: `Event-loop delay p99 ${Math.round(s.eventLoopP99Ms)} ms (threshold ${a.eventLoopP99Ms} ms): the server answers slowly.`,
        hint: 'Run Citadel: Profile Resolution to record a CPU profile of the server and see what blocks it; very large packuments parsed at once are a usual cause.',
      });
    }
    if (requests >= MIN_FOR_RATE && failures / requests > a.errorRate) {
      alerts.push({
        id: 'errorRate',
        severity: failures / requests > 0.25 ? 'error' : 'warning',
        message: `${pct(failures / requests)} of registry requests failed or were retried over the last minute (threshold ${pct(a.errorRate)}).`,
        hint: 'The registry or the network is unreliable: check Citadel: Show Output for the failures, your proxy and `fetch-retries` settings, or try again later.',
      });
    }
    return alerts;
  }

  registries(): RegistryLatency[] {
    return [...this.latency].map(([registry, l]) => {
      const [p50, p95, p99] = percentiles(l.ttfb.toArray(), [50, 95, 99]);
      return { registry, requests: l.requests, errors: l.errors, p50: round(p50 ?? 0, 1), p95: round(p95 ?? 0, 1), p99: round(p99 ?? 0, 1) };
    });
  }

  cacheFigures(): CacheFigures {
    return { ...this.cache, hits: { ...this.cache.hits } };
  }

  snapshot(): MetricsSnapshot {
    return {
      intervalMs: this.settings.intervalMs,
      samples: this.samples.toArray(),
      runs: this.runs.toArray(),
      alerts: this.current,
      registries: this.registries(),
      cache: this.cacheFigures(),
    };
  }

  /** Samples on a timer and reports each sample to `onSample`. */
  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const every = this.activeRuns > 0 ? Math.max(100, this.settings.intervalMs / 10) : this.settings.intervalMs;
    this.timer = setTimeout(() => {
      const sample = this.sample();
      const run = this.pendingRun;
      this.pendingRun = undefined;
      this.onSample?.({ sample, alerts: this.current, registries: this.registries(), cache: this.cacheFigures(), ...(run && { run }) });
      this.schedule();
    }, every);
    // The collector never keeps the process alive.
    this.timer.unref?.();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.probe.dispose();
  }
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}
