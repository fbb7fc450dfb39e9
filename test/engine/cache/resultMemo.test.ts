// The result memo: an unchanged project within the TTL gets its last result back without a tree being
// built, from the memory tier or from disk; any change to what resolution reads (the manifest, the
// lockfile, the config, the documents' age, the mode) or a damaged memo means a real resolution, and a
// run that failed to fetch is never remembered.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { DiskCache } from '../../../server/src/engine/cache/diskCache';
import { MemoryCache } from '../../../server/src/engine/cache/memoryCache';
import { flushRecordWrites } from '../../../server/src/engine/cache/recordFile';
import { resolveProject, type ProjectCacheOptions, type ProjectOptions } from '../../../server/src/engine/project';
import { startTestRegistry, type TestRegistry } from '../../../server/src/testRegistry/server';
import { FixtureStore, type PackumentStore } from '../../../server/src/testRegistry/store';
import { FIXTURE_STORE, startFixtureRegistry } from '../../helpers/npmOracle';

let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
before(async () => {
  reg = await startFixtureRegistry();
  const empty = join(mkdtempSync(join(tmpdir(), 'citadel-memo-')), 'npmrc');
  writeFileSync(empty, '');
  env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
});
after(() => reg.close());

const DEPS = { express: '^4.21.2', debug: '2.6.9' };

function project(deps: Record<string, string> = DEPS): string {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-memo-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: deps }));
  return dir;
}

async function run(dir: string, cache: ProjectCacheOptions, extra: Partial<ProjectOptions> = {}) {
  await reg.idle();
  const from = reg.log.length;
  const events: string[] = [];
  const r = await resolveProject({ dir, registry: reg.url, env, cache, onEvent: (e) => e.type === 'cache' && events.push(e.name), ...extra });
  return { r, requests: reg.log.length - from, events, set: r.packages.map((p) => `${p.name}@${p.version}`).sort() };
}

test('an unchanged project gets its last result back from disk in a new process, the same in every field', async () => {
  const dir = project();
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  const first = await run(dir, { dir: cacheDir });
  assert.equal(first.r.memoized, undefined);
  assert.ok(first.requests > 30);
  // A new MemoryCache per run stands for a new process: only the disk slot can answer.
  const second = await run(dir, { dir: cacheDir });
  assert.equal(second.r.memoized, true);
  assert.equal(second.requests, 0);
  assert.deepEqual(second.events, [], 'no document was read');
  assert.deepEqual(second.r.packages, first.r.packages);
  assert.deepEqual(second.r.direct, first.r.direct);
  assert.deepEqual(second.r.problems, first.r.problems);
  assert.equal(second.r.stats.edges, first.r.stats.edges);
});

test('in the memory tier (the language server), a re-resolve of the same text is answered at once; an edit reuses the picks', async () => {
  const dir = project();
  const memory = new MemoryCache();
  const first = await run(dir, { memory });
  const same = await run(dir, { memory });
  assert.equal(same.r.memoized, true);
  assert.deepEqual(same.set, first.set);
  const text = JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { ...DEPS, 'humanize-ms': '1.2.1' } });
  const edited = await run(dir, { memory }, { manifestText: text });
  assert.equal(edited.r.memoized, undefined);
  assert.ok(edited.set.includes('humanize-ms@1.2.1'));
  // The unchanged specs were answered from the picks the memory tier holds: only the new ones read documents.
  assert.ok(edited.events.includes('humanize-ms'));
  assert.deepEqual(edited.events.filter((n) => n !== 'humanize-ms' && n !== 'ms'), []);
  // One slot per project: going back to the first text resolves again (and is right).
  const back = await run(dir, { memory });
  assert.equal(back.r.memoized, undefined);
  assert.deepEqual(back.set, first.set);
});

test('an edit outside what resolution reads is answered by the memo; a spec edit that keeps every version reuses the last build', async () => {
  const dir = project();
  const memory = new MemoryCache();
  const first = await run(dir, { memory });
  const scripts = await run(dir, { memory }, { manifestText: JSON.stringify({ name: 'p', version: '1.0.0', scripts: { test: 'node t' }, dependencies: DEPS }) });
  assert.equal(scripts.r.memoized, true);
  assert.deepEqual(scripts.set, first.set);
  // debug 2.6.9 is what ^2.6.9 picks here too, and every version the build tested is answered alike.
  const spec = await run(dir, { memory }, { manifestText: JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { ...DEPS, debug: '^2.6.9' } }) });
  assert.equal(spec.r.reused, true);
  assert.equal(spec.requests, 0);
  assert.deepEqual(spec.set, first.set);
  assert.equal(spec.r.direct.find((d) => d.name === 'debug')?.spec, '^2.6.9');
  // The same edit resolved from scratch agrees.
  const fresh = await run(dir, { memory: new MemoryCache() }, { manifestText: JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { ...DEPS, debug: '^2.6.9' } }) });
  assert.equal(fresh.r.reused, undefined);
  assert.deepEqual(spec.r.packages, fresh.r.packages);
  assert.deepEqual(spec.r.problems, fresh.r.problems);
  assert.deepEqual(spec.r.direct, fresh.r.direct);
});

test('a new process reuses the last build from disk after a spec edit that keeps every version, and rebuilds for one that moves a version', async () => {
  const dir = project();
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  const first = await run(dir, { dir: cacheDir });
  const edit = (debug: string) => ({ manifestText: JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { ...DEPS, debug } }) });
  // No memory tier: each run stands for a new `citadel resolve`, with only the cache dir between them.
  const kept = await run(dir, { dir: cacheDir }, edit('^2.6.9'));
  assert.equal(kept.r.reused, true);
  assert.equal(kept.requests, 0);
  assert.equal(kept.r.direct.find((d) => d.name === 'debug')?.spec, '^2.6.9');
  // Another edit reuses the build the first one stood on (its reads were saved with it).
  const again = await run(dir, { dir: cacheDir }, edit('~2.6.9'));
  assert.equal(again.r.reused, true);
  const moved = await run(dir, { dir: cacheDir }, edit('2.6.8'));
  assert.equal(moved.r.reused, undefined);
  assert.ok(moved.set.includes('debug@2.6.8'), moved.set.join(' '));
  // Each agrees with a fresh resolution of the same text (no cache at all).
  for (const [r, debug] of [[kept, '^2.6.9'], [again, '~2.6.9'], [moved, '2.6.8']] as const) {
    const fresh = await run(dir, {}, edit(debug));
    assert.equal(fresh.r.reused, undefined);
    assert.deepEqual(r.r.packages, fresh.r.packages, debug);
    assert.deepEqual(r.r.problems, fresh.r.problems, debug);
    assert.deepEqual(r.r.direct, fresh.r.direct, debug);
  }
  assert.deepEqual(kept.set, first.set);
});

test('expired documents, prefer-online, a changed config or lockfile, and a damaged memo all mean a real resolution', async () => {
  const dir = project({ debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  let now = Date.now();
  const first = await run(dir, { dir: cacheDir, now: () => now });
  assert.equal((await run(dir, { dir: cacheDir, now: () => now })).r.memoized, true);
  now += 10 * 60 * 1000; // past the 5-minute TTL
  // Past the TTL, and with prefer-online, every document is asked again; none changed, so the result stands.
  const expired = await run(dir, { dir: cacheDir, now: () => now });
  assert.equal(expired.r.revalidated, true);
  assert.ok(expired.requests > 0, 'documents were revalidated');
  assert.ok(reg.log.slice(-expired.requests).every((l) => l.status === 304 && l.headers['if-none-match']));
  assert.deepEqual(expired.set, first.set);
  assert.equal((await run(dir, { dir: cacheDir, now: () => now })).requests, 0, 'the 304s refreshed the entries and the memo');
  const online = await run(dir, { dir: cacheDir, mode: 'prefer-online' });
  assert.equal(online.r.revalidated, true);
  assert.ok(online.requests > 0);
  assert.equal((await run(dir, { dir: cacheDir, mode: 'prefer-offline' })).r.memoized, true);
  // Without a memo (a changed manifest) a lapsed cache means a real resolution.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.1', dependencies: { debug: '2.6.9' } }));
  now += 10 * 60 * 1000;
  const changed = await run(dir, { dir: cacheDir, now: () => now });
  assert.equal(changed.r.memoized, undefined);
  assert.deepEqual(changed.set, first.set);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { debug: '2.6.9' } }));

  writeFileSync(join(dir, '.npmrc'), 'legacy-peer-deps=true\n');
  assert.equal((await run(dir, { dir: cacheDir, mode: 'prefer-offline' })).r.memoized, undefined);
  assert.equal((await run(dir, { dir: cacheDir, mode: 'prefer-offline' })).r.memoized, true);
  const lock = { name: 'p', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'p', version: '1.0.0', dependencies: { debug: '2.6.9' } } } };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  assert.equal((await run(dir, { dir: cacheDir, mode: 'prefer-offline' })).r.memoized, undefined);

  const memoFile = readdirSync(join(cacheDir, 'picks')).find((f) => f.endsWith('.result'))!;
  const file = join(cacheDir, 'picks', memoFile);
  writeFileSync(file, readFileSync(file, 'utf8').replace('"2.6.9"', '"9.9.9"'));
  const damaged = await run(dir, { dir: cacheDir, mode: 'prefer-offline' });
  assert.equal(damaged.r.memoized, undefined);
  assert.deepEqual(damaged.set, first.set);
});

test('past the TTL, a document that changed in the registry means a real resolution', async () => {
  // A registry that published a new version of ms since the last run: same address, so the same cache entries.
  const base = new FixtureStore(resolve(process.cwd(), FIXTURE_STORE));
  const published: PackumentStore = {
    async packument(name) {
      const doc = await base.packument(name);
      if (name !== 'ms' || !doc) return doc;
      const latest = doc.versions[doc['dist-tags'].latest!]!;
      return { ...doc, 'dist-tags': { ...doc['dist-tags'], latest: '2.99.0' }, versions: { ...doc.versions, '2.99.0': { ...latest, version: '2.99.0' } } };
    },
    tarball: (name, file) => base.tarball(name, file),
  };
  const first = await startTestRegistry({ store: base });
  const port = first.port;
  const dir = project({ ms: '^2.0.0' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  let now = Date.now();
  const resolveAt = (r: TestRegistry) => resolveProject({ dir, registry: r.url, env, cache: { dir: cacheDir, now: () => now } });
  try {
    const before = await resolveAt(first);
    assert.equal(before.packages.find((p) => p.name === 'ms')?.version, '2.1.3');
  } finally {
    await first.close();
  }
  const second = await startTestRegistry({ store: published, port });
  try {
    now += 10 * 60 * 1000;
    const after = await resolveAt(second);
    assert.equal(after.revalidated, undefined);
    assert.equal(after.memoized, undefined);
    assert.equal(after.packages.find((p) => p.name === 'ms')?.version, '2.99.0');
    assert.ok(second.log.some((l) => l.name === 'ms' && l.status === 200 && l.headers['if-none-match']), 'the changed document came back whole');
  } finally {
    await second.close();
  }
});

test('past the TTL with the registry failing, the last result stands with a stale-cache warning and is not remembered as fresh', async () => {
  const dir = project({ debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  let now = Date.now();
  const first = await run(dir, { dir: cacheDir, now: () => now });
  now += 10 * 60 * 1000;
  reg.addFault({ match: 'ms', status: 500, times: Infinity });
  let failing;
  try {
    failing = await run(dir, { dir: cacheDir, now: () => now }, { env: { ...env, npm_config_fetch_retries: '0' } });
  } finally {
    reg.clearFaults();
  }
  assert.equal(failing.r.revalidated, true);
  assert.deepEqual(failing.set, first.set);
  assert.ok(failing.r.problems.some((p) => p.code === 'stale-cache' && p.message.includes('ms')));
  assert.equal(reg.log.slice(-failing.requests).filter((l) => l.name === 'ms').length, 1, 'asked once, not again by a resolution');
  const next = await run(dir, { dir: cacheDir, now: () => now });
  assert.equal(next.r.revalidated, true);
  assert.ok(next.requests > 0, 'not remembered as fresh');
  assert.ok(!next.r.problems.some((p) => p.code === 'stale-cache'));
});

test('a run that could not fetch a document is not remembered', async () => {
  const dir = project({ debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  reg.addFault({ match: 'ms', status: 500, times: Infinity });
  try {
    const failed = await run(dir, { dir: cacheDir }, { env: { ...env, npm_config_fetch_retries: '0' } });
    assert.ok(failed.r.problems.some((p) => p.code === 'registry-error'));
  } finally {
    reg.clearFaults();
  }
  const next = await run(dir, { dir: cacheDir });
  assert.equal(next.r.memoized, undefined);
  assert.ok(next.set.includes('ms@2.0.0'));
  assert.ok(!next.r.problems.some((p) => p.code === 'registry-error'));
});

test('clearing the cache clears the memo and the picks with it: the next resolution is a fresh one', async () => {
  const dir = project({ debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  await run(dir, { dir: cacheDir });
  assert.equal((await run(dir, { dir: cacheDir })).r.memoized, true);
  new DiskCache(cacheDir).clear();
  assert.deepEqual(readdirSync(cacheDir), []);
  const fresh = await run(dir, { dir: cacheDir });
  assert.equal(fresh.r.memoized, undefined);
  assert.ok(fresh.requests >= 2, 'debug and ms fetched again');
});

test('deferred writes (the language server): the records reach disk only when flushed, in their latest state, and this process reads them meanwhile', async () => {
  const dir = project();
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-memo-cache-'));
  const records = () => (existsSync(join(cacheDir, 'picks')) ? readdirSync(join(cacheDir, 'picks')).sort() : []);
  const deferred = { dir: cacheDir, deferWritesMs: 60_000 };
  const first = await run(dir, deferred);
  assert.deepEqual(records(), [], 'nothing written before the delay');
  // A new memory tier: only the records waiting to be written can answer, as the disk would.
  const second = await run(dir, deferred);
  assert.equal(second.r.memoized, true);
  assert.equal(second.requests, 0);
  // An edit replaces both waiting records; the flush writes that state, which a new process gets back.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { ...DEPS, debug: '2.6.8' } }));
  const edited = await run(dir, deferred);
  assert.notDeepEqual(edited.set, first.set);
  flushRecordWrites();
  assert.equal(records().length, 2, records().join());
  const fromDisk = await run(dir, { dir: cacheDir });
  assert.equal(fromDisk.r.memoized, true);
  assert.deepEqual(fromDisk.set, edited.set);
  // Clearing the cache also forgets what was waiting to be written: the next run is a fresh one.
  await run(dir, deferred, { manifestText: JSON.stringify({ name: 'p', version: '1.0.0', dependencies: DEPS }) });
  new DiskCache(cacheDir).clear();
  flushRecordWrites();
  assert.deepEqual(records(), []);
  assert.equal((await run(dir, { dir: cacheDir })).r.memoized, undefined);
});
