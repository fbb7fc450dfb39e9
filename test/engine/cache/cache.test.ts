import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { compress, decompress, frameContentSize, loadWasm, MAX_DECODED } from '../../../server/src/engine/cache/codec';
import { createCachedSource, type CacheMode } from '../../../server/src/engine/cache/cachedSource';
import { CacheWriter } from '../../../server/src/engine/cache/cacheWriter';
import { DiskCache, entryKey } from '../../../server/src/engine/cache/diskCache';
import { decodeEntry, encodeEntry, encodeProjection, decodeProjection, projectManifest } from '../../../server/src/engine/cache/entry';
import { enforceCap, simulate, type Access } from '../../../server/src/engine/cache/eviction';
import { MemoryCache } from '../../../server/src/engine/cache/memoryCache';
import { predictionStats, UsageModel } from '../../../server/src/engine/cache/usageModel';
import { loadNpmConfig } from '../../../server/src/engine/npmrc';
import { resolveProject } from '../../../server/src/engine/project';
import { createRegistryClient, MAX_BODY_BYTES, type RegistryClient } from '../../../server/src/engine/registryClient';
import { RegistryError, type EngineEvent, type Packument } from '../../../server/src/engine/types';
import { versionOrder } from '../../../server/src/engine/versionKeys';
import { startTestRegistry, type TestRegistry } from '../../../server/src/testRegistry/server';
import { rawGzip } from '../../../server/src/cli/bench';
import { fixtureDir, startFixtureRegistry } from '../../helpers/npmOracle';
import { memoryStore, mk } from '../../helpers/packuments';

let reg: TestRegistry;
const scratch: string[] = [];
const clients: RegistryClient[] = [];

before(async () => {
  reg = await startFixtureRegistry();
  await loadWasm();
});
after(async () => {
  for (const c of clients) c.close();
  await reg.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'citadel-cache-'));
  scratch.push(d);
  return d;
}

/** An npm config with nothing in it (no user or global file), and a project `p` when given its dependencies. */
function isolated(dependencies?: Record<string, string>): { dir: string; env: Record<string, string> } {
  const root = tmp();
  writeFileSync(join(root, 'empty'), '');
  if (dependencies) {
    mkdirSync(join(root, 'p'));
    writeFileSync(join(root, 'p', 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies }));
  }
  return { dir: join(root, 'p'), env: { npm_config_userconfig: join(root, 'empty'), npm_config_globalconfig: join(root, 'empty') } };
}

/** A document of `count` versions whose integrity strings do not compress: its gzip is ~75 bytes a version. */
function incompressible(name: string, count: number): Packument {
  const versions: Record<string, Record<string, string>> = {};
  for (let i = 0; i < count; i++) versions[`1.0.${i}`] = {};
  const p = mk(name, versions, `1.0.${count - 1}`);
  for (const m of Object.values(p.versions)) m.dist = { integrity: `sha512-${randomBytes(64).toString('base64')}`, tarball: 'x' };
  return p;
}

function client(): RegistryClient {
  const c = createRegistryClient(loadNpmConfig({ cli: { registry: reg.url, 'fetch-retries': '0' }, env: {} }), { retries: 0 });
  clients.push(c);
  return c;
}

function source(dir: string | undefined, opts: { mode?: CacheMode; now?: () => number; events?: EngineEvent[]; ttlMs?: number; maxDiskBytes?: number } = {}) {
  return createCachedSource(client(), {
    dir,
    mode: opts.mode,
    now: opts.now,
    ttlMs: opts.ttlMs,
    maxDiskBytes: opts.maxDiskBytes,
    registryFor: () => reg.url,
    onEvent: (e) => opts.events?.push(e),
  });
}

const requestsFor = (name: string) => reg.log.filter((l) => l.name === name);

const sample: Packument = {
  name: '@s/p',
  'dist-tags': { latest: '1.1.0' },
  versions: {
    '1.0.0': { name: '@s/p', version: '1.0.0', dependencies: { a: '^1' }, dist: { integrity: 'sha512-x', tarball: 'http://r/p.tgz' } },
    '1.1.0': { name: '@s/p', version: '1.1.0', deprecated: 'no', engines: { node: '>=99' }, dist: { shasum: 'abc' } },
  },
  modified: '2024-01-01T00:00:00.000Z',
};

test('zstd round-trips through every encoder/decoder pair available, and the projection survives it', () => {
  const raw = encodeProjection(sample);
  assert.deepEqual(JSON.parse(JSON.stringify(decodeProjection(raw))), sample);
  const big = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ i, s: 'lorem ipsum '.repeat(i % 7) }))));
  for (const enc of ['native', 'wasm'] as const) {
    const frame = compress(big, enc);
    if (!frame) continue; // this runtime lacks the encoder (native zstd needs Node >= 22.15)
    assert.equal(frameContentSize(frame), big.length);
    for (const dec of ['native', 'wasm', 'fzstd'] as const) {
      if (dec === 'native' && !compress(Buffer.from('x'), 'native')) continue;
      assert.deepEqual(Buffer.from(decompress(frame, big.length, dec)), big, `${enc} -> ${dec}`);
    }
  }
  assert.ok(compress(big, 'wasm'), 'the WASM encoder loads here');
});

test('projections of any size and text round-trip, one after another through the shared write buffer', () => {
  // Multi-byte text (3 and 4 UTF-8 bytes per character), a document past the buffer's kept size, then a
  // small one: each decodes to what was encoded, so nothing of an earlier projection leaks into a later one.
  const doc = (name: string, n: number, text: string): Packument => ({
    name,
    'dist-tags': { latest: `1.0.${n - 1}` },
    versions: Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`1.0.${i}`, { name, version: `1.0.${i}`, deprecated: `${text} ${i}`, dist: { integrity: `sha512-${i}` } }]),
    ),
  });
  for (const p of [doc('a', 3, 'ünïcødé ✓ 𝄞'), doc('big', 40_000, '☃'.repeat(40)), doc('b', 2, 'x'), doc('c', 500, '𝄞'.repeat(300))]) {
    assert.deepEqual(JSON.parse(JSON.stringify(decodeProjection(encodeProjection(p)))), p, p.name);
  }
});

test('decoding is bounded: frames claiming more than the header, or more than the limit, are rejected', () => {
  const frame = compress(Buffer.alloc(1000, 7), 'wasm')!;
  assert.throws(() => decompress(frame, 999, 'fzstd'), /declares 1000/);
  assert.throws(() => decompress(frame, MAX_DECODED + 1), /limit/);
  assert.throws(() => decompress(Buffer.from('not zstd at all'), 10), /not a zstd frame/);
});

test('entries: truncated, bit-flipped and wrong-version bytes are all rejected by the checksum or the prefix', () => {
  const file = encodeEntry({ name: '@s/p', registry: 'http://r/', fetchedAt: 1, etag: '"e"' }, sample);
  assert.equal(decodeEntry(file).packument.versions['1.0.0'].dependencies!.a, '^1');
  assert.throws(() => decodeEntry(file.subarray(0, file.length - 1)), /length/);
  for (const at of [24, 45, file.length - 3]) {
    const flipped = Buffer.from(file);
    flipped[at] ^= 0x10;
    assert.throws(() => decodeEntry(flipped), /checksum/, `bit flip at ${at}`);
  }
  const v2 = Buffer.from(file);
  v2[4] = 2;
  assert.throws(() => decodeEntry(v2), /format 2/);
});

test('keys: a hash of registry and name, so no name escapes the directory and registries never share', async () => {
  const disk = new DiskCache(tmp());
  const k = entryKey('http://r/', '../../etc/passwd');
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(await disk.write(k, Buffer.from('entry')), true);
  assert.ok(disk.locate(k)!.path.startsWith(join(disk.root, 'packs')));
  assert.equal(disk.read(k)!.toString(), 'entry');
  assert.notEqual(entryKey('http://a/', 'x'), entryKey('http://b/', 'x'));
  assert.equal(entryKey('http://u:secret@a/', 'x'), entryKey('http://a/', 'x'), 'credentials are not part of the key');
});

test('within the TTL a warm source makes no request; after it, a 304 refreshes the entry without a body', async () => {
  const dir = tmp();
  let clock = 1_000_000;
  const now = () => clock;
  const first = source(dir, { now });
  await first.packument('debug');
  await first.flush();
  reg.resetLog();
  const events: EngineEvent[] = [];
  const warm = source(dir, { now, events });
  const f = await warm.packument('debug');
  assert.ok(f.packument.versions['2.6.9']);
  assert.equal(requestsFor('debug').length, 0);
  assert.equal(warm.stats().diskHits, 1);
  assert.ok(events.some((e) => e.type === 'cache' && e.action === 'hit' && e.tier === 'disk'));

  clock += 6 * 60 * 1000; // past the default 5-minute TTL
  const later = source(dir, { now, events });
  await later.packument('debug');
  const log = requestsFor('debug');
  assert.equal(log.length, 1);
  assert.equal(log[0].status, 304);
  assert.ok(log[0].headers['if-none-match']);
  assert.equal(later.stats().revalidated, 1);
  await later.flush();
  // The 304 moved fetchedAt: within the TTL again, no request.
  reg.resetLog();
  await source(dir, { now }).packument('debug');
  assert.equal(requestsFor('debug').length, 0);
  assert.ok(events.some((e) => e.type === 'cache' && e.action === 'revalidate' && e.status === 304));
});

test('prefer-online always revalidates; prefer-offline and offline never ask for what is cached', async () => {
  const dir = tmp();
  const s = source(dir);
  await s.packument('ms');
  await s.flush();
  reg.resetLog();
  await source(dir, { mode: 'prefer-online' }).packument('ms');
  assert.deepEqual(requestsFor('ms').map((l) => l.status), [304]);
  reg.resetLog();
  const old = () => Date.now() + 365 * 24 * 3600 * 1000;
  await source(dir, { mode: 'prefer-offline', now: old }).packument('ms');
  await source(dir, { mode: 'offline', now: old }).packument('ms');
  assert.equal(requestsFor('ms').length, 0);
});

test('offline: a miss is an offline-miss problem, not a request', async () => {
  const dir = tmp();
  const off = source(dir, { mode: 'offline' });
  await assert.rejects(off.packument('express'), (e: unknown) => e instanceof RegistryError && e.code === 'EOFFLINE');
  assert.equal(requestsFor('express').length, 0);
  const project = isolated({ 'left-pad': '^1.3.0' });
  const r = await resolveProject({ dir: project.dir, registry: reg.url, env: project.env, cache: { dir, mode: 'offline' } });
  const p = r.problems.find((x) => x.code === 'offline-miss');
  assert.ok(p, JSON.stringify(r.problems));
  assert.equal(p.severity, 'error');
  assert.match(p.message, /left-pad.*offline/);
});

test('registry down with a stale entry: served, with one stale-cache warning, no error', async () => {
  const dir = tmp();
  let clock = 5_000_000;
  const s = source(dir, { now: () => clock });
  await s.packument('ms');
  await s.flush();
  clock += 24 * 3600 * 1000;
  reg.addFault({ match: 'ms', status: 503, times: Infinity });
  try {
    const late = source(dir, { now: () => clock });
    const f = await late.packument('ms');
    assert.ok(f.packument.versions['2.1.3']);
    const problems = late.takeProblems();
    assert.equal(problems.length, 1);
    assert.equal(problems[0].code, 'stale-cache');
    assert.equal(problems[0].severity, 'warning');
    assert.match(problems[0].message, /ms/);
  } finally {
    reg.clearFaults();
  }
});

test('corrupt, truncated and wrong-version entries on disk are counted, discarded and refetched', async () => {
  const dir = tmp();
  const s = source(dir);
  // debug last: it is the entry cut short, at the end of its pack.
  for (const n of ['ms', 'depd', 'debug']) await s.packument(n);
  await s.flush();
  const disk = new DiskCache(dir);
  const at = (n: string) => disk.locate(entryKey(reg.url, n))!;
  const damage = (n: string, how: (entry: Buffer) => void): void => {
    const { path, offset, length } = at(n);
    const pack = readFileSync(path);
    how(pack.subarray(offset, offset + length));
    writeFileSync(path, pack);
  };
  damage('ms', (e) => (e[e.length >> 1] ^= 1));
  damage('depd', (e) => (e[4] = 9));
  const debug = at('debug');
  assert.equal(debug.offset + debug.length, statSync(debug.path).size);
  truncateSync(debug.path, debug.offset + 50);
  reg.resetLog();
  const events: EngineEvent[] = [];
  const again = source(dir, { events });
  for (const n of ['ms', 'debug', 'depd']) assert.ok(Object.keys((await again.packument(n)).packument.versions).length > 0);
  assert.equal(again.stats().corrupt, 3);
  assert.equal(events.filter((e) => e.type === 'cache' && e.action === 'corrupt').length, 3);
  assert.deepEqual(reg.log.map((l) => l.status), [200, 200, 200]);
  await again.flush();
  reg.resetLog();
  const healed = source(dir);
  for (const n of ['ms', 'debug', 'depd']) await healed.packument(n);
  assert.equal(reg.log.length, 0, 'the refetched entries were written back');
});

test('the disk cap evicts down to 90% of it, and eviction events are emitted', async () => {
  const dir = tmp();
  const events: EngineEvent[] = [];
  const s = source(dir, { events, maxDiskBytes: 1 }); // everything over the cap
  for (const n of ['ms', 'debug', 'express']) await s.packument(n);
  await s.flush();
  assert.equal(new DiskCache(dir).list().length, 0);
  assert.equal(events.filter((e) => e.type === 'cache' && e.action === 'evict').length, 3);
  const disk = new DiskCache(dir);
  const s2 = source(dir);
  for (const n of ['ms', 'debug', 'express']) await s2.packument(n);
  await s2.flush();
  const sizes = disk.list();
  const total = sizes.reduce((n, f) => n + f.size, 0);
  const express = sizes.find((f) => f.key === entryKey(reg.url, 'express'))!;
  // ms and debug were used more often: LFU keeps them, the cap forces express out.
  disk.appendAccess([1, 2, 3].flatMap(() => [entryKey(reg.url, 'ms'), entryKey(reg.url, 'debug')].map((k) => `${Date.now()} ${k}\n`)));
  const r = enforceCap(disk, total - express.size / 2, 'lfu-decay', Date.now());
  assert.deepEqual(r.evicted, [express.key]);
});

test('LFU with decay beats plain LRU on a recorded sequence with one-off scans', () => {
  // A project resolved daily (core set) interleaved with one-off resolutions of unrelated projects.
  const trace: Access[] = [];
  let t = 0;
  for (let day = 0; day < 20; day++) {
    for (let i = 0; i < 40; i++) trace.push({ key: `core${i}`, at: (t += 1000), size: 1 });
    if (day % 3 === 0) for (let i = 0; i < 40; i++) trace.push({ key: `scan${day}-${i}`, at: (t += 1000), size: 1 });
  }
  const lru = simulate(trace, 60, 'lru');
  const lfu = simulate(trace, 60, 'lfu-decay');
  assert.ok(lfu.hitRate > lru.hitRate, `lfu ${lfu.hitRate} vs lru ${lru.hitRate}`);
});

test('usage model: predicts what the last resolutions needed; accuracy and recall are measured', async () => {
  const model = new UsageModel(tmp());
  const runs = [['a', 'b', 'c'], ['a', 'b', 'd'], ['a', 'b', 'd', 'e'], ['a', 'b', 'e']];
  const measured = [];
  for (const needed of runs) {
    measured.push(predictionStats(model.predict('p'), needed));
    model.record('p', needed);
  }
  assert.deepEqual(measured[0], { predicted: 0, needed: 3, hits: 0, accuracy: 1, recall: 0 });
  assert.equal(measured[3].recall, 1); // a b e were all seen in the last three runs
  assert.equal(measured[3].accuracy, 3 / 5); // c and d were predicted and not needed
  // End to end: the second resolution of a project prefetches everything the first one needed.
  const { env } = isolated();
  const cacheDir = tmp();
  await resolveProject({ dir: fixtureDir('small'), registry: reg.url, env, cache: { dir: cacheDir } });
  const second = await resolveProject({ dir: fixtureDir('small'), registry: reg.url, env, cache: { dir: cacheDir, memo: false } });
  assert.equal(second.cache!.prediction.accuracy, 1);
  assert.equal(second.cache!.prediction.recall, 1);
  // A run answered from the pick record asks the cache for nothing; the model still remembers what the
  // tree needed, so the run after the TTL (record expired) prefetches it, however many such runs came between.
  for (let i = 0; i < 3; i++) await resolveProject({ dir: fixtureDir('small'), registry: reg.url, env, cache: { dir: cacheDir, memo: false } });
  const later = Date.now() + 10 * 60 * 1000;
  const third = await resolveProject({ dir: fixtureDir('small'), registry: reg.url, env, cache: { dir: cacheDir, memo: false, now: () => later } });
  assert.ok(third.cache!.prediction.predicted > 400, `predicted ${third.cache!.prediction.predicted}`);
  assert.ok(third.cache!.prediction.recall > 0.9, `recall ${third.cache!.prediction.recall}`);
});

test('warm resolution of a fixture through the cache makes zero requests and gives the same tree', async () => {
  const { env } = isolated();
  const cacheDir = tmp();
  const cold = await resolveProject({ dir: fixtureDir('medium'), registry: reg.url, env, cache: { dir: cacheDir } });
  reg.resetLog();
  const warm = await resolveProject({ dir: fixtureDir('medium'), registry: reg.url, env, cache: { dir: cacheDir } });
  assert.equal(reg.log.filter((l) => l.status !== 404).length, 0);
  const ids = (r: typeof cold) => r.packages.map((p) => `${p.name}@${p.version}`).sort();
  assert.deepEqual(ids(warm), ids(cold));
  assert.deepEqual(warm.packages, cold.packages);
});

test("the language server's way (thread 'large'): bodies read on this thread, every entry written after the result, and read back with zero requests", async () => {
  const { env } = isolated();
  const reference = await resolveProject({ dir: fixtureDir('medium'), registry: reg.url, env, cache: { dir: tmp() } });
  const cacheDir = tmp();
  reg.resetLog();
  const cold = await resolveProject({ dir: fixtureDir('medium'), registry: reg.url, env, cache: { dir: cacheDir, thread: 'large', background: true } });
  const fetched = reg.log.filter((l) => l.status === 200).length;
  assert.ok(fetched > 100, `fetched ${fetched}`);
  assert.ok(cold.flushed, 'the writes finish after the result');
  await cold.flushed;
  assert.deepEqual(cold.packages, reference.packages);
  reg.resetLog();
  const warm = await resolveProject({ dir: fixtureDir('medium'), registry: reg.url, env, cache: { dir: cacheDir, memo: false } });
  assert.equal(reg.log.filter((l) => l.status !== 404).length, 0);
  assert.deepEqual(warm.packages, reference.packages);
});

test("thread 'large': a body of 512 kB and more on the wire is read on the cache thread, a smaller one on this thread", async () => {
  // So that the gzip on the wire passes 512 kB.
  const big = incompressible('big', 9000);
  const small = mk('small', { '1.0.0': { big: '^1.0.0' } }, '1.0.0');
  const r = await startTestRegistry({ store: memoryStore([big, small]) });
  try {
    const { dir, env } = isolated({ small: '^1.0.0' });
    const wire = (await rawGzip(r.url, 'big')).length;
    assert.ok(wire >= 512 * 1024, `big is ${wire} bytes of gzip`);
    const memory = new MemoryCache();
    const res = await resolveProject({ dir, registry: r.url, env, cache: { dir: tmp(), memory, thread: 'large' } });
    assert.deepEqual(res.packages.map((p) => `${p.name}@${p.version}`).sort(), ['big@1.0.8999', 'small@1.0.0']);
    // The cache thread answers in shared memory (see cacheWorker.ts); this thread's projections are its own.
    const projection = (name: string) => memory.get(entryKey(r.url, name))?.projection;
    assert.ok(projection('big')?.buffer instanceof SharedArrayBuffer, 'big was read on the cache thread');
    assert.ok(projection('small') && !(projection('small')!.buffer instanceof SharedArrayBuffer), 'small was read here');
  } finally {
    await r.close();
  }
});

test("thread 'large': once a resolution has received 16 MB, every further body is read on the cache thread", async () => {
  // 48 documents of ~420 kB of gzip each (integrity strings do not compress), ~20 MB in all, each under 512 kB.
  const docs = Array.from({ length: 48 }, (_, d) => incompressible(`v${d}`, 5600));
  // A chain, so that they arrive one after another, in order.
  docs.forEach((p, d) => {
    if (d + 1 < docs.length) for (const m of Object.values(p.versions)) m.dependencies = { [`v${d + 1}`]: '^1.0.0' };
  });
  const r = await startTestRegistry({ store: memoryStore(docs) });
  try {
    const { dir, env } = isolated({ v0: '^1.0.0' });
    const sizes = await Promise.all(docs.map(async (p) => (await rawGzip(r.url, p.name)).length));
    assert.ok(Math.max(...sizes) < 512 * 1024 && sizes.reduce((a, b) => a + b) > 18 * 1024 * 1024, `sizes ${Math.min(...sizes)}-${Math.max(...sizes)}`);
    const memory = new MemoryCache();
    const res = await resolveProject({ dir, registry: r.url, env, cache: { dir: tmp(), memory, thread: 'large' } });
    assert.equal(res.packages.length, docs.length);
    const onThread = docs.map((p) => memory.get(entryKey(r.url, p.name))?.projection?.buffer instanceof SharedArrayBuffer);
    assert.equal(onThread[0], false, 'the first bodies are read here');
    assert.equal(onThread[docs.length - 1], true, 'the last ones, past 16 MB, on the cache thread');
    assert.deepEqual(onThread, [...onThread].sort((a, b) => Number(a) - Number(b)), 'here until the volume is passed, the thread after');
  } finally {
    await r.close();
  }
});

function child(code: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((ok) => {
    // NODE_PATH: the children load a private copy of the engine (below) and need the repo's packages.
    const env = { ...process.env, NODE_PATH: resolve('node_modules') };
    const c = spawn(process.execPath, ['-e', code], { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.on('close', (code, signal) => ok({ code, signal, out }));
  });
}

test('two processes writing one cache dir concurrently leave only whole entries', async () => {
  const dir = tmp();
  // A private copy of the transpiled engine: a concurrent build may be rewriting out/ meanwhile.
  const mod = join(tmp(), 'engine');
  // This file runs from <build>/test/engine/cache/; the engine was transpiled beside it.
  cpSync(resolve(__dirname, '../../../server/src/engine'), mod, { recursive: true });
  const script = `
    const { createCachedSource } = require(${JSON.stringify(join(mod, 'cache/cachedSource.js'))});
    const { createRegistryClient } = require(${JSON.stringify(join(mod, 'registryClient.js'))});
    const { loadNpmConfig } = require(${JSON.stringify(join(mod, 'npmrc.js'))});
    (async () => {
      const names = ['ms', 'debug', 'express', 'depd', 'qs', 'send', 'mime', 'cookie', 'body-parser', 'accepts'];
      for (let round = 0; round < 4; round++) {
        const c = createRegistryClient(loadNpmConfig({ cli: { registry: ${JSON.stringify(reg.url)} }, env: {} }));
        const s = createCachedSource(c, { dir: ${JSON.stringify(dir)}, mode: 'prefer-online', registryFor: () => ${JSON.stringify(reg.url)} });
        await Promise.all(names.map((n) => s.packument(n)));
        await s.flush();
        c.close();
      }
      process.stdout.write('ok');
    })();`;
  const results = await Promise.all([child(script), child(script), child(script)]);
  for (const r of results) assert.equal(r.out, 'ok');
  const disk = new DiskCache(dir);
  const files = disk.list();
  assert.equal(files.length, 10);
  for (const f of files) decodeEntry(disk.read(f.key)!);
  assert.deepEqual(readdirSync(join(disk.root, 'tmp')), []);
});

test('a writer killed mid-append, or mid-compaction, leaves nothing a reader accepts', async () => {
  const dir = tmp();
  const disk = new DiskCache(dir);
  const s = source(dir);
  await s.packument('ms');
  await s.flush();
  const good = disk.read(entryKey(reg.url, 'ms'))!;
  // The child appends half an entry to a pack of its own and half of its index record, as the cache
  // does, and leaves a compaction's temp file; then it dies.
  const r = await child(`
    const fs = require('fs');
    const packs = ${JSON.stringify(join(disk.root, 'packs'))};
    fs.writeFileSync(packs + '/killed.pack', Buffer.alloc(${good.length >> 1}, 1));
    const record = Buffer.alloc(20);
    record.write(${JSON.stringify(entryKey(reg.url, 'ms'))}, 0, 20, 'hex');
    fs.writeFileSync(packs + '/killed.idx', record);
    fs.writeFileSync(${JSON.stringify(join(disk.root, 'tmp', 'killed.pack'))}, Buffer.alloc(${good.length}, 1));
    process.kill(process.pid, 'SIGKILL');`);
  assert.equal(r.signal, 'SIGKILL');
  reg.resetLog();
  const reader = source(dir);
  await reader.packument('ms');
  assert.equal(reader.stats().corrupt, 0);
  assert.equal(reg.log.length, 0);
  assert.equal(disk.sweepTemp(Date.now() + 120_000), 1);
});

test('packs: the later record wins, a removal hides older ones, and compaction keeps exactly the live entries', async () => {
  const dir = tmp();
  const a = new DiskCache(dir);
  const b = new DiskCache(dir);
  const key = (n: number) => entryKey('http://r/', `p${n}`);
  // Two writers (two processes, or the cache thread and the main thread), each with a pack of its own.
  for (let i = 0; i < 6; i++) assert.equal(await a.write(key(i), Buffer.from(`a${i}`)), true);
  assert.equal(await b.write(key(0), Buffer.from('b0')), true);
  b.remove(key(1));
  const reader = new DiskCache(dir);
  assert.equal(reader.read(key(0))?.toString(), 'b0');
  assert.equal(reader.read(key(1)), undefined);
  assert.equal(reader.read(key(2))?.toString(), 'a2');
  assert.equal(await a.write(key(1), Buffer.from('a1 again')), true);
  const after = new DiskCache(dir);
  assert.equal(after.read(key(1))?.toString(), 'a1 again');
  assert.equal(after.list().length, 6);
  // Little is dead: no rewrite. Then most of it dead, past the minimum: one pack of the live entries.
  assert.equal(after.compact(), false);
  const big = Buffer.alloc(5 << 20, 7);
  assert.equal(await a.write(key(9), big), true);
  a.remove(key(9));
  assert.equal(after.compact(), true);
  assert.deepEqual(readdirSync(join(after.root, 'packs')).map((f) => f.replace(/^.*\./, '')).sort(), ['idx', 'pack']);
  const compacted = new DiskCache(dir);
  assert.deepEqual(new Map(compacted.list().map((e) => [e.key, compacted.read(e.key)!.toString()])), new Map([[key(0), 'b0'], [key(1), 'a1 again'], ...[2, 3, 4, 5].map((i) => [key(i), `a${i}`] as [string, string])]));
  // A writer whose pack was compacted away starts a new one, and what it writes is read.
  assert.equal(await a.write(key(7), Buffer.from('a7')), true);
  assert.equal(new DiskCache(dir).read(key(7))?.toString(), 'a7');
  assert.equal(readdirSync(join(after.root, 'packs')).length, 4);
});

test('packs: compaction of piled-up small packs keeps the big live one, and what removals hid stays hidden', async () => {
  const dir = tmp();
  const key = (n: number) => entryKey('http://r/', `q${n}`);
  const big = new DiskCache(dir);
  for (let i = 0; i < 4; i++) assert.equal(await big.write(key(i), Buffer.alloc(1000, i)), true);
  const bigPack = big.locate(key(0))!.path;
  new DiskCache(dir).remove(key(1));
  // 19 packs in all: past the limit of 16.
  for (let i = 10; i < 27; i++) assert.equal(await new DiskCache(dir).write(key(i), Buffer.from(`s${i}`)), true);
  const c = new DiskCache(dir);
  assert.equal(c.compact(), true);
  assert.equal(readdirSync(join(c.root, 'packs')).length, 4, 'the big pack and the merged one, each with its index');
  assert.equal(c.locate(key(0))!.path, bigPack);
  const r = new DiskCache(dir);
  assert.equal(r.read(key(1)), undefined, 'the removal was carried into the merged pack');
  assert.deepEqual(r.read(key(3)), Buffer.alloc(1000, 3));
  assert.equal(r.read(key(20))!.toString(), 's20');
  assert.equal(r.list().length, 3 + 17);
});

test('the cache thread gets its own copy of a body that shares a pooled buffer, and answers in shared memory; the pool stays intact', async () => {
  const thread = CacheWriter.shared();
  assert.ok(thread, 'the cache thread runs in test builds too');
  const doc = { name: 'pooled', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'pooled', version: '1.0.0', dependencies: { a: '^1' } } } };
  // Small Buffers are views into one shared pool: transferring the pool would empty `neighbour`.
  const body = Buffer.from(JSON.stringify(doc));
  const neighbour = Buffer.from('still here');
  assert.notEqual(body.buffer.byteLength, body.byteLength, 'the body is a view into a pool');
  const parsed = await thread.parse(body, 'identity', true, 'pooled', MAX_BODY_BYTES);
  assert.ok(parsed && 'packument' in parsed && parsed.projection);
  // The projection is the thread's own shared memory: the write below sends it back without a copy.
  assert.ok(parsed.projection.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(parsed.packument.versions['1.0.0'].dependencies, { a: '^1' });
  assert.equal(neighbour.toString(), 'still here');
  assert.equal(JSON.parse(body.toString()).name, 'pooled');
  const dir = tmp();
  const done = await thread.write({ dir, key: entryKey(reg.url, 'pooled'), header: { name: 'pooled', registry: reg.url, fetchedAt: Date.now() }, projection: parsed.projection });
  assert.equal(done?.written, true);
  // The caller's projection is still readable after the thread wrote its copy.
  assert.equal(decodeProjection(parsed.projection).name, 'pooled');
  assert.deepEqual(decodeEntry(new DiskCache(dir).read(entryKey(reg.url, 'pooled'))!).packument.versions['1.0.0'].dependencies, { a: '^1' });
});

test('the cache thread retires after idleMs with nothing outstanding; the next use starts another', async () => {
  const idle = CacheWriter.idleMs;
  CacheWriter.idleMs = 100;
  try {
    const body = () => Buffer.from(JSON.stringify({ name: 'idle', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'idle', version: '1.0.0' } } }));
    // Each reply restarts the idle timer, with idleMs as it is then.
    const first = CacheWriter.shared()!;
    assert.ok(await first.parse(body(), 'identity', true, 'idle', MAX_BODY_BYTES));
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(CacheWriter.shared(), first, 'not idle long enough yet: the same thread');
    assert.ok(await first.parse(body(), 'identity', true, 'idle', MAX_BODY_BYTES));
    await new Promise((ok) => setTimeout(ok, 300));
    const second = CacheWriter.shared()!;
    assert.notEqual(second, first, 'idle past idleMs: a new thread');
    const parsed = await second.parse(body(), 'identity', true, 'idle', MAX_BODY_BYTES);
    assert.ok(parsed && 'packument' in parsed && parsed.packument.name === 'idle');
    // A caller still holding the retired one falls back inline (undefined), never hangs.
    assert.equal(await first.parse(body(), 'identity', true, 'idle', MAX_BODY_BYTES), undefined);
  } finally {
    CacheWriter.idleMs = idle;
  }
});

test('bodies decoded and parsed on the cache thread read as the inline parse reads them; bad bodies are named', async () => {
  const thread = CacheWriter.shared()!;
  const inline = createRegistryClient(loadNpmConfig({ cli: { registry: reg.url }, env: {} }));
  const threaded = createRegistryClient(loadNpmConfig({ cli: { registry: reg.url }, env: {} }), { parse: (w, e, a, n, m) => thread.parse(w, e, a, n, m) });
  try {
    for (const name of ['express', '@types/node', 'ms']) {
      const [a, b] = await Promise.all([inline.packument(name), threaded.packument(name)]);
      assert.deepEqual(Object.keys(b.packument.versions), Object.keys(a.packument.versions), name);
      assert.deepEqual(b.packument['dist-tags'], a.packument['dist-tags'], name);
      for (const v of Object.keys(a.packument.versions)) assert.deepEqual(b.packument.versions[v], projectManifest(a.packument.versions[v]), `${name}@${v}`);
      // The thread sorts every document it reads; this thread only large ones (entry.ts SORTED_FROM).
      assert.ok(versionOrder(b.packument.versions), `${name}: the thread's projection carries its order`);
      if (Object.keys(a.packument.versions).length < 1000) assert.equal(versionOrder(a.packument.versions), undefined, name);
    }
  } finally {
    inline.close();
    threaded.close();
  }
  assert.deepEqual(await thread.parse(Buffer.from('{"name": "x", "versions"'), 'identity', true, 'x', MAX_BODY_BYTES), { invalid: 'json' });
  assert.deepEqual(await thread.parse(gzipSync('{"name": "x", "versions"'), 'gzip', true, 'x', MAX_BODY_BYTES), { invalid: 'json' });
  assert.deepEqual(await thread.parse(gzipSync('{"name": "x"}').subarray(0, 12), 'gzip', true, 'x', MAX_BODY_BYTES), { invalid: 'encoding' });
  const shape = await thread.parse(gzipSync('{"name": "x"}'), 'gzip', true, 'x', MAX_BODY_BYTES);
  assert.ok(shape && 'invalid' in shape && shape.invalid === 'shape' && /no versions/.test(shape.message));
});
