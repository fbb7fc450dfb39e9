// The main thread's side of the cache writer thread: posts response bodies without copying them,
// counts what is outstanding, and lets the thread go (unref) once nothing is.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WriteDone, WriteRequest } from './cacheWorker';

export class CacheWriter {
  private outstanding = 0;
  private dead = false;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly worker: Worker,
    onDone: (d: WriteDone) => void,
  ) {
    worker.on('message', (d: WriteDone) => {
      onDone(d);
      if (--this.outstanding === 0) {
        worker.unref();
        for (const w of this.waiters.splice(0)) w();
      }
    });
    // A dead writer loses only cache entries: release whoever waits and write inline from now on.
    worker.on('error', () => this.release());
    worker.on('exit', () => this.release());
    worker.unref();
  }

  /** Null when the worker's script is not beside this module (it is in dist/ and in the test build). */
  static start(onDone: (d: WriteDone) => void): CacheWriter | null {
    const file = join(__dirname, 'cacheWorker.js');
    if (!existsSync(file)) return null;
    try {
      return new CacheWriter(new Worker(file), onDone);
    } catch {
      return null;
    }
  }

  /** False when the thread is gone: the caller writes the entry itself. */
  post(req: WriteRequest): boolean {
    if (this.dead) return false;
    if (this.outstanding++ === 0) this.worker.ref();
    const buffer = req.json.buffer;
    // Transfer the body when it owns its buffer; a slice of a shared pool is copied instead.
    const transfer = buffer instanceof ArrayBuffer && req.json.byteOffset === 0 && req.json.byteLength === buffer.byteLength ? [buffer] : [];
    this.worker.postMessage(req, transfer);
    return true;
  }

  /** Resolves when every posted entry is written (or given up). */
  idle(): Promise<void> {
    return this.outstanding === 0 ? Promise.resolve() : new Promise((ok) => this.waiters.push(ok));
  }

  private release(): void {
    this.dead = true;
    this.outstanding = 0;
    for (const w of this.waiters.splice(0)) w();
  }
}
