// The cache's second thread. A cold resolution fetches ~1,000 documents: decoding and parsing each
// response body, projecting it, compressing and writing it cost the main thread about as much as
// resolving did. Here the second core does it. A body comes over as it came off the wire (transferred,
// not copied) to be decoded, parsed and projected, and the projection goes back: the main thread reads
// it lazily (decodeProjection), parsing only the versions picking looks at. Writing the entry (compress,
// checksum, file) is the lower priority: it waits behind every parse that has arrived, since a parse is
// on the resolution's critical path.
import { parentPort } from 'node:worker_threads';
import { decodeFailure, decodeSync, projectBody, type ParsedBody } from '../registryClient';
import { loadWasm } from './codec';
import { DiskCache } from './diskCache';
import { encodeEntry, storedProjection, type EntryHeader } from './entry';

export interface ParseRequest {
  op: 'parse';
  name: string;
  /** The body as it came over the wire, and its content-encoding. */
  wire: Uint8Array;
  encoding: string;
  abbreviated: boolean;
  /** Decoded bytes past which the body is refused (RegistryClientOptions.maxBodyBytes). */
  maxBytes: number;
}

/** The projection (see entry.ts), or why there is none. */
export type ParseDone = { projection: Uint8Array; decodedBytes: number; decompressMs: number; parseMs: number } | Extract<ParsedBody, { invalid: string }>;

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
/** libzstd's WASM build (see codec.ts), loaded with the first write: a thread that only parses (the language server's large bodies) never holds its 16 MB. */
let ready: Promise<unknown> | undefined;
const writes: (WriteRequest & { id: number })[] = [];

parentPort?.on('message', (batch: Request[]) => {
  const parsed: Reply[] = [];
  for (const req of batch) {
    if (req.op === 'parse') parsed.push({ id: req.id, ...parse(req) });
    else writes.push(req);
  }
  if (parsed.length) parentPort!.postMessage(parsed);
  setImmediate(pump);
});

function parse(req: ParseRequest): ParseDone {
  const t0 = performance.now();
  let body: Buffer;
  try {
    body = decodeSync(Buffer.from(req.wire.buffer, req.wire.byteOffset, req.wire.byteLength), req.encoding, req.maxBytes);
  } catch (e) {
    return { invalid: decodeFailure(e) };
  }
  const t1 = performance.now();
  // In shared memory, not transferred: the main thread reads it in place, and the write it asks for
  // later sends the same memory back. With a copy per write, the writes queued behind parses held
  // up to 14.5 MB of duplicates at once in a cold resolution of the large fixture.
  // Every document sorted, not only large ones (entry.ts SORTED_FROM): this thread has time to spare in a
  // cold resolution, and picking on the main thread then makes entries only for the versions it reaches.
  const r = projectBody(body, req.abbreviated, req.name, true, 0);
  if ('invalid' in r) return r;
  return { projection: new Uint8Array(r.projection.buffer), decodedBytes: body.length, decompressMs: t1 - t0, parseMs: performance.now() - t1 };
}

// Writes wait behind every parse that has arrived: each turn compresses entries for a few
// milliseconds at most, then yields (setImmediate) so that parse requests are answered first. The disk
// cache appends what one turn wrote as one write to its pack.
const WRITE_SLICE_MS = 4;
let pumping = false;
let written: Reply[] = [];

function pump(): void {
  if (pumping || !writes.length) return;
  pumping = true;
  void (ready ??= loadWasm()).then(() => {
    const start = performance.now();
    while (writes.length && performance.now() - start < WRITE_SLICE_MS) {
      const req = writes.shift()!;
      void write(req).then((done) => {
        // One message for the writes that finish in a turn, not one each.
        if (!written.length) {
          setImmediate(() => {
            parentPort!.postMessage(written);
            written = [];
          });
        }
        written.push({ id: req.id, ...done });
      });
    }
    pumping = false;
    if (writes.length) setImmediate(pump);
  });
}

async function write(req: WriteRequest): Promise<WriteDone> {
  try {
    const stored = storedProjection(req.projection);
    const file = encodeEntry(req.header, undefined, stored);
    let disk = disks.get(req.dir);
    if (!disk) disks.set(req.dir, (disk = new DiskCache(req.dir)));
    return { written: await disk.write(req.key, file), bytes: file.length, rawBytes: stored.rawSize };
  } catch {
    // Best effort, as every cache write: the entry is fetched again next time.
    return { written: false, bytes: 0, rawBytes: 0 };
  }
}
