// The HTTP registry client: a PackumentSource over HTTP/1.1 keep-alive pools (http1.ts; node:http's
// agents through a proxy), or one HTTP/2 session per origin where the `http2` option asks for it, a
// FIFO bound on requests in flight, single-flight per package, retries with jittered backoff,
// redirects, proxies and npm's credential scoping. It caches nothing beyond the in-flight promise; a
// cache layer sits on top.
import { createHash } from 'node:crypto';
import * as dns from 'node:dns';
import { setMaxListeners, type EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders as Http2Headers } from 'node:http2';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { isIP, type LookupFunction } from 'node:net';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { ADAPTIVE_INITIAL, ADAPTIVE_MAX, AdaptiveLimit, eventLoopSaturation } from './adaptiveLimit';
import { breathe } from './breathe';
import { decodeProjection, encodeProjection, SORTED_FROM } from './cache/entry';
import { scanProjection } from './cache/scanProjection';
import { H1Pool, type Exchange } from './http1';
import { toManifest } from './manifest';
import { authFor, proxyFor, redact, registryFor, type NpmConfig } from './npmrc';
import { tarballContents } from './tarball';
import { RegistryError, type EventSink, type FetchedPackument, type Http2Mode, type Manifest, type Packument, type PackumentSource, type RegistryErrorCode } from './types';

export interface RegistryClientOptions {
  /** Requests in flight, all origins together; default `maxsockets` from the config, else adaptive (adaptiveLimit.ts). */
  concurrency?: number;
  /** Connect+headers timeout and body idle timeout; default `fetch-timeout`, else 30 s (npm's 5 min is too long for an editor). */
  timeoutMs?: number;
  /** Retries after the first attempt; default `fetch-retries`. */
  retries?: number;
  onEvent?: EventSink;
  /** Citadel's version, for the user-agent. */
  version?: string;
  /**
   * Decodes (gzip, br) and parses a response body off the main thread (the cache thread); undefined
   * when it cannot, and the body is handled inline.
   */
  parse?: (wire: Buffer, encoding: string, abbreviated: boolean, name: string, maxBytes: number) => Promise<ParsedBody | undefined>;
  /** HTTP/2 use (see Http2Mode); default `auto`. */
  http2?: Http2Mode;
  /** The most a response body may hold, on the wire and decoded; default MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

/**
 * No registry document comes near this, on the wire or decoded (the largest full documents are tens of
 * MB): a body past it is refused, not buffered, so that a broken or hostile registry (a gzip bomb, an
 * endless body) cannot take the process's memory.
 */
export const MAX_BODY_BYTES = 512 * 1024 * 1024;
const sizeText = (bytes: number): string => (bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB` : `${bytes} bytes`);

/** A response as the fetch reads it: http1.ts's Exchange, node:http's IncomingMessage, or an HTTP/2 stream dressed as one. */
interface Response extends EventEmitter {
  statusCode?: number;
  headers: http.IncomingHttpHeaders;
  readonly complete: boolean;
  resume(): unknown;
  destroy(e?: Error): unknown;
}

/** A response body decoded and parsed, with its projection for a cache when it was made; or why not. */
export type ParsedBody =
  | { packument: Packument; projection?: Uint8Array; decodedBytes: number; decompressMs: number; parseMs: number }
  | { invalid: 'encoding' | 'json' | 'size' }
  | { invalid: 'shape'; message: string };

export interface ConditionalOptions {
  signal?: AbortSignal;
  etag?: string;
  lastModified?: string;
}

/** 200 carries the document; 304 (only on a conditional request) means the caller's copy is current. */
export type FetchResult =
  | ({ status: 200 } & FetchedPackument)
  | { status: 304; packument?: undefined; bytes: number; etag?: string; lastModified?: string };

export interface RegistryStats {
  /** HTTP requests sent, counting every retry and redirect hop. */
  requests: number;
  /** Body bytes on the wire. */
  bytes: number;
  retries: number;
  /** Fetches that failed for good. */
  errors: number;
}

export interface RegistryClient extends PackumentSource {
  fetchPackument(name: string, opts?: ConditionalOptions): Promise<FetchResult>;
  stats(): RegistryStats;
  /** Aborts what is in flight and closes pooled connections. */
  close(): void;
}

// HTTP/2 receive windows: per stream (larger than any abbreviated document) and per session.
const H2_STREAM_WINDOW = 4 * 1024 * 1024;
const H2_SESSION_WINDOW = 32 * 1024 * 1024;
const ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const MAX_REDIRECTS = 5;
const MAX_RETRY_AFTER_MS = 60_000;

/** A failure worth another attempt; still a RegistryError if attempts run out. */
class Transient extends RegistryError {
  constructor(code: RegistryErrorCode, message: string, status?: number, readonly retryAfterMs?: number) {
    super(code, message, status);
  }
}

/** npm's escaped name: `@scope%2fname`. */
function escapeName(name: string): string {
  return encodeURIComponent(name).replace(/^%40/, '@').replace(/%2F/g, '%2f');
}

function abortError(name: string): RegistryError {
  return new RegistryError('EABORTED', `fetch of ${name} was aborted`);
}

/** FIFO: a released slot goes to the oldest waiter, so queue wait is fair and measurable. */
class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: () => number) {}

  get inFlight(): number {
    return this.active;
  }

  acquire(signal: AbortSignal, name: string): Promise<() => void> {
    const release = (): void => {
      this.active--;
      this.drain();
    };
    if (signal.aborted) return Promise.reject(abortError(name));
    if (this.active < this.limit() && !this.queue.length) {
      this.active++;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = (): void => {
        this.queue.splice(this.queue.indexOf(grant), 1);
        reject(abortError(name));
      };
      this.queue.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Grants waiting requests while the limit (which may have grown) allows. */
  drain(): void {
    while (this.queue.length && this.active < this.limit()) {
      this.active++;
      this.queue.shift()!();
    }
  }
}

/** An https agent that reaches its targets through an HTTP CONNECT tunnel; TLS runs end to end inside it. */
class TunnelAgent extends https.Agent {
  constructor(
    opts: https.AgentOptions,
    private readonly proxy: URL,
  ) {
    super(opts);
  }

  // Node's Agent accepts an asynchronous createConnection: return nothing and report through the callback.
  override createConnection(options: https.RequestOptions, cb?: (err: Error | null, s: Duplex) => void): undefined {
    const fail = (e: Error): void => cb?.(e, undefined as never);
    const target = `${options.host}:${options.port}`;
    const req = (this.proxy.protocol === 'https:' ? https : http).request({
      host: this.proxy.hostname,
      port: this.proxy.port || (this.proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: target,
      headers: { host: target, ...proxyAuthorization(this.proxy) },
      agent: false,
      lookup: options.lookup,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return fail(new Error(`proxy refused CONNECT (status ${res.statusCode})`));
      }
      cb?.(null, tls.connect({ ...(options as tls.ConnectionOptions), socket }));
    });
    req.once('error', fail);
    req.end();
    return undefined;
  }
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(user).toString('base64')}` };
}

type Json = Record<string, unknown>;

export function toPackument(doc: unknown, abbreviated: boolean, name: string): Packument {
  const d = doc as Json | null;
  if (!d || typeof d !== 'object' || typeof d.versions !== 'object' || d.versions === null) {
    throw new RegistryError('EINVALIDJSON', `the registry's document for ${name} has no versions`);
  }
  const distTags = (d['dist-tags'] ?? {}) as Record<string, string>;
  if (abbreviated) return { ...(d as unknown as Packument), 'dist-tags': distTags };
  const time = d.time as Record<string, string> | undefined;
  return {
    name: typeof d.name === 'string' ? d.name : name,
    'dist-tags': distTags,
    versions: Object.fromEntries(Object.entries(d.versions as Record<string, Json>).map(([k, v]) => [k, toManifest(v)])),
    ...(time && { time }),
    ...((time?.modified ?? d.modified) ? { modified: (time?.modified ?? d.modified) as string } : {}),
  };
}

// Decoding inline costs a few ms even for the largest abbreviated packuments (react-dom: 370 kB of
// gzip in 1-4 ms, less than its JSON.parse), while the thread pool is shared with the cache writer's
// file operations: queued behind them, such a decode waited seconds on the critical path of a cold
// resolution. Only bodies that could stall the event loop for long (full documents) go to the pool.
const INLINE_DECODE_MAX = 1024 * 1024;
const codecs: Record<string, [(b: Buffer, o: zlib.ZlibOptions) => Buffer, (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>]> = {
  gzip: [zlib.gunzipSync, promisify(zlib.gunzip)],
  'x-gzip': [zlib.gunzipSync, promisify(zlib.gunzip)],
  deflate: [zlib.inflateSync, promisify(zlib.inflate)],
  br: [zlib.brotliDecompressSync, promisify(zlib.brotliDecompress)],
};
/**
 * Decodes and times itself: timing across an `await` would also count every microtask that runs in
 * between (other fetches' picks). A thread-pool decode counts until its callback, pool wait included.
 */
const decoders: Record<string, (b: Buffer, maxBytes: number) => Promise<{ body: Buffer; ms: number }>> = Object.fromEntries(
  Object.entries(codecs).map(([k, [sync, async]]) => [
    k,
    async (b: Buffer, maxBytes: number) => {
      const t0 = performance.now();
      const body = b.length <= INLINE_DECODE_MAX ? sync(b, { maxOutputLength: maxBytes }) : await async(b, { maxOutputLength: maxBytes });
      return { body, ms: performance.now() - t0 };
    },
  ]),
);

/** A URL's host to connect to: an IPv6 literal without the brackets URL keeps (`[::1]`). */
export const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** A decode that failed: past the size limit (zlib's maxOutputLength), or anything else (corrupt, truncated). */
export const decodeFailure = (e: unknown): 'size' | 'encoding' => ((e as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE' ? 'size' : 'encoding');

/** Decodes and parses a body on this thread, yielding before each step (see breathe()). */
async function parseInline(wire: Buffer, encoding: string, abbreviated: boolean, name: string, maxBytes: number): Promise<ParsedBody> {
  const decode = decoders[encoding];
  let body = wire;
  let decompressMs = 0;
  // Responses arrive in bursts, each ending in a socket callback: decoding them there, one after
  // another in the same turn, held the loop for 75 ms and more.
  await breathe();
  if (decode) {
    try {
      ({ body, ms: decompressMs } = await decode(wire, maxBytes));
    } catch (e) {
      return { invalid: decodeFailure(e) };
    }
  }
  await breathe();
  const p0 = performance.now();
  const r = projectBody(body, abbreviated, name);
  if ('invalid' in r) return r;
  // Read lazily, as the cache thread's answers are: the memory tier holds the compact projection.
  return { packument: decodeProjection(r.projection), projection: r.projection, decodedBytes: body.length, decompressMs, parseMs: performance.now() - p0 };
}

/**
 * A decoded body's projection (see cache/entry.ts): read off its bytes (cache/scanProjection.ts), or
 * through JSON.parse where that scan declines (invalid JSON, unusual documents). In shared memory when
 * `shared` (the cache thread's answers); with its versions' order from `sortedFrom` versions (entry.ts).
 */
export function projectBody(body: Buffer, abbreviated: boolean, name: string, shared = false, sortedFrom = SORTED_FROM): { projection: Buffer } | Exclude<ParsedBody, { packument: Packument }> {
  try {
    return { projection: scanProjection(body, abbreviated, name, shared, sortedFrom) };
  } catch {
    // The parse path decides.
  }
  const r = parseBody(body, abbreviated, name);
  if ('invalid' in r) return r;
  try {
    return { projection: encodeProjection(r.packument, sortedFrom, shared) };
  } catch (e) {
    // A version that is null, say: its fields cannot be read.
    return { invalid: 'shape', message: `the registry's document for ${name} has a version that cannot be read (${e instanceof Error ? e.message : String(e)})` };
  }
}

/** JSON.parse and toPackument of a decoded body, failures as values (the cache thread's answer too). */
export function parseBody(body: Buffer, abbreviated: boolean, name: string): { packument: Packument } | { invalid: 'json' } | { invalid: 'shape'; message: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return { invalid: 'json' };
  }
  try {
    return { packument: toPackument(doc, abbreviated, name) };
  } catch (e) {
    return { invalid: 'shape', message: e instanceof Error ? e.message : String(e) };
  }
}

/** A body decoded synchronously as its content-encoding says (identity and unknown ones as they are). */
export function decodeSync(wire: Buffer, encoding: string, maxBytes: number): Buffer {
  const codec = codecs[encoding];
  return codec ? codec[0](wire, { maxOutputLength: maxBytes }) : wire;
}

/**
 * One TLS context per CA list for the process, keyed by the list's text. Given `ca` (npm's `cafile`),
 * Node otherwise builds a context per connection and parses every certificate again: a system bundle
 * of ~140 took 25-50 ms of the main thread for each new connection to registry.npmjs.org.
 */
const contexts = new Map<string, tls.SecureContext>();

/** Seconds or an HTTP date, capped; undefined when absent or unreadable (backoff applies then). */
function retryAfterMs(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

// Transient transport failures only: ENOTFOUND, TLS and proxy refusals fail fast, since retrying cannot help.
const RETRYABLE_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function networkError(e: unknown, where: string): RegistryError {
  if (e instanceof RegistryError) return e;
  const err = e as NodeJS.ErrnoException;
  const message = `${where}: ${redact(err.message ?? String(e))}`;
  // Socket hang up surfaces as ECONNRESET; a reused keep-alive socket the server closed looks the same.
  // An HTTP/2 stream reset or a session going away: the retry gets a new session.
  const retryable = err.code !== undefined && (RETRYABLE_NET.has(err.code) || err.code.startsWith('ERR_HTTP2_'));
  return retryable ? new Transient('ENETWORK', message) : new RegistryError('ENETWORK', message);
}

interface Deadline {
  at: number;
  fire: () => void;
}

/**
 * The timeouts of a client's requests, checked by one interval timer while any is pending: a timer per
 * request and per body (set, cleared, re-armed) was 9-50 ms of the main thread in profiles of a cold
 * resolution of the large fixture. A deadline fires within a quarter of the timeout after it passes.
 */
class Deadlines {
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Calls `fire` once the timeout passes without renew() or clear(). */
  start(fire: () => void): Deadline {
    const d = { at: performance.now() + this.timeoutMs, fire };
    this.pending.add(d);
    // Unref'd: a request in flight holds the process through its socket, not through its deadline.
    this.timer ??= setInterval(() => this.sweep(), Math.max(1, this.timeoutMs / 4)).unref();
    return d;
  }

  renew(d: Deadline): void {
    d.at = performance.now() + this.timeoutMs;
  }

  clear(d: Deadline): void {
    this.pending.delete(d);
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = performance.now();
    for (const d of this.pending) {
      if (d.at > now) continue;
      this.clear(d);
      d.fire();
    }
  }
}

export function createRegistryClient(config: NpmConfig, opts: RegistryClientOptions = {}): RegistryClient {
  // A configured limit (option or maxsockets) is fixed; otherwise the limit adapts (adaptiveLimit.ts).
  const fixed = opts.concurrency ?? config.maxsockets;
  const adaptive = fixed === undefined ? new AdaptiveLimit(4, ADAPTIVE_MAX, ADAPTIVE_INITIAL, undefined, eventLoopSaturation()) : undefined;
  const concurrency = fixed === undefined ? ADAPTIVE_MAX : Math.max(1, fixed);
  const timeoutMs = opts.timeoutMs ?? config.fetchTimeout ?? 30_000;
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const deadlines = new Deadlines(timeoutMs);
  const retries = opts.retries ?? config.fetchRetries;
  const emit: EventSink = opts.onEvent ?? (() => undefined);
  const userAgent = `citadel/${opts.version ?? '0.0.0'} node/${process.version}`;
  const slots = new Semaphore(adaptive ? () => adaptive.limit : () => concurrency);
  const agents = new Map<string, http.Agent>();
  const pools = new Map<string, H1Pool>();
  const counters: RegistryStats = { requests: 0, bytes: 0, retries: 0, errors: 0 };

  interface Shared {
    key: string;
    promise: Promise<FetchResult>;
    controller: AbortController;
    /** Callers that could still want the result; at zero the request is aborted. */
    waiters: number;
  }
  const inflight = new Map<string, Shared>();

  // The CA list's text, joined once: it keys the process's TLS contexts, and joining a cafile bundle
  // (~200 kB) for each request took 360 ms of a cold resolution's main thread.
  const caText = config.ca?.join('\n');
  /** The TLS context for this client's CA list (contexts); undefined: Node's default roots. */
  function secureContext(): tls.SecureContext | undefined {
    if (caText === undefined) return undefined;
    let context = contexts.get(caText);
    if (!context) contexts.set(caText, (context = tls.createSecureContext({ ca: config.ca })));
    return context;
  }

  /** The keep-alive sockets of an origin reached directly (http1.ts). */
  function poolFor(url: URL): H1Pool {
    let pool = pools.get(url.origin);
    if (!pool) {
      const https = url.protocol === 'https:';
      const port = Number(url.port) || (https ? 443 : 80);
      pools.set(url.origin, (pool = new H1Pool({ protocol: url.protocol, hostname: bareHost(url), port, lookup, ...(https && { secureContext: secureContext(), rejectUnauthorized: config.strictSsl }) })));
    }
    return pool;
  }

  /** Through a proxy: one agent per origin and proxy, so keep-alive pools never mix targets or TLS settings. */
  function agentFor(target: URL, proxy: URL): http.Agent {
    const viaForward = target.protocol === 'http:';
    const key = viaForward ? `forward ${proxy.origin}` : `${target.origin} ${proxy.origin}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      const base = { keepAlive: true, maxSockets: concurrency, lookup };
      const connectsTo = viaForward ? proxy : target;
      // Only for TLS: building the context parses the CA list (a cafile bundle: 20-40 ms).
      const tlsOpts = () => ({ ...base, secureContext: secureContext(), rejectUnauthorized: config.strictSsl });
      agent = connectsTo.protocol === 'http:' ? new http.Agent(base) : viaForward ? new https.Agent(tlsOpts()) : new TunnelAgent(tlsOpts(), proxy);
      agents.set(key, agent);
    }
    return agent;
  }

  /**
   * DNS answers shared by the client's connections for its lifetime (a resolution), as npm's agent
   * caches them. Each new socket looked its host up again: 32 at once as a cold resolution starts, and
   * a resolver that drops concurrent queries (this machine's) held them all ~5 s before its retry.
   */
  const lookups = new Map<string, Promise<dns.LookupAddress[]>>();
  const lookup: LookupFunction = (hostname, options, callback) => {
    const key = `${hostname}\0${options.family ?? 0}\0${options.hints ?? 0}\0${options.order ?? ''}`;
    let answer = lookups.get(key);
    if (!answer) {
      // dns.lookup, as Node's sockets call it (the tests answer it in-process).
      answer = new Promise((resolve, reject) => dns.lookup(hostname, { ...options, all: true }, (e, addresses) => (e ? reject(e) : resolve(addresses))));
      lookups.set(key, answer);
      // A failure is not remembered: the retry asks again.
      answer.catch(() => lookups.delete(key));
    }
    answer.then(
      (addresses) => (options.all ? callback(null, addresses) : callback(null, addresses[0].address, addresses[0].family)),
      (e: NodeJS.ErrnoException) => callback(e, ''),
    );
  };

  const http2Mode = opts.http2 ?? 'auto';
  /** Per origin: its HTTP/2 session, or undefined where HTTP/1.1 is used (ALPN chose it). */
  const sessions = new Map<string, Promise<ClientHttp2Session | undefined>>();

  /**
   * The origin's HTTP/2 session, opened by the first request that needs it (the others wait for it),
   * or undefined for HTTP/1.1. A session that fails, closes or is told to go away is forgotten, and the
   * next request opens another.
   */
  function sessionFor(url: URL, proxied: boolean): Promise<ClientHttp2Session | undefined> | undefined {
    if (http2Mode === 'off' || proxied || (url.protocol === 'http:' && http2Mode !== 'prior-knowledge')) return undefined;
    const origin = url.origin;
    let session = sessions.get(origin);
    if (session) return session;
    session = new Promise<ClientHttp2Session | undefined>((resolved, rejected) => {
      let pending: { destroy(e?: Error): void } | undefined;
      const forget = (): void => {
        if (sessions.get(origin) === session) sessions.delete(origin);
      };
      // The connection (TCP, TLS, the session's settings) within the request timeout, as over HTTP/1.1.
      const deadline = deadlines.start(() => {
        const e = new Transient('ETIMEDOUT', `no connection to ${url.host} within ${timeoutMs} ms`);
        reject(e);
        pending?.destroy(e);
      });
      const resolve = (s: ClientHttp2Session | undefined): void => {
        deadlines.clear(deadline);
        resolved(s);
      };
      const reject = (e: Error): void => {
        deadlines.clear(deadline);
        forget();
        rejected(e);
      };
      // node:http2 is loaded by the first session: loading it took 5-10 ms of a turn, and a cold
      // resolution from an http:// registry (every benchmark's) needs none of it. A literal require,
      // which esbuild leaves for the first call (an import() would fail in the bundle's vm.Script).
      const open = (socket?: tls.TLSSocket): void => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { connect } = require('node:http2') as typeof import('node:http2');
        const s = connect(origin, {
          ...(socket ? { createConnection: () => socket } : { lookup }),
          // Windows past the 64 kB defaults: with dozens of documents in flight on one connection, the
          // default connection window throttled each round trip to 64 kB.
          settings: { initialWindowSize: H2_STREAM_WINDOW, enablePush: false },
          maxSessionMemory: 64,
        });
        pending = s;
        s.once('connect', () => {
          s.setLocalWindowSize(H2_SESSION_WINDOW);
          resolve(s);
        });
        // `on`: a session can report more than one error, and an unheard one would end the process.
        s.on('error', (e) => reject(networkError(e, `HTTP/2 connection to ${url.host} failed`)));
        s.once('goaway', forget);
        s.once('close', forget);
      };
      if (url.protocol === 'http:') return open();
      // ALPN, ourselves: an origin that answers HTTP/1.1 keeps its pool, which takes the probe's socket.
      const host = bareHost(url);
      const socket = tls.connect({
        host,
        port: Number(url.port) || 443,
        ...(!isIP(host) && { servername: host }),
        ALPNProtocols: ['h2', 'http/1.1'],
        lookup,
        secureContext: secureContext(),
        rejectUnauthorized: config.strictSsl,
      });
      pending = socket;
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol === 'h2') return open(socket);
        // HTTP/1.1: the probe's connection is the pool's first.
        poolFor(url).adopt(socket);
        resolve(undefined);
      });
      socket.on('error', (e) => reject(networkError(e, `connection to ${url.host} failed`)));
    });
    sessions.set(origin, session);
    return session;
  }

  /**
   * Settles when a request (an HTTP/1.1 ClientRequest or an HTTP/2 stream) has its response headers:
   * the connect+headers timeout runs until then, the caller's signal aborts it, and a failure is a
   * RegistryError. `answer` makes the result of the 'response' event's argument.
   */
  function untilResponse<A, T>(req: EventEmitter & { destroy(e?: Error): unknown }, url: URL, signal: AbortSignal, answer: (a: A) => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = deadlines.start(() => req.destroy(new Transient('ETIMEDOUT', `no response from ${url.host} within ${timeoutMs} ms`)));
      const onAbort = (): void => void req.destroy(abortError(url.pathname));
      signal.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => signal.removeEventListener('abort', onAbort));
      req.once('response', (a: A) => {
        deadlines.clear(timer);
        resolve(answer(a));
      });
      req.once('error', (e) => {
        deadlines.clear(timer);
        reject(networkError(e, `request to ${url.host} failed`));
      });
    });
  }

  /** send() over the origin's HTTP/2 session: a stream per request, its response dressed as an IncomingMessage. */
  function sendH2(session: ClientHttp2Session, url: URL, headers: Record<string, string>, signal: AbortSignal, connectMs: number): Promise<{ res: Response; connectMs: number }> {
    if (signal.aborted) return Promise.reject(abortError(url.pathname));
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'GET', ':path': url.pathname + url.search, ...headers }, { endStream: true });
    } catch (e) {
      // The session closed between being handed out and this request.
      return Promise.reject(networkError(e, `request to ${url.host} failed`));
    }
    counters.requests++;
    return untilResponse(stream, url, signal, (h: Http2Headers) => {
      let complete = false;
      stream.once('end', () => void (complete = true));
      const res = Object.assign(stream, { statusCode: Number(h[':status']), headers: h as http.IncomingHttpHeaders });
      Object.defineProperty(res, 'complete', { get: () => complete });
      return { res: res as unknown as Response, connectMs };
    });
  }

  /**
   * Sends one GET and resolves with the response headers; the connect+headers timeout runs until then.
   * `connectMs` is the time to open a new socket (TCP, and TLS when https); 0 on a reused keep-alive one.
   */
  async function send(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<{ res: Response; connectMs: number }> {
    // The first https request builds the TLS context in a turn of its own: with a cafile bundle it
    // took 20-40 ms, and inside a turn with other work the language server's loop held 60-90 ms.
    if (url.protocol === 'https:' && caText !== undefined && !contexts.has(caText)) {
      await new Promise((ok) => setImmediate(ok));
      secureContext();
    }
    // Aborted while it waited for its turn (its 'abort' event is gone): a request must not start.
    if (signal.aborted) throw abortError(url.pathname);
    const proxyHref = proxyFor(config, url.href);
    const proxy = proxyHref ? new URL(proxyHref) : undefined;
    const h2 = sessionFor(url, proxy !== undefined);
    if (h2) {
      const t0 = performance.now();
      const session = await h2;
      if (session) return sendH2(session, url, headers, signal, performance.now() - t0);
    }
    return proxy ? sendProxied(url, headers, signal, proxy) : sendH1(url, headers, signal);
  }

  function sendH1(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<{ res: Response; connectMs: number }> {
    let x: Exchange;
    try {
      x = poolFor(url).get(url.pathname + url.search, url.host, headers);
    } catch (e) {
      return Promise.reject(new RegistryError('ENETWORK', `request to ${url.host} not sent: ${(e as Error).message}`));
    }
    counters.requests++;
    return untilResponse(x, url, signal, () => ({ res: x, connectMs: x.connectMs }));
  }

  /** send() through a proxy, with node:http: an absolute URI for http targets, a CONNECT tunnel for https. */
  function sendProxied(url: URL, headers: Record<string, string>, signal: AbortSignal, proxy: URL): Promise<{ res: Response; connectMs: number }> {
    // Through a forward proxy an http target is requested by absolute URI; https targets tunnel instead.
    const forward = url.protocol === 'http:' ? proxy : undefined;
    const connectTo = forward ?? url;
    const req = (connectTo.protocol === 'https:' ? https : http).request({
      protocol: connectTo.protocol,
      hostname: connectTo.hostname,
      port: connectTo.port || undefined,
      path: forward ? url.href : url.pathname + url.search,
      method: 'GET',
      headers: forward ? { ...headers, host: url.host, ...proxyAuthorization(forward) } : headers,
      agent: agentFor(url, proxy),
    });
    counters.requests++;
    const t0 = performance.now();
    let connectMs = 0;
    req.once('socket', (socket) => {
      // A pooled socket is already connected; a new one reports when TCP (then TLS) is up.
      if (req.reusedSocket || !socket.connecting) return;
      socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => void (connectMs = performance.now() - t0));
    });
    const answered = untilResponse(req, url, signal, (res: http.IncomingMessage) => ({ res, connectMs }));
    req.end();
    return answered;
  }

  /** Reads a body to the end; fails if no byte arrives for timeoutMs or the connection ends early. */
  function readBody(res: Response, signal: AbortSignal, name: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const idle = deadlines.start(() => res.destroy(new Transient('ETIMEDOUT', `body of ${name} stalled for ${timeoutMs} ms`)));
      const onAbort = (): void => void res.destroy(abortError(name));
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        deadlines.clear(idle);
        signal.removeEventListener('abort', onAbort);
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        deadlines.renew(idle);
        if (size > maxBodyBytes) res.destroy(new RegistryError('EREGISTRY', `the body of ${name} passed ${sizeText(maxBodyBytes)}; not read further`));
      });
      res.once('end', () => {
        done();
        resolve(Buffer.concat(chunks, size));
      });
      res.once('error', (e) => {
        done();
        reject(networkError(e, `reading ${name}`));
      });
      res.once('close', () => {
        done();
        if (!res.complete) reject(new Transient('ENETWORK', `connection closed before the body of ${name} was complete`));
      });
    });
  }

  function statusError(res: Response, name: string, registry: string, authSent: boolean): RegistryError {
    const status = res.statusCode ?? 0;
    const where = redact(registry);
    if (status === 404) return new RegistryError('E404', `${name} is not in the registry ${where}`, status);
    if (status === 401 || status === 403) {
      const why = authSent ? 'it rejected the configured credentials' : 'no credentials are configured for it in .npmrc';
      return new RegistryError('EAUTH', `${where} refused ${name} (${status}): ${why}`, status);
    }
    if (status === 429) return new Transient('EREGISTRY', `${where} is rate limiting (429)`, status, retryAfterMs(res.headers['retry-after']));
    if (status >= 500) return new Transient('EREGISTRY', `${where} failed with ${status} for ${name}`, status);
    return new RegistryError('EREGISTRY', `${where} answered ${status} for ${name}`, status);
  }

  /** Sends a GET and follows redirects. Credentials are chosen per hop, so a redirect to another host, port or path drops them. */
  async function follow(first: URL, name: string, registry: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ res: Response; connectMs: number; authSent: boolean }> {
    let connectMs = 0;
    for (let url = first, hop = 0; ; hop++) {
      const auth = authFor(config, url.href);
      const sent = await send(url, auth ? { ...headers, authorization: auth } : headers, signal);
      const res = sent.res;
      connectMs += sent.connectMs;
      const location = res.headers.location;
      if (!location || ![301, 302, 303, 307, 308].includes(res.statusCode ?? 0)) return { res, connectMs, authSent: auth !== undefined };
      res.resume();
      if (hop === MAX_REDIRECTS) throw new RegistryError('EREGISTRY', `too many redirects fetching ${name} from ${redact(registry)}`, res.statusCode);
      url = new URL(location, url);
    }
  }

  /** One attempt: wait for a slot, follow redirects, read, decode, parse. Emits fetchStart/fetchEnd. */
  async function attempt(name: string, cond: ConditionalOptions, signal: AbortSignal, n: number): Promise<FetchResult> {
    const registry = registryFor(config, name);
    const first = new URL(registry + escapeName(name));
    const at = Date.now();
    const t0 = performance.now();
    const shown = redact(first.href);
    emit({ type: 'fetchStart', name, url: shown, at });
    let queuedMs = 0;
    let connectMs = 0;
    let ttfbMs = 0;
    let status = 0;
    let bytes = 0;
    let decodedBytes = 0;
    let decompressMs = 0;
    let error: string | undefined;
    let release: (() => void) | undefined;
    try {
      release = await slots.acquire(signal, name);
      // Requests start in bursts (a manifest's dependencies together, a slot freed for each of a batch of
      // answers): opening and writing dozens at once held the language server's loop for 50-65 ms.
      await breathe();
      queuedMs = performance.now() - t0;
      const sentAt = performance.now();
      const headers: Record<string, string> = { accept: ACCEPT, 'accept-encoding': 'gzip, br', 'user-agent': userAgent };
      if (cond.etag) headers['if-none-match'] = cond.etag;
      if (cond.lastModified) headers['if-modified-since'] = cond.lastModified;
      const sent = await follow(first, name, registry, headers, signal);
      const res = sent.res;
      connectMs = sent.connectMs;
      ttfbMs = performance.now() - sentAt - connectMs;
      if (res.statusCode === 429 || (res.statusCode ?? 0) >= 500) adaptive?.congestion();
      else {
        adaptive?.success(ttfbMs);
        slots.drain(); // a grown limit admits waiting requests now, not at the next release
      }
      status = res.statusCode ?? 0;
      const meta = { etag: res.headers.etag, lastModified: res.headers['last-modified'] };
      if (status === 304) {
        res.resume();
        return { status: 304, bytes: 0, ...meta };
      }
      if (status !== 200) {
        res.resume();
        throw statusError(res, name, registry, sent.authSent);
      }
      const wire = await readBody(res, signal, name);
      bytes = wire.length;
      counters.bytes += bytes;
      const encoding = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      const abbreviated = (res.headers['content-type'] ?? '').includes('vnd.npm.install-v1');
      const parsed = (await opts.parse?.(wire, encoding, abbreviated, name, maxBodyBytes)) ?? (await parseInline(wire, encoding, abbreviated, name, maxBodyBytes));
      if ('invalid' in parsed) {
        if (parsed.invalid === 'encoding') throw new Transient('ENETWORK', `corrupt or truncated ${encoding} body for ${name}`);
        if (parsed.invalid === 'size') throw new RegistryError('EREGISTRY', `the ${encoding} body of ${name} decodes to more than ${sizeText(maxBodyBytes)}; not read further`, status);
        if (parsed.invalid === 'shape') throw new RegistryError('EINVALIDJSON', parsed.message, status);
        throw new RegistryError('EINVALIDJSON', `${redact(registry)} sent invalid JSON for ${name}`, status);
      }
      ({ decodedBytes, decompressMs } = parsed);
      emit({ type: 'parse', name, ms: parsed.parseMs, at: Date.now() });
      return { status: 200, packument: parsed.packument, bytes, ...meta, ...(parsed.projection && { projection: parsed.projection }) };
    } catch (e) {
      const err = signal.aborted ? abortError(name) : networkError(e, `fetching ${name}`);
      if (e instanceof Transient && !signal.aborted) adaptive?.congestion();
      error = `${err.code}: ${err.message}`;
      status ||= (err as RegistryError).status ?? 0;
      throw err;
    } finally {
      release?.();
      emit({ type: 'fetchEnd', name, url: shown, at: Date.now(), status, bytes, decodedBytes, queuedMs, connectMs, ttfbMs, decompressMs, totalMs: performance.now() - t0, attempt: n, error });
    }
  }

  /** Full jitter: uniform in [0, min(max, min * factor^(retry-1))], like AWS's recommended backoff. */
  function backoffMs(retry: number): number {
    const cap = Math.min(config.fetchRetryMaxtimeout, config.fetchRetryMintimeout * config.fetchRetryFactor ** (retry - 1));
    return Math.random() * cap;
  }

  function wait(ms: number, signal: AbortSignal, name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortError(name));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Runs `once` until it succeeds, fails for good, or the attempts (npm's fetch-retries) run out. */
  async function withRetries<T>(name: string, signal: AbortSignal, once: (n: number) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await once(n);
      } catch (e) {
        const err = e as RegistryError;
        if (!(err instanceof Transient) || n > retries || signal.aborted) {
          if (err.code !== 'EABORTED') counters.errors++;
          throw err;
        }
        const delayMs = err.retryAfterMs ?? backoffMs(n);
        counters.retries++;
        emit({ type: 'retry', name, attempt: n + 1, delayMs, reason: err.message, at: Date.now() });
        await wait(delayMs, signal, name);
      }
    }
  }

  const fetchWithRetries = (name: string, cond: ConditionalOptions, signal: AbortSignal): Promise<FetchResult> => withRetries(name, signal, (n) => attempt(name, cond, signal, n));

  /**
   * A version's tarball, as published (gzipped), checked against the integrity its document gives. It
   * takes a request slot like a document, gets the credentials of its own URL, not the registry's, and
   * shows in traces as `name@version (tarball)`.
   */
  async function fetchTarball(m: Manifest, signal: AbortSignal, n: number): Promise<Buffer> {
    const id = `${m.name}@${m.version}`;
    const href = m.dist?.tarball;
    if (!href) throw new RegistryError('EREGISTRY', `the document of ${id} names no tarball`);
    const first = new URL(href);
    const label = `${id} (tarball)`;
    const shown = redact(first.href);
    const t0 = performance.now();
    emit({ type: 'fetchStart', name: label, url: shown, at: Date.now() });
    let queuedMs = 0;
    let connectMs = 0;
    let ttfbMs = 0;
    let status = 0;
    let bytes = 0;
    let error: string | undefined;
    let release: (() => void) | undefined;
    try {
      release = await slots.acquire(signal, m.name);
      queuedMs = performance.now() - t0;
      const sentAt = performance.now();
      const sent = await follow(first, `the tarball of ${id}`, first.origin, { accept: '*/*', 'user-agent': userAgent }, signal);
      connectMs = sent.connectMs;
      ttfbMs = performance.now() - sentAt - connectMs;
      status = sent.res.statusCode ?? 0;
      if (status !== 200) {
        sent.res.resume();
        throw statusError(sent.res, `the tarball of ${id}`, first.origin, sent.authSent);
      }
      const wire = await readBody(sent.res, signal, `the tarball of ${id}`);
      bytes = wire.length;
      counters.bytes += bytes;
      // SRI: space-separated `algo-digest` entries; the registry's is sha512.
      const digest = /(?:^|\s)sha512-(\S+)/.exec(m.dist?.integrity ?? '')?.[1];
      if (digest && createHash('sha512').update(wire).digest('base64') !== digest) throw new Transient('ENETWORK', `the tarball of ${id} does not match its integrity`);
      return wire;
    } catch (e) {
      const err = signal.aborted ? abortError(m.name) : networkError(e, `fetching the tarball of ${id}`);
      error = `${err.code}: ${err.message}`;
      throw err;
    } finally {
      release?.();
      emit({ type: 'fetchEnd', name: label, url: shown, at: Date.now(), status, bytes, decodedBytes: bytes, queuedMs, connectMs, ttfbMs, decompressMs: 0, totalMs: performance.now() - t0, attempt: n, error });
    }
  }

  function leave(s: Shared): void {
    if (--s.waiters > 0) return;
    s.controller.abort();
    if (inflight.get(s.key) === s) inflight.delete(s.key);
  }

  /**
   * Set by close(): nothing starts after it. A load aborted by close() and tried again (cachedSource.ts)
   * opened a new HTTP/2 session that no one would close, and `citadel resolve` never exited.
   */
  let closed = false;

  function fetchPackument(name: string, o: ConditionalOptions = {}): Promise<FetchResult> {
    if (closed) return Promise.reject(new RegistryError('EABORTED', `fetch of ${name} after the registry client was closed`));
    // Conditional and plain requests for one name get different answers, so they do not share.
    const key = `${name}\n${o.etag ?? ''}\n${o.lastModified ?? ''}`;
    const signal = o.signal;
    if (signal?.aborted) return Promise.reject(abortError(name));
    // One abort listener per concurrent fetch lands on the caller's signal: with 32 in flight Node would
    // print a MaxListenersExceededWarning (into the editor's output channel) though every one is removed.
    if (signal) setMaxListeners(0, signal);
    let s = inflight.get(key);
    if (!s) {
      const controller = new AbortController();
      const shared: Shared = { key, controller, waiters: 0, promise: undefined as unknown as Promise<FetchResult> };
      // Settled either way, the entry goes: a failure is retried by the next call, a success is the cache's job.
      shared.promise = fetchWithRetries(name, o, controller.signal).finally(() => {
        if (inflight.get(key) === shared) inflight.delete(key);
      });
      inflight.set(key, shared);
      s = shared;
    }
    s.waiters++;
    if (!signal) return s.promise;
    const joined = s;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        leave(joined);
        reject(abortError(name));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  return {
    fetchPackument,
    async packument(name, signal) {
      const r = await fetchPackument(name, { signal });
      // Unconditional requests never get 304; the narrowing is for the type checker.
      if (r.status !== 200) throw new RegistryError('EREGISTRY', `unexpected 304 for ${name}`, 304);
      return { packument: r.packument, bytes: r.bytes, etag: r.etag, lastModified: r.lastModified };
    },
    async tarball(m, signal = new AbortController().signal) {
      if (closed) throw new RegistryError('EABORTED', `fetch of ${m.name} after the registry client was closed`);
      const wire = await withRetries(m.name, signal, (n) => fetchTarball(m, signal, n));
      return tarballContents(wire).catch((e: unknown) => {
        throw new RegistryError('EREGISTRY', `the tarball of ${m.name}@${m.version} cannot be read: ${(e as Error).message}`);
      });
    },
    stats: () => ({ ...counters }),
    close() {
      closed = true;
      for (const s of inflight.values()) s.controller.abort();
      inflight.clear();
      for (const a of agents.values()) a.destroy();
      agents.clear();
      for (const p of pools.values()) p.destroy();
      pools.clear();
      for (const s of sessions.values()) s.then((session) => session?.destroy(), () => undefined);
      sessions.clear();
    },
  };
}
