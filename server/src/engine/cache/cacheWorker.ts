// The cache's writer thread. A cold resolution fetches ~1,000 documents; projecting, compressing and
// writing each one cost the main thread about as much as resolving did. Here the second core does it,
// from the response bodies the registry client already decoded (handed over without a copy), while the
// main thread goes on resolving.
import { parentPort } from 'node:worker_threads';
import { toPackument } from '../registryClient';
import { loadWasm } from './codec';
import { DiskCache } from './diskCache';
import { encodeEntry, parseEntry, type EntryHeader } from './entry';

export interface WriteRequest {
  dir: string;
  key: string;
  header: EntryHeader;
  json: Uint8Array;
  abbreviated: boolean;
}

export interface WriteDone {
  key: string;
  written: boolean;
  bytes: number;
  rawBytes: number;
}

const disks = new Map<string, DiskCache>();
const ready = loadWasm();

parentPort?.on('message', (batch: (WriteRequest & { id: number })[]) => {
  void (async () => {
    // Together: their file operations overlap, as separate messages' did.
    parentPort!.postMessage(await Promise.all(batch.map(write)));
  })();
});

async function write(req: WriteRequest & { id: number }): Promise<WriteDone & { id: number }> {
  const done: WriteDone & { id: number } = { id: req.id, key: req.key, written: false, bytes: 0, rawBytes: 0 };
  try {
    await ready;
    const packument = toPackument(JSON.parse(Buffer.from(req.json.buffer, req.json.byteOffset, req.json.byteLength).toString('utf8')), req.abbreviated, req.header.name);
    const file = encodeEntry(req.header, packument);
    let disk = disks.get(req.dir);
    if (!disk) disks.set(req.dir, (disk = new DiskCache(req.dir)));
    done.written = disk.write(req.key, file);
    done.bytes = file.length;
    done.rawBytes = parseEntry(file).rawSize;
  } catch {
    // Best effort, as every cache write: the entry is fetched again next time.
  }
  return done;
}
