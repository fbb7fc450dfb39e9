// The charts' columns and decimation: bounded, in order, every sample when it fits, otherwise at most
// two points per pixel column that still carry each spike, dip and gap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MetricSample } from '../../protocol';
import { Columns, decimate } from '../../webview/src/series';

const T0 = Date.UTC(2025, 0, 1);
const sample = (i: number, over: Partial<MetricSample> = {}): MetricSample => ({
  t: T0 + i * 1000,
  inFlight: 1,
  queued: 0,
  requestsPerSec: 0,
  mbPerSec: 0,
  errors: 0,
  retries: 0,
  rssMb: 100,
  heapUsedMb: 50,
  externalMb: 5,
  cpuPercent: 1,
  eventLoopP99Ms: 10,
  gcMs: 0,
  ...over,
});

test('columns keep the last `capacity` samples in order, absent values as NaN', () => {
  const c = new Columns(3);
  c.reset([sample(0), sample(1)]);
  c.push(sample(2, { cacheHitRate: 0.5 }));
  c.push(sample(3, { inFlight: 9 }));
  assert.equal(c.length, 3);
  assert.deepEqual([...c.t], [T0 + 1000, T0 + 2000, T0 + 3000]);
  assert.deepEqual([...c.values.inFlight], [1, 1, 9]);
  assert.deepEqual([...c.values.cacheHitRate].map((v) => (Number.isNaN(v) ? null : v)), [null, 0.5, null]);
  c.reset(Array.from({ length: 5 }, (_, i) => sample(i)));
  assert.deepEqual([...c.t], [T0 + 2000, T0 + 3000, T0 + 4000]);
});

test('what fits is passed through, scaled, with gaps as null', () => {
  const c = new Columns(10);
  c.reset([sample(0, { cacheHitRate: 0.25 }), sample(1), sample(2, { cacheHitRate: 1 })]);
  assert.deepEqual(decimate(c, [{ key: 'cacheHitRate', scale: 100 }], 100), [[T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 2], [25, null, 100]]);
});

test('an hour onto 100 pixel columns: at most two points a column, spikes, dips and gaps kept, in time order', () => {
  const c = new Columns(3600);
  c.reset(
    Array.from({ length: 3600 }, (_, i) =>
      sample(i, {
        requestsPerSec: i === 1234 ? 999 : 10,
        rssMb: i === 2345 ? 1 : 100,
        ...(i >= 1800 && { latencyP50: 20 }),
      }),
    ),
  );
  const [xs, rps, rss, latency] = decimate(c, [{ key: 'requestsPerSec' }, { key: 'rssMb' }, { key: 'latencyP50' }], 100);
  assert.ok(xs!.length <= 200 && xs!.length >= 100, String(xs!.length));
  assert.ok(xs!.every((x, i) => i === 0 || x! > xs![i - 1]!), 'x increases');
  assert.equal(xs![0], T0 / 1000);
  assert.equal(xs!.at(-1), T0 / 1000 + 3599);
  assert.equal(Math.max(...(rps as number[])), 999);
  assert.equal(Math.min(...(rss as number[])), 1);
  // No latency before the half hour: a gap there, a line after it.
  const half = xs!.findIndex((x) => x! >= T0 / 1000 + 1800);
  assert.ok(latency!.slice(0, half - 1).every((v) => v === null));
  assert.ok(latency!.slice(half + 1).every((v) => v === 20));
});
