// A PackumentSource in front of the registry client: memory tier, then disk tier, then the network,
// with npm's freshness modes. Fresh entries (younger than the TTL) make no request at all; stale ones
// are revalidated with If-None-Match / If-Modified-Since, and a 304 only refreshes the header. When the
// registry fails (network, timeout, 5xx, bad JSON) and a stale copy exists, the copy is served and one
// `stale-cache` warning names them all, instead of an error per package. Writes are best effort,
// happen off the resolution's critical path and are awaited by flush().
import type { FetchResult, RegistryClient } from '../registryClient';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { breathe } from '../breathe';
import { RegistryError, type EngineEvent, type EventSink, type FetchedPackument, type Manifest, type PackumentSource, type Problem, type TarballContents } from '../types';
import { CodecError, loadWasm } from './codec';
import { cleanRegistry, DiskCache, entryKey } from './diskCache';
import { decodeEntry, encodeEntry, encodeProjection, parseEntry, peekHeader, storedProjection, type EntryHeader } from './entry';
import { DEFAULT_EVICTION, enforceCap, type EvictionPolicy } from './eviction';
import { MemoryCache, type MemoryEntry } from './memoryCache';
import { predictionStats, type PredictionStats } from './usageModel';
import { CacheWriter } from './cacheWriter';
import { readRecord, writeRecord } from './recordFile';
import { DEFAULT_TTL_MS, freshFor } from './resultMemo';

/** npm's names: default (TTL, then revalidate), --prefer-offline, --prefer-online, --offline. */
export type CacheMode = 'default' | 'prefer-offline' | 'prefer-online' | 'offline';

export const DEFAULT_MAX_DISK_BYTES = 2 * 1024 * 1024 * 1024;

export interface CachedSourceOptions {
  /** The disk tier's directory; without it the cache is memory only. */
  dir?: string;
  mode?: CacheMode;
  ttlMs?: number;
  /** A memory tier to share (the language server keeps one across resolutions). */
  memory?: MemoryCache;
  memoryBytes?: number;
  maxDiskBytes?: number;
  eviction?: EvictionPolicy;
  /** The registry base URL a package is fetched from (npm's scoped-registry rule). */
  registryFor(name: string): string;
  /** Injectable clock (tests). */
  now?: () => number;
  onEvent?: EventSink;
  /** Fetched entries are written by the cache thread (default), or queued for flush() (see ProjectCacheOptions.thread). */
  threadWrites?: boolean;
}

export interface CacheStats {
  memoryHits: number;
  /** Disk entries served without a request (fresh, or any age under prefer-offline/offline). */
  diskHits: number;
  /** Conditional requests answered 304 / answered with a new document. */
  revalidated: number;
  replaced: number;
  /** Fetched because nothing was cached. */
  misses: number;
  offlineMisses: number;
  staleServed: number;
  corrupt: number;
  evictions: number;
  writes: number;
  /** Compressed bytes written / their decoded projection size. */
  bytesWritten: number;
  rawBytesWritten: number;
  /** Entry bytes read from disk / their decoded size. */
  bytesRead: number;
  rawBytesRead: number;
  /** Time spent checking and decoding disk entries. */
  decodeMs: number;
}

export interface CachedSource extends PackumentSource {
  /** Starts loading (and, if stale, revalidating) these names now, in one parallel wave. */
  prefetch(names: Iterable<string>): void;
  /** Names the resolver asked for since creation (what the usage model records). */
  requested(): string[];
  prediction(): PredictionStats;
  /** One warning when stale entries were served for an unreachable registry; empties the list. */
  takeProblems(): Problem[];
  stats(): CacheStats;
  /**
   * Whether every one of these documents is unchanged: each is sent a conditional request at once (its
   * entry's header only is read), and a 304 refreshes the entry's header without decoding it. A
   * document the cache does not hold, or one that changed (its new copy is stored), answers false; one
   * the registry could not be asked about stands as cached, with a stale-cache warning (takeProblems).
   */
  unchanged(names: readonly string[], signal?: AbortSignal): Promise<boolean>;
  /** Waits for pending writes, appends access records, applies the disk cap. */
  flush(): Promise<void>;
  readonly memory: MemoryCache;
  readonly disk?: DiskCache;
}

const TARBALL_MAGIC = 'citadel-tarball-1';

function tarballFile(dir: string, m: Manifest): string {
  const id = m.dist?.integrity ?? m.dist?.tarball ?? `${m.name}@${m.version}`;
  return join(dir, 'tarballs', `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);
}

/** Failures for which a stale copy beats an error: the registry is down or broken, not saying "no". */
const STALE_OK = new Set(['ENETWORK', 'ETIMEDOUT', 'EREGISTRY', 'EINVALIDJSON']);

export function createCachedSource(client: RegistryClient, opts: CachedSourceOptions): CachedSource {
  const mode = opts.mode ?? 'default';
  const ttl = opts.ttlMs ?? DEFAULT_TTL_MS;
  const now = opts.now ?? Date.now;
  const emitRaw: EventSink = opts.onEvent ?? (() => undefined);
  const emit = (e: Omit<Extract<EngineEvent, { type: 'cache' }>, 'type' | 'at'>): void => emitRaw({ type: 'cache', at: Date.now(), ...e });
  const disk = opts.dir ? new DiskCache(opts.dir) : undefined;
  const s: CacheStats = {
    memoryHits: 0,
    diskHits: 0,
    revalidated: 0,
    replaced: 0,
    misses: 0,
    offlineMisses: 0,
    staleServed: 0,
    corrupt: 0,
    evictions: 0,
    writes: 0,
    bytesWritten: 0,
    rawBytesWritten: 0,
    bytesRead: 0,
    rawBytesRead: 0,
    decodeMs: 0,
  };
  const memory = opts.memory ?? new MemoryCache(opts.memoryBytes);
  const inflight = new Map<string, Promise<FetchedPackument>>();
  const pending = new Set<Promise<void>>();
  const accessLines: string[] = [];
  const requested = new Set<string>();
  const prefetched = new Set<string>();
  const stale = new Map<string, string>();
  // libzstd's WASM build (see codec.ts), loaded (~20 ms) at the first entry to decode or encode here, not
  // before: its memory is 16.5 MB that a cold CLI resolution (every entry written by the cache thread)
  // never needs.
  let codecReady: Promise<unknown> | undefined;
  const codec = () => (codecReady ??= loadWasm());

  function served(e: MemoryEntry): FetchedPackument {
    return { packument: e.packument, bytes: 0, etag: e.header.etag, lastModified: e.header.lastModified, fromCache: true, fetchedAt: e.header.fetchedAt };
  }

  function touch(key: string): void {
    if (disk) accessLines.push(`${now()} ${key}\n`);
  }

  /** By npm's rule for the mode, the same the result memo applies to its picks. */
  const isFresh = (h: EntryHeader): boolean => freshFor(h.fetchedAt, { mode, ttlMs: ttl, now: now() });

  /** The entry's header after a 304: fetched now, with the validators the registry sent, if any. */
  const refreshed = (h: EntryHeader, r: { etag?: string; lastModified?: string }): EntryHeader => ({ ...h, fetchedAt: now(), ...(r.etag && { etag: r.etag }), ...(r.lastModified && { lastModified: r.lastModified }) });

  /** Never trust a damaged entry, never crash on it: count, drop, refetch. */
  function dropCorrupt(key: string, name: string): void {
    s.corrupt++;
    emit({ action: 'corrupt', name, tier: 'disk' });
    disk!.remove(key);
  }

  /** The registry could not be asked: the cached copy is served, and named in one warning (takeProblems). */
  function serveStale(name: string, why: string): void {
    s.staleServed++;
    stale.set(name, why);
    emit({ action: 'stale', name });
  }

  /** A write flush() waits for. */
  function pend(p: Promise<void>): void {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }

  async function decodeDisk(bytes: Buffer, key: string, name: string, registry: string): Promise<MemoryEntry | undefined> {
    // A manifest's dependencies are loaded together: decoding dozens of entries at once held a new
    // language server's loop for 60-80 ms in its first (warm) resolution.
    await breathe();
    await codec();
    const t0 = performance.now();
    try {
      const d = decodeEntry(bytes);
      if (d.header.name !== name || d.header.registry !== registry) throw new CodecError('entry is for another package or registry');
      s.bytesRead += bytes.length;
      s.rawBytesRead += d.rawSize;
      const e: MemoryEntry = { header: d.header, packument: d.packument, rawSize: d.rawSize, stored: { payload: d.payload, codec: d.codec } };
      memory.set(key, e);
      return e;
    } catch {
      dropCorrupt(key, name);
      return undefined;
    } finally {
      s.decodeMs += performance.now() - t0;
    }
  }

  // Writes wait for flush(), after the resolution: compressing a thousand entries on the main thread
  // while packuments are still arriving delayed the resolution itself.
  const queued = new Map<string, MemoryEntry>();
  function queueWrite(key: string, e: MemoryEntry): void {
    if (disk) queued.set(key, e);
  }

  async function writeQueued(): Promise<void> {
    if (!disk || !queued.size) return;
    await codec();
    const writes: Promise<void>[] = [];
    for (const [key, e] of queued) {
      queued.delete(key);
      // Compressing is the long part: the language server's loop gets its turns between slices.
      await breathe();
      try {
        // The payload is made here and kept, not read back out of the file (a second SHA-1 of every entry).
        const stored = e.stored ? { ...e.stored, rawSize: e.rawSize } : storedProjection(e.projection ?? encodeProjection(e.packument));
        const file = encodeEntry(e.header, undefined, stored);
        if (!e.stored) {
          e.stored = { payload: stored.payload, codec: stored.codec };
          e.rawSize = stored.rawSize;
        }
        // Not awaited one by one: the disk cache appends what is asked within a turn at once, and a
        // thousand headers refreshed by 304s went out as a thousand appends (two files opened and closed
        // for each) when each write waited for the last. breathe() above still yields between slices.
        writes.push(
          disk.write(key, file).then((ok) => {
            if (!ok) return;
            s.writes++;
            s.bytesWritten += file.length;
            s.rawBytesWritten += stored.rawSize;
          }),
        );
      } catch {
        // Best effort: an entry that cannot be written is fetched again next time.
      }
    }
    await Promise.all(writes);
  }

  function store(key: string, name: string, registry: string, r: FetchedPackument): MemoryEntry {
    const header: EntryHeader = { name, registry, fetchedAt: now(), ...(r.etag && { etag: r.etag }), ...(r.lastModified && { lastModified: r.lastModified }) };
    // Without a projection to measure, charge the memory tier an estimate (decoded JSON is ~8x the gzip on the wire).
    const e: MemoryEntry = { header, packument: r.packument, rawSize: r.projection?.length ?? Math.max(1024, r.bytes * 8), ...(r.projection && { projection: r.projection }) };
    memory.set(key, e);
    touch(key);
    const written = disk && r.projection && opts.threadWrites !== false ? CacheWriter.shared()?.write({ dir: disk.dir, key, header, projection: r.projection }) : undefined;
    if (!written) queueWrite(key, e);
    else {
      // Entries fetched from the network are written by the shared writer thread (cacheWorker.ts).
      pend(
        written.then((done) => {
          if (done?.written) {
            s.writes++;
            s.bytesWritten += done.bytes;
            s.rawBytesWritten += done.rawBytes;
          }
        }),
      );
    }
    return e;
  }

  /** `asked` is the conditional request for `e`, when it was sent before `e` was decoded (load()). */
  async function revalidate(key: string, name: string, registry: string, e: MemoryEntry, signal?: AbortSignal, asked?: Promise<FetchResult>): Promise<FetchedPackument> {
    try {
      const r = await (asked ?? client.fetchPackument(name, { etag: e.header.etag, lastModified: e.header.lastModified, signal }));
      if (r.status === 304) {
        s.revalidated++;
        emit({ action: 'revalidate', name, status: 304 });
        const next: MemoryEntry = { ...e, header: refreshed(e.header, r) };
        memory.set(key, next);
        touch(key);
        queueWrite(key, next);
        // A 304 is still a request (without a body), not a cache hit.
        return { ...served(next), fromCache: false };
      }
      s.replaced++;
      emit({ action: 'revalidate', name, status: 200 });
      const stored = store(key, name, registry, r);
      return { packument: r.packument, bytes: r.bytes, etag: r.etag, lastModified: r.lastModified, fetchedAt: stored.header.fetchedAt };
    } catch (err) {
      if (err instanceof RegistryError && STALE_OK.has(err.code) && !signal?.aborted) {
        serveStale(name, err.message);
        return served(e);
      }
      throw err;
    }
  }

  /** A name's entry key and the registry its document comes from (npm's scoped-registry rule). */
  function locate(name: string): { key: string; registry: string } {
    const registryUrl = opts.registryFor(name);
    return { key: entryKey(registryUrl, name), registry: cleanRegistry(registryUrl) };
  }

  async function load(name: string, signal?: AbortSignal): Promise<FetchedPackument> {
    const { key, registry } = locate(name);
    let e = memory.get(key);
    let tier: 'memory' | 'disk' = 'memory';
    let asked: Promise<FetchResult> | undefined;
    if (!e) {
      const bytes = disk?.read(key);
      if (bytes) {
        // A stale entry's conditional request goes out first, and the entry is decoded while it is in
        // flight: decoding a thousand stale entries before the first request went out (a run after the
        // TTL, or --prefer-online) put 150 ms in front of the revalidations of the large fixture.
        const head = peekHeader(bytes);
        if (head && head.name === name && head.registry === registry && !isFresh(head)) {
          asked = client.fetchPackument(name, { etag: head.etag, lastModified: head.lastModified, signal });
          asked.catch(() => undefined);
        }
        e = await decodeDisk(bytes, key, name, registry);
        tier = 'disk';
      }
    }
    if (e) {
      if (isFresh(e.header)) {
        if (tier === 'memory') s.memoryHits++;
        else s.diskHits++;
        emit({ action: 'hit', name, tier });
        touch(key);
        return served(e);
      }
      return revalidate(key, name, registry, e, signal, asked);
    }
    emit({ action: 'miss', name });
    if (mode === 'offline') {
      s.offlineMisses++;
      throw new RegistryError('EOFFLINE', `${name} is not in the cache${disk ? ` (${disk.dir})` : ''}, and offline mode allows no request. Resolve once online to fill it.`);
    }
    s.misses++;
    // An entry that failed its checksum after its conditional request went out: a 304 cannot stand on it.
    const r = await (asked ? asked.then((a) => (a.status === 200 ? a : client.fetchPackument(name, { signal }))) : client.fetchPackument(name, { signal }));
    if (r.status !== 200) throw new RegistryError('EREGISTRY', `unexpected 304 for ${name}`, 304);
    const stored = store(key, name, registry, r);
    // The cache's clock, not the fetcher's: picks and memos are judged fresh by it.
    return { packument: r.packument, bytes: r.bytes, etag: r.etag, lastModified: r.lastModified, fetchedAt: stored.header.fetchedAt };
  }

  function get(name: string, signal?: AbortSignal): Promise<FetchedPackument> {
    let p = inflight.get(name);
    if (!p) {
      const started = load(name, signal);
      inflight.set(name, started);
      void started.then(
        () => inflight.delete(name),
        () => inflight.delete(name),
      );
      p = started;
    }
    return p;
  }

  return {
    memory,
    disk,
    async packument(name: string, signal?: AbortSignal): Promise<FetchedPackument> {
      requested.add(name);
      try {
        return await get(name, signal);
      } catch (err) {
        // A load another caller started and then aborted is not our abort: try once more on our own.
        if (err instanceof RegistryError && err.code === 'EABORTED' && !signal?.aborted) return load(name, signal);
        throw err;
      }
    },
    prefetch(names) {
      for (const n of names) {
        prefetched.add(n);
        void get(n).catch(() => undefined);
      }
    },
    requested: () => [...requested],
    prediction: () => predictionStats(prefetched, requested),
    takeProblems() {
      if (!stale.size) return [];
      const names = [...stale.keys()];
      const last = [...stale.values()].pop();
      stale.clear();
      const list = names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
      return [
        {
          code: 'stale-cache',
          severity: 'warning',
          message: `The registry could not be reached (${last}); ${names.length} package document${names.length === 1 ? '' : 's'} came from an outdated cache: ${list}.`,
        },
      ];
    },
    async unchanged(names, signal) {
      const answers = await Promise.all(
        names.map(async (name) => {
          const { key, registry } = locate(name);
          const bytes = disk?.read(key);
          const head = bytes && peekHeader(bytes);
          if (!bytes || !head || head.name !== name || head.registry !== registry) return false;
          let r: FetchResult | undefined;
          let unreachable: string | undefined;
          try {
            r = await client.fetchPackument(name, { etag: head.etag, lastModified: head.lastModified, signal });
          } catch (err) {
            // Unreachable: the cached copy stands, as a resolution would serve it (one stale-cache warning).
            if (!(err instanceof RegistryError && STALE_OK.has(err.code) && !signal?.aborted)) return false;
            unreachable = err.message;
          }
          if (r?.status === 200) {
            s.replaced++;
            store(key, name, registry, r);
            return false;
          }
          let entry: ReturnType<typeof parseEntry>;
          try {
            // Checked now, not before the request: a damaged entry is dropped and its document fetched again.
            entry = parseEntry(bytes);
          } catch {
            dropCorrupt(key, name);
            return false;
          }
          if (unreachable !== undefined) {
            serveStale(name, unreachable);
            return true;
          }
          s.revalidated++;
          emit({ action: 'revalidate', name, status: 304 });
          pend(disk!.write(key, encodeEntry(refreshed(entry.header, r!), undefined, entry)).then(() => undefined));
          touch(key);
          return true;
        }),
      );
      return answers.every(Boolean);
    },
    async tarball(m, signal) {
      // A published version's tarball never changes: what it holds is kept for good, by its integrity.
      const file = disk && tarballFile(disk.dir, m);
      const kept = file && (readRecord(file, TARBALL_MAGIC) as TarballContents | undefined);
      if (kept && Array.isArray(kept.bundled)) return kept;
      if (mode === 'offline') throw new RegistryError('EOFFLINE', `the tarball of ${m.name}@${m.version} is not in the cache, and offline mode allows no request.`);
      const found = await client.tarball!(m, signal);
      if (file) {
        try {
          writeRecord(file, TARBALL_MAGIC, found);
        } catch {
          /* read-only or full cache dir: best effort, as every cache write */
        }
      }
      return found;
    },
    stats: () => ({ ...s, evictions: s.evictions + memory.evictions }),
    async flush() {
      await writeQueued();
      while (pending.size) await Promise.all([...pending]);
      if (!disk) return;
      disk.appendAccess(accessLines.splice(0));
      if (s.writes > 0) {
        const r = enforceCap(disk, opts.maxDiskBytes ?? DEFAULT_MAX_DISK_BYTES, opts.eviction ?? DEFAULT_EVICTION, now(), (key) => {
          memory.delete(key);
          emit({ action: 'evict', name: key, tier: 'disk' });
        });
        s.evictions += r.evicted.length;
        // Replaced and evicted entries leave dead bytes in the packs.
        disk.compact();
      }
    },
  };
}
