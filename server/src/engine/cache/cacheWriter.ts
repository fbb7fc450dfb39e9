// The main thread's side of the cache thread (cacheWorker.ts): one thread per process, shared by every
// cached source and registry client (the language server makes them per resolution), sent bodies to
// parse and projections to write, and let go (unref) whenever nothing is outstanding.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ParsedBody } from '../registryClient';
import type { ParseDone, ParseRequest, Reply, Request, WriteDone, WriteRequest } from './cacheWorker';
import { decodeProjection } from './entry';

// The thread parses every document of a cold resolution, and each is garbage once projected: V8's default
// young generation let the process peak at 198-231 MB on the large fixture (CLI and language server),
// 186-202 MB with this limit, at no CPU cost measured in either (A/B runs of 2026-11-27, 23:00 UTC).
const YOUNG_GENERATION_MB = 4;

export class CacheWriter {
  private static instance: CacheWriter | null | undefined;
  /**
   * How long the thread may sit idle before it is let go, its heap and libzstd's memory with it; the next
   * use starts another. A language server 33 s after a cold resolution of the large fixture: 132-150 MB
   * RSS (5 runs) against 146-181 MB when the thread stayed.
   */
  static idleMs = 30_000;
  private nextId = 0;
  private readonly pending = new Map<number, (d: Reply | undefined) => void>();
  private dead = false;
  private idle: NodeJS.Timeout | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (batch: Reply[]) => {
      for (const d of batch) {
        this.pending.get(d.id)?.(d);
        this.pending.delete(d.id);
      }
      if (this.pending.size === 0) this.rest();
    });
    // A dead thread loses only cache entries: release whoever waits; callers parse and write inline from now on.
    const release = (): void => {
      this.dead = true;
      for (const done of this.pending.values()) done(undefined);
      this.pending.clear();
    };
    worker.on('error', release);
    worker.on('exit', release);
    this.rest();
  }

  /** Nothing outstanding: the thread keeps no process alive, and retires if nothing comes for idleMs. */
  private rest(): void {
    this.worker.unref();
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.pending.size) return;
      if (CacheWriter.instance === this) CacheWriter.instance = undefined;
      this.dead = true;
      void this.worker.terminate();
    }, CacheWriter.idleMs);
    this.idle.unref();
  }

  /** The process's thread; null when the worker's script is not beside this module (dist/ and test builds have it). */
  static shared(): CacheWriter | null {
    if (CacheWriter.instance === undefined) {
      const file = join(__dirname, 'cacheWorker.js');
      try {
        CacheWriter.instance = existsSync(file) ? new CacheWriter(new Worker(file, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } })) : null;
      } catch {
        CacheWriter.instance = null;
      }
    }
    return CacheWriter.instance?.dead ? null : CacheWriter.instance;
  }

  /**
   * A response body decoded, parsed and projected on the thread, read back lazily; undefined when the
   * thread died before answering (the caller handles the body inline).
   */
  async parse(wire: Uint8Array, encoding: string, abbreviated: boolean, name: string, maxBytes: number): Promise<ParsedBody | undefined> {
    // Always a copy of our own to transfer: a Buffer's memory may belong to Node (a pool, or a buffer
    // it marks untransferable), and transferring it either fails or empties every other Buffer on it.
    // new Uint8Array(view) copies (Buffer#slice would not).
    const done = (await this.send({ op: 'parse', name, wire: new Uint8Array(wire), encoding, abbreviated, maxBytes })) as ParseDone | undefined;
    if (!done) return undefined;
    if ('invalid' in done) return done.invalid === 'shape' ? { invalid: 'shape', message: done.message } : { invalid: done.invalid };
    const { projection, decodedBytes, decompressMs, parseMs } = done;
    return { packument: decodeProjection(projection), projection, decodedBytes, decompressMs, parseMs };
  }

  /** Resolves when the entry is written (or given up: undefined); undefined at once when the thread is gone. */
  write(req: Omit<WriteRequest, 'op'>): Promise<WriteDone | undefined> | undefined {
    if (this.dead) return undefined;
    // The caller keeps reading its projection: the thread gets the same shared memory it made, or a copy.
    const projection = req.projection.buffer instanceof SharedArrayBuffer ? req.projection : new Uint8Array(req.projection);
    return this.send({ op: 'write', ...req, projection }) as Promise<WriteDone | undefined>;
  }

  private send(req: ParseRequest | WriteRequest): Promise<Reply | undefined> {
    if (this.dead) return Promise.resolve(undefined);
    const id = this.nextId++;
    if (this.pending.size === 0) {
      clearTimeout(this.idle);
      this.worker.ref();
    }
    const done = new Promise<Reply | undefined>((ok) => this.pending.set(id, ok));
    if (this.queued.length === 0) setImmediate(() => this.flush(this.queued.splice(0)));
    this.queued.push({ ...req, id });
    return done;
  }

  // What is asked within one turn of the loop goes as one message (the thread answers the parses first
  // and writes after). Each message wakes the thread, and on a busy machine each wake cost this thread
  // 80-140 us (timed in a cold language server: ~1,250 messages, 0.1-0.2 s): sending each callback's
  // parses at once, as this did before, held the loop longer. Per turn, in 5 paired bench-editor runs, a
  // request during a cold resolution waited 82-106 ms at worst and 55-69 at the 95th percentile, against
  // 119-160 and 79-118, with cold resolutions no slower.
  private readonly queued: Request[] = [];

  private flush(batch: Request[]): void {
    // A thread that died meanwhile has already released these (see the constructor).
    try {
      this.worker.postMessage(
        batch,
        batch.flatMap((r) => {
          const b = (r.op === 'parse' ? r.wire : r.projection).buffer;
          return b instanceof SharedArrayBuffer ? [] : [b];
        }),
      );
    } catch {
      // Never leave a flush waiting on requests that were not sent: they are given up, like any failed write.
      for (const r of batch) {
        this.pending.get(r.id)?.(undefined);
        this.pending.delete(r.id);
      }
      if (this.pending.size === 0) this.rest();
    }
  }
}
