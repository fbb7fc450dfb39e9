// The per-project records beside the cache entries (pick records, result memos): a first line of
// `<magic> <sha1 of the body>`, then the JSON body. Written to a temp file and renamed, so a reader
// never sees half a record; a damaged, foreign or other-version file reads as absent (never throws).
// A write can be deferred: the language server keeps ~1 MB of record writes per edit off the path to
// its diagnostics, and a burst of edits writes once.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, sep } from 'node:path';

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

/** Deferred writes by file: the latest value wins, and readers in this process see it at once. */
const deferred = new Map<string, { magic: string; value: unknown }>();
let timer: ReturnType<typeof setTimeout> | undefined;

export function readRecord(file: string, magic: string): unknown {
  const waiting = deferred.get(file);
  if (waiting) return waiting.magic === magic ? waiting.value : undefined;
  try {
    const text = readFileSync(file, 'utf8');
    const nl = text.indexOf('\n');
    const [m, sum] = text.slice(0, nl).split(' ');
    const body = text.slice(nl + 1);
    return m === magic && sha1(body) === sum ? JSON.parse(body) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes now, or within `deferMs` (and throws only when writing now). */
export function writeRecord(file: string, magic: string, value: unknown, deferMs?: number): void {
  if (deferMs === undefined) {
    deferred.delete(file);
    return writeNow(file, magic, value);
  }
  deferred.set(file, { magic, value });
  timer ??= setTimeout(flushRecordWrites, deferMs);
}

/** Writes every deferred record now (the language server at shutdown); a failed write is dropped, as any cache write. */
export function flushRecordWrites(): void {
  clearTimeout(timer);
  timer = undefined;
  for (const [file, { magic, value }] of deferred) {
    deferred.delete(file);
    try {
      writeNow(file, magic, value);
    } catch {
      /* read-only or full cache dir */
    }
  }
}

/** Forgets the deferred writes of records under `dir` (a cleared cache). */
export function discardRecordWrites(dir: string): void {
  for (const file of deferred.keys()) if (file.startsWith(dir + sep)) deferred.delete(file);
}

function writeNow(file: string, magic: string, value: unknown): void {
  const body = JSON.stringify(value);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${magic} ${sha1(body)}\n${body}`, { mode: 0o600 });
  renameSync(tmp, file);
}
