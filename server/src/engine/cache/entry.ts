// One cache entry as bytes: a fixed binary prefix, a small JSON header (read without decompressing,
// so a conditional request needs no body), and the payload: a zstd frame (or raw bytes) of the
// compact projection. A SHA-1 over everything but itself catches truncation, bit flips and torn writes;
// the format version is checked before anything else.
//
//   0  'CTDL'          4  u8 format version   5  u8 codec (0 raw, 1 zstd)   6  u16 reserved (0)
//   8  u32 header len  12 u32 payload len     16 u32 decoded length         20 sha1 (20 bytes)
//   40 header JSON     40+H payload           file length == 40 + H + P, exactly
//
// The decoded projection: u32 meta length, meta JSON { name, distTags, time?, modified?, v: [version,
// end offset]..., o?: positions highest version first }, then each version's manifest as JSON, back to
// back. Versions are parsed on first access: picking reads a handful of the hundreds a packument lists.
import { createHash } from 'node:crypto';
import { toManifest } from '../manifest';
import type { Manifest, Packument } from '../types';
import { descendingOrder, registerVersionKeys } from '../versionKeys';
import { CodecError, compress, decompress } from './codec';

export const FORMAT_VERSION = 1;
const MAGIC = 0x4c445443; // 'CTDL' little-endian
const PREFIX = 40;

export interface EntryHeader {
  name: string;
  /** Registry base URL the document came from (no credentials: userinfo is stripped before it gets here). */
  registry: string;
  etag?: string;
  lastModified?: string;
  /** Epoch ms of the last fetch or 304 revalidation. */
  fetchedAt: number;
}

export interface DecodedEntry {
  header: EntryHeader;
  packument: Packument;
  /** Decoded projection size: what the memory tier charges. */
  rawSize: number;
  /** The stored payload (compressed unless codec is 0), reusable when only the header changes. */
  payload: Uint8Array;
  codec: number;
}

/** Only what resolution, hovers and diagnostics read; signatures, fileCount and the like are dropped. */
export function projectManifest(m: Manifest): Manifest {
  return toManifest(m as unknown as Record<string, unknown>);
}

/**
 * Documents with at least this many versions are projected with their order (highest first), so that
 * picking on the main thread need not sort them: typescript's ~3,400 took 30-50 ms in one turn of a
 * cold language server's loop. The threshold is for projections made on the thread that resolves (the
 * language server's reading, encodeProjection): the cache thread sorts every document since it reads
 * them off their bytes (cacheWorker.ts). When it parsed them, sorting each made cold CLI runs ~5% slower.
 */
export const SORTED_FROM = 1000;

/**
 * Manifests are written into this buffer as they are serialized, then copied behind the meta: joining
 * them into one string first, and measuring it, was over a third of what the cache thread allocated.
 * It keeps the size of the largest projection up to SCRATCH_KEEP; a larger one is dropped after use.
 */
let scratch = Buffer.allocUnsafeSlow(0);
const SCRATCH_KEEP = 4 * 1024 * 1024;

/**
 * Serializes the projection of a packument (see the layout above), into one buffer of its own: shared
 * memory when `shared` (the cache thread's projections, see cacheWorker.ts).
 */
export function encodeProjection(p: Packument, sortedFrom = SORTED_FROM, shared = false): Buffer {
  const versions = p.versions ?? {};
  const keys = Object.keys(versions);
  const v: (string | number)[] = [];
  let end = 0;
  for (let i = 0; i < keys.length; i++) {
    const json = JSON.stringify(projectManifest(versions[keys[i]]));
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair's 4 bytes are 2 units).
    if (scratch.length - end < json.length * 3) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, end + json.length * 3, 64 * 1024));
      scratch.copy(grown, 0, 0, end);
      scratch = grown;
    }
    end += scratch.write(json, end);
    v.push(keys[i], end);
  }
  const out = layOut(p, keys, v, scratch, end, shared, sortedFrom);
  if (scratch.length > SCRATCH_KEEP) scratch = Buffer.allocUnsafeSlow(0);
  return out;
}

/**
 * The projection of `p`'s meta around its versions' manifests, serialized back to back in
 * versions[0, end): `keys` the versions' names, `v` each name and its end offset.
 */
export function layOut(p: Packument, keys: string[], v: (string | number)[], versions: Buffer, end: number, shared: boolean, sortedFrom = SORTED_FROM): Buffer {
  const time = p.time;
  const o = keys.length >= sortedFrom ? descendingOrder(keys) : undefined;
  const meta = JSON.stringify({ name: p.name, distTags: p['dist-tags'] ?? {}, ...(time && { time }), ...(p.modified && { modified: p.modified }), v, ...(o && { o }) });
  const metaLen = Buffer.byteLength(meta);
  const size = 4 + metaLen + end;
  const out = shared ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafeSlow(size);
  out.writeUInt32LE(metaLen, 0);
  out.write(meta, 4);
  versions.copy(out, 4 + metaLen, 0, end);
  return out;
}

/** A projection as an entry stores it: zstd-compressed when an encoder is loaded, else raw. */
export function storedProjection(raw: Uint8Array): { payload: Uint8Array; codec: number; rawSize: number } {
  const z = compress(raw);
  return { payload: z ?? raw, codec: z ? 1 : 0, rawSize: raw.length };
}

/** Builds a Packument over a decoded projection whose versions parse themselves on first access. */
export function decodeProjection(raw: Uint8Array): Packument {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length < 4) throw new CodecError('projection too short');
  const metaLen = buf.readUInt32LE(0);
  if (4 + metaLen > buf.length) throw new CodecError('projection meta out of bounds');
  let meta: { name: string; distTags: Record<string, string>; time?: Record<string, string>; modified?: string; v: (string | number)[]; o?: unknown };
  try {
    meta = JSON.parse(buf.toString('utf8', 4, 4 + metaLen));
  } catch {
    throw new CodecError('projection meta is not JSON');
  }
  const base = 4 + metaLen;
  const v = meta.v;
  if (!Array.isArray(v) || v.length % 2 || (v.length ? v[v.length - 1] : 0) !== buf.length - base) throw new CodecError('projection index does not cover its body');
  return {
    name: meta.name,
    'dist-tags': meta.distTags,
    versions: lazyVersions(buf, base, v, isOrder(meta.o, v.length / 2) ? meta.o : undefined),
    ...(meta.time && { time: meta.time }),
    ...(meta.modified && { modified: meta.modified }),
  };
}

/** A permutation of 0..n-1 (a small document, or an entry written before versions were sorted, has none). */
function isOrder(o: unknown, n: number): o is number[] {
  if (!Array.isArray(o) || o.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const i of o) {
    if (!Number.isInteger(i) || i < 0 || i >= n || seen[i]) return false;
    seen[i] = 1;
  }
  return true;
}

/**
 * A versions record that parses each manifest on first access. A Proxy over a plain object, not one
 * getter per version: defining ~100k accessors for a warm resolution cost more than parsing the few
 * versions that picking actually reads. Keys, `in`, spread and JSON.stringify behave as on a plain object.
 */
function lazyVersions(buf: Buffer, base: number, v: (string | number)[], order: number[] | undefined): Record<string, Manifest> {
  let index: Map<string, number> | undefined;
  let keys: string[] | undefined;
  const slot = (k: string): number | undefined => {
    if (!index) {
      index = new Map();
      for (let i = 0; i < v.length; i += 2) index.set(v[i] as string, i);
    }
    return index.get(k);
  };
  const parsed = Object.create(null) as Record<string, Manifest>;
  const value = (k: string): Manifest | undefined => {
    const hit = parsed[k];
    if (hit !== undefined || typeof k !== 'string') return hit;
    const i = slot(k);
    if (i === undefined) return undefined;
    const start = base + (i === 0 ? 0 : (v[i - 1] as number));
    const end = base + (v[i + 1] as number);
    if (!(start <= end && end <= buf.length)) throw new CodecError('projection version out of bounds');
    return (parsed[k] = JSON.parse(buf.toString('utf8', start, end)) as Manifest);
  };
  const ownKeys = (): string[] => (keys ??= v.filter((_x, i) => i % 2 === 0) as string[]);
  const versions = new Proxy(parsed, {
    get: (_t, k) => (typeof k === 'string' ? value(k) : undefined),
    has: (_t, k) => typeof k === 'string' && slot(k) !== undefined,
    ownKeys,
    // Object.keys asks for every key's descriptor: answer without parsing (an accessor that parses when read).
    getOwnPropertyDescriptor: (_t, k) =>
      typeof k === 'string' && slot(k) !== undefined ? { get: () => value(k), enumerable: true, configurable: true } : undefined,
    set: () => false,
    deleteProperty: () => false,
  });
  registerVersionKeys(versions, ownKeys, order);
  return versions;
}

function checksum(file: Uint8Array, headerAndPayloadStart: number): Buffer {
  return createHash('sha1').update(file.subarray(0, 20)).update(file.subarray(headerAndPayloadStart)).digest();
}

/** Encodes a whole entry file. A stored projection is reused as is when given (a 304 rewrites only the header). */
export function encodeEntry(header: EntryHeader, packument: Packument | undefined, reuse?: { payload: Uint8Array; codec: number; rawSize: number }): Buffer {
  let payload: Uint8Array;
  let codec: number;
  let rawSize: number;
  if (reuse) ({ payload, codec, rawSize } = reuse);
  else ({ payload, codec, rawSize } = storedProjection(encodeProjection(packument!)));
  const h = Buffer.from(JSON.stringify(header));
  const file = Buffer.alloc(PREFIX + h.length + payload.length);
  file.writeUInt32LE(MAGIC, 0);
  file.writeUInt8(FORMAT_VERSION, 4);
  file.writeUInt8(codec, 5);
  file.writeUInt32LE(h.length, 8);
  file.writeUInt32LE(payload.length, 12);
  file.writeUInt32LE(rawSize, 16);
  h.copy(file, PREFIX);
  file.set(payload, PREFIX + h.length);
  checksum(file, PREFIX).copy(file, 20);
  return file;
}

export interface ParsedEntry {
  header: EntryHeader;
  codec: number;
  rawSize: number;
  payload: Uint8Array;
}

/** Validates structure and checksum; throws CodecError on anything off. Does not decompress. */
export function parseEntry(file: Uint8Array): ParsedEntry {
  return readEntry(file, true);
}

/**
 * The header alone, unverified (the checksum covers the payload too): what a conditional request needs,
 * sent before the entry is decoded. undefined when the entry is not even shaped like one.
 */
export function peekHeader(file: Uint8Array): EntryHeader | undefined {
  try {
    return readEntry(file, false).header;
  } catch {
    return undefined;
  }
}

function readEntry(file: Uint8Array, verify: boolean): ParsedEntry {
  if (file.length < PREFIX) throw new CodecError('entry shorter than its prefix');
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.readUInt32LE(0) !== MAGIC) throw new CodecError('not a cache entry');
  const version = b.readUInt8(4);
  if (version !== FORMAT_VERSION) throw new CodecError(`entry format ${version}, expected ${FORMAT_VERSION}`);
  const codec = b.readUInt8(5);
  if (codec > 1 || b.readUInt16LE(6) !== 0) throw new CodecError('unknown codec');
  const hLen = b.readUInt32LE(8);
  const pLen = b.readUInt32LE(12);
  const rawSize = b.readUInt32LE(16);
  if (PREFIX + hLen + pLen !== b.length) throw new CodecError('entry length does not match its prefix (truncated?)');
  if (verify && !checksum(b, PREFIX).equals(b.subarray(20, 40))) throw new CodecError('checksum mismatch');
  let header: EntryHeader;
  try {
    header = JSON.parse(b.toString('utf8', PREFIX, PREFIX + hLen)) as EntryHeader;
  } catch {
    throw new CodecError('header is not JSON');
  }
  if (typeof header?.name !== 'string' || typeof header.fetchedAt !== 'number') throw new CodecError('header lacks name or fetchedAt');
  const payload = b.subarray(PREFIX + hLen);
  if (codec === 0 && payload.length !== rawSize) throw new CodecError('raw payload size mismatch');
  return { header, codec, rawSize, payload };
}

export function decodeEntry(file: Uint8Array): DecodedEntry {
  const e = parseEntry(file);
  const raw = e.codec === 1 ? decompress(e.payload, e.rawSize) : e.payload;
  const packument = decodeProjection(raw);
  if (packument.name !== e.header.name) throw new CodecError(`entry holds ${packument.name}, header says ${e.header.name}`);
  return { header: e.header, packument, rawSize: e.rawSize, payload: e.payload, codec: e.codec };
}
