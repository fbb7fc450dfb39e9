// A project's picks from its last resolution. A warm resolution answers every unchanged spec from
// here, in one small file read, instead of decoding ~1,000 packuments: picks are pure functions of
// the document and the spec, so they are exactly as fresh as the documents they came from.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { PickRecord } from '../fetcher';
import type { CacheMode } from './cachedSource';
import { readRecord, writeRecord } from './recordFile';
import { freshFor, oldestFetch } from './resultMemo';

const MAGIC = 'citadel-picks-1';

export function snapshotFile(cacheDir: string, project: string, registry: string, pickKey: string): string {
  const id = createHash('sha256').update(`${project}\0${registry}\0${pickKey}`).digest('hex').slice(0, 32);
  return join(cacheDir, 'picks', `${id}.json`);
}

/** The record, when intact and fresh enough for the mode; undefined otherwise (never throws). */
export function loadSnapshot(file: string, opts: { mode?: CacheMode; ttlMs: number; now: number }): PickRecord | undefined {
  if (opts.mode === 'prefer-online') return undefined;
  const record = readRecord(file, MAGIC) as PickRecord | undefined;
  if (!record || typeof record.picks !== 'object' || typeof record.manifests !== 'object' || typeof record.fetchedAt !== 'object') return undefined;
  return freshFor(oldestFetch(record), opts) ? record : undefined;
}

export function saveSnapshot(file: string, record: PickRecord, deferMs?: number): void {
  writeRecord(file, MAGIC, record, deferMs);
}
