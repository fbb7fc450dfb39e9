// A lean HTTP/1.1 client for the registry's GETs: one keep-alive pool of sockets per origin, a response
// head and body framing (length, chunked, until close) read straight off the socket's chunks. node:http's
// ClientRequest, IncomingMessage streams, agent bookkeeping and header validation were ~240 ms of the
// main thread of a cold resolution of the large fixture (1,100 requests, 1,115 ms busy in all).
// Proxies keep node:http (registryClient.ts).
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';

/** The most a response head may take, as node:http's default (16 kB) with room to spare. */
const MAX_HEAD = 64 * 1024;
/** A keep-alive hint's timeout less this is when an idle socket is dropped: the server may close it then. */
const HINT_MARGIN_MS = 1000;
// Header values as node:http accepts them (no CR, LF or NUL: they would split the request).
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: |$)/;

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Idle,
}

function connectionError(message: string, code = 'ECONNRESET'): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * One request and its response, shaped as registryClient.ts reads node:http's: 'response' when the head
 * has arrived, then 'data', 'end', 'error' and 'close', `complete`, resume() and destroy(). What arrives
 * before a reader listens (a small body comes in the head's chunk) is held, as a stream holds it, and
 * delivered once a 'data' listener is added or resume() is called.
 */
export class Exchange extends EventEmitter {
  statusCode = 0;
  headers: Record<string, string> = {};
  complete = false;
  /** Time to open a new socket (TCP, and TLS), 0 on a pooled one. */
  connectMs = 0;
  /** Whether any byte of the response has arrived. */
  answered = false;
  conn: Conn | undefined;
  private flowing = false;
  private discard = false;
  private held: [string, unknown][] = [];
  /** The socket's side is over: finish() or fail() was called, or destroy(). */
  private settled = false;
  /** 'close' has been emitted: nothing more will be. */
  private closed = false;

  constructor(readonly head: string) {
    super();
    this.on('newListener', (event) => {
      if (event === 'data') queueMicrotask(() => this.flow());
    });
  }

  /** Reads on with nobody listening: the body is dropped and the socket kept. */
  resume(): void {
    this.discard = true;
    this.held = this.held.filter(([e]) => e !== 'data');
    this.flow();
  }

  /** As a stream's: what is still held is dropped, and only 'error' (with `e`) and 'close' follow. */
  destroy(e?: Error): void {
    if (this.closed) return;
    this.conn?.abandon(this);
    this.held = [];
    this.settled = false;
    this.fail(e);
  }

  /** The socket's end of it: a body chunk, the end of the body, or a failure. */
  push(chunk: Buffer): void {
    if (!this.discard && !this.settled) this.deliver('data', chunk);
  }
  finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.conn = undefined;
    this.complete = true;
    this.deliver('end');
    this.deliver('close');
  }
  fail(e?: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.conn = undefined;
    if (e) this.deliver('error', e);
    this.deliver('close');
  }

  private deliver(event: string, arg?: unknown): void {
    // Before the response there is no reader to wait for: the request's listeners hear at once.
    if (this.flowing || !this.statusCode) this.emitSafely(event, arg);
    else this.held.push([event, arg]);
  }

  private flow(): void {
    if (this.flowing) return;
    this.flowing = true;
    // A listener may destroy() midway, which replaces what is held.
    while (this.held.length) {
      const [event, arg] = this.held.shift()!;
      this.emitSafely(event, arg);
    }
  }

  private emitSafely(event: string, arg: unknown): void {
    if (this.closed) return;
    if (event === 'close') this.closed = true;
    // An 'error' nobody listens to would be thrown: the reader that left already has its answer.
    if (event === 'error' && !this.listenerCount('error')) return;
    this.emit(event, arg);
  }
}

/** One socket and the exchange on it, if any: reads the response off the socket's chunks. */
class Conn {
  private exchange: Exchange | undefined;
  private state = State.Idle;
  private pending: Buffer | undefined;
  private remaining = 0;
  private reusable = false;
  private expiresAt = Infinity;
  private keepFor = Infinity;
  private dead = false;

  constructor(
    readonly socket: net.Socket,
    private readonly pool: H1Pool,
    private connected: boolean,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', (e) => this.onClose(e));
    socket.on('end', () => this.onClose());
    socket.on('close', () => this.onClose());
  }

  /** Whether it may take another exchange now (still open, and not past its keep-alive hint). */
  get usable(): boolean {
    return !this.dead && performance.now() < this.expiresAt;
  }

  start(x: Exchange, startedAt: number): void {
    this.exchange = x;
    x.conn = this;
    this.state = State.Head;
    this.socket.ref();
    if (!this.connected) {
      this.socket.once(this.socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
        this.connected = true;
        x.connectMs = performance.now() - startedAt;
      });
    }
    this.socket.write(x.head, 'latin1');
  }

  /** The exchange gave up (timeout, abort): the socket goes, with whatever it was still to read. */
  abandon(x: Exchange): void {
    if (this.exchange !== x) return;
    this.exchange = undefined;
    this.kill();
  }

  private kill(): void {
    this.dead = true;
    this.pool.forget(this);
    this.socket.destroy();
  }

  private onClose(e?: Error): void {
    const x = this.exchange;
    const state = this.state;
    this.exchange = undefined;
    this.kill();
    if (!x) return;
    // A body framed by the connection's end is complete when the server ends it.
    if (state === State.UntilClose && !e) return x.finish();
    // As node:http's agent: a pooled socket the server had closed fails the request, and the caller's
    // retry policy decides (the pool drops a socket when its server ends it, so this is a rare race).
    x.fail(e ?? connectionError(x.answered ? 'connection closed before the response was complete' : 'socket hang up'));
  }

  private protocolError(message: string): void {
    const x = this.exchange;
    this.exchange = undefined;
    this.kill();
    x?.fail(connectionError(`invalid response: ${message}`, 'EPROTO'));
  }

  private onData(chunk: Buffer): void {
    const x = this.exchange;
    // Bytes nobody asked for: the socket cannot be trusted with another request.
    if (!x) return this.kill();
    x.answered = true;
    let b = chunk;
    if (this.pending) {
      b = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let at = 0;
    while (at < b.length) {
      switch (this.state) {
        case State.Head: {
          const end = b.indexOf('\r\n\r\n', at, 'latin1');
          if (end === -1) return this.hold(b, at, MAX_HEAD, 'head too large');
          const text = b.toString('latin1', at, end);
          at = end + 4;
          if (!this.readHead(x, text)) return;
          break;
        }
        case State.Length:
          at = this.take(x, b, at);
          if (this.remaining === 0) this.done(x, at < b.length);
          break;
        case State.ChunkSize: {
          const eol = b.indexOf('\r\n', at, 'latin1');
          if (eol === -1) return this.hold(b, at, 1024, 'chunk size line too long');
          const m = /^([0-9a-fA-F]{1,8})[\t ]*(?:;.*)?$/.exec(b.toString('latin1', at, eol));
          if (!m) return this.protocolError('bad chunk size');
          at = eol + 2;
          this.remaining = parseInt(m[1], 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData:
          at = this.take(x, b, at);
          if (this.remaining === 0) this.state = State.ChunkEnd;
          break;
        case State.ChunkEnd: {
          if (b.length - at < 2) {
            this.pending = b.subarray(at);
            return;
          }
          if (b[at] !== 13 || b[at + 1] !== 10) return this.protocolError('chunk not followed by CRLF');
          at += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const eol = b.indexOf('\r\n', at, 'latin1');
          if (eol === -1) return this.hold(b, at, MAX_HEAD, 'trailers too large');
          // Trailer fields are skipped; the empty line ends the message.
          const last = eol === at;
          at = eol + 2;
          if (last) this.done(x, at < b.length);
          break;
        }
        case State.UntilClose:
          x.push(at === 0 ? b : b.subarray(at));
          return;
        case State.Idle:
          return;
      }
      if (this.exchange !== x) return;
    }
  }

  /** Keeps an incomplete line (or head) for the next chunk, up to `limit` bytes. */
  private hold(b: Buffer, at: number, limit: number, tooLong: string): void {
    if (b.length - at > limit) return this.protocolError(tooLong);
    this.pending = b.subarray(at);
  }

  /** Passes on as much of the body's current stretch (`remaining` bytes) as this chunk holds; where it stopped. */
  private take(x: Exchange, b: Buffer, at: number): number {
    const n = Math.min(this.remaining, b.length - at);
    x.push(b.subarray(at, at + n));
    this.remaining -= n;
    return at + n;
  }

  /** The status line and fields; false when the head was refused (the exchange has failed). */
  private readHead(x: Exchange, text: string): boolean {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]);
    if (!status) {
      this.protocolError('bad status line');
      return false;
    }
    const code = Number(status[2]);
    // No prototype: a field named `constructor` is only a field.
    const headers: Record<string, string> = Object.create(null);
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon).toLowerCase() : '';
      if (!TOKEN.test(name)) {
        this.protocolError('bad header line');
        return false;
      }
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    // 1xx answers are interim (100 Continue, 103 Early Hints): the real one follows.
    if (code < 200) {
      if (code === 101) this.protocolError('unexpected protocol switch');
      return code !== 101;
    }
    const encoding = headers['transfer-encoding'];
    const length = headers['content-length'];
    const keepAlive = status[1] === '1' ? !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.connection ?? '') : /(?:^|,)\s*keep-alive\s*(?:,|$)/i.test(headers.connection ?? '');
    this.reusable = keepAlive;
    if (code === 204 || code === 304) {
      this.state = State.Idle;
    } else if (encoding !== undefined) {
      // Chunked when it is the last coding; anything else is framed by the connection's end.
      this.state = /(?:^|,)\s*chunked\s*$/i.test(encoding) ? State.ChunkSize : State.UntilClose;
    } else if (length !== undefined) {
      // Repeated, every copy must agree (RFC 9112 6.3).
      const values = new Set(length.split(',').map((v) => v.trim()));
      const [only] = values;
      if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
        this.protocolError('bad content-length');
        return false;
      }
      this.remaining = Number(only);
      this.state = this.remaining === 0 ? State.Idle : State.Length;
    } else {
      this.state = State.UntilClose;
    }
    if (this.state === State.UntilClose) this.reusable = false;
    const hint = /(?:^|,)\s*timeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
    this.keepFor = hint ? Number(hint[1]) * 1000 - HINT_MARGIN_MS : Infinity;
    x.statusCode = code;
    x.headers = headers;
    x.emit('response', x);
    if (this.state === State.Idle && this.exchange === x) this.done(x, false);
    return this.exchange === x;
  }

  /** The response is complete: the exchange ends and the socket goes back to the pool, or away. */
  private done(x: Exchange, extra: boolean): void {
    this.exchange = undefined;
    this.state = State.Idle;
    if (this.reusable && !extra) {
      this.expiresAt = performance.now() + this.keepFor;
      this.socket.unref();
      this.pool.release(this);
    } else this.kill();
    x.finish();
  }
}

export interface H1Origin {
  protocol: string;
  hostname: string;
  port: number;
  lookup: net.LookupFunction;
  /** For https: the TLS context (undefined: Node's default roots) and whether to verify the certificate. */
  secureContext?: tls.SecureContext;
  rejectUnauthorized?: boolean;
}

/** The keep-alive sockets of one origin. Requests in flight are bounded by the caller, not here. */
export class H1Pool {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();

  constructor(private readonly origin: H1Origin) {}

  /**
   * Starts a GET. Header values with characters node:http refuses throw (a CR or LF from a config
   * file would otherwise split the request).
   */
  get(path: string, host: string, headers: Record<string, string>): Exchange {
    let head = `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n`;
    for (const name in headers) {
      const value = headers[name];
      if (INVALID_VALUE.test(value)) throw new TypeError(`invalid character in the ${name} header`);
      head += `${name}: ${value}\r\n`;
    }
    const x = new Exchange(head + '\r\n');
    this.dispatch(x);
    return x;
  }

  /** Takes a socket already connected to the origin (the HTTP/2 probe's, when ALPN chose HTTP/1.1). */
  adopt(socket: net.Socket): void {
    const c = new Conn(socket, this, true);
    this.all.add(c);
    socket.unref();
    this.idle.push(c);
  }

  private dispatch(x: Exchange): void {
    const startedAt = performance.now();
    let c: Conn | undefined;
    // The most recently used first: the least likely to have been closed by the server.
    while (!c && this.idle.length) {
      const candidate = this.idle.pop()!;
      if (candidate.usable) c = candidate;
      else candidate.socket.destroy();
    }
    if (!c) {
      c = new Conn(this.connect(), this, false);
      this.all.add(c);
    }
    c.start(x, startedAt);
  }

  release(c: Conn): void {
    this.idle.push(c);
  }

  forget(c: Conn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
  }

  destroy(): void {
    for (const c of this.all) c.socket.destroy();
  }

  private connect(): net.Socket {
    const o = this.origin;
    if (o.protocol === 'http:') return net.connect({ host: o.hostname, port: o.port, lookup: o.lookup });
    return tls.connect({
      host: o.hostname,
      port: o.port,
      ...(!net.isIP(o.hostname) && { servername: o.hostname }),
      ALPNProtocols: ['http/1.1'],
      lookup: o.lookup,
      secureContext: o.secureContext,
      rejectUnauthorized: o.rejectUnauthorized,
    });
  }
}
