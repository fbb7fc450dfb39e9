// What npm reads in tarballs for a lockfile (engine/tarball.ts): the node_modules a package bundles, and
// the tree its npm-shrinkwrap.json fixes. Generated packages on the loopback registry, with npm itself
// resolving the same projects as the reference; a recorded real one (fsevents 1, which bundles
// node-pre-gyp) is the `tiny-e16b` case of parity.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { resolveProject } from '../../server/src/engine/project';
import { tarballContents, TarballError } from '../../server/src/engine/tarball';
import type { Packument } from '../../server/src/engine/types';
import { startTestRegistry, type TestRegistry } from '../../server/src/testRegistry/server';
import { npmResolve } from '../helpers/npmOracle';

// --- a tar writer for the cases (ustar, with GNU and pax long names) ----------------------------
function header(name: string, size: number, type: string, prefix = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257, 'latin1');
  h.write(prefix, 345);
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

function tarOf(files: [string, string][], long: 'gnu' | 'pax' = 'gnu'): Buffer {
  const parts: Buffer[] = [];
  for (const [path, text] of files) {
    const body = Buffer.from(text);
    if (Buffer.byteLength(path) > 100) {
      if (long === 'gnu') {
        const name = Buffer.from(path + '\0');
        parts.push(header('././@LongLink', name.length, 'L'), padded(name));
      } else {
        const record = ` path=${path}\n`;
        let len = record.length;
        while (String(len).length + record.length !== len) len = String(len).length + record.length;
        const pax = Buffer.from(`${len}${record}`);
        parts.push(header('PaxHeader', pax.length, 'x'), padded(pax));
      }
    }
    parts.push(header(path, body.length, '0'), padded(body));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const pkg = (name: string, version: string, extra: object = {}) => JSON.stringify({ name, version, ...extra });

test('tarballContents reads the package.json of every folder under node_modules, nested and scoped, and the shrinkwrap', async () => {
  const deep = `package/node_modules/${'x'.repeat(60)}/node_modules/${'y'.repeat(60)}/package.json`;
  for (const long of ['gnu', 'pax'] as const) {
    const tgz = gzipSync(
      tarOf(
        [
          ['package/package.json', pkg('host', '1.0.0', { bundleDependencies: ['a'] })],
          ['package/node_modules/a/package.json', pkg('a', '1.2.3', { dependencies: { b: '^2.0.0' } })],
          ['package/node_modules/a/lib/package.json', pkg('not-a-package', '9.9.9')],
          ['package/node_modules/a/node_modules/b/package.json', pkg('b', '2.0.1')],
          ['package/node_modules/@s/c/package.json', pkg('@s/c', '0.1.0')],
          ['package/node_modules/broken/package.json', '{ not json'],
          [deep, pkg('y', '3.0.0')],
          ['package/npm-shrinkwrap.json', '{"lockfileVersion":3}'],
          ['package/lib/npm-shrinkwrap.json', 'not this one'],
        ],
        long,
      ),
    );
    const { bundled: found, shrinkwrap } = await tarballContents(tgz);
    assert.equal(shrinkwrap, '{"lockfileVersion":3}');
    assert.deepEqual(
      found.map((p) => `${p.path} ${p.manifest.name}@${p.manifest.version}`),
      [
        'node_modules/@s/c @s/c@0.1.0',
        'node_modules/a a@1.2.3',
        'node_modules/a/node_modules/b b@2.0.1',
        `node_modules/${'x'.repeat(60)}/node_modules/${'y'.repeat(60)} y@3.0.0`,
      ],
      long,
    );
    assert.deepEqual(found[1].manifest.dependencies, { b: '^2.0.0' });
  }
});

test('a damaged tarball is a TarballError, not a crash', async () => {
  const good = tarOf([['package/node_modules/a/package.json', pkg('a', '1.0.0', { description: 'z'.repeat(2000) })]]);
  const badSum = Buffer.from(good);
  badSum[0] ^= 1;
  await assert.rejects(tarballContents(Buffer.from('not gzip at all')), TarballError);
  await assert.rejects(tarballContents(gzipSync(badSum)), /damaged tar header/);
  await assert.rejects(tarballContents(gzipSync(good.subarray(0, 1500))), /truncated/);
});

// --- through the loopback registry ------------------------------------------------------------
const integrity = (b: Buffer) => `sha512-${createHash('sha512').update(b).digest('base64')}`;

type Version = { version: string } & Record<string, unknown>;

/** A registry of generated packages; `tarballs` by name@version, each linked from its version with its integrity. */
async function withRegistry(
  packages: Record<string, Version[]>,
  tarballs: Record<string, Buffer>,
  deps: Record<string, string>,
  opts: { integrity?: string; requireToken?: string },
  fn: (reg: TestRegistry, dir: string, env: NodeJS.ProcessEnv) => Promise<void>,
): Promise<void> {
  const docs: Record<string, Packument> = {};
  for (const [name, versions] of Object.entries(packages)) {
    docs[name] = {
      name,
      'dist-tags': { latest: versions[versions.length - 1].version },
      versions: Object.fromEntries(
        versions.map((v) => {
          const tgz = tarballs[`${name}@${v.version}`] ?? gzipSync(tarOf([['package/package.json', pkg(name, v.version)]]));
          return [v.version, { name, ...v, dist: { tarball: `x/${name}-${v.version}.tgz`, integrity: tarballs[`${name}@${v.version}`] ? (opts.integrity ?? integrity(tgz)) : integrity(tgz) } }];
        }),
      ),
    } as Packument;
  }
  const reg = await startTestRegistry({
    store: {
      packument: async (name) => docs[name],
      tarball: async (name, file) => {
        const v = /-(\d[^-]*)\.tgz$/.exec(file)?.[1];
        return v ? (tarballs[`${name}@${v}`] ?? (docs[name]?.versions[v] && gzipSync(tarOf([['package/package.json', pkg(name, v)]])))) : undefined;
      },
    },
    requireToken: opts.requireToken,
  });
  const dir = mkdtempSync(join(tmpdir(), 'citadel-tarballs-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: deps }));
  const npmrc = join(dir, 'userconfig');
  writeFileSync(npmrc, opts.requireToken ? `//127.0.0.1:${reg.port}/:_authToken=${opts.requireToken}\n` : '');
  try {
    await fn(reg, dir, { npm_config_userconfig: npmrc, npm_config_globalconfig: npmrc, npm_config_fetch_retries: '1', npm_config_fetch_retry_mintimeout: '1', npm_config_fetch_retry_maxtimeout: '5' });
  } finally {
    await reg.close();
  }
}

const listing = (r: { packages: { name: string; version: string; locations: string[]; inBundle?: boolean; inShrinkwrap?: boolean }[] }) =>
  r.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}${p.inBundle ? ' (bundled)' : ''}${p.inShrinkwrap ? ' (shrinkwrap)' : ''}`)).sort();

/** npm's lockfile for the same project and registry, in the same form (without the marks). */
async function npmListing(dir: string, url: string): Promise<string[]> {
  const npm = await npmResolve(dir, url);
  assert.equal(npm.rc, 0, npm.stderr);
  return Object.entries(npm.lock!.packages)
    .filter(([k, v]) => k.includes('node_modules/') && v.version)
    .map(([k, v]) => `${k}@${v.version}`)
    .sort();
}

const unmarked = (l: string[]) => l.map((x) => x.replace(/ \(.*\)$/, ''));

// host bundles inner (and inner's leaf, and an extra nothing needs); the project also wants leaf 2.
const BUNDLING = {
  packages: {
    host: [{ version: '1.0.0', dependencies: { inner: '^1.0.0', shared: '^1.0.0' }, bundleDependencies: ['inner'] }],
    shared: [{ version: '1.1.0' }],
    inner: [{ version: '1.0.0' }],
    leaf: [{ version: '2.0.0' }],
  },
  tarballs: {
    'host@1.0.0': gzipSync(
      tarOf([
        ['package/package.json', pkg('host', '1.0.0')],
        ['package/node_modules/inner/package.json', pkg('inner', '1.0.0', { dependencies: { leaf: '1.0.0' } })],
        ['package/node_modules/inner/node_modules/leaf/package.json', pkg('leaf', '1.0.0')],
        ['package/node_modules/extra/package.json', pkg('extra', '0.0.1')],
      ]),
    ),
  },
  deps: { host: '1.0.0', leaf: '^2.0.0' },
};

test('a bundling package is opened: its bundled packages are where npm lists them, none of their documents is fetched, and the cache keeps them', async () => {
  await withRegistry(BUNDLING.packages, BUNDLING.tarballs, BUNDLING.deps, { requireToken: 'tok' }, async (reg, dir, env) => {
    const cache = join(dir, 'cache');
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore', cache: { dir: cache } });
    assert.deepEqual(r.problems.filter((p) => p.severity !== 'info' && p.severity !== 'hint'), []);
    assert.deepEqual(listing(r), [
      'node_modules/host/node_modules/extra@0.0.1 (bundled)',
      'node_modules/host/node_modules/inner/node_modules/leaf@1.0.0 (bundled)',
      'node_modules/host/node_modules/inner@1.0.0 (bundled)',
      'node_modules/host@1.0.0',
      'node_modules/leaf@2.0.0',
      'node_modules/shared@1.1.0',
    ]);
    // Two versions of leaf, but the bundled one is not the user's to dedupe.
    assert.deepEqual(r.problems.filter((p) => p.code === 'duplicate'), []);
    const asked = reg.log.map((e) => `${e.status} ${e.url}`).sort();
    assert.deepEqual(asked, ['200 /host', '200 /host/-/host-1.0.0.tgz', '200 /leaf', '200 /shared']);
    // The tarball went with the registry's token (the registry answers 401 without it).
    assert.equal(reg.log.find((e) => e.url.endsWith('.tgz'))?.headers.authorization, 'Bearer tok');

    // Offline, from the cache alone: the same tree, tarball contents included.
    reg.resetLog();
    const again = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore', cache: { dir: cache, mode: 'offline', memo: false } });
    assert.deepEqual(listing(again), listing(r));
    assert.deepEqual(reg.log, []);
  });
});

test('npm lists the same bundled packages at the same places', async () => {
  await withRegistry(BUNDLING.packages, BUNDLING.tarballs, BUNDLING.deps, {}, async (reg, dir, env) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    assert.deepEqual(unmarked(listing(r)), await npmListing(dir, reg.url));
  });
});

test('a package with an npm-shrinkwrap.json gets the shrinkwrap\'s tree, as npm gives it', async () => {
  const shrinkwrap = JSON.stringify({
    name: 'sw',
    version: '1.0.0',
    lockfileVersion: 3,
    packages: {
      '': { name: 'sw', version: '1.0.0', dependencies: { dep: '^1.0.0', other: '^1.0.0' } },
      'node_modules/dep': { version: '1.0.0', dependencies: { sub: '1.0.0' } },
      'node_modules/sub': { version: '1.0.0' },
      'node_modules/unused': { version: '3.0.0', extraneous: true },
    },
  });
  const packages = {
    sw: [{ version: '1.0.0', dependencies: { dep: '^1.0.0', other: '^1.0.0' }, _hasShrinkwrap: true }],
    dep: [{ version: '1.0.0', dependencies: { sub: '1.0.0' } }, { version: '1.5.0', dependencies: { sub: '^2.0.0' } }],
    sub: [{ version: '1.0.0' }, { version: '2.0.0' }],
    other: [{ version: '1.0.0' }],
    unused: [{ version: '3.0.0' }],
  };
  const tarballs = { 'sw@1.0.0': gzipSync(tarOf([['package/package.json', pkg('sw', '1.0.0')], ['package/npm-shrinkwrap.json', shrinkwrap]])) };
  await withRegistry(packages, tarballs, { sw: '1.0.0', dep: '^1.0.0' }, {}, async (reg, dir, env) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    assert.deepEqual(r.problems.filter((p) => p.severity !== 'info' && p.severity !== 'hint'), []);
    assert.deepEqual(listing(r), [
      'node_modules/dep@1.5.0',
      'node_modules/other@1.0.0',
      'node_modules/sub@2.0.0',
      'node_modules/sw/node_modules/dep@1.0.0 (shrinkwrap)',
      'node_modules/sw/node_modules/sub@1.0.0 (shrinkwrap)',
      'node_modules/sw/node_modules/unused@3.0.0 (shrinkwrap)',
      'node_modules/sw@1.0.0',
    ]);
    assert.deepEqual(unmarked(listing(r)), await npmListing(dir, reg.url));
  });
});

test('a tarball that does not match its integrity is a warning, and the rest of the tree resolves', async () => {
  await withRegistry(BUNDLING.packages, BUNDLING.tarballs, BUNDLING.deps, { integrity: `sha512-${Buffer.alloc(64).toString('base64')}` }, async (reg, dir, env) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    const problems = r.problems.filter((p) => p.code === 'registry-error');
    assert.equal(problems.length, 1);
    assert.equal(problems[0].severity, 'warning');
    assert.match(problems[0].message, /tarball of host@1\.0\.0 does not match its integrity.*is not in the tree/);
    assert.deepEqual(listing(r), ['node_modules/host@1.0.0', 'node_modules/leaf@2.0.0', 'node_modules/shared@1.1.0']);
    // Retried once (fetch-retries 1), then given up.
    assert.equal(reg.log.filter((e) => e.url.endsWith('.tgz')).length, 2);
  });
});
