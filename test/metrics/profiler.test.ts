// The profiler on a recorded event stream with known answers, and on a real resolution against the
// loopback fixture registry.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import type { EngineEvent } from '../../server/src/engine/types';
import { graphFromResult, profileResolution, trimProfile } from '../../server/src/metrics/profiler';
import { toChromeTrace } from '../../server/src/metrics/trace';
import { writeTrace } from '../../server/src/cli/perfCommands';
import { rawGzip } from '../../server/src/cli/bench';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { GRAPH, RECORDED } from './recorded';

let reg: TestRegistry;
let scratch: string;
before(async () => {
  reg = await startFixtureRegistry({ latencyMs: 5 });
  scratch = mkdtempSync(join(tmpdir(), 'citadel-profiler-'));
});
after(async () => {
  await reg.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('spans: phases of each packument, retries merged into one span', () => {
  const p = profileResolution(RECORDED, { graph: GRAPH });
  assert.equal(p.durationMs, 510);
  assert.deepEqual(
    p.spans.map((s) => s.name),
    ['a', 'b', 'c', 'd'],
  );
  const c = p.spans.find((s) => s.name === 'c')!;
  assert.deepEqual(
    { start: c.start, queue: c.queueMs, connect: c.connectMs, ttfb: c.ttfbMs, download: c.downloadMs, decompress: c.decompressMs, parse: c.parseMs, pick: c.pickMs, end: c.end, parent: c.parent },
    { start: 52, queue: 20, connect: 0, ttfb: 100, download: 62, decompress: 8, parse: 10, pick: 3, end: 255, parent: 'a' },
  );
  const a = p.spans.find((s) => s.name === 'a')!;
  assert.deepEqual([a.connectMs, a.ttfbMs, a.downloadMs, a.decompressMs, a.bytes, a.decodedBytes], [4, 26, 13, 2, 1000, 4000]);
  const b = p.spans.find((s) => s.name === 'b')!;
  assert.equal(b.attempts, 2);
  assert.deepEqual([b.connectMs, b.downloadMs, b.bytes, b.decodedBytes], [3, 5, 500, 500], 'both attempts counted');
  assert.equal(b.error, undefined, 'the successful retry clears the error');
  assert.equal(b.start, 0);
  assert.equal(b.end, 26);
  assert.equal(b.parent, undefined, 'a direct dependency has no parent package');
  assert.equal(p.spans.find((s) => s.name === 'd')!.parent, 'c');
  assert.deepEqual(p.phases, { queue: 20, connect: 12, ttfb: 332, download: 119, decompress: 11, parse: 21, pick: 8 });
  assert.equal(p.compressionRatio, 4.993, 'decoded / wire bytes of the bodies: 2,014,500 / 403,500');
});

test('critical path, slowest and largest packuments, speculation accuracy', () => {
  const p = profileResolution(RECORDED, { graph: GRAPH });
  assert.deepEqual(p.criticalPath.names, ['a', 'c', 'd']);
  assert.equal(p.criticalPath.ms, 502);
  assert.equal(p.criticalPath.text, 'a > c > d = 502 ms of 510 ms');
  assert.deepEqual(p.slowest[0], { name: 'd', ms: 247 });
  assert.deepEqual(p.largest[0], { name: 'c', bytes: 400_000 });
  assert.equal(p.speculationAccuracy, 1);
  assert.equal(p.requests, 5);
});

test('recommendations follow from the figures', () => {
  const ids = profileResolution(RECORDED, { graph: GRAPH }).recommendations.map((r) => r.id);
  // c is 99% of the bytes and over 256 KiB; one retry; the chain is 98% of the wall time but only 3 long.
  assert.ok(ids.includes('hugePackument'), ids.join());
  assert.ok(ids.includes('retries'), ids.join());
  assert.ok(!ids.includes('latencyBound'), ids.join());
  assert.ok(!ids.includes('concurrency'), ids.join());
});

test('trimming keeps the critical path and the slowest spans', () => {
  const p = profileResolution(RECORDED, { graph: GRAPH });
  const t = trimProfile(p, 3);
  assert.equal(t.spanCount, 4);
  assert.ok(t.spans.length <= 4);
  for (const n of p.criticalPath.names) assert.ok(t.spans.some((s) => s.name === n), n);
});

test('Chrome trace: complete events nest phases in spans, lanes never overlap, counters and instants', () => {
  const p = profileResolution(RECORDED, { graph: GRAPH });
  const trace = toChromeTrace(p, RECORDED);
  assert.equal(trace.displayTimeUnit, 'ms');
  const spans = trace.traceEvents.filter((e) => e.cat === 'packument');
  assert.equal(spans.length, 4);
  const c = spans.find((e) => e.name === 'c')!;
  assert.deepEqual([c.ts, c.dur], [52_000, 203_000]);
  const phases = trace.traceEvents.filter((e) => e.cat === 'phase' && e.tid === c.tid && e.ts >= c.ts && e.ts < c.ts + c.dur!);
  assert.deepEqual(phases.map((e) => e.name), ['queue', 'ttfb', 'download', 'decompress', 'parse', 'pick'], 'phases of zero length are left out');
  for (const ph of phases) assert.ok(ph.ts + ph.dur! <= c.ts + c.dur!, 'phase inside its span');
  const byLane = new Map<number, { ts: number; dur: number }[]>();
  for (const s of spans) byLane.set(s.tid, [...(byLane.get(s.tid) ?? []), { ts: s.ts, dur: s.dur! }]);
  for (const l of byLane.values()) for (let i = 1; i < l.length; i++) assert.ok(l[i]!.ts >= l[i - 1]!.ts + l[i - 1]!.dur);
  assert.deepEqual(
    trace.traceEvents.filter((e) => e.cat === 'critical').map((e) => e.name),
    ['a', 'c', 'd'],
  );
  assert.ok(trace.traceEvents.some((e) => e.ph === 'C'));
  assert.ok(trace.traceEvents.some((e) => e.ph === 'i' && e.cat === 'retry'));
  assert.ok(trace.traceEvents.some((e) => e.ph === 'M' && e.name === 'thread_name'));
});

test('a real resolution: one span per packument fetched, a critical path through real dependents, a trace file', async () => {
  const events: EngineEvent[] = [];
  const home = join(scratch, 'home');
  const userconfig = join(scratch, 'user.npmrc');
  writeFileSync(userconfig, '');
  const result = await resolveProject({
    dir: fixtureDir('small'),
    registry: reg.url,
    env: { HOME: home, npm_config_userconfig: userconfig, npm_config_globalconfig: userconfig },
    onEvent: (e) => events.push(e),
  });
  const p = profileResolution(events, { graph: graphFromResult(result) });
  const fetchedNames = new Set(events.filter((e) => e.type === 'fetchStart').map((e) => (e as { name: string }).name));
  assert.equal(p.spans.length, fetchedNames.size);
  assert.ok(p.criticalPath.names.length >= 1, p.criticalPath.text);
  const last = p.spans.find((s) => s.name === p.criticalPath.names.at(-1))!;
  // Speculative fetches aborted at the end of the resolution are not on any path.
  const useful = p.spans.filter((s) => s.attempts > 0 && !s.error?.startsWith('EABORTED'));
  assert.equal(last.end, Math.max(...useful.map((s) => s.end)));
  // The chain starts at one of the project's own dependencies (or a fetch no installed package has an
  // edge to, such as an optional peer read for its ranges), and every link is a real dependency edge.
  const graph = graphFromResult(result);
  const first = p.criticalPath.names[0]!;
  assert.ok([...graph.root].includes(first) || !graph.names.has(first), p.criticalPath.text);
  for (let i = 1; i < p.criticalPath.names.length; i++) {
    assert.ok(graph.deps.get(p.criticalPath.names[i - 1]!)?.has(p.criticalPath.names[i]!), p.criticalPath.text);
  }
  assert.ok(p.criticalPath.ms <= p.durationMs + 1, p.criticalPath.text);
  for (const s of useful) assert.ok(s.ttfbMs >= 5 * s.attempts - 1, `${s.name} ttfb ${s.ttfbMs} below the registry's latency`);
  const file = join(scratch, 'trace.json');
  await writeTrace(events, file, { graph });
  const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: { cat?: string }[] };
  assert.equal(trace.traceEvents.filter((e) => e.cat === 'packument').length, p.spans.length);
});

test('a real resolution over gzip: connect only on new sockets, decoded sizes and the compression ratio as the registry sent them', async () => {
  const events: EngineEvent[] = [];
  const userconfig = join(scratch, 'gzip.npmrc');
  writeFileSync(userconfig, '');
  const concurrency = 4;
  await resolveProject({
    dir: fixtureDir('small'),
    registry: reg.url,
    concurrency,
    env: { HOME: join(scratch, 'gzip-home'), npm_config_userconfig: userconfig, npm_config_globalconfig: userconfig },
    onEvent: (e) => events.push(e),
  });
  const ends = events.filter((e): e is Extract<EngineEvent, { type: 'fetchEnd' }> => e.type === 'fetchEnd' && e.status === 200);
  assert.ok(ends.length > 50, `${ends.length} fetches`);
  // The keep-alive pool opens at most one socket per slot; every other request reuses one.
  const connected = ends.filter((e) => e.connectMs > 0);
  assert.ok(connected.length >= 1 && connected.length <= concurrency, `${connected.length} requests opened a socket`);
  // Sizes against the registry's own gzip bodies, for a sample of packuments.
  for (const e of ends.slice(0, 10)) {
    const gz = await rawGzip(reg.url, e.name);
    assert.equal(e.bytes, gz.length, `${e.name} wire bytes`);
    assert.equal(e.decodedBytes, gunzipSync(gz).length, `${e.name} decoded bytes`);
  }
  assert.ok(ends.every((e) => e.decompressMs >= 0 && e.decodedBytes > e.bytes));
  assert.ok(ends.reduce((t, e) => t + e.decompressMs, 0) > 0, 'gunzip took measurable time');
  const p = profileResolution(events);
  const wire = ends.reduce((t, e) => t + e.bytes, 0);
  const decoded = ends.reduce((t, e) => t + e.decodedBytes, 0);
  assert.equal(p.compressionRatio, Math.round((decoded / wire) * 1000) / 1000);
  assert.ok(p.compressionRatio! > 2, `gzip of JSON compresses well: ${p.compressionRatio}`);
  assert.ok(p.phases.connect > 0 && p.phases.decompress > 0, JSON.stringify(p.phases));
});
