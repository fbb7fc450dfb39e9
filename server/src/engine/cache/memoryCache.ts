// The memory tier: decoded projections in an LRU bounded by bytes (the decoded projection size, a fair
// proxy for the heap the parsed versions take). It keeps the compressed payload too, so a 304 rewrites
// the disk entry's header without compressing again. One instance can outlive many resolutions (the
// language server keeps it), and handing back the same Packument object lets picks stay memoized.
import { LRUCache } from 'lru-cache';
import type { EntryHeader } from './entry';
import type { PickRecord } from '../fetcher';
import type { MemoizedResult } from './resultMemo';
import type { BuildReads } from '../api';

/** What the memory tier keeps per project between resolutions (the disk keeps the same under picks/). */
export interface ProjectSlot {
  result?: MemoizedResult;
  picks?: PickRecord;
  /** The last build, for an edit of its dependency specs (resolver's `previous`); `shape` is the rest of its inputs. */
  build?: { shape: string; last: BuildReads };
}
import type { Packument } from '../types';

export interface MemoryEntry {
  header: EntryHeader;
  packument: Packument;
  rawSize: number;
  /** The entry's payload as stored on disk (reused when only the header changes). */
  stored?: { payload: Uint8Array; codec: number };
  /** The projection the packument reads lazily, when it came off the wire as one: written as it is. */
  projection?: Uint8Array;
}

export const DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024;

export class MemoryCache {
  private readonly lru: LRUCache<string, MemoryEntry>;
  evictions = 0;
  /** Per project, a few projects at most: the last result (resultMemo) and picks (pickSnapshot). */
  private readonly projects = new Map<string, ProjectSlot>();

  constructor(maxBytes = DEFAULT_MEMORY_BYTES, onEvict?: (key: string, e: MemoryEntry) => void) {
    this.lru = new LRUCache<string, MemoryEntry>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (e) => Math.max(1, e.rawSize + (e.stored?.payload.length ?? 0)),
      dispose: (e, key, reason) => {
        if (reason === 'evict') {
          this.evictions++;
          onEvict?.(key, e);
        }
      },
    });
  }

  get(key: string): MemoryEntry | undefined {
    return this.lru.get(key);
  }

  set(key: string, e: MemoryEntry): void {
    this.lru.set(key, e);
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  project(slot: string): ProjectSlot {
    let p = this.projects.get(slot);
    this.projects.delete(slot);
    this.projects.set(slot, (p ??= {}));
    if (this.projects.size > 16) this.projects.delete(this.projects.keys().next().value!);
    return p;
  }

  clear(): void {
    this.lru.clear();
    this.projects.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
