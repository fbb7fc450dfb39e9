// What the disk cache holds: entries, sizes, compression, age, registries; with `verify`, every entry
// decoded in full and the corrupt ones and stale temp files removed. Shared by `citadel cache` and the
// editor's Analyze Cache.
import { decoderName, encoderName } from './codec';
import type { DiskCache } from './diskCache';
import { decodeEntry, parseEntry } from './entry';

export interface CacheInfo {
  dir: string;
  entries: number;
  corrupt: number;
  bytesOnDisk: number;
  decodedBytes: number;
  compressionRatio: number;
  oldest?: string;
  newest?: string;
  registries: Record<string, number>;
  encoder: string;
  decoder: string;
  removedCorrupt?: number;
  removedTempFiles?: number;
}

export function inspectCache(disk: DiskCache, verify = false): CacheInfo {
  const files = disk.list();
  let bytes = 0;
  let raw = 0;
  let corrupt = 0;
  let oldest = Infinity;
  let newest = 0;
  const registries: Record<string, number> = {};
  for (const f of files) {
    const data = disk.read(f.key);
    if (!data) continue;
    try {
      // verify decodes everything; info checks structure and checksum only.
      const e = verify ? decodeEntry(data) : parseEntry(data);
      // Parse every version too: the lazy getters would otherwise skip them.
      if ('packument' in e) JSON.stringify(e.packument);
      bytes += data.length;
      raw += e.rawSize;
      oldest = Math.min(oldest, e.header.fetchedAt);
      newest = Math.max(newest, e.header.fetchedAt);
      registries[e.header.registry] = (registries[e.header.registry] ?? 0) + 1;
    } catch {
      corrupt++;
      if (verify) disk.remove(f.key);
    }
  }
  const swept = verify ? disk.sweepTemp(Date.now()) : 0;
  // What verify dropped is still in the packs until they are rewritten.
  if (verify && corrupt) disk.compact();
  return {
    dir: disk.dir,
    entries: files.length - corrupt,
    corrupt,
    bytesOnDisk: bytes,
    decodedBytes: raw,
    compressionRatio: bytes ? raw / bytes : 0,
    ...(Number.isFinite(oldest) && { oldest: new Date(oldest).toISOString() }),
    ...(newest && { newest: new Date(newest).toISOString() }),
    registries,
    encoder: encoderName(),
    decoder: decoderName(),
    ...(verify && { removedCorrupt: corrupt, removedTempFiles: swept }),
  };
}
