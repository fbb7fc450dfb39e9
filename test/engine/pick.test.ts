import { test } from 'node:test';
import assert from 'node:assert/strict';
import semver from 'semver';
import { nearestVersions, pickManifest, type PickOptions, type PickResult } from '../../server/src/engine/pick';
import { parseSpec } from '../../server/src/engine/spec';
import type { Manifest, Packument } from '../../server/src/engine/types';
import { decodeProjection, encodeProjection } from '../../server/src/engine/cache/entry';
import { versionOrder } from '../../server/src/engine/versionKeys';

type Extra = Partial<Omit<Manifest, 'name' | 'version'>>;

/** A packument of `a` from version → extra manifest fields, plus dist-tags. */
function doc(versions: Record<string, Extra>, tags: Record<string, string> = {}): Packument {
  return {
    name: 'a',
    'dist-tags': tags,
    versions: Object.fromEntries(Object.entries(versions).map(([v, extra]) => [v, { name: 'a', version: v, ...extra }])),
  };
}

const NODE = '20.11.0';

function pick(p: Packument, raw: string, opts: PickOptions = {}): PickResult {
  return pickManifest(p, parseSpec('a', raw), { nodeVersion: NODE, ...opts });
}

function picked(p: Packument, raw: string, opts: PickOptions = {}): string {
  const r = pick(p, raw, opts);
  assert.ok('manifest' in r, `expected a pick for "${raw}", got ${JSON.stringify(r)}`);
  return r.manifest.version;
}

test('the latest tag wins when it satisfies the range, even with a higher version in range', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': {}, '1.2.0': {}, '2.0.0': {} }, { latest: '1.1.0' });
  assert.equal(picked(p, '^1.0.0'), '1.1.0');
  assert.equal(picked(p, '*'), '1.1.0');
  assert.equal(picked(p, ''), '1.1.0');
  // Outside the range the highest match is taken.
  assert.equal(picked(p, '^1.2.0'), '1.2.0');
  assert.equal(picked(p, '>=1.5.0'), '2.0.0');
  // Without a latest tag: highest in range.
  assert.equal(picked(doc({ '1.0.0': {}, '1.1.0': {}, '1.2.0': {} }), '^1.0.0'), '1.2.0');
});

test('the configured default tag replaces latest', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': {}, '1.2.0': {} }, { latest: '1.2.0', stable: '1.0.0' });
  assert.equal(picked(p, '^1.0.0'), '1.2.0');
  assert.equal(picked(p, '^1.0.0', { defaultTag: 'stable' }), '1.0.0');
});

test('a deprecated latest is not preferred', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': { deprecated: 'broken' }, '1.2.0': {} }, { latest: '1.1.0' });
  assert.equal(picked(p, '^1.0.0'), '1.2.0');
  const lower = doc({ '1.0.0': {}, '1.1.0': { deprecated: 'broken' } }, { latest: '1.1.0' });
  assert.equal(picked(lower, '^1.0.0'), '1.0.0');
});

test('a latest whose engines.node excludes the running node is not preferred', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': { engines: { node: '>=22' } }, '1.2.0': {} }, { latest: '1.1.0' });
  assert.equal(picked(p, '^1.0.0', { nodeVersion: '20.11.0' }), '1.2.0');
  assert.equal(picked(p, '^1.0.0', { nodeVersion: '22.1.0' }), '1.1.0');
  // `v`-prefixed node versions, as process.version has them.
  assert.equal(picked(p, '^1.0.0', { nodeVersion: 'v22.1.0' }), '1.1.0');
  // A prerelease node still counts as that node line (includePrerelease).
  assert.equal(picked(p, '^1.0.0', { nodeVersion: '23.0.0-pre' }), '1.1.0');
});

test('deprecated versions are avoided unless nothing else is in range', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': { deprecated: 'x' }, '1.2.0': { deprecated: 'y' } }, { latest: '1.2.0' });
  assert.equal(picked(p, '^1.0.0'), '1.0.0');
  // Only deprecated versions in range: the highest of them.
  assert.equal(picked(p, '^1.1.0'), '1.2.0');
  assert.equal(picked(p, '~1.1.0'), '1.1.0');
});

test('an engine mismatch outranks deprecation', () => {
  // Neither is healthy; npm-pick-manifest ranks engine-OK above not-deprecated.
  const p = doc({ '1.0.0': { deprecated: 'old' }, '1.1.0': { engines: { node: '>=99' } } }, { latest: '1.1.0' });
  assert.equal(picked(p, '^1.0.0'), '1.0.0');
  // Both engine-bad: the non-deprecated one wins even though it is lower.
  const q = doc({ '1.0.0': { engines: { node: '>=99' } }, '1.1.0': { engines: { node: '>=99' }, deprecated: 'old' } }, { latest: '1.1.0' });
  assert.equal(picked(q, '^1.0.0'), '1.0.0');
  // A healthy version beats both, even when it is the lowest.
  const r = doc({ '1.0.0': {}, '1.1.0': { deprecated: 'old' }, '1.2.0': { engines: { node: '>=99' } } }, { latest: '1.2.0' });
  assert.equal(picked(r, '^1.0.0'), '1.0.0');
  // Everything engine-bad: the highest.
  const s = doc({ '1.0.0': { engines: { node: '>=99' } }, '1.1.0': { engines: { node: '>=99' } } });
  assert.equal(picked(s, '^1.0.0'), '1.1.0');
});

test('prereleases are excluded from ranges unless the range names one', () => {
  const p = doc({ '1.0.0': {}, '1.1.0-beta.1': {}, '1.1.0-beta.2': {}, '2.0.0-rc.1': {} }, { latest: '1.0.0', next: '2.0.0-rc.1' });
  assert.equal(picked(p, '^1.0.0'), '1.0.0');
  assert.equal(picked(p, '>=1.0.0'), '1.0.0');
  assert.equal(picked(p, '^1.1.0-beta.1'), '1.1.0-beta.2');
  assert.equal(picked(p, '^2.0.0-rc.0'), '2.0.0-rc.1');
  // Only prereleases beyond the range: no match.
  const miss = pick(p, '^2.0.0');
  assert.ok('error' in miss && miss.error === 'ETARGET');
});

test('`*` accepts a prerelease latest; a plain range does not', () => {
  const p = doc({ '1.0.0': {}, '2.0.0-rc.1': {} }, { latest: '2.0.0-rc.1' });
  assert.equal(picked(p, '*'), '2.0.0-rc.1');
  assert.equal(picked(p, ''), '2.0.0-rc.1');
  assert.equal(picked(p, '>=1.0.0'), '1.0.0');
});

test('explicit tags and versions are taken as they are', () => {
  const p = doc(
    { '1.0.0': { deprecated: 'old' }, '1.1.0': { engines: { node: '>=99' } }, '2.0.0-beta.0': {}, '2.0.0': {} },
    { latest: '2.0.0', beta: '2.0.0-beta.0', legacy: '1.1.0', dangling: '9.9.9' },
  );
  assert.equal(picked(p, 'beta'), '2.0.0-beta.0');
  assert.equal(picked(p, 'legacy'), '1.1.0');
  assert.equal(picked(p, 'latest'), '2.0.0');
  assert.equal(picked(p, '1.0.0'), '1.0.0');
  assert.equal(picked(p, 'v1.1.0'), '1.1.0');
  assert.equal(picked(p, '2.0.0-beta.0'), '2.0.0-beta.0');
  for (const raw of ['nope', 'dangling', '1.0.1']) {
    const r = pick(p, raw);
    assert.ok('error' in r, raw);
    assert.equal(r.error, 'ETARGET', raw);
    assert.equal(r.latest, '2.0.0', raw);
  }
});

test('ETARGET lists the nearest existing versions', () => {
  const versions = ['1.0.0', '1.1.0', '2.0.0', '2.1.0', '4.0.0', '4.1.0', '5.0.0', '6.0.0'];
  const p = doc(Object.fromEntries(versions.map((v) => [v, {}])), { latest: '6.0.0' });
  const r = pick(p, '^3.0.0');
  assert.ok('error' in r);
  assert.equal(r.error, 'ETARGET');
  assert.equal(r.latest, '6.0.0');
  // The versions on either side of 3.0.0.
  assert.deepEqual(r.nearest, ['2.0.0', '2.1.0', '4.0.0', '4.1.0']);
  // An exact miss: around it.
  const exact = pick(p, '4.0.5');
  assert.ok('error' in exact);
  assert.ok(exact.nearest.includes('4.0.0') && exact.nearest.includes('4.1.0'), exact.nearest.join());
  // Beyond every version: the highest ones.
  const high = pick(p, '^99');
  assert.ok('error' in high);
  assert.deepEqual(high.nearest, ['4.0.0', '4.1.0', '5.0.0', '6.0.0']);
  // Few versions: all of them, in order.
  assert.deepEqual(nearestVersions(['2.0.0', '1.0.0'], parseSpec('a', '^9')), ['1.0.0', '2.0.0']);
});

test('ENOVERSIONS on a document without versions', () => {
  const r = pick({ name: 'a', 'dist-tags': {}, versions: {} }, '^1.0.0');
  assert.ok('error' in r);
  assert.equal(r.error, 'ENOVERSIONS');
  assert.deepEqual(r.nearest, []);
  const tag = pick({ name: 'a', 'dist-tags': {}, versions: {} }, 'latest');
  assert.ok('error' in tag && tag.error === 'ENOVERSIONS');
});

test('engines.npm counts only when an npm version is given', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': { engines: { npm: '>=10' } } }, { latest: '1.1.0' });
  assert.equal(picked(p, '^1.0.0'), '1.1.0');
  assert.equal(picked(p, '^1.0.0', { npmVersion: '9.8.1' }), '1.0.0');
  assert.equal(picked(p, '^1.0.0', { npmVersion: '10.2.4' }), '1.1.0');
});

test('picks are consistent when the same document is asked with different options', () => {
  const p = doc({ '1.0.0': {}, '1.1.0': { engines: { node: '>=22' } } }, { latest: '1.1.0' });
  assert.equal(picked(p, '^1.0.0', { nodeVersion: '20.0.0' }), '1.0.0');
  assert.equal(picked(p, '^1.0.0', { nodeVersion: '22.0.0' }), '1.1.0');
  assert.equal(picked(p, '^1.0.0', { nodeVersion: '20.0.0' }), '1.0.0');
});

test('picking by numeric bounds agrees with semver on every range shape, prereleases and builds included', () => {
  const versions = ['0.0.1', '0.1.0', '0.1.5', '1.0.0-beta.1', '1.0.0', '1.0.1+build.7', '1.2.3', '1.2.9', '1.3.0-rc.1', '1.3.0', '1.10.0', '2.0.0-alpha', '2.0.0', '2.4.1', '10.0.0'];
  const p = doc(Object.fromEntries(versions.map((v) => [v, {}])));
  const ranges = ['^1.2.3', '~1.2.3', '1.x', '1.2.x', '*', '', '>=1.0.0 <2.0.0', '>1.2.3 <=2.0.0', '1.0.0 - 1.3.0', '=1.2.9', '1.2.9', '<1.0.0', '>=2', '^0.1.0', '^0.0.1', '~0.1', '>2.4.1',
    '>=1.3.0-rc.1', '^1.0.0-beta.1', '1.x || >=2.4.0', '<0.0.1', '>=1.2.3 <1.2.3', '^1.0.1+build.7', 'v1.2.3',
    '^1.0.0 || ^2.0.0', '<1.0.0 || >=2.0.0 <2.4.1', '1.2.3 || 10.0.0', '~0.1 || 1.2.x || >10', '<0.0.1 || >10', '^0.0.1 || 1.3.0-rc.1', '* || 1.x'];
  for (const r of ranges) {
    const got = pickManifest(p, parseSpec('a', r), { nodeVersion: NODE });
    const want = semver.maxSatisfying(versions, r === '' ? '*' : r, { loose: true });
    assert.equal('manifest' in got ? got.manifest.version : null, want, `range "${r}"`);
  }
});

test('every version a range admits, and only those, can be picked: one healthy version among deprecated ones', () => {
  // Bounds decide membership without semver for most ranges: here each version in turn is the only
  // healthy one, so the pick is that version exactly when semver says it satisfies the range, and
  // otherwise the highest deprecated one in range (npm's fallback).
  const versions = ['0.0.1', '0.0.2', '0.1.0', '0.1.5', '1.0.0-beta.1', '1.0.0', '1.0.1+build.7', '1.2.3', '1.2.9', '1.3.0-beta', '1.3.0-rc.1', '1.3.0-rc.2', '1.3.0', '1.10.0', '2.0.0-0', '2.0.0-alpha', '2.0.0-alpha.1', '2.0.0', '2.4.1', '10.0.0'];
  const ranges = ['^1.2.3', '~1.2.3', '^0.1.0', '^0.0.1', '~0.0.1', '0.1.5', '1.2.9', '^10.0.0', '~1.3.0', '1.x', '1.2.x', '*', '>=1.0.0 <2.0.0', '>1.2.3 <=2.0.0', '1.0.0 - 1.3.0', '<2', '<=1.2', '>1',
    '~0.1', '^1.0.0-beta.1', '>=1.3.0-rc.1', '<2.0.0-0', '^2.0.0-0', '1.x || >=2.4.0', '^0.0.1 || ~1.2.3 || 10.x', '<1.0.0 || >=2.0.0 <2.4.1',
    // Sets with prerelease comparators, alone and beside release sets (react's `^0.14.0 || ^15.0.0-rc`).
    '^0.1.0 || ^2.0.0-alpha', '>=1.0.0-beta.1 <1.2.9', '>1.0.0-beta.1 <=1.3.0-rc.1', '1.3.0-rc.1', '>=1.3.0-rc.1 <1.3.0', '>=2.0.0-0 <2.0.0',
    '~1.3.0-rc.1 || 10.x', '<1.3.0-rc.1', '>1.3.0-rc.1', '=1.0.0-beta.1 || =2.0.0-0'];
  // Both as a plain document (sorted here) and as one read from a projection (sorted where it was made).
  const docs = versions.map((healthy) => doc(Object.fromEntries(versions.map((v) => [v, v === healthy ? {} : { deprecated: 'old' }]))));
  for (const [how, ds] of [['plain', docs], ['projection', docs.map(viaProjection)]] as const) {
    for (const r of ranges) {
      const inRange = versions.filter((v) => semver.satisfies(v, r, { loose: true }));
      versions.forEach((healthy, i) => {
        const got = pick(ds[i], r);
        const want = inRange.includes(healthy) ? healthy : semver.maxSatisfying(versions, r, { loose: true });
        assert.equal('manifest' in got ? got.manifest.version : null, want, `${how}: range "${r}", healthy ${healthy}`);
      });
    }
  }
});

/** The document as the cache thread hands it over: a projection, read lazily, with its versions' order. */
function viaProjection(p: Packument): Packument {
  const decoded = decodeProjection(encodeProjection(p, 0));
  assert.ok(versionOrder(decoded.versions!), 'the projection carries its order');
  return decoded;
}

test('prereleases are ordered as semver orders them: numeric below alphanumeric identifiers, longer above its prefix', () => {
  // typescript-like nightlies and the identifier shapes semver.comparePre distinguishes.
  const versions = [
    '5.4.0-dev.20231212', '5.4.0-dev.20240101', '5.4.0-dev.9', '5.4.0-beta', '5.4.0-beta.1', '5.4.0-beta.1.0', '5.4.0-beta.10', '5.4.0-beta.2',
    '5.4.0-rc', '5.4.0-1', '5.4.0-1.a', '5.4.0-10', '5.4.0-alpha.beta', '5.4.0-alpha.1', '5.4.0-0.3.7', '5.4.0-x.7.z.92', '5.4.0', '5.3.3', '5.4.1-0',
    '5.4.0-99999999999999999', '5.4.0-100000000000000000',
  ];
  const p = doc(Object.fromEntries(versions.map((v) => [v, {}])));
  // Ranges with prerelease comparators are tested version by version in the index's order: the first
  // match is the pick, so each of these checks the sort as much as the test.
  const ranges = ['>=5.4.0-dev.9 <5.4.0', '>=5.4.0-beta.1 <5.4.0-rc', '>5.4.0-1 <5.4.0-beta', '>=5.4.0-alpha.1', '<5.4.0-alpha.beta', '>=5.4.0-99999999999999999 <5.4.0-alpha', '^5.4.0-0'];
  for (const d of [p, viaProjection(p)]) {
    for (const r of ranges) {
      const got = pickManifest(d, parseSpec('a', r), { nodeVersion: NODE });
      const want = semver.maxSatisfying(versions, r, { loose: true });
      assert.equal('manifest' in got ? got.manifest.version : null, want, `range "${r}"`);
    }
  }
});

test("a projection's order is left out for a small document or when a version is not plain, and ignored when it is not a permutation", () => {
  // `1.0` is no x.y.z: the order is left to picking, which drops what semver refuses.
  const odd = decodeProjection(encodeProjection(doc({ '1.0.0': {}, '1.0': {}, '2.0.0-rc.1': {}, '1.5.0': {} }), 0));
  assert.equal(versionOrder(odd.versions!), undefined);
  assert.equal(picked(odd, '^1.0.0'), '1.5.0');
  // A projection whose order repeats a position is read as if it had none.
  const raw = encodeProjection(doc({ '1.0.0': {}, '1.2.0': {}, '1.1.0': {} }), 0);
  assert.ok(!encodeProjection(doc({ '1.0.0': {}, '1.2.0': {} })).toString('latin1').includes('"o":'), 'a small document goes without');
  const metaLen = raw.readUInt32LE(0);
  const meta = raw.toString('utf8', 4, 4 + metaLen);
  assert.ok(meta.includes('"o":[1,2,0]'), meta);
  const tampered = Buffer.concat([raw.subarray(0, 4), Buffer.from(meta.replace('"o":[1,2,0]', '"o":[1,1,0]')), raw.subarray(4 + metaLen)]);
  const d = decodeProjection(tampered);
  assert.equal(versionOrder(d.versions!), undefined);
  assert.equal(picked(d, '^1.0.0'), '1.2.0');
});
