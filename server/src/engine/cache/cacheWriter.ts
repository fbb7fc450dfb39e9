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
    worker.on('message', (d: WriteDone & { id: number }) => {
      this.pending.get(d.id)?.(d);
      this.pending.delete(d.id);
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
    const buffer = req.json.buffer;
    // Transfer the body when it owns its buffer; a slice of a shared pool is copied instead.
    const transfer = buffer instanceof ArrayBuffer && req.json.byteOffset === 0 && req.json.byteLength === buffer.byteLength ? [buffer] : [];
    this.worker.postMessage({ ...req, id }, transfer);
    return done;
  }
}
