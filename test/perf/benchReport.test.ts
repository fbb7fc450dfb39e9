// Formatting of the benchmark's results and the statistics behind them (no timing assertions).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, markdownReport, markdownTable, sweepTable, withRatios, type BenchRow } from '../../server/src/perf/benchReport';
import { localExponents, median, percentile, powerFit, spread } from '../../server/src/perf/stats';
import { editOneRange } from '../../server/src/cli/bench';

const row = (tool: string, wall: number[], extra: Partial<BenchRow> = {}): BenchRow => ({
  fixture: 'large',
  latencyMs: 20,
  mode: 'cold',
  tool,
  wall: spread(wall),
  cpuMs: 1234.4,
  rssMb: 99.6,
  requests: 1079,
  bytes: 4_386_165,
  rc: 0,
  floorMs: 400,
  ...extra,
});

test('statistics: median, nearest-rank percentile, spread', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  assert.deepEqual(spread([100, 80, 120]), { median: 100, min: 80, max: 120, relSpread: 0.4, n: 3 });
});

test('power fit recovers exponents exactly on clean data', () => {
  const lin = powerFit([10, 100, 1000].map((x) => ({ x, y: 3 * x })));
  assert.ok(Math.abs(lin.exponent - 1) < 1e-9 && Math.abs(lin.coefficient - 3) < 1e-9 && Math.abs(lin.r2 - 1) < 1e-9);
  const quad = powerFit([10, 100, 1000].map((x) => ({ x, y: x * x })));
  assert.ok(Math.abs(quad.exponent - 2) < 1e-9);
  assert.deepEqual(localExponents([{ x: 10, y: 10 }, { x: 100, y: 100 }, { x: 1000, y: 100_000 }]).map((l) => Math.round(l.exponent * 100) / 100), [1, 3]);
});

test('ratios: Citadel over each peer in the same cell, tool over the floor in the cold modes only', () => {
  const rows = withRatios([row('citadel', [500]), row('bun', [1000]), row('bun', [100], { mode: 'warm' }), row('citadel', [50], { mode: 'warm' }), row('citadel', [300], { mode: 'cold-history' })]);
  assert.equal(rows[0].citadelRatio, undefined);
  assert.equal(rows[0].floorRatio, 1.25);
  assert.equal(rows[1].citadelRatio, 0.5);
  assert.equal(rows[2].citadelRatio, 0.5);
  assert.equal(rows[2].floorRatio, undefined);
  // With a history the walk need not wait on the graph's depth: its time can fall below the floor.
  assert.equal(rows[4].floorRatio, 0.75);
  assert.equal(rows[4].citadelRatio, undefined);
});

test('markdown table: one line per row, spread when there are several runs, floor line per cell', () => {
  const rows = withRatios([row('citadel', [480, 500, 700]), row('npm', [38_013], { rc: 1 }), row('pnpm', [1000], { rc: 254 })]);
  const md = markdownTable(rows, [{ fixture: 'large', latencyMs: 20, depth: 10, parseMs: 230.2, packuments: 1079, packages: 1239, floorMs: 430.2 }]);
  const lines = md.split('\n');
  assert.equal(lines.length, 2 + 3 + 1);
  assert.equal(lines[2], '| large | 20 | cold | citadel | 500 (480-700) | 1,234 | 100 | 1,079 | 4.2 MB |  | 1.25 |');
  assert.equal(lines[3], '| large | 20 | cold | npm | 38,013 | 1,234 | 100 | 1,079 | 4.2 MB | 0.01 | 95.03 |');
  assert.match(lines[4], /\| pnpm \(rc 254\) \|/);
  assert.equal(lines[5], '| large | 20 | floor | depth 10 x 20 + parse 230 | 430 | | | 1,079 | | | 1.00 |');
});

test('report: conditions, versions and a note per mode present', () => {
  const md = markdownReport(withRatios([row('citadel', [1]), row('citadel', [1], { mode: 'hot' })]), [], { runs: 3, npmRuns: 1, versions: { node: 'v20', bun: '1.4.5' }, date: '2025-01-01' });
  assert.match(md, /medians of 3 runs \(npm: 1\)/);
  assert.match(md, /Versions: node v20, bun 1\.4\.5\./);
  assert.match(md, /- \*\*cold\*\*: no lockfile/);
  assert.match(md, /- \*\*hot\*\*: in-process/);
});

test('bytes and one-range edits', () => {
  assert.equal(formatBytes(0), '0');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(2048), '2 kB');
  const edited = JSON.parse(editOneRange(JSON.stringify({ dependencies: { a: '1.0.0', b: '^2.1.0', c: '^3.0.0' } }))) as { dependencies: Record<string, string> };
  assert.deepEqual(edited.dependencies, { a: '1.0.0', b: '~2.1.0', c: '^3.0.0' });
  const none = JSON.stringify({ dependencies: { a: '1.0.0' } });
  assert.equal(editOneRange(none), none);
});

test('concurrency sweep table: medians per setting and latency, the best fixed setting, adaptive against it', () => {
  const s = (setting: string, latencyMs: number, ...walls: number[]) => walls.map((wallMs) => ({ setting, latencyMs, wallMs, cpuMs: wallMs * 2 }));
  const table = sweepTable([...s('16', 0, 900, 1000, 1100), ...s('64', 0, 1200, 1300, 1250), ...s('adaptive', 0, 1000, 1100, 1050), ...s('16', 20, 2000), ...s('64', 20, 1500), ...s('adaptive', 20, 1200)]);
  const lines = table.split('\n');
  assert.equal(lines[0], '| concurrency | L=0: wall ms median (min-max), CPU ms | L=20: wall ms median (min-max), CPU ms |');
  assert.equal(lines[2], '| 16 | 1,000 (900-1,100), 2,000 | 2,000 (2,000-2,000), 4,000 |');
  assert.equal(lines[4], '| adaptive | 1,050 (1,000-1,100), 2,100 | 1,200 (1,200-1,200), 2,400 |');
  assert.equal(lines[5], '| best fixed | 16 (1,000) | 64 (1,500) |');
  assert.equal(lines[6], '| adaptive / best fixed | 1.05 | 0.80 |');
});
