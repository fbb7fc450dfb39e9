// What npm reads in tarballs for a lockfile (engine/tarball.ts): the node_modules a package bundles, and
// the tree its npm-shrinkwrap.json fixes. Generated packages on the loopback registry, with npm itself
// resolving the same projects as the reference; a recorded real one (fsevents 1, which bundles
// node-pre-gyp) is the `tiny-e16b` case of parity.test.ts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { resolveProject } from '../../server/src/engine/project';
import { tarballContents, TarballError } from '../../server/src/engine/tarball';
import { listing, npmListing, pkg, unmarked, withGenerated } from '../helpers/generatedRegistry';
import { tarOf } from '../helpers/tar';
import { npmResolve } from '../helpers/npmOracle';

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
  await withGenerated(BUNDLING.packages, BUNDLING.deps, async ({ reg, dir, env }) => {
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
  }, { tarballs: BUNDLING.tarballs, requireToken: 'tok' });
});

test('npm lists the same bundled packages at the same places', async () => {
  await withGenerated(BUNDLING.packages, BUNDLING.deps, async ({ reg, dir, env }) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    assert.deepEqual(unmarked(listing(r)), await npmListing(dir, reg.url));
  }, { tarballs: BUNDLING.tarballs });
});

test('with npm\'s lockfile the bundled packages come from it, as npm then keeps them, and no tarball is asked for', async () => {
  await withGenerated(BUNDLING.packages, BUNDLING.deps, async ({ reg, dir, env }) => {
    const fresh = await npmResolve(dir, reg.url);
    assert.equal(fresh.rc, 0, fresh.stderr);
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(fresh.lock));
    reg.resetLog();
    const r = await resolveProject({ dir, registry: reg.url, env });
    assert.deepEqual(listing(r).filter((l) => l.includes('/host/')), [
      'node_modules/host/node_modules/inner/node_modules/leaf@1.0.0 (bundled)',
      'node_modules/host/node_modules/inner@1.0.0 (bundled)',
    ]);
    // npm, given its own lockfile, prunes what nothing needs (`extra`, which it had written as extraneous).
    const npm = await npmResolve(dir, reg.url, { keepLockfile: true });
    assert.deepEqual(
      unmarked(listing(r)),
      Object.entries(npm.lock!.packages).filter(([k, v]) => k.includes('node_modules/') && v.version).map(([k, v]) => `${k}@${v.version}`).sort(),
    );
    // Bundled entries are not the project's to prune, and npm wrote `extra` as extraneous itself: neither is drift.
    assert.deepEqual(r.problems.filter((p) => p.code === 'lockfile-extraneous').map((p) => p.name), []);
    assert.deepEqual(r.problems.filter((p) => p.code === 'duplicate'), []);
    assert.deepEqual(reg.log.filter((e) => e.url.endsWith('.tgz')), []);
  }, { tarballs: BUNDLING.tarballs });
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
  await withGenerated(packages, { sw: '1.0.0', dep: '^1.0.0' }, async ({ reg, dir, env }) => {
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
  }, { tarballs });
});

test('a tarball that does not match its integrity is a warning, and the rest of the tree resolves', async () => {
  await withGenerated(BUNDLING.packages, BUNDLING.deps, async ({ reg, dir, env }) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    const problems = r.problems.filter((p) => p.code === 'registry-error');
    assert.equal(problems.length, 1);
    assert.equal(problems[0].severity, 'warning');
    assert.match(problems[0].message, /tarball of host@1\.0\.0 does not match its integrity.*is not in the tree/);
    assert.deepEqual(listing(r), ['node_modules/host@1.0.0', 'node_modules/leaf@2.0.0', 'node_modules/shared@1.1.0']);
    // Retried once (fetch-retries 1), then given up.
    assert.equal(reg.log.filter((e) => e.url.endsWith('.tgz')).length, 2);
  }, { tarballs: BUNDLING.tarballs, integrity: `sha512-${Buffer.alloc(64).toString('base64')}` });
});
