// The cache's second thread. A cold resolution fetches ~1,000 documents: parsing each response body,
// projecting it, compressing and writing it cost the main thread about as much as resolving did.
// Here the second core does it. A body comes over (transferred, not copied) to be parsed and projected,
// and the projection goes back: the main thread reads it lazily (decodeProjection), parsing only the
// versions picking looks at. Writing the entry (compress, checksum, file) is the lower priority: it
// waits behind every parse that has arrived, since a parse is on the resolution's critical path.
import { parentPort } from 'node:worker_threads';
import { toPackument } from '../registryClient';
import { loadWasm } from './codec';
import { DiskCache } from './diskCache';
import { encodeEntry, encodeProjection, storedProjection, type EntryHeader } from './entry';

export interface ParseRequest {
  op: 'parse';
  name: string;
  json: Uint8Array;
  abbreviated: boolean;
}

/** The projection (see entry.ts), or why there is none: the body is not JSON, or not a packument. */
export type ParseDone = { projection: Uint8Array; ms: number } | { error: 'json' } | { error: 'shape'; message: string };

export interface WriteRequest {
  op: 'write';
  dir: string;
  key: string;
  header: EntryHeader;
  projection: Uint8Array;
}

export interface WriteDone {
  written: boolean;
  bytes: number;
  rawBytes: number;
}

export type Request = (ParseRequest | WriteRequest) & { id: number };
export type Reply = (ParseDone | WriteDone) & { id: number };

const disks = new Map<string, DiskCache>();
const ready = loadWasm();
const writes: (WriteRequest & { id: number })[] = [];
let draining = false;

parentPort?.on('message', (batch: Request[]) => {
  const parsed: Reply[] = [];
  for (const req of batch) {
    if (req.op === 'parse') parsed.push({ id: req.id, ...parse(req) });
    else writes.push(req);
  }
  if (parsed.length) {
    parentPort!.postMessage(
      parsed,
      parsed.flatMap((r) => ('projection' in r ? [r.projection.buffer as ArrayBuffer] : [])),
    );
  }
  if (!draining && writes.length) {
    draining = true;
    void ready.then(() => setImmediate(drain));
  }
});

function parse(req: ParseRequest): ParseDone {
  const t0 = performance.now();
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(req.json.buffer, req.json.byteOffset, req.json.byteLength).toString('utf8'));
  } catch {
    return { error: 'json' };
  }
  try {
    // A copy of its own: a small Buffer is a view into a pool, which must not be transferred.
    const projection = new Uint8Array(encodeProjection(toPackument(doc, req.abbreviated, req.name)));
    return { projection, ms: performance.now() - t0 };
  } catch (e) {
    return { error: 'shape', message: e instanceof Error ? e.message : String(e) };
  }
}

// A few writes per turn: a parse request that arrives meanwhile is answered before the next few.
const WRITES_PER_TURN = 4;
function drain(): void {
  const done: Reply[] = writes.splice(0, WRITES_PER_TURN).map((req) => ({ id: req.id, ...write(req) }));
  parentPort!.postMessage(done);
  if (writes.length) setImmediate(drain);
  else draining = false;
}

function write(req: WriteRequest): WriteDone {
  try {
    const stored = storedProjection(req.projection);
    const file = encodeEntry(req.header, undefined, stored);
    let disk = disks.get(req.dir);
    if (!disk) disks.set(req.dir, (disk = new DiskCache(req.dir)));
    return { written: disk.write(req.key, file), bytes: file.length, rawBytes: stored.rawSize };
  } catch {
    // Best effort, as every cache write: the entry is fetched again next time.
    return { written: false, bytes: 0, rawBytes: 0 };
  }
}
