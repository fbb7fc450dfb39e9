// The collector on recorded events with a fake clock and process probe: rates, percentiles, queued
// requests, cache hit rate, bounded history and alerts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsCollector } from '../../server/src/metrics/collector';
import { percentile, percentiles, RingBuffer } from '../../server/src/metrics/ringBuffer';
import { createSystemProbe } from '../../server/src/metrics/systemProbe';
import { DEFAULT_METRICS_SETTINGS, metricsSettingsFrom } from '../../server/src/metrics/settings';
import type { ProcessReading, SystemProbe } from '../../server/src/metrics/systemProbe';
import type { EngineEvent } from '../../server/src/engine/types';
import { RECORDED } from './recorded';

function fakeProbe(reading: Partial<ProcessReading> = {}): SystemProbe & { reading: ProcessReading } {
  const probe = {
    reading: { rssMb: 100, heapUsedMb: 50, externalMb: 5, cpuPercent: 3, eventLoopP99Ms: 10, gcMs: 0, ...reading },
    read: () => probe.reading,
    dispose: () => undefined,
  };
  return probe;
}

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('ring buffer keeps the last N in order; nearest-rank percentiles', () => {
  const r = new RingBuffer<number>(3);
  for (let i = 1; i <= 5; i++) r.push(i);
  assert.deepEqual(r.toArray(), [3, 4, 5]);
  assert.equal(r.last(), 5);
  const v = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(v, 50), 50);
  assert.equal(percentile(v, 95), 95);
  assert.equal(percentile(v, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), undefined);
  // Numeric order (a default sort would put 10 before 9), one sort for several.
  assert.deepEqual(percentiles([10, 9, 1, 100, 2.5], [0, 50, 80, 100]), [1, 9, 10, 100]);
  assert.deepEqual(percentiles([], [50, 99]), [undefined, undefined]);
});

test('a sample over a recorded resolution: rates, latency percentiles, errors and retries', () => {
  const c = clock(1000);
  const m = new MetricsCollector({ probe: fakeProbe(), now: c.now });
  for (const e of RECORDED) m.onEvent(e);
  c.t = 1500;
  const s = m.sample();
  assert.equal(s.requestsPerSec, 10, '5 fetch attempts in 0.5 s');
  assert.equal(s.mbPerSec, Math.round((403_500 / 1048576 / 0.5) * 1000) / 1000);
  assert.equal(s.errors, 1);
  assert.equal(s.retries, 1);
  // TTFB of the four successful attempts: 6, 26, 100, 195.
  assert.equal(s.latencyP50, 26);
  assert.equal(s.latencyP95, 195);
  // Decoded / wire over the four bodies (the failed attempt carried none): 2,014,500 / 403,500.
  assert.equal(s.compressionRatio, 4.993);
  assert.equal(s.inFlight, 0);
  assert.equal(s.cacheHitRate, undefined, 'no cache lookups: no hit rate');
  assert.equal(s.rssMb, 100);
  const [reg] = m.registries();
  assert.deepEqual(reg, { registry: 'http://127.0.0.1:4873', requests: 5, errors: 1, p50: 26, p95: 195, p99: 195 });
  // The window resets.
  c.t = 2500;
  const empty = m.sample();
  assert.equal(empty.requestsPerSec, 0);
  assert.equal(empty.compressionRatio, undefined, 'no bodies: no ratio');
});

test('requests in flight and queued behind the bound', () => {
  const c = clock();
  const m = new MetricsCollector({ probe: fakeProbe(), now: c.now });
  m.runStarted(2);
  for (const name of ['a', 'b', 'c', 'd', 'e']) m.onEvent({ type: 'fetchStart', name, url: `http://x/${name}`, at: 0 });
  c.t = 100;
  const s = m.sample();
  assert.equal(s.inFlight, 5);
  assert.equal(s.queued, 3);
});

test('cache hit rate per interval and per tier; alert below the threshold with a hint', () => {
  const c = clock();
  const m = new MetricsCollector({ probe: fakeProbe(), now: c.now });
  const cache = (action: 'hit' | 'miss', tier?: 'memory' | 'disk'): EngineEvent => ({ type: 'cache', action, name: 'x', ...(tier && { tier }), at: 0 });
  for (let i = 0; i < 15; i++) m.onEvent(cache('hit', i < 10 ? 'memory' : 'disk'));
  for (let i = 0; i < 10; i++) m.onEvent(cache('miss'));
  c.t = 1000;
  const s = m.sample();
  assert.equal(s.cacheHitRate, 0.6);
  assert.deepEqual(m.cacheFigures().hits, { memory: 10, disk: 5 });
  const alert = m.alerts().find((a) => a.id === 'cacheHitRate');
  assert.ok(alert, JSON.stringify(m.alerts()));
  assert.match(alert.message, /60%.*90%/);
  assert.ok(alert.hint.length > 20);
});

test('heap, event-loop and error-rate alerts from thresholds; they clear when figures recover', () => {
  const c = clock();
  const probe = fakeProbe({ heapUsedMb: 2000, eventLoopP99Ms: 150 });
  const m = new MetricsCollector({ probe, now: c.now, settings: { ...DEFAULT_METRICS_SETTINGS, alerts: { ...DEFAULT_METRICS_SETTINGS.alerts, heapMb: 1024 } } });
  for (let i = 0; i < 30; i++) {
    m.onEvent({ type: 'fetchStart', name: `p${i}`, url: 'http://r/p', at: 0 });
    m.onEvent({ type: 'fetchEnd', name: `p${i}`, url: 'http://r/p', at: 0, status: i < 3 ? 500 : 200, bytes: 10, decodedBytes: i < 3 ? 0 : 10, queuedMs: 0, connectMs: 0, ttfbMs: 1, decompressMs: 0, totalMs: 2, attempt: 1, ...(i < 3 && { error: 'EREGISTRY' }) });
  }
  c.t = 1000;
  m.sample();
  const ids = m.alerts().map((a) => `${a.id}:${a.severity}`);
  assert.deepEqual(ids.sort(), ['errorRate:warning', 'eventLoop:warning', 'heap:error']);
  probe.reading = { ...probe.reading, heapUsedMb: 100, eventLoopP99Ms: 5 };
  c.t = 62_000; // the failures have left the one-minute window
  m.sample();
  assert.deepEqual(m.alerts(), []);
});

test('history is bounded by the capacity', () => {
  const c = clock();
  const m = new MetricsCollector({ probe: fakeProbe(), now: c.now, capacity: 50 });
  for (let i = 0; i < 200; i++) {
    c.t += 1000;
    m.sample();
  }
  const snap = m.snapshot();
  assert.equal(snap.samples.length, 50);
  assert.equal(snap.samples.at(-1)!.t, 200_000);
});

test('timer sampling reports to onSample, with the finished run once', async () => {
  const m = new MetricsCollector({
    probe: fakeProbe(),
    settings: { ...DEFAULT_METRICS_SETTINGS, intervalMs: 250 },
  });
  const updates: { run?: unknown }[] = [];
  const got = new Promise<void>((resolve) => {
    (m as unknown as { onSample: (u: { run?: unknown }) => void }).onSample = (u) => {
      updates.push(u);
      if (updates.length === 2) resolve();
    };
  });
  m.runStarted();
  m.runFinished({ t: 0, durationMs: 10, packages: 1, requests: 1, bytes: 1 });
  m.start();
  // The collector's timer is unref'd (it never keeps a process alive); this one keeps the test's.
  const keepAlive = setTimeout(() => undefined, 10_000);
  await got;
  clearTimeout(keepAlive);
  m.dispose();
  assert.ok(updates[0]!.run);
  assert.equal(updates[1]!.run, undefined);
});

test('settings: percentages become fractions, bad values fall back to the defaults', () => {
  const s = metricsSettingsFrom({ metrics: { interval: 2000 }, alerts: { cacheHitRate: 80, heapMb: 'lots', errorRate: 500 } });
  assert.equal(s.intervalMs, 2000);
  assert.equal(s.alerts.cacheHitRate, 0.8);
  assert.equal(s.alerts.heapMb, DEFAULT_METRICS_SETTINGS.alerts.heapMb);
  assert.equal(s.alerts.errorRate, DEFAULT_METRICS_SETTINGS.alerts.errorRate);
  assert.deepEqual(metricsSettingsFrom(undefined), DEFAULT_METRICS_SETTINGS);
});

test('the system probe reads this process: CPU spent since the last read, memory now', () => {
  const probe = createSystemProbe();
  try {
    probe.read();
    const until = performance.now() + 60;
    while (performance.now() < until); // 60 ms of CPU on this thread
    const r = probe.read();
    assert.ok(r.cpuPercent > 10 && r.cpuPercent < 100 * 64, `${r.cpuPercent}%`);
    assert.ok(r.rssMb > 10 && r.heapUsedMb > 0, JSON.stringify(r));
    const idle = probe.read();
    assert.ok(idle.cpuPercent >= 0, `${idle.cpuPercent}%`);
  } finally {
    probe.dispose();
  }
});
