import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { startTestRegistry, type TestRegistry } from '../server/src/testRegistry/server';
import { FixtureStore, leanPackument } from '../server/src/testRegistry/store';
import { fixtureDir, npmResolve, startFixtureRegistry } from './helpers/npmOracle';

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
const TGZ = Buffer.from('not really a tarball, but bytes to serve');

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

/** Raw HTTP (no automatic decompression, unlike fetch), rejecting on any transport error. */
function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((ok, fail) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('aborted')));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
    });
    req.on('error', fail);
    req.end();
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- registry documents are checked field by field below
const json = (g: Got): any => JSON.parse(g.body.toString());

let dir: string;
let reg: TestRegistry;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'citadel-test-registry-'));
  const store = new FixtureStore(dir);
  const v = (version: string, extra: object = {}) => ({
    name: '@acme/widget',
    version,
    description: 'dropped by the store',
    scripts: { install: 'node-gyp rebuild', test: 'x' },
    license: { type: 'MIT' },
    bundledDependencies: ['left-pad'],
    dependencies: { 'left-pad': '^1.0.0' },
    dist: { integrity: 'sha512-x', shasum: 'abc', tarball: `https://registry.npmjs.org/@acme/widget/-/widget-${version}.tgz` },
    ...extra,
  });
  store.put({
    name: '@acme/widget',
    'dist-tags': { latest: '1.1.0' },
    time: { '1.0.0': '2020-01-01T00:00:00.000Z', '1.1.0': '2021-06-01T00:00:00.000Z', unpublished: 'dropped' },
    versions: { '1.0.0': v('1.0.0'), '1.1.0': v('1.1.0', { deprecated: 'use 2' }) },
  });
  store.put({
    name: 'plain',
    'dist-tags': { latest: '0.1.0' },
    versions: { '0.1.0': { name: 'plain', version: '0.1.0', dist: { tarball: 'https://registry.npmjs.org/plain/-/plain-0.1.0.tgz' } } },
  });
  store.putTarball('@acme/widget', 'widget-1.0.0.tgz', TGZ);
  reg = await startTestRegistry({ store: dir });
});

after(async () => {
  await reg.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  reg.clearFaults();
  reg.resetLog();
  reg.setLatency(0);
});

test('the store keeps lean versions and normalizes old fields', () => {
  const lean = leanPackument({
    name: 'x',
    'dist-tags': { latest: '1.0.0' },
    versions: { '1.0.0': { name: 'x', version: '1.0.0', gypfile: true, readme: 'big', dist: { tarball: 't', fileCount: 3 } } },
  });
  assert.deepEqual(lean.versions['1.0.0'], { name: 'x', version: '1.0.0', hasInstallScript: true, dist: { tarball: 't' } });
});

test('full document: lean versions, time, license, tarball on this server', async () => {
  const g = await get(`${reg.url}@acme%2fwidget`);
  assert.equal(g.status, 200);
  assert.match(g.headers['content-type'] ?? '', /^application\/json/);
  const doc = json(g);
  assert.equal(doc.license, 'MIT');
  assert.deepEqual(Object.keys(doc.time).sort(), ['1.0.0', '1.1.0', 'created', 'modified']);
  const m = doc.versions['1.0.0'];
  assert.equal(m.description, undefined);
  assert.equal(m.hasInstallScript, true);
  assert.equal(m.license, 'MIT');
  assert.deepEqual(m.bundleDependencies, ['left-pad']);
  assert.equal(m.dist.tarball, `${reg.url}@acme/widget/-/widget-1.0.0.tgz`);
});

test('abbreviated document when Accept asks for it', async () => {
  const g = await get(`${reg.url}@acme%2fwidget`, { accept: `${ABBREVIATED}; q=1.0, application/json; q=0.8, */*` });
  assert.equal(g.headers['content-type'], ABBREVIATED);
  const doc = json(g);
  assert.deepEqual(Object.keys(doc).sort(), ['dist-tags', 'modified', 'name', 'versions']);
  assert.equal(doc.modified, '2021-06-01T00:00:00.000Z');
  assert.equal(doc.versions['1.0.0'].license, undefined);
  assert.equal(doc.versions['1.1.0'].deprecated, 'use 2');
});

test('scoped names with an encoded or a plain slash, and tarballs', async () => {
  const a = await get(`${reg.url}@acme%2fwidget`);
  const b = await get(`${reg.url}@acme/widget`);
  assert.equal(b.status, 200);
  assert.deepEqual(b.body, a.body);
  const t = await get(`${reg.url}@acme/widget/-/widget-1.0.0.tgz`);
  assert.equal(t.status, 200);
  assert.deepEqual(t.body, TGZ);
  assert.equal((await get(`${reg.url}@acme/widget/-/widget-1.1.0.tgz`)).status, 404);
});

test('ETag and Last-Modified revalidate to 304', async () => {
  const g = await get(`${reg.url}plain`);
  const etag = g.headers.etag!;
  assert.match(etag, /^"[^"]+"$/);
  assert.equal((await get(`${reg.url}plain`, { 'if-none-match': etag })).status, 304);
  assert.equal((await get(`${reg.url}plain`, { 'if-none-match': '"other"' })).status, 200);
  const abbreviated = await get(`${reg.url}plain`, { accept: ABBREVIATED, 'if-none-match': etag });
  assert.equal(abbreviated.status, 200, 'the abbreviated representation has its own ETag');
  const w = await get(`${reg.url}@acme%2fwidget`);
  const lm = w.headers['last-modified']!;
  assert.equal(new Date(lm).toISOString(), '2021-06-01T00:00:00.000Z');
  assert.equal((await get(`${reg.url}@acme%2fwidget`, { 'if-modified-since': lm })).status, 304);
  assert.equal((await get(`${reg.url}@acme%2fwidget`, { 'if-modified-since': 'Fri, 01 Jan 2021 00:00:00 GMT' })).status, 200);
});

test('gzip when accepted, identity otherwise; connections are kept alive', async () => {
  const plain = await get(`${reg.url}plain`);
  assert.equal(plain.headers['content-encoding'], undefined);
  const gz = await get(`${reg.url}plain`, { 'accept-encoding': 'gzip, deflate' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(gz.body), plain.body);
  assert.equal(gz.reusedSocket, true);
});

test('unknown names and paths are 404 {"error":"Not found"}', async () => {
  const g = await get(`${reg.url}no-such-package`);
  assert.equal(g.status, 404);
  assert.deepEqual(json(g), { error: 'Not found' });
  assert.equal((await get(`${reg.url}plain/1.0.0/extra`)).status, 404);
  assert.equal((await get(`${reg.url}%E0%A4%A`)).status, 404);
});

test('latency delays every response', async () => {
  reg.setLatency(120);
  const t0 = performance.now();
  await get(`${reg.url}plain`);
  assert.ok(performance.now() - t0 >= 110);
  reg.setLatency(0);
  const t1 = performance.now();
  await get(`${reg.url}plain`);
  assert.ok(performance.now() - t1 < 110);
});

test('status faults with Retry-After, consumed in order by matching requests', async () => {
  reg.addFault({ match: 'plain', status: 503, retryAfter: 2, times: 2 });
  reg.addFault({ match: /widget/, retryAfter: 'Wed, 21 Oct 2099 07:28:00 GMT' });
  const w = await get(`${reg.url}@acme%2fwidget`);
  assert.equal(w.status, 429);
  assert.equal(w.headers['retry-after'], 'Wed, 21 Oct 2099 07:28:00 GMT');
  assert.equal((await get(`${reg.url}@acme%2fwidget`)).status, 200);
  for (let i = 0; i < 2; i++) {
    const g = await get(`${reg.url}plain`);
    assert.equal(g.status, 503);
    assert.equal(g.headers['retry-after'], '2');
  }
  assert.equal((await get(`${reg.url}plain`)).status, 200);
});

test('a fault without match and with times Infinity hits everything until cleared', async () => {
  reg.addFault({ status: 500, times: Infinity });
  assert.equal((await get(`${reg.url}plain`)).status, 500);
  assert.equal((await get(`${reg.url}@acme/widget/-/widget-1.0.0.tgz`)).status, 500);
  reg.clearFaults();
  assert.equal((await get(`${reg.url}plain`)).status, 200);
});

test('connection reset before headers and in the middle of the body', async () => {
  reg.addFault({ match: 'plain', reset: 'before-headers' });
  await assert.rejects(get(`${reg.url}plain`));
  reg.addFault({ match: 'plain', reset: 'mid-body' });
  await assert.rejects(get(`${reg.url}plain`));
  assert.equal((await get(`${reg.url}plain`)).status, 200);
  assert.deepEqual(reg.log.map((e) => e.status), [0, 200, 200]);
});

test('truncated body and truncated gzip end cleanly but do not parse', async () => {
  reg.addFault({ match: 'plain', truncate: true, times: 2 });
  const g = await get(`${reg.url}plain`);
  assert.equal(g.status, 200);
  assert.throws(() => json(g));
  const z = await get(`${reg.url}plain`, { 'accept-encoding': 'gzip' });
  assert.throws(() => gunzipSync(z.body));
});

test('slow body arrives whole, late', async () => {
  const whole = await get(`${reg.url}plain`);
  reg.addFault({ match: '/plain', slowBodyMs: 150 });
  const t0 = performance.now();
  const g = await get(`${reg.url}plain`);
  assert.ok(performance.now() - t0 >= 140);
  assert.deepEqual(g.body, whole.body);
});

test('invalid JSON, gzipped or not', async () => {
  reg.addFault({ match: 'plain', invalidJson: true, times: 2 });
  const g = await get(`${reg.url}plain`);
  assert.equal(g.status, 200);
  assert.throws(() => json(g));
  const z = await get(`${reg.url}plain`, { 'accept-encoding': 'gzip' });
  assert.throws(() => JSON.parse(gunzipSync(z.body).toString()));
});

test('redirect', async () => {
  reg.addFault({ match: 'plain', redirectTo: '/@acme%2fwidget' });
  const g = await get(`${reg.url}plain`);
  assert.equal(g.status, 302);
  assert.equal(g.headers.location, `${reg.url}@acme%2fwidget`);
  reg.addFault({ match: 'plain', redirectTo: 'http://127.0.0.1:1/x', status: 301 });
  assert.equal((await get(`${reg.url}plain`)).status, 301);
});

test('the request log records method, url, name, headers and status', async () => {
  await get(`${reg.url}@acme%2fwidget`, { authorization: 'Bearer abc' });
  await get(`${reg.url}nope`);
  assert.equal(reg.log.length, 2);
  const [a, b] = reg.log;
  assert.equal(a.method, 'GET');
  assert.equal(a.url, '/@acme%2fwidget');
  assert.equal(a.name, '@acme/widget');
  assert.equal(a.headers.authorization, 'Bearer abc');
  assert.equal(a.status, 200);
  assert.ok(a.at <= b.at);
  assert.deepEqual([b.name, b.status], ['nope', 404]);
});

test('idle() waits for the requests being answered, including one whose client has gone', async () => {
  reg.setLatency(150);
  try {
    const from = reg.log.length;
    const answered = get(`${reg.url}plain`);
    // A client that gives up: the registry still answers (and logs) after its latency.
    const abandoned = request(`${reg.url}@acme%2fwidget`);
    abandoned.on('error', () => undefined);
    abandoned.end();
    await new Promise((ok) => setTimeout(ok, 20));
    abandoned.destroy();
    assert.equal(reg.log.length, from, 'nothing answered yet');
    await reg.idle();
    assert.deepEqual(reg.log.slice(from).map((e) => e.name).sort(), ['@acme/widget', 'plain']);
    await answered;
    await reg.idle(); // idle already: resolves at once
  } finally {
    reg.setLatency(0);
  }
});

test('requireToken answers 401 without the bearer token', async () => {
  const secured = await startTestRegistry({ store: dir, requireToken: 's3cret' });
  try {
    const denied = await get(`${secured.url}plain`);
    assert.equal(denied.status, 401);
    assert.equal((await get(`${secured.url}plain`, { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await get(`${secured.url}plain`, { authorization: 'Bearer s3cret' })).status, 200);
    assert.deepEqual(secured.log.map((e) => e.status), [401, 401, 200]);
  } finally {
    await secured.close();
  }
});

test('npm resolves a recorded fixture against the store (NPM-TREE E3b: alias changes the set)', async () => {
  const fixtures = await startFixtureRegistry();
  try {
    const r = await npmResolve(fixtureDir('tiny-e3b'), fixtures.url);
    assert.equal(r.rc, 0, r.stderr);
    assert.deepEqual([...r.set].sort(), ['humanize-ms@1.2.1', 'ms@2.0.0', 'ms@2.1.3', 'zdebug@2.6.9']);
    assert.equal(fixtures.log.filter((e) => e.status === 404).length, 0);
  } finally {
    await fixtures.close();
  }
});
