// The cache thread's projection read off a document's bytes (scanProjection) against the parse path it
// replaces (JSON.parse, toPackument, encodeProjection): the same bytes, or a refusal the parse path decides.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { decodeProjection, encodeProjection } from '../../../server/src/engine/cache/entry';
import { scanProjection } from '../../../server/src/engine/cache/scanProjection';
import { parseBody, projectBody } from '../../../server/src/engine/registryClient';
import type { TestRegistry } from '../../../server/src/testRegistry/server';
import { FIXTURE_STORE, startFixtureRegistry } from '../../helpers/npmOracle';

let reg: TestRegistry;
before(async () => {
  reg = await startFixtureRegistry();
});
after(() => reg.close());

/** The parse path's projection, or undefined where it finds the document invalid. */
function parsed(body: Buffer, abbreviated: boolean): Buffer | undefined {
  const r = parseBody(body, abbreviated, 'fallback-name');
  return 'packument' in r ? encodeProjection(r.packument) : undefined;
}

function scanned(body: Buffer, abbreviated: boolean): Buffer | undefined {
  try {
    return scanProjection(body, abbreviated, 'fallback-name');
  } catch {
    return undefined;
  }
}

/** A projection as its reader sees it: the meta without offsets, and each version parsed, in order. */
function readBack(projection: Buffer): string {
  const p = decodeProjection(projection);
  return JSON.stringify([p.name, p['dist-tags'], p.time, p.modified, Object.keys(p.versions).map((k) => [k, p.versions[k]])]);
}

/**
 * The scan answers as the parse path does, or leaves the document to it. Byte for byte where the
 * document is written as JSON.stringify writes (compact); else as read back (whitespace and escapes
 * inside the values it keeps are copied as written).
 */
function agrees(body: Buffer, abbreviated: boolean, label: string, exact = false): 'scanned' | 'left' {
  const s = scanned(body, abbreviated);
  if (!s) return 'left';
  const p = parsed(body, abbreviated);
  assert.ok(p, `${label}: scanned a document the parse path refuses`);
  if (exact) {
    if (!s.equals(p)) assert.equal(s.toString(), p.toString(), label);
  }
  else assert.equal(readBack(s), readBack(p), label);
  return 'scanned';
}

test('every recorded document, as the loopback registry serves it in both forms, projects byte for byte as the parse path does', async () => {
  const names = readdirSync(FIXTURE_STORE)
    .filter((f) => f.endsWith('.json.br'))
    .map((f) => f.slice(0, -'.json.br'.length).replace('+', '/'));
  assert.ok(names.length > 1000, 'the fixture store is there');
  for (const [accept, abbreviated] of [
    ['application/vnd.npm.install-v1+json', true],
    ['application/json', false],
  ] as const) {
    for (let i = 0; i < names.length; i += 16) {
      const batch = names.slice(i, i + 16);
      const bodies = await Promise.all(
        batch.map(async (name) => {
          const res = await fetch(`${reg.url}${name.replace('/', '%2f')}`, { headers: { accept } });
          assert.equal(res.status, 200, name);
          return Buffer.from(await res.arrayBuffer());
        }),
      );
      batch.forEach((name, k) => assert.equal(agrees(bodies[k], abbreviated, `${name} (${accept})`, true), 'scanned', `${name} (${accept}) is read by the scan`));
    }
  }
});

// A version as registry.npmjs.org writes them in full documents, with what the projection drops and the
// fields toManifest rewrites.
const registryDoc = {
  _id: 'odd',
  _rev: '3-abc',
  name: 'odd',
  description: 'tab\there, "quoted", \u00e9 and \ud83d\ude00',
  'dist-tags': { latest: '2.0.0', next: '3.0.0-rc.1' },
  versions: {
    '1.0.0': {
      name: 'odd',
      version: '1.0.0',
      license: { type: 'MIT', url: 'http://x' },
      scripts: { test: 'x', install: 'node-gyp rebuild' },
      bundledDependencies: ['a'],
      dependencies: { a: '^1.0.0', '@s/b': '~2 || >=3.1.0-beta.0' },
      devDependencies: { mocha: '*' },
      _npmUser: { name: 'u', email: 'e' },
      dist: { shasum: 'abc', tarball: 'http://r/odd-1.0.0.tgz', fileCount: 3, signatures: [{ keyid: 'k', sig: 's' }], integrity: 'sha512-x' },
    },
    '1.1.0': { version: '1.1.0', name: 'odd', license: ['MIT'], gypfile: true, dist: ['weird'], engines: ['node >= 0.4'], deprecated: 'use 2' },
    '1.2.0': { name: 'odd', version: '1.2.0', hasInstallScript: false, scripts: { postinstall: 'x' }, dist: null, license: { url: 'no type' } },
    '2.0.0': { name: 'odd', version: '2.0.0', bundleDependencies: true, bundledDependencies: ['ignored'], peerDependencies: { p: '>=1' }, peerDependenciesMeta: { p: { optional: true } }, os: ['!win32'], cpu: ['x64'], libc: ['glibc'], bin: 'cli.js', _hasShrinkwrap: false, scripts: 'not an object', dist: {} },
    '3.0.0-rc.1': { name: 'odd', version: '3.0.0-rc.1', dependencies: {}, optionalDependencies: { 'fsevents': '^2' }, deprecated: null, dist: { unpackedSize: 1e3, tarball: 'http://r/odd-3.0.0-rc.1.tgz' } },
  },
  time: { modified: '2024-02-03T04:05:06.789Z', created: '2020-01-01T00:00:00.000Z', '1.0.0': '2020-01-01T00:00:00.000Z' },
  readme: '# odd\n',
};

test("toManifest's rules hold on documents as the registry writes them, compact and pretty-printed, full and abbreviated", () => {
  for (const abbreviated of [false, true]) {
    assert.equal(agrees(Buffer.from(JSON.stringify(registryDoc)), abbreviated, `abbreviated ${abbreviated}`, true), 'scanned');
    for (const text of [JSON.stringify(registryDoc, null, 2), JSON.stringify(registryDoc, null, '\t').replace(/\n/g, '\r\n')]) {
      assert.equal(agrees(Buffer.from(text), abbreviated, `pretty, abbreviated ${abbreviated}`), 'scanned');
    }
  }
  const abbreviatedDoc: Record<string, unknown> = { ...registryDoc };
  delete abbreviatedDoc.time;
  for (const doc of [
    { ...abbreviatedDoc, modified: '2024-01-01T00:00:00.000Z' },
    { ...abbreviatedDoc, name: 42, 'dist-tags': null },
    { versions: {} },
    { versions: { '1.0.0': {}, '1.0.1': { dist: { integrity: 'x', extra: { deep: [1, { a: [] }] } } } } },
  ]) {
    for (const abbreviated of [false, true]) assert.equal(agrees(Buffer.from(JSON.stringify(doc)), abbreviated, JSON.stringify(doc).slice(0, 60)), 'scanned');
  }
  // Escapes inside values are copied as written, and read back as JSON.parse reads them.
  const escaped = Buffer.from('{"name":"e","versions":{"1.0.0":{"name":"e","version":"1.0.0","deprecated":"\\u00e9 \\"x\\" \\\\ \\/ \\b\\f\\n\\r\\t"}}}');
  assert.equal(agrees(escaped, true, 'escapes'), 'scanned');
  assert.equal(decodeProjection(scanned(escaped, true)!).versions['1.0.0'].deprecated, 'é "x" \\ / \b\f\n\r\t');
});

test('what the scan leaves to the parse path: repeated versions, versions that are not objects, escaped field names, array-index versions', () => {
  for (const text of [
    '{"versions":{"1.0.0":{"version":"1.0.0"},"1.0.0":{"version":"1.0.1"}}}',
    '{"versions":{"1.0.0":null}}',
    '{"versions":{"1.0.0":"x"}}',
    '{"versions":{"1.0.0":{"dep\\u0065ndencies":{"a":"1"}}}}',
    '{"versions":{"1.0.0":{"dist":{"t\\u0061rball":"x"}}}}',
    '{"versions":{"1":{"version":"1"},"2.0.0":{}}}',
    '{"versions":[]}',
    '{"versions":{},"versions":{}}',
    '{"name":"no versions"}',
    '[]',
  ]) {
    assert.equal(scanned(Buffer.from(text), true), undefined, text);
    // The parse path still decides each (a projection or a clear refusal), so nothing is lost.
    assert.doesNotThrow(() => projectBody(Buffer.from(text), true, 'x'), text);
  }
  const nullVersion = projectBody(Buffer.from('{"versions":{"1.0.0":null}}'), true, 'nully');
  assert.ok('invalid' in nullVersion && nullVersion.invalid === 'shape' && /nully has a version that cannot be read/.test(nullVersion.message), JSON.stringify(nullVersion));
  const repeated = projectBody(Buffer.from('{"versions":{"1.0.0":{"version":"1.0.0"},"1.0.0":{"version":"1.0.1"}}}'), true, 'r');
  assert.ok('projection' in repeated);
  assert.deepEqual(Object.keys(decodeProjection(repeated.projection).versions), ['1.0.0'], 'the last one wins, as JSON.parse has it');
  assert.equal(decodeProjection(repeated.projection).versions['1.0.0'].version, '1.0.1');
});

test('invalid JSON is refused wherever it breaks, as JSON.parse refuses it; random damage never yields a projection the parse path would not', () => {
  const text = JSON.stringify(registryDoc);
  const body = Buffer.from(text);
  for (let cut = 0; cut < body.length; cut += 7) assert.equal(scanned(body.subarray(0, cut), false), undefined, `cut at ${cut}`);
  for (const bad of [
    text.replace('"abc"', '"a\u0001c"'),
    text.replace('"abc"', '"a\\xc"'),
    text.replace('"abc"', '"a\\u00zc"'),
    text.replace('1000', '01000'),
    text.replace('1000', '1000.'),
    text.replace('1000', '-'),
    text.replace('1000', '1e'),
    text.replace('1000', 'NaN'),
    text.replace('false', 'fals'),
    text.replace('null', 'nul'),
    text.replace('{}', '{,}'),
    text.replace('["a"]', '["a",]'),
    text.replace('"k"', "'k'"),
    text + ' x',
    '\ufeff' + text,
  ]) {
    assert.notEqual(bad, text);
    assert.throws(() => JSON.parse(bad), `JSON.parse refuses ${bad.slice(0, 40)}`);
    assert.equal(scanned(Buffer.from(bad), false), undefined, bad.slice(0, 80));
  }
  // Deterministic damage: one byte replaced, inserted or removed at many places.
  let seed = 1;
  const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const alphabet = Buffer.from('{}[]:,"\\0123456789.eE+-tfnul \n\u0001xa');
  let scannedCount = 0;
  for (let k = 0; k < 3000; k++) {
    const at = random(body.length);
    const byte = alphabet[random(alphabet.length)];
    const op = random(3);
    const damaged = op === 0 ? Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at + 1)]) : op === 1 ? Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at)]) : Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
    for (const abbreviated of [false, true]) if (agrees(damaged, abbreviated, `damage ${k}`) === 'scanned') scannedCount++;
    // Strings are read four bytes at a time where the bytes are 4-aligned in memory, else one at a time.
    const shifted = Buffer.alloc(damaged.length + 1).subarray(1);
    damaged.copy(shifted);
    assert.deepEqual(scanned(shifted, true), scanned(damaged, true), `damage ${k}, read unaligned`);
  }
  // Many single-byte changes land inside strings and stay valid: those must still agree byte for byte.
  assert.ok(scannedCount > 500, `some damaged documents stayed valid and were scanned (${scannedCount})`);
});

test('nesting deep enough to exhaust the stack is left to the parse path', () => {
  const deep = Buffer.from(`{"versions":{"1.0.0":{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}}}`);
  assert.equal(scanned(deep, true), undefined);
});
