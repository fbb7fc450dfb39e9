// The lean HTTP/1.1 client (server/src/engine/http1.ts) against a raw TCP server that writes scripted
// bytes, split where a parser is most likely to go wrong: what node:http's parser would catch, this one must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { H1Pool, type Exchange } from '../../server/src/engine/http1';
import { CERT, KEY } from '../helpers/tlsCert';

/** The parts of one scripted answer, written one by one with a pause between them (separate TCP segments). */
type Script = (string | Buffer)[] | 'hang';

interface Scripted {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Every request's head, in arrival order. */
  requests: string[];
  /** Sockets closed by the client (seen as 'end' on the server). */
  closedByClient: number;
  close(): Promise<void>;
}

/** A server answering the n-th request (over all connections) with scripts[n]; a script may end its socket with 'END'. */
async function scripted(scripts: Script[], wrap?: (s: net.Server) => net.Server): Promise<Scripted> {
  const sockets = new Set<net.Socket>();
  const state: Scripted = { port: 0, connections: 0, requests: [], closedByClient: 0, close: async () => undefined };
  const onSocket = (socket: net.Socket): void => {
    state.connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    let buffered = '';
    socket.on('end', () => state.closedByClient++);
    socket.on('error', () => undefined);
    socket.on('data', async (b) => {
      buffered += b.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        state.requests.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 4);
        const script = scripts[state.requests.length - 1];
        if (script === 'hang') continue;
        for (const part of script) {
          if (part === 'END') socket.end();
          else socket.write(part);
          await delay(5);
        }
      }
    });
  };
  const server = wrap ? wrap(net.createServer()) : net.createServer();
  server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', onSocket);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  state.port = (server.address() as AddressInfo).port;
  state.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((ok) => server.close(() => ok()));
  };
  return state;
}

function pool(port: number, protocol = 'http:', extra: Partial<ConstructorParameters<typeof H1Pool>[0]> = {}): H1Pool {
  return new H1Pool({ protocol, hostname: '127.0.0.1', port, lookup: dns.lookup as unknown as net.LookupFunction, ...extra });
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One GET read to its end; `lateMs` attaches the body's reader only that long after the response. */
function get(p: H1Pool, path = '/pkg', headers: Record<string, string> = {}, lateMs = 0): Promise<Answer> {
  const x: Exchange = p.get(path, 'registry.test', headers);
  return new Promise((resolve, reject) => {
    x.once('error', reject);
    x.once('response', async () => {
      if (lateMs) await delay(lateMs);
      const chunks: Buffer[] = [];
      x.on('data', (c: Buffer) => chunks.push(c));
      x.once('end', () => resolve({ status: x.statusCode, headers: x.headers, body: Buffer.concat(chunks).toString() }));
      x.once('close', () => {
        if (!x.complete) reject(new Error('closed before complete'));
      });
    });
  });
}

async function rejected(p: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await p;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  assert.fail('expected a failure');
}

const ok = (body: string, extra = ''): string[] => [`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}`, `\r\n${body.slice(0, 3)}`, body.slice(3)];

test('content-length and chunked bodies split at every awkward place; the socket is reused', { timeout: 10_000 }, async () => {
  const chunked = [
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nETag: "v1"\r\nx-a: 1\r\nX-A: 2\r\n\r\n',
    '5\r\nhel',
    'lo\r',
    '\n1',
    '0;ext=1\r\n0123456789abcdef\r\n',
    '0\r\ntrailer: x\r',
    '\n\r\n',
  ];
  const s = await scripted([ok('{"name":"a"}'), chunked, ok('late reader')]);
  const p = pool(s.port);
  try {
    const a = await get(p, '/a', { accept: 'application/json', authorization: 'Bearer t' });
    assert.deepEqual([a.status, a.body], [200, '{"name":"a"}']);
    const b = await get(p, '/b');
    assert.equal(b.body, 'hello0123456789abcdef');
    assert.equal(b.headers.etag, '"v1"');
    assert.equal(b.headers['x-a'], '1, 2');
    // A reader that comes late still gets every byte: the chunks were held.
    assert.equal((await get(p, '/c', {}, 30)).body, 'late reader');
    assert.equal(s.connections, 1);
    assert.match(s.requests[0], /^GET \/a HTTP\/1\.1\r\nhost: registry\.test\r\nconnection: keep-alive\r\naccept: application\/json\r\nauthorization: Bearer t$/);
  } finally {
    p.destroy();
    await s.close();
  }
});

test('interim 1xx answers, 204 and 304 without a body; bodies framed by the connection end; connection: close', { timeout: 10_000 }, async () => {
  const s = await scripted([
    ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\n', ...ok('after interim')],
    ['HTTP/1.1 304 Not Modified\r\netag: "v"\r\n\r\n'],
    ['HTTP/1.1 204 No Content\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\n\r\nuntil', ' the end', 'END'],
    ok('closing', 'connection: close\r\n'),
    ok('fresh'),
  ]);
  const p = pool(s.port);
  try {
    assert.equal((await get(p)).body, 'after interim');
    const r304 = await get(p);
    assert.deepEqual([r304.status, r304.body, r304.headers.etag], [304, '', '"v"']);
    assert.deepEqual([(await get(p)).status, s.connections], [204, 1]);
    assert.equal((await get(p)).body, 'until the end');
    assert.equal(s.connections, 1);
    assert.equal((await get(p)).body, 'closing');
    assert.equal(s.connections, 2, 'a body framed by the end of the connection needs a new one');
    assert.equal((await get(p)).body, 'fresh');
    assert.equal(s.connections, 3, 'connection: close is honoured');
  } finally {
    p.destroy();
    await s.close();
  }
});

test('malformed answers fail with EPROTO and their socket is dropped', { timeout: 10_000 }, async () => {
  const cases: [string, Script][] = [
    ['bad status line', ['HTTP/2 200 OK\r\n\r\n']],
    ['bad header line', ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n']],
    ['folded header', ['HTTP/1.1 200 OK\r\nx: a\r\n  b\r\n\r\n']],
    ['disagreeing lengths', ['HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabcd']],
    ['bad content-length', ['HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n']],
    ['bad chunk size', ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n']],
    ['chunk without CRLF', ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY']],
    ['head too large', ['HTTP/1.1 200 OK\r\n', `x-big: ${'a'.repeat(70 * 1024)}`]],
    ['protocol switch', ['HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n']],
  ];
  const s = await scripted([...cases.map(([, script]) => script), ok('still fine')]);
  const p = pool(s.port);
  try {
    for (const [what] of cases) {
      const e = await rejected(get(p));
      assert.equal(e.code, 'EPROTO', what);
      assert.match(e.message, /^invalid response: /, what);
    }
    assert.equal((await get(p)).body, 'still fine');
    assert.equal(s.connections, cases.length + 1);
  } finally {
    p.destroy();
    await s.close();
  }
});

test('a connection lost mid-body or before the answer fails the exchange; an idle socket the server ends leaves the pool', { timeout: 10_000 }, async () => {
  const s = await scripted([
    ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', 'END'],
    ['END'],
    [...ok('served'), 'END'],
    ok('on a new socket'),
  ]);
  const p = pool(s.port);
  try {
    const mid = await rejected(get(p));
    assert.equal(mid.code, 'ECONNRESET');
    assert.match(mid.message, /closed before the response was complete/);
    const before = await rejected(get(p));
    assert.deepEqual([before.code, before.message], ['ECONNRESET', 'socket hang up']);
    assert.equal((await get(p)).body, 'served');
    await delay(30); // the server's FIN reaches the idle socket
    assert.equal((await get(p)).body, 'on a new socket');
    assert.equal(s.connections, 4);
  } finally {
    p.destroy();
    await s.close();
  }
});

test("extra bytes after a response, and a keep-alive hint's timeout, retire the socket", { timeout: 10_000 }, async () => {
  const s = await scripted([
    [`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n`],
    ok('hinted', 'keep-alive: timeout=1\r\n'),
    ok('new again'),
  ]);
  const p = pool(s.port);
  try {
    assert.equal((await get(p)).body, 'ok');
    assert.equal((await get(p)).body, 'hinted');
    assert.equal(s.connections, 2);
    // timeout=1 leaves 0 ms once the margin is taken: the server may already be closing it.
    assert.equal((await get(p)).body, 'new again');
    assert.equal(s.connections, 3);
    await delay(20);
    assert.equal(s.closedByClient, 2, 'the retired sockets are closed');
  } finally {
    p.destroy();
    await s.close();
  }
});

test('destroy() mid-body: error and close, no end, the socket closed; a header value with CR or LF is refused before anything is sent', { timeout: 10_000 }, async () => {
  const s = await scripted(['hang', ['HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n', 'partial'], ok('after')]);
  const p = pool(s.port);
  try {
    assert.throws(() => p.get('/x', 'h', { authorization: 'Bearer a\r\nx-injected: 1' }), /invalid character in the authorization header/);
    const hung = p.get('/hang', 'h', {});
    const events: string[] = [];
    hung.on('error', (e: Error) => events.push(`error ${e.message}`));
    hung.on('close', () => events.push('close'));
    await delay(20);
    hung.destroy(new Error('timed out'));
    assert.deepEqual(events, ['error timed out', 'close']);

    const x = p.get('/partial', 'h', {});
    const seen: string[] = [];
    await new Promise<void>((done) => {
      x.on('response', () => {
        x.on('data', (c: Buffer) => {
          seen.push(`data ${c}`);
          x.destroy(new Error('aborted'));
        });
        x.on('end', () => seen.push('end'));
        x.on('error', (e: Error) => seen.push(`error ${e.message}`));
        x.on('close', () => {
          seen.push('close');
          done();
        });
      });
    });
    assert.deepEqual(seen, ['data partial', 'error aborted', 'close']);
    assert.equal(x.complete, false);
    assert.equal((await get(p)).body, 'after');
    await delay(20);
    assert.equal(s.closedByClient, 2);
    assert.equal(s.requests.length, 3, 'the refused request was never sent');
  } finally {
    p.destroy();
    await s.close();
  }
});

test('https: TLS to the origin, certificate checked against the given roots; an adopted socket is used first', { timeout: 10_000 }, async () => {
  const s = await scripted([ok('over tls'), ok('adopted'), ok('again')], () => tls.createServer({ key: KEY, cert: CERT }));
  const roots = tls.createSecureContext({ ca: CERT });
  try {
    const strict = pool(s.port, 'https:');
    const refused = await rejected(get(strict));
    assert.match(String(refused.code), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
    strict.destroy();

    const p = pool(s.port, 'https:', { secureContext: roots, rejectUnauthorized: true });
    assert.equal((await get(p)).body, 'over tls');
    const connections = s.connections;
    const probe = tls.connect({ host: '127.0.0.1', port: s.port, secureContext: roots, ALPNProtocols: ['http/1.1'] });
    await new Promise((ok) => probe.once('secureConnect', ok));
    p.adopt(probe);
    assert.equal((await get(p)).body, 'adopted');
    assert.equal((await get(p)).body, 'again');
    assert.equal(s.connections, connections + 1, 'the adopted socket and the pooled one, no other');
    p.destroy();
  } finally {
    await s.close();
  }
});
