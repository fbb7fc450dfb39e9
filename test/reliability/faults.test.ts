// Whole resolutions against a registry that fails: every fault of the test registry's knobs, a 50 MB
// packument, an unresolvable host and a registry that is down for the whole run. In every case the
// resolution finishes with a problem naming what could not be resolved, the engine keeps working,
// nothing is cached from a bad body, and a stale cache answers with one warning when the registry is down.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DiskCache, entryKey } from '../../server/src/engine/cache/diskCache';
import { decodeEntry } from '../../server/src/engine/cache/entry';
import { resolveProject, type ProjectResult } from '../../server/src/engine/project';
import type { EngineEvent, Packument, Problem } from '../../server/src/engine/types';
import { startTestRegistry, type Fault, type TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { cleanScratch, isolatedProject, memoryStore, packument } from './helpers';

let reg: TestRegistry;
before(async () => {
  reg = await startFixtureRegistry();
});
beforeEach(() => {
  reg.clearFaults();
  reg.setLatency(0);
});
after(async () => {
  await reg.close();
  cleanScratch();
});

// tiny-e1: debug@4.1.1 -> ms@^2.1.1, deduped onto ms@2.1.1 at the top: two documents.
const TINY = { name: 'p', version: '1.0.0', dependencies: { debug: '4.1.1', ms: '2.1.1' } };
const TINY_TREE = ['debug@4.1.1', 'ms@2.1.1'];

const ids = (r: ProjectResult): string[] => r.packages.map((p) => `${p.name}@${p.version}`).sort();
const errorsOf = (r: ProjectResult): Problem[] => r.problems.filter((p) => p.severity === 'error');
const fmt = (r: ProjectResult): string => JSON.stringify(r.problems, null, 1);

interface Run {
  result: ProjectResult;
  ms: number;
  cacheDir: string;
  events: EngineEvent[];
}

async function run(npmrc: string, opts: { registry?: string; cacheDir?: string; pkg?: object; mode?: 'default' | 'prefer-offline'; ttlMs?: number } = {}): Promise<Run> {
  const p = isolatedProject(opts.pkg ?? TINY, { npmrc });
  const cacheDir = opts.cacheDir ?? join(p.dir, '..', 'cache');
  const events: EngineEvent[] = [];
  const t0 = performance.now();
  const result = await resolveProject({
    dir: p.dir,
    registry: opts.registry ?? reg.url,
    env: p.env,
    cache: { dir: cacheDir, mode: opts.mode, ttlMs: opts.ttlMs },
    onEvent: (e) => events.push(e),
  });
  return { result, ms: performance.now() - t0, cacheDir, events };
}

/** The cache entry of `name` from the fixture registry, if one was written. */
function cached(cacheDir: string, name: string, registry = reg.url): Buffer | undefined {
  return new DiskCache(cacheDir).read(entryKey(registry, name));
}

/** The resolution after a fault must be whole again: the engine has no state left from the failure. */
async function stillWorks(): Promise<void> {
  reg.clearFaults();
  const again = await run('');
  assert.deepEqual(errorsOf(again.result), [], fmt(again.result));
  assert.deepEqual(ids(again.result), TINY_TREE);
}

/** A fault on every request for `ms`: the resolution ends with one error about ms, debug still resolves. */
async function persistentFaultOnMs(fault: Fault, npmrc = 'fetch-retries=2\n'): Promise<Run> {
  reg.clearFaults();
  reg.addFault({ match: 'ms', times: Infinity, ...fault });
  const r = await run(npmrc);
  const errs = errorsOf(r.result);
  assert.ok(errs.length >= 1, fmt(r.result));
  assert.ok(errs.every((e) => e.code === 'registry-error' && e.name === 'ms'), fmt(r.result));
  assert.ok(ids(r.result).includes('debug@4.1.1'), 'the rest of the tree resolves');
  assert.equal(cached(r.cacheDir, 'ms'), undefined, 'nothing is cached from a failed fetch');
  assert.ok(cached(r.cacheDir, 'debug'), 'what did arrive is cached');
  await stillWorks();
  return r;
}

test('5xx bursts are retried away; persistent 5xx ends as registry-error for that package only', async () => {
  reg.addFault({ status: 503, times: 2 });
  reg.addFault({ status: 500, times: 1 });
  const ok = await run('fetch-retries=3\n');
  assert.deepEqual(errorsOf(ok.result), [], fmt(ok.result));
  assert.deepEqual(ids(ok.result), TINY_TREE);
  const r = await persistentFaultOnMs({ status: 502 });
  assert.match(errorsOf(r.result)[0].message, /502/);
});

test('connection resets before headers and mid-body', async () => {
  reg.addFault({ reset: 'mid-body', times: 1 });
  reg.addFault({ reset: 'before-headers', times: 1 });
  const ok = await run('fetch-retries=2\n');
  assert.deepEqual(ids(ok.result), TINY_TREE, fmt(ok.result));
  await persistentFaultOnMs({ reset: 'mid-body' });
  await persistentFaultOnMs({ reset: 'before-headers' });
});

test('truncated gzip bodies are retried, then a registry-error; never cached', async () => {
  reg.addFault({ truncate: true, times: 1 });
  assert.deepEqual(ids((await run('fetch-retries=1\n')).result), TINY_TREE);
  const r = await persistentFaultOnMs({ truncate: true });
  assert.match(errorsOf(r.result)[0].message, /corrupt or truncated/);
});

test('bodies slower than fetch-timeout time out within the bound', async () => {
  // Two attempts of a 150 ms idle timeout, with a body that stalls for 3 s.
  const r = await persistentFaultOnMs({ slowBodyMs: 3000 }, 'fetch-retries=1\nfetch-timeout=150\n');
  assert.match(errorsOf(r.result)[0].message, /stalled/);
  assert.ok(r.ms < 2000, `took ${r.ms} ms`);
});

test('a 429 storm with Retry-After: waited out when it passes, a registry-error when it does not', async () => {
  reg.addFault({ status: 429, retryAfter: 0, times: 8 });
  const ok = await run('fetch-retries=10\n');
  assert.deepEqual(ids(ok.result), TINY_TREE, fmt(ok.result));
  assert.ok(ok.events.filter((e) => e.type === 'retry').length >= 8);
  const r = await persistentFaultOnMs({ status: 429, retryAfter: 1 }, 'fetch-retries=1\n');
  assert.match(errorsOf(r.result)[0].message, /rate limiting/);
  const waits = r.events.filter((e) => e.type === 'retry' && e.name === 'ms').map((e) => (e as { delayMs: number }).delayMs);
  assert.deepEqual(waits, [1000], 'the retry waited what Retry-After said');
});

test('invalid JSON is a registry-error naming it, and is not cached', async () => {
  const r = await persistentFaultOnMs({ invalidJson: true });
  assert.match(errorsOf(r.result)[0].message, /invalid JSON/);
});

test('a redirect loop ends as a registry-error', async () => {
  const r = await persistentFaultOnMs({ redirectTo: '/ms' });
  assert.match(errorsOf(r.result)[0].message, /too many redirects/);
});

test('an unresolvable host: every package a registry-error, fast, no DNS query leaves the process', async () => {
  // Lookups are answered here (ENOTFOUND), so the test sends nothing to any name server.
  const original = dns.lookup;
  const asked: string[] = [];
  (dns as { lookup: unknown }).lookup = (host: string, o: unknown, cb?: (e: Error) => void) => {
    asked.push(host);
    const callback = (typeof o === 'function' ? o : cb) as (e: Error) => void;
    process.nextTick(() => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host })));
  };
  try {
    const r = await run('fetch-retries=3\n', { registry: 'http://registry.citadel-test.invalid/' });
    const errs = errorsOf(r.result);
    assert.deepEqual(errs.map((e) => e.name).sort(), ['debug', 'ms'], fmt(r.result));
    assert.ok(errs.every((e) => e.code === 'registry-error' && /ENOTFOUND/.test(e.message)));
    // Not a transient failure: no retries (with fetch-retries=3 that would be up to 8 lookups). The two
    // packages ask once each, or once together when their lookups overlap (one per host in flight).
    assert.ok(asked.length >= 1 && asked.length <= 2, asked.join());
    assert.deepEqual(r.result.packages, []);
  } finally {
    (dns as { lookup: unknown }).lookup = original;
  }
});

test('the registry down for the whole run: registry-errors; with a stale cache, the cached tree and one warning', async () => {
  const down = await startFixtureRegistry();
  const url = down.url;
  const warm = await run('', { registry: url });
  assert.deepEqual(ids(warm.result), TINY_TREE);
  await down.close();

  const cold = await run('fetch-retries=2\n', { registry: url });
  assert.deepEqual(errorsOf(cold.result).map((e) => e.name).sort(), ['debug', 'ms'], fmt(cold.result));
  assert.ok(errorsOf(cold.result).every((e) => /ECONNREFUSED/.test(e.message)), fmt(cold.result));

  // Same cache, every entry stale (TTL 0): the registry is asked, fails, and the copies answer.
  const stale = await run('fetch-retries=1\n', { registry: url, cacheDir: warm.cacheDir, ttlMs: 0 });
  assert.deepEqual(errorsOf(stale.result), [], fmt(stale.result));
  assert.deepEqual(ids(stale.result), TINY_TREE);
  const warnings = stale.result.problems.filter((p) => p.code === 'stale-cache');
  assert.equal(warnings.length, 1, fmt(stale.result));
  assert.match(warnings[0].message, /debug/);
  assert.match(warnings[0].message, /ms/);
});

test('a stale cache also covers 5xx, timeouts and invalid JSON, and the stale entry stays intact', async () => {
  const warm = await run('');
  const before = cached(warm.cacheDir, 'ms');
  for (const fault of [{ status: 500 }, { invalidJson: true }, { slowBodyMs: 2000 }] as Fault[]) {
    reg.clearFaults();
    reg.addFault({ match: 'ms', times: Infinity, ...fault });
    const r = await run('fetch-retries=0\nfetch-timeout=100\n', { cacheDir: warm.cacheDir, ttlMs: 0 });
    assert.deepEqual(errorsOf(r.result), [], `${JSON.stringify(fault)} ${fmt(r.result)}`);
    assert.deepEqual(ids(r.result), TINY_TREE);
    assert.equal(r.result.problems.filter((p) => p.code === 'stale-cache').length, 1);
    const after = cached(warm.cacheDir, 'ms');
    assert.ok(after && decodeEntry(after).packument.name === 'ms');
    assert.deepEqual(decodeEntry(after).header.etag, decodeEntry(before!).header.etag);
  }
  await stillWorks();
});

test('a 50 MB packument resolves in bounded time and memory, and is cached', async () => {
  // 10,000 versions of ~5 kB each in the abbreviated document.
  const versions: Record<string, Partial<Packument['versions'][string]>> = {};
  for (let i = 0; i < 10_000; i++) {
    versions[`1.0.${i}`] = { bin: Object.fromEntries(Array.from({ length: 80 }, (_, j) => [`command-${j}-${'x'.repeat(20)}`, `bin/command-${j}-of-version-${i}.js`])) };
  }
  const huge = packument('huge', versions);
  const size = JSON.stringify(huge).length;
  assert.ok(size > 50e6, `document is ${size} bytes`);
  const big = await startTestRegistry({ store: memoryStore([huge]) });
  try {
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const r = await run('fetch-timeout=20000\n', { registry: big.url, pkg: { name: 'p', dependencies: { huge: '^1.0.0' } } }).finally(() => clearInterval(sampler));
    const rssMb = (peak - rss0) / 1e6;
    assert.deepEqual(errorsOf(r.result), [], fmt(r.result));
    assert.deepEqual(ids(r.result), ['huge@1.0.9999']);
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
    assert.ok(rssMb < 1500, `peak RSS grew ${rssMb} MB`);
    const entry = cached(r.cacheDir, 'huge', big.url);
    assert.ok(entry, 'cached');
    assert.equal(Object.keys(decodeEntry(entry).packument.versions).length, 10_000);
    console.log(`# 50 MB packument: ${(size / 1e6).toFixed(1)} MB JSON, resolved in ${r.ms.toFixed(0)} ms, peak RSS +${rssMb.toFixed(0)} MB, cache entry ${(entry.length / 1e6).toFixed(2)} MB`);
  } finally {
    await big.close();
  }
});

test('a resolution aborted mid-way leaves no half state: the next one is whole, the cache decodes', async () => {
  const p = isolatedProject({ name: 'p', dependencies: { express: '^4.21.2' } });
  const cacheDir = join(p.dir, '..', 'cache');
  reg.setLatency(5);
  try {
    const controller = new AbortController();
    let fetched = 0;
    const aborted = resolveProject({
      dir: p.dir,
      registry: reg.url,
      env: p.env,
      cache: { dir: cacheDir },
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'fetchEnd' && ++fetched === 5) controller.abort();
      },
    }).then(
      (r) => r,
      (e: unknown) => e,
    );
    await aborted;
    assert.ok(fetched >= 5);
    const disk = new DiskCache(cacheDir);
    for (const f of disk.list()) decodeEntry(disk.read(f.key)!);
    const whole = await resolveProject({ dir: p.dir, registry: reg.url, env: p.env, cache: { dir: cacheDir } });
    const fresh = await resolveProject({ dir: p.dir, registry: reg.url, env: p.env });
    assert.deepEqual(errorsOf(whole), [], JSON.stringify(whole.problems));
    assert.deepEqual(ids(whole), ids(fresh));
    assert.ok(whole.packages.length > 40);
    const tmp = join(cacheDir, 'v1', 'tmp');
    assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], []);
  } finally {
    reg.setLatency(0);
  }
});

test('a resolution with a signal prints no MaxListenersExceededWarning (it would land in the output channel)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const p = isolatedProject({ name: 'p', dependencies: { express: '^4.21.2' } });
    const r = await resolveProject({ dir: p.dir, registry: reg.url, env: p.env, cache: {}, signal: new AbortController().signal });
    assert.ok(r.packages.length > 40);
    // Warnings are emitted on the next tick.
    await new Promise((ok) => setImmediate(ok));
    assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
  } finally {
    process.off('warning', onWarning);
  }
});
