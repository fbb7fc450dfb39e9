// The main thread's side of the cache writer thread: one thread per process, shared by every cached
// source (the language server makes one per resolution), fed response bodies without copying them,
// and let go (unref) whenever nothing is outstanding.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WriteDone, WriteRequest } from './cacheWorker';

export class CacheWriter {
  private static instance: CacheWriter | null | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, (d: WriteDone | undefined) => void>();
  private dead = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (batch: (WriteDone & { id: number })[]) => {
      for (const d of batch) {
        this.pending.get(d.id)?.(d);
        this.pending.delete(d.id);
      }
      if (this.pending.size === 0) worker.unref();
    });
    // A dead writer loses only cache entries: release whoever waits; callers write inline from now on.
    const release = (): void => {
      this.dead = true;
      for (const done of this.pending.values()) done(undefined);
      this.pending.clear();
    };
    worker.on('error', release);
    worker.on('exit', release);
    worker.unref();
  }

  /** The process's writer; null when the worker's script is not beside this module (dist/ and test builds have it). */
  static shared(): CacheWriter | null {
    if (CacheWriter.instance === undefined) {
      const file = join(__dirname, 'cacheWorker.js');
      try {
        CacheWriter.instance = existsSync(file) ? new CacheWriter(new Worker(file)) : null;
      } catch {
        CacheWriter.instance = null;
      }
    }
    return CacheWriter.instance?.dead ? null : CacheWriter.instance;
  }

  /** Resolves when the entry is written (or given up: undefined); undefined at once when the thread is gone. */
  write(req: WriteRequest): Promise<WriteDone | undefined> | undefined {
    if (this.dead) return undefined;
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    const done = new Promise<WriteDone | undefined>((ok) => this.pending.set(id, ok));
    // Always a copy of our own to transfer: a Buffer's memory may belong to Node (a pool, or a buffer
    // it marks untransferable), and transferring it either fails or empties every other Buffer on it.
    // new Uint8Array(view) copies (Buffer#slice would not); ~20 MB of bodies in a cold resolution.
    const json = new Uint8Array(req.json);
    if (this.batch.length === 0) setImmediate(() => this.send());
    this.batch.push({ ...req, json, id });
    return done;
  }

  // Bodies arrive a few at a time from one socket read: one message per turn of the event loop,
  // not one per body (each message costs a serialisation and a wake-up of the thread).
  private batch: (WriteRequest & { id: number })[] = [];

  private send(): void {
    const batch = this.batch;
    this.batch = [];
    // A writer that died meanwhile has already released these (see the constructor).
    try {
      this.worker.postMessage(batch, batch.map((r) => r.json.buffer as ArrayBuffer));
    } catch {
      // Never leave a flush waiting on entries that were not sent: they are given up, like any failed write.
      for (const r of batch) {
        this.pending.get(r.id)?.(undefined);
        this.pending.delete(r.id);
      }
      if (this.pending.size === 0) this.worker.unref();
    }
  }
}
