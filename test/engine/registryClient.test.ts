import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import tlsModule from 'node:tls';
import dnsModule from 'node:dns';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { CacheWriter } from '../../server/src/engine/cache/cacheWriter';
import { loadNpmConfig, type NpmConfig } from '../../server/src/engine/npmrc';
import { bareHost, createRegistryClient, type RegistryClient, type RegistryClientOptions } from '../../server/src/engine/registryClient';
import { RegistryError, type EngineEvent, type Packument } from '../../server/src/engine/types';
import { startTestRegistry, type TestRegistry } from '../../server/src/testRegistry/server';
import type { PackumentStore } from '../../server/src/testRegistry/store';
import { CERT, KEY } from '../helpers/tlsCert';


function doc(name: string, versions = ['1.0.0', '1.1.0']): Packument {
  return {
    name,
    'dist-tags': { latest: versions[versions.length - 1] },
    versions: Object.fromEntries(
      versions.map((v) => [v, { name, version: v, dependencies: { dep: '^1.0.0' }, dist: { tarball: `x/${name}-${v}.tgz`, integrity: 'sha512-x' } }]),
    ),
    time: { modified: '2024-01-01T00:00:00.000Z' },
  };
}

function memoryStore(names: string[], onLookup?: () => Promise<void>): PackumentStore {
  return {
    async packument(name) {
      await onLookup?.();
      return names.includes(name) ? doc(name) : undefined;
    },
    tarball: async () => undefined,
  };
}

/** A config from explicit values only: an empty home, no global file, no environment. */
function config(cli: Record<string, string>): NpmConfig {
  const root = mkdtempSync(join(tmpdir(), 'citadel-rc-'));
  try {
    return loadNpmConfig({ cwd: root, home: root, env: { npm_config_prefix: root }, cli: { 'fetch-retry-mintimeout': '1', 'fetch-retry-maxtimeout': '5', ...cli } });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function withRegistry(
  names: string[],
  fn: (reg: TestRegistry, client: (cli?: Record<string, string>, o?: RegistryClientOptions) => RegistryClient, events: EngineEvent[]) => Promise<void>,
  extra: { requireToken?: string; onLookup?: () => Promise<void> } = {},
): Promise<void> {
  const reg = await startTestRegistry({ store: memoryStore(names, extra.onLookup), requireToken: extra.requireToken });
  const events: EngineEvent[] = [];
  const clients: RegistryClient[] = [];
  try {
    await fn(
      reg,
      (cli = {}, o = {}) => {
        const c = createRegistryClient(config({ registry: reg.url, ...cli }), { onEvent: (e) => events.push(e), ...o });
        clients.push(c);
        return c;
      },
      events,
    );
  } finally {
    for (const c of clients) c.close();
    await reg.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<RegistryError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RegistryError, String(err));
  assert.equal(err.code, code, err.message);
  return err;
}

test('abbreviated Accept, gzip, etag revalidation and events', async () => {
  await withRegistry(['ms', '@scope/pkg'], async (reg, client, events) => {
    const c = client();
    const r = await c.fetchPackument('ms');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.packument!.versions), ['1.0.0', '1.1.0']);
    assert.ok(r.etag);
    const req = reg.log[0];
    assert.match(String(req.headers.accept), /^application\/vnd\.npm\.install-v1\+json; q=1\.0, application\/json; q=0\.8, \*\/\*$/);
    assert.match(String(req.headers['accept-encoding']), /gzip/);
    assert.match(String(req.headers['user-agent']), /^citadel\/\S+ node\/v\d+/);
    // Bytes are wire bytes: the gzip of the abbreviated body.
    assert.ok(r.bytes > 0 && r.bytes < JSON.stringify(r.packument).length);

    const again = await c.fetchPackument('ms', { etag: r.etag });
    assert.equal(again.status, 304);
    assert.equal(reg.log[1].headers['if-none-match'], r.etag);

    await c.packument('@scope/pkg');
    assert.equal(reg.log[2].url, '/@scope%2fpkg');

    const end = events.find((e) => e.type === 'fetchEnd');
    assert.ok(end && end.type === 'fetchEnd' && end.status === 200 && end.bytes === r.bytes && end.attempt === 1);
    assert.ok(end.totalMs >= end.ttfbMs && end.queuedMs >= 0);
    assert.ok(events.some((e) => e.type === 'parse' && e.name === 'ms'));
    assert.ok(events.some((e) => e.type === 'fetchStart' && e.url === `${reg.url}ms`));
    const wire = events.reduce((sum, e) => sum + (e.type === 'fetchEnd' ? e.bytes : 0), 0);
    assert.deepEqual(c.stats(), { requests: 3, bytes: wire, retries: 0, errors: 0 });
  });
});

test('a registry that sends the full document is projected to manifests', async () => {
  const full = {
    _id: 'legacy',
    name: 'legacy',
    readme: 'x'.repeat(1000),
    'dist-tags': { latest: '1.0.0' },
    time: { modified: '2020-01-01T00:00:00.000Z', '1.0.0': '2020-01-01T00:00:00.000Z' },
    versions: {
      '1.0.0': {
        name: 'legacy',
        version: '1.0.0',
        description: 'dropped',
        scripts: { postinstall: 'node x', test: 'y' },
        bundledDependencies: ['a'],
        license: { type: 'MIT', url: 'x' },
        dependencies: { a: '1' },
        dist: { tarball: 't', shasum: 's', signatures: [] },
      },
    },
  };
  const server = http.createServer((_req, res) => {
    const body = gzipSync(JSON.stringify(full));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const c = createRegistryClient(config({ registry: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  try {
    const { packument } = await c.packument('legacy');
    assert.deepEqual(packument.versions['1.0.0'], {
      name: 'legacy',
      version: '1.0.0',
      dependencies: { a: '1' },
      bundleDependencies: ['a'],
      license: 'MIT',
      hasInstallScript: true,
      dist: { tarball: 't', shasum: 's' },
    });
    assert.equal(packument.modified, '2020-01-01T00:00:00.000Z');
    assert.equal('readme' in packument, false);
  } finally {
    c.close();
    server.close();
  }
});

test('404 is E404; 401 is EAUTH naming the registry, never the token', async () => {
  await withRegistry(['ms'], async (reg, client, events) => {
    const noCreds = await rejectsWith(client().packument('ms'), 'EAUTH');
    assert.match(noCreds.message, /127\.0\.0\.1/);
    const key = `//127.0.0.1:${reg.port}/:_authToken`;
    const wrong = await rejectsWith(client({ [key]: 'wrong-token' }).packument('ms'), 'EAUTH');
    assert.equal(wrong.message.includes('wrong-token'), false);
    assert.equal(JSON.stringify(events).includes('wrong-token'), false);
    const good = client({ [key]: 'good-token' });
    assert.equal((await good.packument('ms')).packument.name, 'ms');
    await rejectsWith(good.packument('nope'), 'E404');
  }, { requireToken: 'good-token' });
});

test('a token keyed to one registry is never sent to another, nor after a redirect to it', async () => {
  await withRegistry(['ms'], async (a, client) => {
    const b = await startTestRegistry({ store: memoryStore(['ms', '@b/x']) });
    try {
      const c = client({ '@b:registry': b.url, [`//127.0.0.1:${a.port}/:_authToken`]: 'token-a' });
      await c.packument('@b/x');
      assert.equal(b.log[0].headers.authorization, undefined);

      a.addFault({ match: 'ms', redirectTo: `${b.url}ms` });
      const r = await c.packument('ms');
      assert.equal(r.packument.name, 'ms');
      assert.equal(a.log[0].headers.authorization, 'Bearer token-a');
      assert.equal(a.log[0].status, 302);
      assert.equal(b.log[1].url, '/ms');
      assert.equal(b.log[1].headers.authorization, undefined);
    } finally {
      await b.close();
    }
  }, { requireToken: 'token-a' });
});

test('retries 5xx bursts, resets, truncated gzip; gives up after the configured attempts', async () => {
  await withRegistry(['ms'], async (reg, client, events) => {
    const c = client({ 'fetch-retries': '3' });
    reg.addFault({ status: 500, times: 2 });
    assert.equal((await c.packument('ms')).packument.name, 'ms');
    assert.deepEqual(reg.log.map((l) => l.status), [500, 500, 200]);
    assert.equal(events.filter((e) => e.type === 'retry').length, 2);

    for (const fault of [{ reset: 'before-headers' as const }, { reset: 'mid-body' as const }, { truncate: true }]) {
      reg.resetLog();
      reg.addFault(fault);
      assert.equal((await c.packument('ms')).packument.name, 'ms', JSON.stringify(fault));
      assert.equal(reg.log.length, 2, JSON.stringify(fault));
    }

    reg.resetLog();
    reg.addFault({ status: 503, times: Infinity });
    const err = await rejectsWith(client({ 'fetch-retries': '2' }).packument('ms'), 'EREGISTRY');
    assert.equal(err.status, 503);
    assert.equal(reg.log.length, 3);
    assert.equal(c.stats().retries, 5);
  });
});

test('429 honours Retry-After', async () => {
  await withRegistry(['ms'], async (reg, client, events) => {
    reg.addFault({ status: 429, retryAfter: 1 });
    await client().packument('ms');
    const retry = events.find((e) => e.type === 'retry');
    assert.ok(retry && retry.type === 'retry');
    assert.equal(retry.delayMs, 1000);
    assert.ok(reg.log[1].at - reg.log[0].at >= 900);
  });
});

test('invalid JSON is EINVALIDJSON and not retried, a truncated body is retried, handled inline or on the cache thread', async () => {
  const thread = CacheWriter.shared()!;
  for (const o of [{}, { parse: (w: Buffer, e: string, a: boolean, n: string, m: number) => thread.parse(w, e, a, n, m) }]) {
    await withRegistry(['ms'], async (reg, client) => {
      reg.addFault({ invalidJson: true });
      const err = await rejectsWith(client({}, o).packument('ms'), 'EINVALIDJSON');
      assert.match(err.message, /sent invalid JSON for ms/);
      assert.equal(reg.log.length, 1);
      assert.equal((await client({}, o).packument('ms')).packument.versions['1.1.0'].dependencies?.dep, '^1.0.0');
      // A truncated gzip body is a network failure, retried, wherever it is decoded.
      reg.resetLog();
      reg.addFault({ truncate: true });
      assert.equal((await client({}, o).packument('ms')).packument.name, 'ms');
      assert.equal(reg.log.length, 2);
    });
  }
});

test('a body past maxBodyBytes, on the wire or decoded (a gzip bomb), is refused with a registry error and not retried, inline or on the cache thread', async () => {
  const thread = CacheWriter.shared()!;
  for (const o of [{}, { parse: (w: Buffer, e: string, a: boolean, n: string, m: number) => thread.parse(w, e, a, n, m) }]) {
    await withRegistry(['ms'], async (reg, client, events) => {
      await client({}, o).packument('ms');
      const end = events.find((e) => e.type === 'fetchEnd');
      assert.ok(end?.type === 'fetchEnd' && end.decodedBytes > end.bytes + 10, JSON.stringify(end));
      const { bytes, decodedBytes } = end;
      reg.resetLog();
      const decoded = await rejectsWith(client({}, { ...o, maxBodyBytes: Math.floor((bytes + decodedBytes) / 2) }).packument('ms'), 'EREGISTRY');
      assert.match(decoded.message, /gzip body of ms decodes to more than \d+ bytes/);
      assert.equal(reg.log.length, 1);
      reg.resetLog();
      const wire = await rejectsWith(client({}, { ...o, maxBodyBytes: bytes - 1 }).packument('ms'), 'EREGISTRY');
      assert.match(wire.message, /the body of ms passed \d+ bytes/);
      assert.equal(reg.log.length, 1);
      // The same client is fine with a document within its limit.
      assert.equal((await client({}, { ...o, maxBodyBytes: decodedBytes }).packument('ms')).packument.name, 'ms');
    });
  }
});

test('slow headers and stalled bodies time out', async () => {
  await withRegistry(['ms'], async (reg, client) => {
    const c = client({ 'fetch-retries': '0' }, { timeoutMs: 100 });
    reg.addFault({ slowBodyMs: 400 });
    await rejectsWith(c.packument('ms'), 'ETIMEDOUT');
    reg.setLatency(400);
    await rejectsWith(c.packument('ms'), 'ETIMEDOUT');
  });
});

test('a body that keeps arriving is not timed out, though it takes longer than the timeout; one that stalls is', async () => {
  // Every request gets its own deadline: the body's is renewed by each chunk (80 ms apart, timeout 200 ms).
  const body = Buffer.from(JSON.stringify(doc('slow')));
  const server = http.createServer(async (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    const stall = req.url?.includes('stall');
    for (let i = 0; i < 5; i++) {
      res.write(body.subarray((i * body.length) / 5, ((i + 1) * body.length) / 5));
      if (i < 4) await new Promise((ok) => setTimeout(ok, stall && i === 2 ? 700 : 80));
    }
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const c = createRegistryClient(config({ registry: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'fetch-retries': '0' }), { timeoutMs: 200 });
  try {
    const [slow, stalled] = await Promise.allSettled([c.packument('slow'), c.packument('stall')]);
    assert.equal(slow.status, 'fulfilled', slow.status === 'rejected' ? String(slow.reason) : '');
    assert.ok(stalled.status === 'rejected' && stalled.reason instanceof RegistryError && stalled.reason.code === 'ETIMEDOUT', String(stalled.status));
  } finally {
    c.close();
    server.close();
  }
});

test('single-flight: concurrent calls share one request; a failure is evicted', async () => {
  await withRegistry(['ms'], async (reg, client) => {
    const c = client({ 'fetch-retries': '0' });
    const all = await Promise.all(Array.from({ length: 10 }, () => c.packument('ms')));
    assert.equal(reg.log.length, 1);
    assert.ok(all.every((r) => r.packument === all[0].packument));

    reg.resetLog();
    reg.addFault({ status: 500 });
    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => c.packument('ms')));
    assert.ok(failed.every((r) => r.status === 'rejected'));
    assert.equal(reg.log.length, 1);
    assert.equal((await c.packument('ms')).packument.name, 'ms');
    assert.equal(reg.log.length, 2);
  });
});

test('requests in flight never exceed the concurrency bound', async () => {
  const names = Array.from({ length: 12 }, (_, i) => `p${i}`);
  let active = 0;
  let max = 0;
  // The store is called once per request, inside the server, so it sees the server-side concurrency.
  const onLookup = async () => {
    max = Math.max(max, ++active);
    await delay(20);
    active--;
  };
  await withRegistry(names, async (_reg, client, events) => {
    const c = client({}, { concurrency: 3 });
    await Promise.all(names.map((n) => c.packument(n)));
    assert.equal(max, 3);
    assert.ok(events.some((e) => e.type === 'fetchEnd' && e.queuedMs > 0));
  }, { onLookup });
});

test('abort: in flight, while queued, and one waiter of a shared request', async () => {
  await withRegistry(['ms', 'other'], async (reg, client, events) => {
    reg.setLatency(300);
    const c = client({}, { concurrency: 1 });
    const inFlight = new AbortController();
    const p = c.fetchPackument('ms', { signal: inFlight.signal });
    const queued = new AbortController();
    const q = c.fetchPackument('other', { signal: queued.signal });
    queued.abort();
    await rejectsWith(q, 'EABORTED');
    inFlight.abort();
    await rejectsWith(p, 'EABORTED');
    assert.equal(events.filter((e) => e.type === 'fetchStart' && e.name === 'other').length, 1);

    const leaver = new AbortController();
    const a = c.fetchPackument('other', { signal: leaver.signal });
    const b = c.packument('other');
    leaver.abort();
    await rejectsWith(a, 'EABORTED');
    assert.equal((await b).packument.name, 'other');
  });
});

test('an IPv6 literal registry is connected to without the brackets URL keeps (the address lookup failed with ENOTFOUND)', () => {
  assert.equal(bareHost(new URL('http://[::1]:4873/')), '::1');
  assert.equal(bareHost(new URL('https://[2001:db8::1]/npm/')), '2001:db8::1');
  assert.equal(bareHost(new URL('https://registry.npmjs.org/')), 'registry.npmjs.org');
  assert.equal(bareHost(new URL('http://127.0.0.1:4873/')), '127.0.0.1');
});

test('after close() nothing starts: a fetch is refused with EABORTED and sends nothing', async () => {
  await withRegistry(['ms'], async (reg, client) => {
    const c = client({});
    await c.packument('ms');
    c.close();
    await rejectsWith(c.packument('ms'), 'EABORTED');
    await delay(50);
    await reg.idle();
    assert.equal(reg.log.length, 1);
    assert.equal(c.stats().requests, 1);
  });
});

test('abort after a request has its slot and before it is sent: it never reaches the registry', async () => {
  await withRegistry(['ms'], async (reg, client) => {
    const c = client({});
    const ctl = new AbortController();
    // The slot is granted at once, but the request goes out a turn later (it yields first): abort in between.
    const p = c.fetchPackument('ms', { signal: ctl.signal });
    ctl.abort();
    await rejectsWith(p, 'EABORTED');
    // Time for a request to arrive, then for its answer to be logged.
    await delay(50);
    await reg.idle();
    assert.equal(reg.log.length, 0);
    assert.equal(c.stats().requests, 0);
  });
});

/** A forward proxy (absolute-URI GETs) and CONNECT tunnel on loopback, recording what it was asked. */
async function startProxy(): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end();
  });
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const up = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket).pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

test('proxy: absolute URI for http, CONNECT tunnel for https, noproxy bypass, ca and strict-ssl', async () => {
  const proxy = await startProxy();
  const secure = https.createServer({ key: KEY, cert: CERT }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.npm.install-v1+json' });
    res.end(JSON.stringify(doc('tls-pkg')));
  });
  secure.listen(0, '127.0.0.1');
  await once(secure, 'listening');
  const secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/`;
  const clients: RegistryClient[] = [];
  const make = (cli: Record<string, string>) => {
    const c = createRegistryClient(config(cli));
    clients.push(c);
    return c;
  };
  try {
    await withRegistry(['ms'], async (reg) => {
      await make({ registry: reg.url, proxy: proxy.url }).packument('ms');
      assert.deepEqual(proxy.seen, [`GET ${reg.url}ms`]);
      await make({ registry: reg.url, proxy: proxy.url, noproxy: '127.0.0.1' }).packument('ms');
      assert.equal(proxy.seen.length, 1);
    });

    const r = await make({ registry: secureUrl, 'https-proxy': proxy.url, ca: CERT }).packument('tls-pkg');
    assert.equal(r.packument.name, 'tls-pkg');
    assert.equal(proxy.seen[1], `CONNECT ${new URL(secureUrl).host}`);

    await rejectsWith(make({ registry: secureUrl, 'fetch-retries': '0' }).packument('tls-pkg'), 'ENETWORK');
    assert.equal((await make({ registry: secureUrl, 'strict-ssl': 'false' }).packument('tls-pkg')).packument.name, 'tls-pkg');
  } finally {
    for (const c of clients) c.close();
    secure.close();
    secure.closeAllConnections();
    await proxy.close();
  }
});

test('HTTP/2 prior knowledge (h2c): the same answers, 304s, retried stream resets and faults, timeouts, aborts, scoped credentials', async () => {
  const reg = await startTestRegistry({ store: memoryStore(['ms', '@scope/pkg']), http2: true, requireToken: 'tok' });
  const h2port = new URL(reg.h2url!).port;
  const clients: RegistryClient[] = [];
  const make = (cli: Record<string, string>, o: RegistryClientOptions = {}) => {
    const c = createRegistryClient(config(cli), { http2: 'prior-knowledge', ...o });
    clients.push(c);
    return c;
  };
  try {
    const c = make({ registry: reg.h2url!, [`//127.0.0.1:${h2port}/:_authToken`]: 'tok', 'fetch-retries': '3' });
    const r = await c.fetchPackument('ms');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.packument!.versions), ['1.0.0', '1.1.0']);
    assert.equal(reg.log[0].httpVersion, '2.0');
    assert.equal(reg.log[0].headers.authorization, 'Bearer tok');
    assert.match(String(reg.log[0].headers['accept-encoding']), /gzip/);
    assert.equal((await c.fetchPackument('ms', { etag: r.etag })).status, 304);
    assert.equal((await c.packument('@scope/pkg')).packument.name, '@scope/pkg');
    assert.equal(reg.log[2].url, '/@scope%2fpkg');

    // A reset over HTTP/2 is RST_STREAM on one stream: retried, like a reset connection.
    for (const fault of [{ status: 500 }, { reset: 'before-headers' as const }, { reset: 'mid-body' as const }, { truncate: true }]) {
      reg.resetLog();
      reg.addFault(fault);
      assert.equal((await c.packument('ms')).packument.name, 'ms', JSON.stringify(fault));
      assert.deepEqual(reg.log.map((l) => l.httpVersion), ['2.0', '2.0'], JSON.stringify(fault));
    }
    // Many at once share the session.
    reg.resetLog();
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => c.fetchPackument(i % 2 ? 'ms' : '@scope/pkg', { etag: `"${i}"` })));
    assert.ok(many.every((x) => x.status === 200));
    assert.equal(reg.log.length, 20);

    // The token is keyed to the h2c port: the HTTP/1.1 port of the same host gets none (and refuses).
    await rejectsWith(make({ registry: reg.url, [`//127.0.0.1:${h2port}/:_authToken`]: 'tok', 'fetch-retries': '0' }, { http2: 'off' }).packument('ms'), 'EAUTH');
    // Prior knowledge towards a server that speaks only HTTP/1.1 fails, and does not hang.
    await rejectsWith(make({ registry: reg.url, 'fetch-retries': '0' }).packument('ms'), 'ENETWORK');

    const slow = make({ registry: reg.h2url!, [`//127.0.0.1:${h2port}/:_authToken`]: 'tok', 'fetch-retries': '0' }, { timeoutMs: 100 });
    reg.addFault({ slowBodyMs: 400 });
    await rejectsWith(slow.packument('ms'), 'ETIMEDOUT');
    reg.setLatency(400);
    await rejectsWith(slow.packument('ms'), 'ETIMEDOUT');
    const controller = new AbortController();
    const pending = c.packument('ms', controller.signal);
    setTimeout(() => controller.abort(), 50);
    await rejectsWith(pending, 'EABORTED');
    reg.setLatency(0);
    assert.equal((await c.packument('ms')).packument.name, 'ms');
  } finally {
    for (const c of clients) c.close();
    await reg.close();
  }
});

test('HTTP/2 auto: where an https registry offers h2 (ALPN); HTTP/1.1 where it does not, over http, through a proxy, and when off; a session that goes away is replaced', async () => {
  const sessions: http2.ServerHttp2Session[] = [];
  const versions: string[] = [];
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    versions.push(req.httpVersion);
    res.writeHead(200, { 'content-type': 'application/vnd.npm.install-v1+json' });
    res.end(JSON.stringify(doc('tls-pkg')));
  };
  const both = http2.createSecureServer({ key: KEY, cert: CERT, allowHTTP1: true }, handler);
  both.on('session', (s) => sessions.push(s));
  const h1only = https.createServer({ key: KEY, cert: CERT }, handler);
  const proxy = await startProxy();
  for (const s of [both, h1only]) {
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
  }
  const url = (s: net.Server) => `https://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  const clients: RegistryClient[] = [];
  const make = (cli: Record<string, string>, http2Mode: RegistryClientOptions['http2'] = 'auto') => {
    const c = createRegistryClient(config({ ca: CERT, 'fetch-retries': '1', ...cli }), { http2: http2Mode });
    clients.push(c);
    return c;
  };
  try {
    const c = make({ registry: url(both) });
    await Promise.all([c.packument('tls-pkg'), c.packument('other')]);
    assert.deepEqual(versions, ['2.0', '2.0']);
    assert.equal(sessions.length, 1, 'both requests on one session');
    // The server ends the session: the next request opens another.
    await new Promise<void>((ok) => sessions[0].close(ok));
    assert.equal((await c.packument('again')).packument.name, 'tls-pkg');
    assert.equal(sessions.length, 2);
    assert.deepEqual(versions, ['2.0', '2.0', '2.0']);

    versions.length = 0;
    await make({ registry: url(h1only) }).packument('tls-pkg');
    await make({ registry: url(both) }, 'off').packument('tls-pkg');
    await make({ registry: url(both), 'https-proxy': proxy.url }).packument('tls-pkg');
    assert.deepEqual(versions, ['1.1', '1.1', '1.1']);
    assert.equal(proxy.seen[0], `CONNECT ${new URL(url(both)).host}`);
    await withRegistry(['ms'], async (reg) => {
      await make({ registry: reg.url }).packument('ms');
      assert.equal(reg.log[0].httpVersion, '1.1');
    });
    // strict-ssl holds on the ALPN connection too.
    await rejectsWith(make({ registry: url(both), ca: '', 'fetch-retries': '0' }).packument('tls-pkg'), 'ENETWORK');
  } finally {
    for (const c of clients) c.close();
    for (const s of [both, h1only]) s.close();
    h1only.closeAllConnections();
    for (const s of sessions) s.destroy();
    await proxy.close();
  }
});

test('one TLS context for every connection given a ca (npm cafile), not one per connection, and none over http', async () => {
  const secure = https.createServer({ key: KEY, cert: CERT }, (_req, res) => {
    // Held a moment, so that the requests in flight need connections of their own.
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/vnd.npm.install-v1+json' });
      res.end(JSON.stringify(doc('tls-pkg')));
    }, 30);
  });
  let connections = 0;
  secure.on('secureConnection', () => connections++);
  secure.listen(0, '127.0.0.1');
  await once(secure, 'listening');
  const registry = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/`;
  // Counted where Node's TLS code calls it, on the module object (the default import is that object).
  const original = tlsModule.createSecureContext;
  let contexts = 0;
  tlsModule.createSecureContext = (...args) => {
    contexts++;
    return original(...args);
  };
  const c = createRegistryClient(config({ registry, ca: CERT }), { http2: 'off', concurrency: 8 });
  try {
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => c.packument(n)));
    assert.ok(connections >= 2, `${connections} connections`);
    assert.ok(contexts <= 1, `${contexts} TLS contexts for ${connections} connections`);
    // None for an http:// registry, ca or not: building one parses the whole list.
    contexts = 0;
    await withRegistry(['ms'], async (reg) => {
      const plain = createRegistryClient(config({ registry: reg.url, ca: CERT }));
      await plain.packument('ms');
      plain.close();
    });
    assert.equal(contexts, 0);
  } finally {
    tlsModule.createSecureContext = original;
    c.close();
    secure.close();
    secure.closeAllConnections();
  }
});

test('one DNS lookup per host for all of a client\'s connections; a failed lookup is asked again', async () => {
  const reg = await startTestRegistry({ store: memoryStore(['a', 'b', 'c', 'd', 'e', 'f']) });
  reg.setLatency(30); // so that the requests in flight need connections of their own
  let connections = 0;
  const server = net.createServer(); // counts the client's sockets through a relay to the registry
  server.on('connection', (socket) => {
    connections++;
    const upstream = net.connect(reg.port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // A name under .test (never in DNS) that this lookup answers with 127.0.0.1: the client's connections
  // can only reach it through the lookup the client passes to its sockets.
  const original = dnsModule.lookup;
  const asked: string[] = [];
  dnsModule.lookup = ((hostname: string, _options: unknown, callback: (e: Error | null, addresses?: { address: string; family: number }[]) => void) => {
    asked.push(hostname);
    const failed = asked.length === 1 && Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' });
    process.nextTick(() => (failed ? callback(failed) : callback(null, [{ address: '127.0.0.1', family: 4 }])));
  }) as unknown as typeof original;
  const registry = `http://citadel-registry.test:${(server.address() as AddressInfo).port}/`;
  const c = createRegistryClient(config({ registry, 'fetch-retries': '2' }), { concurrency: 8 });
  try {
    await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => c.packument(n)));
    assert.ok(connections >= 2, `${connections} connections`);
    assert.deepEqual(asked, ['citadel-registry.test', 'citadel-registry.test'], 'the failure, then one answer for every connection');
  } finally {
    dnsModule.lookup = original;
    c.close();
    server.close();
    await reg.close();
  }
});

test('HTTP/2: a connection that never completes its handshake times out like a request, for auto (TLS) and prior-knowledge (h2c)', { timeout: 10_000 }, async () => {
  const held: net.Socket[] = [];
  const silent = net.createServer((s) => void held.push(s)); // accepts, then says nothing
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const port = (silent.address() as AddressInfo).port;
  const clients: RegistryClient[] = [];
  try {
    for (const [registry, mode] of [[`https://127.0.0.1:${port}/`, 'auto'], [`http://127.0.0.1:${port}/`, 'prior-knowledge']] as const) {
      const c = createRegistryClient(config({ registry, 'fetch-retries': '0' }), { http2: mode, timeoutMs: 150 });
      clients.push(c);
      const t0 = performance.now();
      const err = await rejectsWith(c.packument('ms'), 'ETIMEDOUT');
      assert.match(err.message, /^no (connection to|response from) 127\.0\.0\.1:\d+ within 150 ms/);
      assert.ok(performance.now() - t0 < 2000);
    }
  } finally {
    for (const c of clients) c.close();
    for (const s of held) s.destroy();
    silent.close();
  }
});
