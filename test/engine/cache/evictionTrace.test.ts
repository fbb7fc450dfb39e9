// Eviction policies compared on a recorded access trace: a developer's fortnight, replayed through the
// real engine and cache. Two projects resolved every day (the fixtures small and medium), one-off
// resolutions of big unrelated projects every few days (large, nextjs, peer-conflict). The trace is the
// cache's own access log (entry keys, times) with each entry's size on disk; LRU and LFU-with-decay
// replay it at caps of a quarter, a half and three quarters of the whole, and the default policy is the
// one that keeps more of what the next day asks for.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DiskCache } from '../../../server/src/engine/cache/diskCache';
import { DEFAULT_EVICTION, parseAccessLog, simulate } from '../../../server/src/engine/cache/eviction';
import { resolveProject } from '../../../server/src/engine/project';
import type { TestRegistry } from '../../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../../helpers/npmOracle';

let reg: TestRegistry;
before(async () => {
  reg = await startFixtureRegistry();
});
after(() => reg.close());

test('on a recorded fortnight of resolutions the default eviction policy keeps at least as much as the other', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-trace-'));
  const empty = join(cacheDir, 'none');
  writeFileSync(empty, '');
  const env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
  const DAY = 24 * 3600 * 1000;
  let clock = Date.now();
  const oneOffs: Record<number, string> = { 2: 'large', 6: 'nextjs', 10: 'peer-conflict' };
  for (let day = 0; day < 14; day++) {
    const projects = ['small', 'medium', ...(oneOffs[day] ? [oneOffs[day]] : [])];
    for (const p of projects) {
      clock += 3600 * 1000;
      // Hours apart, past the TTL: every document is looked up (and revalidated), as on a real day.
      const now = (): number => clock;
      await resolveProject({ dir: fixtureDir(p), registry: reg.url, env, cache: { dir: cacheDir, memo: false, now, maxDiskBytes: Infinity } });
    }
    clock += DAY - projects.length * 3600 * 1000;
  }
  const disk = new DiskCache(cacheDir);
  const size = new Map(disk.list().map((f) => [f.key, f.size]));
  const trace = parseAccessLog(disk.readAccess()).map((a) => ({ ...a, size: size.get(a.key) ?? 0 }));
  const total = [...size.values()].reduce((n, s) => n + s, 0);
  assert.ok(trace.length > 10_000, `a real trace (${trace.length} accesses)`);
  const results = [0.25, 0.5, 0.75].map((f) => ({ f, lru: simulate(trace, total * f, 'lru').hitRate, lfu: simulate(trace, total * f, 'lfu-decay').hitRate }));
  const other = DEFAULT_EVICTION === 'lru' ? 'lfu' : 'lru';
  const chosen = DEFAULT_EVICTION === 'lru' ? 'lru' : 'lfu';
  for (const r of results) assert.ok(r[chosen] >= r[other], `cap ${r.f}: ${JSON.stringify(r)}`);
  // Reported for the record (the numbers in the README come from here).
  process.stdout.write(`# eviction on the recorded trace (${trace.length} accesses, ${size.size} entries): ${results.map((r) => `cap ${r.f * 100}% LRU ${(r.lru * 100).toFixed(1)}% LFU-decay ${(r.lfu * 100).toFixed(1)}%`).join('; ')}\n`);
});
