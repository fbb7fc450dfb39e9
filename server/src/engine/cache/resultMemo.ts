// The last result of each project, remembered against a fingerprint of everything resolution reads:
// the manifests, the lockfile, the config that changes picking or placement, and the picks themselves
// (as old as their oldest document). A tree is a pure function of those, so an unchanged project
// within the TTL gets its tree back without rebuilding it: npm's hidden lockfile, kept in the cache.
import { createHash } from 'node:crypto';
import type { ResolveResult } from '../api';
import type { PickRecord } from '../fetcher';
import type { CacheMode } from './cachedSource';
import type { MemoryCache } from './memoryCache';
import { readRecord, writeRecord } from './recordFile';

/** How long a cached document counts as fresh in the default mode (npm's --prefer-online aside). */
export const DEFAULT_TTL_MS = 5 * 60 * 1000;

const MAGIC = 'citadel-result-1';

export interface MemoizedResult {
  fingerprint: string;
  /** When the oldest document behind the picks was fetched: the memo is as fresh as that. */
  oldest: number;
  result: ResolveResult;
}

/** Problems a later run could answer differently without any input changing. */
const TRANSIENT = new Set(['registry-error', 'auth-error', 'offline-miss', 'stale-cache']);

export function fingerprint(inputs: unknown): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
}

export function oldestFetch(record: PickRecord): number {
  let oldest = Infinity;
  for (const at of Object.values(record.fetchedAt)) if (at < oldest) oldest = at;
  return oldest;
}

export function memoizable(result: ResolveResult): boolean {
  return !result.problems.some((p) => TRANSIENT.has(p.code));
}

/** Fresh enough for the mode, by the same rule as the picks it stands for. */
export function freshFor(oldest: number, opts: { mode?: CacheMode; ttlMs: number; now: number }): boolean {
  if (opts.mode === 'prefer-online') return false;
  if (opts.mode === 'offline' || opts.mode === 'prefer-offline') return true;
  return Number.isFinite(oldest) && oldest <= opts.now && opts.now - oldest < opts.ttlMs;
}

/** One slot per project, in the memory tier (the language server) and beside the pick record on disk. */
export class ResultMemo {
  constructor(
    private readonly slot: string,
    private readonly memory?: MemoryCache,
    private readonly file?: string,
    /** See ProjectCacheOptions.deferWritesMs. */
    private readonly deferMs?: number,
  ) {}

  get(fp: string, fresh: (oldest: number) => boolean): ResolveResult | undefined {
    const m = this.memory?.project(this.slot).result ?? (this.file ? readMemo(this.file) : undefined);
    return m && m.fingerprint === fp && fresh(m.oldest) ? m.result : undefined;
  }

  set(m: MemoizedResult): void {
    if (this.memory) this.memory.project(this.slot).result = m;
    if (!this.file) return;
    try {
      writeRecord(this.file, MAGIC, m, this.deferMs);
    } catch {
      /* best effort, like every cache write */
    }
  }
}

function readMemo(file: string): MemoizedResult | undefined {
  const m = readRecord(file, MAGIC) as MemoizedResult | undefined;
  return typeof m?.fingerprint === 'string' && typeof m.oldest === 'number' && Array.isArray(m.result?.packages) ? m : undefined;
}
