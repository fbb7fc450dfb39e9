// The cache as an attack surface and a crash site: private modes whatever the umask, no package name can
// place a file outside the cache dir, decompression is bounded even for a frame that does not declare its
// size (a zstd bomb), any single byte flip is caught, and a writer killed with SIGKILL while writing for
// real leaves only entries a reader accepts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { decompress, MAX_DECODED } from '../../server/src/engine/cache/codec';
import { createCachedSource } from '../../server/src/engine/cache/cachedSource';
import { DiskCache } from '../../server/src/engine/cache/diskCache';
import { decodeEntry, encodeEntry } from '../../server/src/engine/cache/entry';
import { resolveProject } from '../../server/src/engine/project';
import type { FetchResult, RegistryClient } from '../../server/src/engine/registryClient';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { cleanScratch, filesUnder, isolatedProject, packument, rng, scratch } from './helpers';

let reg: TestRegistry;
before(async () => {
  reg = await startFixtureRegistry();
});
after(async () => {
  await reg.close();
  cleanScratch();
});

function dirsUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? [join(dir, d.name), ...dirsUnder(join(dir, d.name))] : []));
}

test('the cache dir and everything in it are private (0700 / 0600) even with umask 0', async () => {
  const p = isolatedProject({ name: 'p', dependencies: { debug: '4.1.1', ms: '2.1.1' } });
  const cacheDir = join(p.dir, '..', 'deep', 'er', 'cache');
  const old = process.umask(0);
  try {
    const r = await resolveProject({ dir: p.dir, registry: reg.url, env: p.env, cache: { dir: cacheDir } });
    assert.equal(r.packages.length, 2);
    // A second run writes the usage model and access log again.
    await resolveProject({ dir: p.dir, registry: reg.url, env: p.env, cache: { dir: cacheDir, mode: 'prefer-online' } });
  } finally {
    process.umask(old);
  }
  const bad = [
    ...[cacheDir, ...dirsUnder(cacheDir)].filter((d) => (statSync(d).mode & 0o777) !== 0o700).map((d) => `${relative(cacheDir, d) || '.'} ${(statSync(d).mode & 0o777).toString(8)}`),
    ...filesUnder(cacheDir).filter((f) => (statSync(f).mode & 0o777) !== 0o600).map((f) => `${relative(cacheDir, f)} ${(statSync(f).mode & 0o777).toString(8)}`),
  ];
  assert.deepEqual(bad, []);
  const files = filesUnder(cacheDir).map((f) => relative(cacheDir, f));
  assert.ok(files.some((f) => f.startsWith('picks')) && files.some((f) => f.endsWith('.pack')), files.join());
});

test('no package name places a file outside the cache dir, or anywhere but a hashed entry path', async () => {
  const names = ['../../escape', '..%2f..%2fescape', 'a/../../../b', '/abs/path', 'C:\\win\\x', '\u0000nul', 'con', '.', '..', '@s/../../x', 'é/😀', 'x'.repeat(5000)];
  const client = {
    fetchPackument: async (name: string): Promise<FetchResult> => ({ status: 200, packument: packument(name, { '1.0.0': {} }), bytes: 10, etag: '"e"' }),
  } as unknown as RegistryClient;
  const root = scratch();
  const cacheDir = join(root, 'cache');
  const s = createCachedSource(client, { dir: cacheDir, registryFor: () => 'http://r.test/' });
  for (const n of names) assert.equal((await s.packument(n)).packument.name, n);
  await s.flush();
  // Only the cache dir exists in root; entries are in packs named by time, pid and random bytes, and
  // known by the hash of registry and name.
  assert.deepEqual(readdirSync(root), ['cache']);
  const packs = filesUnder(join(cacheDir, 'v1', 'packs')).map((f) => relative(join(cacheDir, 'v1', 'packs'), f));
  assert.ok(packs.length > 0 && packs.every((f) => /^[0-9a-z]+-\d+-[0-9a-f]{8}\.(pack|idx)$/.test(f)), packs.join('\n'));
  const entries = new DiskCache(cacheDir).list();
  assert.equal(entries.length, names.length);
  assert.ok(entries.every((e) => /^[0-9a-f]{64}$/.test(e.key)));
  const reader = createCachedSource(client, { dir: cacheDir, registryFor: () => 'http://r.test/' });
  for (const n of names) assert.equal((await reader.packument(n)).fromCache, true, n);
});

/** A zstd frame without a content size that expands to `blocks` x 128 KiB of one byte (RLE blocks). */
function zstdBomb(blocks: number): Buffer {
  const head = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]); // magic; FHD: no FCS, no single segment; window 128 KiB
  const block = (last: boolean) => {
    const v = (131072 << 3) | (1 << 1) | (last ? 1 : 0); // RLE block of 128 KiB
    return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, 0x61]);
  };
  return Buffer.concat([head, ...Array.from({ length: blocks }, (_, i) => block(i === blocks - 1))]);
}

test('decompression is bounded: a frame that hides its size and expands to 1 GB is rejected by every decoder', () => {
  const bomb = zstdBomb(8192); // 32 kB on disk, 1 GiB decoded
  assert.ok(bomb.length < 40_000);
  const small = zstdBomb(2);
  for (const dec of ['wasm', 'fzstd'] as const) {
    // The decoder itself works on such frames (so the rejection below is the bound, not a parse error).
    assert.equal(decompress(small, 262144, dec).length, 262144, dec);
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    assert.throws(() => decompress(bomb, 1000, dec), /decode|expected|bytes/i, dec);
    const grew = (process.memoryUsage().rss - rss0) / 1e6;
    assert.ok(grew < 200, `${dec}: RSS grew ${grew.toFixed(0)} MB`);
    assert.ok(performance.now() - t0 < 2000, dec);
  }
  assert.throws(() => decompress(bomb, MAX_DECODED + 1), /limit/);
  // As a whole entry on disk: the entry claims 1,000 bytes; decoding fails, nothing is trusted.
  const good = encodeEntry({ name: 'x', registry: 'http://r/', fetchedAt: 1 }, packument('x', { '1.0.0': {} }));
  const hLen = good.readUInt32LE(8);
  const forged = Buffer.concat([good.subarray(0, 40 + hLen), bomb]);
  forged.writeUInt8(1, 5);
  forged.writeUInt32LE(bomb.length, 12);
  forged.writeUInt32LE(1000, 16);
  // Re-sign it, as an attacker with write access to the cache dir could: only the bound stops it.
  createHash('sha1').update(forged.subarray(0, 20)).update(forged.subarray(40)).digest().copy(forged, 20);
  assert.throws(() => decodeEntry(forged), /decode|expected|bytes/i);
});

test('any single byte flip anywhere in an entry is detected', () => {
  const file = encodeEntry({ name: '@s/p', registry: 'http://r/', fetchedAt: 1, etag: '"e"' }, packument('@s/p', { '1.0.0': { dependencies: { a: '^1' } }, '1.1.0': {} }));
  const r = rng(8);
  let detected = 0;
  for (let i = 0; i < 500; i++) {
    const at = Math.floor(r() * file.length);
    const flipped = Buffer.from(file);
    flipped[at] ^= 1 + Math.floor(r() * 255);
    try {
      decodeEntry(flipped);
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'ECACHECORRUPT', String(e));
      detected++;
    }
  }
  assert.equal(detected, 500);
});

test('a writer killed with SIGKILL in the middle of real cache writes leaves only whole entries', async () => {
  const dir = join(scratch(), 'cache');
  // The transpiled engine next to this test's own transpiled file.
  const engine = resolve(__dirname, '../../server/src/engine/cache');
  const script = `
    const { DiskCache, entryKey } = require(${JSON.stringify(join(engine, 'diskCache.js'))});
    const { encodeEntry } = require(${JSON.stringify(join(engine, 'entry.js'))});
    const disk = new DiskCache(${JSON.stringify(dir)});
    const versions = {};
    for (let v = 0; v < 400; v++) versions['1.0.' + v] = { name: 'p', version: '1.0.' + v, dependencies: { a: '^1', b: '~2.' + v }, dist: { integrity: 'sha512-' + 'x'.repeat(86), tarball: 'http://r/p-1.0.' + v + '.tgz' } };
    (async () => {
      for (let i = 0; ; i++) {
        const name = 'p' + (i % 50);
        const bytes = encodeEntry({ name, registry: 'http://r/', fetchedAt: i }, { name, 'dist-tags': { latest: '1.0.0' }, versions });
        await disk.write(entryKey('http://r/', name), bytes);
        if (i === 60) process.stdout.write('ready\\n');
      }
    })();`;
  const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, NODE_PATH: resolve('node_modules') }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok) => child.stdout.once('data', () => ok()));
  child.kill('SIGKILL');
  const signal = await new Promise<NodeJS.Signals | null>((ok) => child.once('exit', (_code, sig) => ok(sig)));
  assert.equal(signal, 'SIGKILL');
  const disk = new DiskCache(dir);
  const entries = disk.list();
  assert.ok(entries.length >= 50, `${entries.length} entries`);
  for (const e of entries) {
    const d = decodeEntry(disk.read(e.key)!);
    assert.equal(Object.keys(d.packument.versions).length, 400);
  }
  // What the kill interrupted is at most a partial record at the end of a pack, which no reader takes.
  assert.deepEqual(readdirSync(join(disk.root, 'tmp')), []);
});
