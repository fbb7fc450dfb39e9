// The resolution simulator on small graphs whose answers can be worked out by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { graphDepth, recommend, simulate, type SimGraph } from '../../server/src/perf/simulator';
import { simGraphFrom } from '../../server/src/perf/recordGraph';
import type { Packument } from '../../server/src/engine/types';
import { fitNonNegative } from '../../server/src/cli/perfSimCommands';

const g = (roots: string[], deps: Record<string, string[]>, cpu?: Record<string, number>): SimGraph => ({
  roots,
  deps: new Map(Object.entries(deps)),
  cpuMs: cpu && new Map(Object.entries(cpu)),
});

test('a chain takes one round trip per link', () => {
  const r = simulate(g(['a'], { a: ['b'], b: ['c'] }), { latencyMs: 10, concurrency: 8 });
  assert.equal(r.totalMs, 30);
  assert.equal(r.requests, 3);
  assert.equal(r.depth, 3);
  assert.deepEqual(r.criticalPath, ['a', 'b', 'c']);
});

test('a wide level is bounded by the cap: 4 requests, 2 slots, 2 waves', () => {
  const r = simulate(g(['a', 'b', 'c', 'd'], {}), { latencyMs: 10, concurrency: 2 });
  assert.equal(r.totalMs, 20);
  assert.equal(r.peakInFlight, 2);
  assert.equal(r.queueWaitMs, 20); // c and d each waited 10 ms for a slot
});

test('responses that arrive together queue for the one CPU', () => {
  const r = simulate(g(['a', 'b', 'c', 'd'], {}, { a: 5, b: 5, c: 5, d: 5 }), { latencyMs: 10, concurrency: 4 });
  assert.equal(r.totalMs, 30); // arrive at 10, parsed at 15, 20, 25, 30
  assert.equal(r.cpuBusyMs, 20);
  assert.equal(r.cpuWaitMs, 0 + 5 + 10 + 15);
});

test('start-up, service time, scale, per-document CPU and tail add up', () => {
  const r = simulate(g(['a'], { a: ['b'] }, { a: 1, b: 1 }), { latencyMs: 10, serviceMs: 1, concurrency: 1, startupMs: 100, cpuScale: 2, cpuPerDocMs: 1, tailMs: 7 });
  // 100 + (11 + 3) + (11 + 3) + 7
  assert.equal(r.totalMs, 135);
  assert.equal(r.walkMs, 28);
});

test('adaptive limit in slow start: one more slot per response, so the waves widen', () => {
  const wide = g(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], {});
  // Limit 2 at 0 (a, b); a's and b's responses at 10 raise it to 3 and 4 (c-f); c's at 20 to 5 (g, h).
  const r = simulate(wide, { latencyMs: 10, concurrency: 8, adaptive: { initial: 2 } });
  assert.equal(r.totalMs, 30);
  assert.equal(r.peakInFlight, 5);
  assert.equal(simulate(wide, { latencyMs: 10, concurrency: 2 }).totalMs, 40, 'fixed at the initial limit');
  assert.equal(simulate(wide, { latencyMs: 10, concurrency: 8 }).totalMs, 10, 'fixed at the ceiling');
  assert.equal(simulate(wide, { latencyMs: 10, concurrency: 3, adaptive: { initial: 2 } }).peakInFlight, 3, 'the ceiling holds');
  // With 5 ms of CPU per response, b's arrives while a's is parsed and d's while c's is: only a's and
  // c's responses grow the limit (to 4), so at most 4 are in flight instead of 5.
  const busy = simulate({ ...wide, cpuMs: new Map(wide.roots.map((n) => [n, 5])) }, { latencyMs: 10, concurrency: 8, adaptive: { initial: 2 } });
  assert.equal(busy.peakInFlight, 4);
});

test('keep-alive pool: only a request beyond every pooled socket pays the connect', () => {
  const r = simulate(g(['a', 'b', 'c', 'd'], {}), { latencyMs: 10, concurrency: 2, connectMs: 3 });
  assert.equal(r.totalMs, 23); // a, b connect and arrive at 13; c, d reuse their sockets: 23
  assert.equal(r.sockets, 2);
});

test('CPU per decoded byte for every document, per request only for fetched ones', () => {
  const graph: SimGraph = { roots: ['a'], deps: new Map([['a', ['b']]]), bytes: new Map([['a', 1000], ['b', 2000]]) };
  const p = { latencyMs: 10, concurrency: 4, cpuPerByteMs: 0.001, cpuPerRequestMs: 2 };
  assert.equal(simulate(graph, p).totalMs, 27); // a: 10 + (1 + 2); b: 13 + 10 + (2 + 2)
  assert.equal(simulate(graph, { ...p, cached: new Set(['b']) }).totalMs, 15); // b from the cache: 13 + 2
});

test('a shared dependency is requested once, when its first dependent is parsed', () => {
  const r = simulate(g(['a', 'b'], { a: ['c'], b: ['d'], d: ['c'] }), { latencyMs: 10, concurrency: 8 });
  assert.equal(r.requests, 4);
  assert.equal(r.totalMs, 20); // c requested when a is parsed (10); d, parsed at 20, names it again: no request
});

test('prefetch puts every known name in the first wave; cached names cost no request', () => {
  const graph = g(['a'], { a: ['b'], b: ['c'] });
  assert.equal(simulate(graph, { latencyMs: 10, concurrency: 8, prefetch: ['b', 'c'] }).totalMs, 10);
  const cached = simulate(graph, { latencyMs: 10, concurrency: 8, cached: new Set(['a', 'b']) });
  assert.equal(cached.totalMs, 10);
  assert.equal(cached.requests, 1);
});

test('graph depth counts request waves', () => {
  assert.equal(graphDepth(g(['a'], { a: ['b'], b: ['c'] })), 3);
  // By names: c is reached through x in the second wave, whatever the longer path says.
  assert.equal(graphDepth(g(['a', 'x'], { a: ['b'], b: ['c'], x: ['c'] })), 2);
  assert.equal(graphDepth(g([], {})), 0);
});

test('recommendations: a cap that starves a wide graph is raised, and a deep graph gains from knowing every name', () => {
  const wide = g(Array.from({ length: 64 }, (_, i) => `p${i}`), {});
  const recs = recommend(wide, { latencyMs: 10, concurrency: 4 }, [4, 8, 16, 32, 64, 128]);
  assert.match(recs[0].text, /^raise concurrency to 64: predicted -94%$/);
  const deep = g(['a'], { a: ['b'], b: ['c'], c: ['d'] });
  const r2 = recommend(deep, { latencyMs: 10, concurrency: 8 });
  assert.ok(r2.some((r) => /first wave/.test(r.text) && r.predictedMs === 10));
});

test('simGraphFrom: edges from picked versions to fetched documents, peers unless legacy, workspaces local', () => {
  const doc = (name: string, versions: Record<string, Record<string, Record<string, string>>>): Packument => ({
    name,
    'dist-tags': {},
    versions: Object.fromEntries(Object.entries(versions).map(([v, m]) => [v, { name, version: v, ...m }])),
  });
  const docs = new Map<string, Packument>([
    ['a', doc('a', { '1.0.0': { dependencies: { b: '^1' }, peerDependencies: { c: '*' } }, '2.0.0': { dependencies: { d: '*' } } })],
    ['b', doc('b', { '1.0.0': { dependencies: { ws: '*', missing: '*' } } })],
    ['c', doc('c', { '1.0.0': {} })],
    ['d', doc('d', { '1.0.0': {} })],
  ]);
  const picks = [{ name: 'a', version: '1.0.0' }, { name: 'b', version: '1.0.0' }];
  const ws = [{ path: 'packages/ws', manifest: { name: 'ws', dependencies: { d: '*' } } }];
  const graph = simGraphFrom(picks, docs, { dependencies: { a: '^1' } }, ws, false);
  assert.deepEqual([...graph.roots].sort(), ['a', 'd']);
  assert.deepEqual(graph.deps.get('a'), ['b', 'c']);
  assert.deepEqual(graph.deps.get('b'), []);
  assert.deepEqual(simGraphFrom(picks, docs, { dependencies: { a: '^1' } }, [], true).deps.get('a'), ['b']);
});

test('calibration fit: exact on consistent points, never a negative cost', () => {
  // y = 2 x1 + 0.5 x2
  const exact = fitNonNegative([
    { x1: 100, x2: 1000, y: 700 },
    { x1: 300, x2: 1000, y: 1100 },
    { x1: 200, x2: 4000, y: 2400 },
  ]);
  assert.ok(Math.abs(exact.a - 2) < 1e-9 && Math.abs(exact.b - 0.5) < 1e-9, JSON.stringify(exact));
  // The free fit is a = 3.67, b = -0.033: b becomes 0 and a alone fits, 170,000 / 50,000.
  const clamped = fitNonNegative([
    { x1: 100, x2: 2000, y: 300 },
    { x1: 200, x2: 1000, y: 700 },
  ]);
  assert.deepEqual(clamped, { a: 3.4, b: 0 });
});
