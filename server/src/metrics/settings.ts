// `citadel.metrics.*` and `citadel.alerts.*` as the server uses them; values arrive untyped, so
// `metricsSettingsFrom` keeps only what is well formed and falls back to the defaults.

export interface AlertThresholds {
  /** Warn when the cache hit rate over the interval falls below this fraction (0..1). */
  cacheHitRate: number;
  /** Warn when the server's heap exceeds this many MB. */
  heapMb: number;
  /** Warn when the event loop's p99 delay exceeds this (ms). */
  eventLoopP99Ms: number;
  /** Warn when more than this fraction of requests fail or retry (0..1). */
  errorRate: number;
}

export interface MetricsSettings {
  /** Sampling interval when idle (ms); while a resolution runs the collector samples 10x as often, at most every 100 ms. */
  intervalMs: number;
  alerts: AlertThresholds;
}

export const DEFAULT_METRICS_SETTINGS: MetricsSettings = {
  intervalMs: 1000,
  alerts: { cacheHitRate: 0.9, heapMb: 1024, eventLoopP99Ms: 100, errorRate: 0.05 },
};

const num = (v: unknown, min: number, max: number): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : undefined;

/** `raw` is the `citadel` configuration section. Percentages in settings, fractions here. */
export function metricsSettingsFrom(raw: unknown): MetricsSettings {
  const d = DEFAULT_METRICS_SETTINGS;
  const section = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const metrics = (typeof section.metrics === 'object' && section.metrics !== null ? section.metrics : {}) as Record<string, unknown>;
  const alerts = (typeof section.alerts === 'object' && section.alerts !== null ? section.alerts : {}) as Record<string, unknown>;
  const pct = (v: unknown) => {
    const n = num(v, 0, 100);
    return n === undefined ? undefined : n / 100;
  };
  return {
    intervalMs: num(metrics.interval, 250, 60_000) ?? d.intervalMs,
    alerts: {
      cacheHitRate: pct(alerts.cacheHitRate) ?? d.alerts.cacheHitRate,
      heapMb: num(alerts.heapMb, 16, 65_536) ?? d.alerts.heapMb,
      eventLoopP99Ms: num(alerts.eventLoopP99Ms, 1, 60_000) ?? d.alerts.eventLoopP99Ms,
      errorRate: pct(alerts.errorRate) ?? d.alerts.errorRate,
    },
  };
}
