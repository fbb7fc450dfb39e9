// The last result of each project, remembered against a fingerprint of everything resolution reads:
// the manifests, the lockfile, the config that changes picking or placement, and the picks themselves
// (as old as their oldest document). A tree is a pure function of those, so an unchanged project
// within the TTL gets its tree back without rebuilding it: npm's hidden lockfile, kept in the cache.
import { createHash } from 'node:crypto';
import type { ProjectManifest, ResolveResult } from '../api';
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
  /** The build behind the result, for the next run after an edit of dependency specs only. */
  build?: SavedBuild;
}

/**
 * What resolver.ts reuse() needs of a build to answer an edit that changes only dependency specs: a new
 * process (`citadel resolve` after an edit) gets from the disk what the language server keeps in memory.
 */
export interface SavedBuild {
  /** The fingerprint of the build's inputs with the dependency specs left out. */
  shape: string;
  /** A fingerprint of the pick record on disk after the build: reused only over the same record. */
  picks: string;
  /** The project's dependency fields as built. */
  specs: Pick<ProjectManifest, 'peerDependencies' | 'dependencies' | 'optionalDependencies' | 'devDependencies'>;
  /** What the build asked of each of them (SpecReads as JSON: tested versions and picks). */
  reads: Record<string, { tests: Record<string, Record<string, boolean>>; picks: string[] }>;
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

  /** The file's record, read once. */
  private read: MemoizedResult | null | undefined;

  private last(): MemoizedResult | undefined {
    const held = this.memory?.project(this.slot).result;
    if (held) return held;
    if (this.read === undefined) this.read = (this.file ? readMemo(this.file) : undefined) ?? null;
    return this.read ?? undefined;
  }

  get(fp: string, fresh: (oldest: number) => boolean): ResolveResult | undefined {
    const m = this.last();
    return m && m.fingerprint === fp && fresh(m.oldest) ? m.result : undefined;
  }

  /** The last result and its build, whatever its fingerprint, if the build had this shape and pick record. */
  built(shape: string, picks: string): (MemoizedResult & { build: SavedBuild }) | undefined {
    const m = this.last();
    return m?.build?.shape === shape && m.build.picks === picks ? (m as MemoizedResult & { build: SavedBuild }) : undefined;
  }

  set(m: MemoizedResult): void {
    this.read = m;
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
