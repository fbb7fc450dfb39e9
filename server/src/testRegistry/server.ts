// A loopback registry that behaves like registry.npmjs.org for resolution: abbreviated and full
// documents, ETag/Last-Modified revalidation, gzip, keep-alive, plus knobs for latency and faults.
// Bodies are encoded once per package and kept, so what a benchmark measures is latency, not our CPU.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { constants as h2, createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { MANIFEST_FIELDS } from '../engine/manifest';
import type { Manifest, Packument } from '../engine/types';
import { FixtureStore, type PackumentStore } from './store';

export interface Fault {
  /** Package name or URL path; a RegExp is tested against both. No match = every request. */
  match?: string | RegExp;
  /** How many matching requests it affects; default 1, Infinity allowed. */
  times?: number;
  status?: number;
  retryAfter?: number | string;
  reset?: 'before-headers' | 'mid-body';
  /** Ends the response cleanly after half the (possibly gzipped) body. */
  truncate?: boolean;
  /** Writes half the body, waits this long, writes the rest. */
  slowBodyMs?: number;
  invalidJson?: boolean;
  redirectTo?: string;
}

export interface RequestLogEntry {
  method: string;
  url: string;
  name?: string;
  headers: Record<string, string | string[] | undefined>;
  /** 0 when the connection was reset before a status was sent. */
  status: number;
  /** The request's HTTP version: `1.1`, or `2.0` on the HTTP/2 port. */
  httpVersion: string;
  at: number;
}

export interface TestRegistryOptions {
  store: PackumentStore | string;
  port?: number;
  latencyMs?: number;
  /** Every request gets 401 unless it carries `authorization: Bearer <token>`. */
  requireToken?: string;
  /** Also serve HTTP/2 without TLS (h2c, prior knowledge) on a second port, the same documents and faults. */
  http2?: boolean;
}

export interface TestRegistry {
  /** `http://127.0.0.1:PORT/`, with the trailing slash. */
  url: string;
  /** The HTTP/2 (h2c) port's address, with `http2`: documents name `url` in their tarball links. */
  h2url?: string;
  port: number;
  log: RequestLogEntry[];
  /** Resolves when no request is being answered (every request so far is in the log). */
  idle(): Promise<void>;
  setLatency(ms: number): void;
  addFault(f: Fault): void;
  clearFaults(): void;
  resetLog(): void;
  close(): Promise<void>;
}

const ABBREVIATED = 'application/vnd.npm.install-v1+json';
// What the abbreviated ("corgi") document keeps of a version: the shared projection minus license, plus dist.
const ABBREVIATED_FIELDS = [...MANIFEST_FIELDS.filter((f) => f !== 'license'), 'dist'];

/** One representation; the gzip form is made on first demand and kept. */
class Encoded {
  private gz?: Buffer;
  readonly body: Buffer;
  readonly etag: string;

  constructor(
    doc: unknown,
    readonly type: string,
  ) {
    this.body = Buffer.from(JSON.stringify(doc));
    this.etag = `"${createHash('sha1').update(this.body).digest('base64url')}"`;
  }

  get gzip(): Buffer {
    return (this.gz ??= gzipSync(this.body));
  }
}

function tarballUrl(base: string, name: string, m: Manifest): string | undefined {
  const file = m.dist?.tarball?.split('/').pop();
  return file ? `${base}${name}/-/${file}` : undefined;
}

/** Both representations of a package, each built on first request (most clients only ever ask for one). */
class Entry {
  private fullRep?: Encoded;
  private abbreviatedRep?: Encoded;
  readonly lastModified?: string;

  constructor(
    private readonly doc: Packument,
    private readonly base: string,
  ) {
    const modified = doc.time?.modified ?? doc.modified;
    this.lastModified = modified ? new Date(modified).toUTCString() : undefined;
  }

  private versions(): Record<string, Manifest> {
    const out: Record<string, Manifest> = {};
    for (const [v, m] of Object.entries(this.doc.versions)) {
      const tarball = tarballUrl(this.base, this.doc.name, m);
      out[v] = { ...m, dist: { ...m.dist, ...(tarball && { tarball }) } };
    }
    return out;
  }

  get full(): Encoded {
    if (!this.fullRep) {
      const d = this.doc;
      const license = d.versions[d['dist-tags'].latest ?? '']?.license;
      const doc = { _id: d.name, name: d.name, 'dist-tags': d['dist-tags'], versions: this.versions(), time: d.time ?? {}, license };
      this.fullRep = new Encoded(doc, 'application/json');
    }
    return this.fullRep;
  }

  get abbreviated(): Encoded {
    if (!this.abbreviatedRep) {
      const versions: Record<string, Partial<Manifest>> = {};
      for (const [v, m] of Object.entries(this.versions())) {
        const record = m as unknown as Record<string, unknown>;
        versions[v] = Object.fromEntries(ABBREVIATED_FIELDS.filter((f) => record[f] !== undefined).map((f) => [f, record[f]]));
      }
      const d = this.doc;
      this.abbreviatedRep = new Encoded({ name: d.name, 'dist-tags': d['dist-tags'], modified: d.time?.modified ?? d.modified, versions }, ABBREVIATED);
    }
    return this.abbreviatedRep;
  }
}

/** `/@scope%2fname`, `/@scope/name`, `/name` → package name; `/<name>/-/<file>` → tarball. */
function route(path: string): { name: string; file?: string } | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined; // malformed escapes: a 404, not a crash
  }
  const parts = decoded.slice(1).split('/');
  const scoped = parts[0].startsWith('@');
  const nameParts = scoped ? 2 : 1;
  const name = parts.slice(0, nameParts).join('/');
  if (!name || (scoped && parts.length < 2)) return undefined;
  const rest = parts.slice(nameParts);
  if (rest.length === 0) return { name };
  if (rest.length === 2 && rest[0] === '-' && rest[1].endsWith('.tgz')) return { name, file: rest[1] };
  return undefined;
}

function faultMatches(f: Fault, path: string, name: string | undefined): boolean {
  if (f.match === undefined) return true;
  if (typeof f.match === 'string') return f.match === name || f.match === path;
  return f.match.test(path) || (name !== undefined && f.match.test(name));
}

export async function startTestRegistry(opts: TestRegistryOptions): Promise<TestRegistry> {
  const store = typeof opts.store === 'string' ? new FixtureStore(resolve(opts.store)) : opts.store;
  let latency = opts.latencyMs ?? 0;
  let faults: Fault[] = [];
  const log: RequestLogEntry[] = [];
  // Promises, so concurrent first requests for one package build its encodings once.
  const entries = new Map<string, Promise<Entry | undefined>>();
  let base = '';

  function entry(name: string): Promise<Entry | undefined> {
    let e = entries.get(name);
    if (!e) {
      e = store.packument(name).then((doc) => doc && new Entry(doc, base));
      // Misses are not cached: a recording store may learn the package later.
      e.then((r) => r === undefined && entries.delete(name), () => entries.delete(name));
      entries.set(name, e);
    }
    return e;
  }

  function takeFault(path: string, name: string | undefined): Fault | undefined {
    const f = faults.find((x) => faultMatches(x, path, name));
    if (f) {
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) faults = faults.filter((x) => x !== f);
    }
    return f;
  }

  /** A reset: of the connection over HTTP/1.1; over HTTP/2 of the stream (RST_STREAM), as a proxy would. */
  const reset = (req: IncomingMessage): void => {
    const stream = (req as unknown as Partial<Http2ServerRequest>).stream;
    if (stream) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    else req.socket.destroy();
  };

  async function handle(req: IncomingMessage, res: ServerResponse, record: (status: number) => void): Promise<void> {
    const path = new URL(req.url ?? '/', base).pathname;
    const target = route(path);
    const send = (status: number, body: Buffer | string, headers: Record<string, string> = {}): void => {
      record(status);
      res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const error = (status: number, message: string, headers: Record<string, string> = {}): void =>
      send(status, JSON.stringify({ error: message }), { 'content-type': 'application/json', ...headers });

    if (latency > 0) await delay(latency);
    if (opts.requireToken !== undefined && req.headers.authorization !== `Bearer ${opts.requireToken}`) {
      return error(401, 'Unauthorized', { 'www-authenticate': 'Bearer realm="citadel-test"' });
    }
    const fault = takeFault(path, target?.name);
    if (fault?.reset === 'before-headers') {
      record(0);
      reset(req);
      return;
    }
    if (fault?.redirectTo !== undefined) {
      return send(fault.status ?? 302, '', { location: new URL(fault.redirectTo, base).href });
    }
    if (fault?.status !== undefined || fault?.retryAfter !== undefined) {
      const retry: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
      return error(fault.status ?? 429, 'Injected fault', retry);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(405, 'Method not allowed');
    if (!target) return error(404, 'Not found');

    const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    let payload: Buffer;
    let headers: Record<string, string>;
    if (target.file) {
      const data = await store.tarball(target.name, target.file);
      if (!data) return error(404, 'Not found');
      payload = data;
      headers = { 'content-type': 'application/octet-stream' };
    } else {
      const e = await entry(target.name);
      if (!e) return error(404, 'Not found');
      const rep = (req.headers.accept ?? '').includes(ABBREVIATED) ? e.abbreviated : e.full;
      headers = { 'content-type': rep.type, etag: rep.etag, vary: 'Accept, Accept-Encoding' };
      if (e.lastModified) headers['last-modified'] = e.lastModified;
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      const fresh =
        inm !== undefined
          ? inm.split(',').some((t) => t.trim().replace(/^W\//, '') === rep.etag || t.trim() === '*')
          : ims !== undefined && e.lastModified !== undefined && Date.parse(e.lastModified) <= Date.parse(ims);
      // A body fault means a broken 200, even for a request the registry could have answered with 304.
      const bodyFault = fault !== undefined && (fault.invalidJson || fault.truncate || fault.slowBodyMs !== undefined || fault.reset === 'mid-body');
      if (fresh && !bodyFault) {
        record(304);
        res.writeHead(304, headers);
        res.end();
        return;
      }
      if (fault?.invalidJson) {
        const bad = Buffer.from('{"name": "' + target.name + '", "versions": {');
        payload = gzip ? gzipSync(bad) : bad;
      } else {
        payload = gzip ? rep.gzip : rep.body;
      }
      if (gzip) headers['content-encoding'] = 'gzip';
    }

    if (req.method === 'HEAD') return send(200, '', { ...headers, 'content-length': String(payload.length) });
    const half = payload.subarray(0, Math.floor(payload.length / 2));
    if (fault?.truncate) {
      // No content-length: the response ends cleanly and only the body itself is broken.
      record(200);
      res.writeHead(200, headers);
      res.end(half);
      return;
    }
    record(200);
    res.writeHead(200, { ...headers, 'content-length': String(payload.length) });
    if (fault?.reset === 'mid-body') {
      res.write(half, () => reset(req));
      return;
    }
    if (fault?.slowBodyMs !== undefined) {
      res.write(half);
      await delay(fault.slowBodyMs);
      res.end(payload.subarray(half.length));
      return;
    }
    res.end(payload);
  }

  // Requests being answered: a client can leave some in flight (a resolution's unneeded speculative
  // fetches), and they are logged when answered, so tests wait for idle() before counting.
  let inFlight = 0;
  const idleWaiters: (() => void)[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const logged: RequestLogEntry = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      name: route(path)?.name,
      headers: { ...req.headers },
      status: 0,
      httpVersion: req.httpVersion,
      at: Date.now(),
    };
    let recorded = false;
    const record = (status: number): void => {
      logged.status = status;
      if (!recorded) log.push(logged);
      recorded = true;
    };
    inFlight++;
    handle(req, res, record)
      .catch((err: unknown) => {
        if (res.headersSent) return void reset(req);
        record(500);
        const body = JSON.stringify({ error: String(err) });
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .finally(() => {
        if (--inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
      });
  };
  const server = createServer(listener);
  server.keepAliveTimeout = 60_000;
  // HTTP/2's compatibility API has the methods and fields handle() uses (reset() tells the two apart).
  const h2server = opts.http2
    ? createH2Server({ settings: { maxConcurrentStreams: 1000 } }, (req: Http2ServerRequest, res: Http2ServerResponse) => listener(req as unknown as IncomingMessage, res as unknown as ServerResponse))
    : undefined;
  // Closed with the registry, as closeAllConnections() closes the HTTP/1.1 ones.
  const h2sessions = new Set<ServerHttp2Session>();
  h2server?.on('session', (s) => {
    h2sessions.add(s);
    s.once('close', () => h2sessions.delete(s));
  });
  const listen = (s: typeof server | NonNullable<typeof h2server>, port: number): Promise<number> =>
    new Promise<number>((ok, fail) => {
      s.once('error', fail);
      s.listen(port, '127.0.0.1', () => ok((s.address() as AddressInfo).port));
    });
  const port = await listen(server, opts.port ?? 0);
  base = `http://127.0.0.1:${port}/`;
  const h2url = h2server && `http://127.0.0.1:${await listen(h2server, 0)}/`;

  return {
    url: base,
    ...(h2url && { h2url }),
    port,
    log,
    setLatency: (ms) => void (latency = ms),
    addFault: (f) => void faults.push({ ...f }),
    clearFaults: () => void (faults = []),
    resetLog: () => void log.splice(0),
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((ok) => idleWaiters.push(ok))),
    close: () =>
      new Promise<void>((ok) => {
        h2server?.close();
        for (const s of h2sessions) s.destroy();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
