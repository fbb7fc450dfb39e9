// The one protocol module shared by the extension client, the language server and the webview.
// Types and method names only: its tsconfig has `"types": []`, so neither Node, vscode nor the LSP
// library can creep in. Every custom message names its direction.

/** Where resolution of one package.json stands. */
export type ResolutionState = 'resolving' | 'idle' | 'error';

/** Figures of the last resolution of one package.json; what the status bar and dashboard show. */
export interface ResolutionSummary {
  /** URI of the package.json. */
  uri: string;
  state: ResolutionState;
  /** Distinct name@version resolved (root excluded); 0 while resolving. */
  packages: number;
  durationMs: number;
  /** Registry requests made and body bytes received. */
  requests: number;
  bytes: number;
  /**
   * Share of the documents looked up that the cache answered (memory, disk, or a 304), 0..1; 1 when
   * the project was unchanged and its last result answered whole. Absent without a cache.
   */
  cacheHitRate?: number;
  /** Diagnostics published, and how many of them are errors. */
  problems: number;
  errors: number;
  /** Set when state is 'error': why resolution could not run at all. */
  message?: string;
  /** The project's .npmrc, when it exists and was not read because the workspace is not trusted. */
  ignoredNpmrc?: string;
}

/** server → client notification, sent when a resolution starts and when it ends. */
export namespace ResolutionStatusNotification {
  export const method = 'citadel/resolutionStatus';
  export type Params = ResolutionSummary;
}

/** client → server request: resolve one package.json now and return its summary. */
export namespace ResolveRequest {
  export const method = 'citadel/resolve';
  export interface Params {
    /** URI of a package.json. */
    uri: string;
  }
  export type Result = ResolutionSummary;
}

/** client → server request: why a package is in the last resolved tree of a package.json (its chains from the project). */
export namespace WhyRequest {
  export const method = 'citadel/why';
  export interface Params {
    /** URI of a package.json. */
    uri: string;
    /** Package name as installed (the alias for npm: aliases). */
    name: string;
  }
  /** One entry per version of the package in the tree; each chain runs from a direct dependency to the package. Empty: not in the tree. */
  export type Result = { version: string; chains: string[][] }[];
}


// ---- Metrics, profiler and the performance dashboard (issue 6) ----

/** One sample of the server's metrics; absent figures were not measurable in that interval. */
export interface MetricSample {
  /** Epoch milliseconds. */
  t: number;
  /** Registry requests started and not finished, and of those the ones waiting for a connection slot. */
  inFlight: number;
  queued: number;
  /** Over the interval since the previous sample. */
  requestsPerSec: number;
  mbPerSec: number;
  errors: number;
  retries: number;
  /** Time-to-first-byte percentiles over the interval, all registries (ms). */
  latencyP50?: number;
  latencyP95?: number;
  latencyP99?: number;
  /** Cache hits / lookups over the interval, 0..1; absent without lookups. */
  cacheHitRate?: number;
  /** Decoded / wire body bytes of the responses over the interval (gzip makes it > 1); absent without bodies. */
  compressionRatio?: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  /** Server process CPU over the interval, percent of one core. */
  cpuPercent: number;
  /** Event-loop delay p99 over the interval (ms). */
  eventLoopP99Ms: number;
  /** Garbage collection pause time over the interval (ms). */
  gcMs: number;
}

/** Columns of the time-series charts, in MetricSample's field names. */
export const SERIES_KEYS = [
  'inFlight',
  'queued',
  'requestsPerSec',
  'mbPerSec',
  'errors',
  'retries',
  'latencyP50',
  'latencyP95',
  'latencyP99',
  'cacheHitRate',
  'compressionRatio',
  'rssMb',
  'heapUsedMb',
  'externalMb',
  'cpuPercent',
  'eventLoopP99Ms',
  'gcMs',
] as const;
export type SeriesKey = (typeof SERIES_KEYS)[number];

export type AlertId = 'cacheHitRate' | 'heap' | 'eventLoop' | 'errorRate';

/** A threshold crossed; shown in the status bar and on the dashboard, never as a pop-up. */
export interface Alert {
  id: AlertId;
  severity: 'warning' | 'error';
  /** What is wrong, with the measured figure and the threshold. */
  message: string;
  /** What to do about it. */
  hint: string;
}

/** One finished resolution. */
export interface RunRecord {
  t: number;
  uri?: string;
  durationMs: number;
  packages: number;
  requests: number;
  bytes: number;
  /** Fetched packuments whose package ended up in the tree, 0..1 (speculative prefetch accuracy). */
  speculationAccuracy?: number;
}

export interface RegistryLatency {
  /** Registry origin, e.g. https://registry.npmjs.org. */
  registry: string;
  requests: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface CacheFigures {
  hits: { memory: number; disk: number };
  misses: number;
  revalidated: number;
  stale: number;
  evictions: number;
  corrupt: number;
}

/** One packument fetch of a resolution; times in ms from the start of the resolution. */
export interface PackumentSpan {
  name: string;
  start: number;
  queueMs: number;
  /** Opening a new socket (TCP, TLS); 0 on a reused keep-alive connection. */
  connectMs: number;
  ttfbMs: number;
  /** Body download, from the first byte to the last. */
  downloadMs: number;
  /** gzip/br decoding of the body. */
  decompressMs: number;
  parseMs: number;
  /** From the end of the fetch to the first version picked from it. */
  pickMs: number;
  /** start + the fetch's phases + pick. */
  end: number;
  /** Body bytes on the wire, and after decoding (the compression ratio is their quotient). */
  bytes: number;
  decodedBytes: number;
  status: number;
  attempts: number;
  error?: string;
  /** The package whose pick started this fetch (absent: the project itself or unknown). */
  parent?: string;
}

/** In the order they happen within a fetch. */
export type Phase = 'queue' | 'connect' | 'ttfb' | 'download' | 'decompress' | 'parse' | 'pick';

/** A span's phases in the order they happen; the profiler, the trace and the waterfall use them in this order. */
export function phaseList(s: PackumentSpan): [Phase, number][] {
  return [
    ['queue', s.queueMs],
    ['connect', s.connectMs],
    ['ttfb', s.ttfbMs],
    ['download', s.downloadMs],
    ['decompress', s.decompressMs],
    ['parse', s.parseMs],
    ['pick', s.pickMs],
  ];
}

export interface ResolutionProfile {
  uri?: string;
  durationMs: number;
  packages: number;
  requests: number;
  bytes: number;
  /** Sorted by start; at most the page's bound when sent to a client. */
  spans: PackumentSpan[];
  /** Spans in the profile before trimming. */
  spanCount: number;
  criticalPath: { names: string[]; ms: number; text: string };
  slowest: { name: string; ms: number }[];
  largest: { name: string; bytes: number }[];
  /** Summed over all spans (ms). */
  phases: Record<Phase, number>;
  /** Decoded / wire body bytes over the resolution's responses; absent when no body arrived. */
  compressionRatio?: number;
  recommendations: { id: string; message: string }[];
  speculationAccuracy?: number;
  concurrency?: number;
}

/** Everything the dashboard draws from: what a new panel, a reload and perf:report start with. */
export interface MetricsSnapshot {
  intervalMs: number;
  samples: MetricSample[];
  runs: RunRecord[];
  alerts: Alert[];
  registries: RegistryLatency[];
  cache: CacheFigures;
  profile?: ResolutionProfile;
  summary?: ResolutionSummary;
}

/** server → client notification: a new sample (every interval, faster while resolving) and the alerts in force. */
export namespace MetricsNotification {
  export const method = 'citadel/metrics';
  export interface Params {
    sample: MetricSample;
    alerts: Alert[];
    registries: RegistryLatency[];
    cache: CacheFigures;
    /** Set when a resolution finished since the previous notification. */
    run?: RunRecord;
  }
}

/** server → client notification: the profile of a resolution that just finished (spans trimmed). */
export namespace ProfileNotification {
  export const method = 'citadel/resolutionProfile';
  export type Params = ResolutionProfile;
}

/** client → server request: the metrics history, for a dashboard that opens or reloads. */
export namespace MetricsSnapshotRequest {
  export const method = 'citadel/metricsSnapshot';
  export type Params = Record<string, never>;
  export type Result = MetricsSnapshot;
}

/** client → server request: resolve a package.json now while profiling; optionally record a CPU profile of the server. */
export namespace ProfileRequest {
  export const method = 'citadel/profile';
  export interface Params {
    uri: string;
    /** Also record a V8 CPU profile of the server during the resolution (node:inspector). */
    cpuProfile?: boolean;
  }
  export interface Result {
    profile: ResolutionProfile;
    /** The `.cpuprofile` JSON, when asked for. */
    cpuProfile?: unknown;
  }
}

/** client → server request: the Chrome trace-event JSON of the last resolution of a package.json (or of any, without uri). */
export namespace ExportTraceRequest {
  export const method = 'citadel/exportTrace';
  export interface Params {
    uri?: string;
  }
  /** null when nothing was resolved yet. */
  export type Result = { traceEvents: unknown[]; displayTimeUnit: 'ms'; metadata?: Record<string, unknown> } | null;
}

/** Extension → dashboard webview. */
export type ToWebview =
  | { type: 'status'; summary: ResolutionSummary }
  | { type: 'snapshot'; snapshot: MetricsSnapshot }
  | { type: 'metrics'; update: MetricsNotification.Params }
  | { type: 'profile'; profile: ResolutionProfile };

/** Palette commands the dashboard's buttons may run; nothing else. */
export const DASHBOARD_COMMANDS = ['citadel.resolve', 'citadel.profileResolution', 'citadel.exportTrace', 'citadel.showOutput'] as const;
export type DashboardCommand = (typeof DASHBOARD_COMMANDS)[number];

/** Dashboard webview → extension. `rendered` acknowledges each message drawn (tests and health). */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'resolve' }
  | { type: 'command'; command: DashboardCommand }
  | { type: 'rendered'; what: ToWebview['type']; ms: number; state?: ResolutionState; packages?: number };

/** What the packument cache holds (Analyze Cache). */
export interface CacheSummary {
  dir: string;
  entries: number;
  corrupt: number;
  bytesOnDisk: number;
  decodedBytes: number;
  compressionRatio: number;
  oldest?: string;
  newest?: string;
  /** Documents held by the server's memory tier. */
  memoryEntries: number;
}

/** client → server request: inspect the disk and memory cache. */
export namespace AnalyzeCacheRequest {
  export const method = 'citadel/analyzeCache';
  export type Result = CacheSummary;
}

/** client → server request: empty the disk and memory cache; the result is what was removed. */
export namespace ClearCacheRequest {
  export const method = 'citadel/clearCache';
  export type Result = { dir: string; entries: number };
}

/** One resolution of a benchmark run. */
export interface BenchmarkRun {
  mode: 'cold' | 'warm' | 'hot';
  durationMs: number;
  requests: number;
  packages: number;
}

/**
 * client → server request: resolve one package.json cold (an empty scratch cache), warm (that cache
 * on disk, nothing in memory) and hot (in memory), as the editor would after a restart and an edit.
 */
export namespace BenchmarkRequest {
  export const method = 'citadel/benchmark';
  export interface Params {
    uri: string;
  }
  export type Result = BenchmarkRun[];
}
