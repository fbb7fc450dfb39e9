// The per-project records beside the cache entries (pick records, result memos): a first line of
// `<magic> <sha1 of the body>`, then the JSON body. Written to a temp file and renamed, so a reader
// never sees half a record; a damaged, foreign or other-version file reads as absent (never throws).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

export function readRecord(file: string, magic: string): unknown {
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

export function writeRecord(file: string, magic: string, value: unknown): void {
  const body = JSON.stringify(value);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${magic} ${sha1(body)}\n${body}`, { mode: 0o600 });
  renameSync(tmp, file);
}
