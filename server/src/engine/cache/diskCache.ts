// The disk tier: one file per (registry, package) under <dir>/v1/entries/<2 hex>/<62 hex>, named by a
// SHA-256 of registry URL and name, so no package name reaches the file system and two registries
// never share an entry. Writes go to <dir>/v1/tmp and are renamed into place: a reader sees the old
// entry or the new one, never a torn one; a writer killed mid-write leaves only a temp file, which no
// reader looks at and `cache verify` sweeps. Reads are synchronous: ~20 µs for a small file, cheaper
// than a trip through the thread pool, and a warm resolution reads a thousand of them.
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FORMAT_VERSION } from './entry';
import { discardRecordWrites } from './recordFile';

export { defaultCacheDir } from './cacheDir';

/** Folders beside the entries that hold what was derived from them (see clear()). */
const DERIVED = ['picks', 'usage', 'editor', 'v8'];

/** Registry URL without credentials, with one trailing slash: what keys and headers hold. */
export function cleanRegistry(url: string): string {
  let clean = cleaned.get(url);
  if (clean === undefined) {
    if (cleaned.size >= 1_000) cleaned.clear();
    cleaned.set(url, (clean = parseClean(url)));
  }
  return clean;
}
const cleaned = new Map<string, string>();

function parseClean(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href.endsWith('/') ? u.href : u.href + '/';
  } catch {
    return url;
  }
}

// Every lookup, memory hits included, needs the key: hashing it each time was a tenth of a hot resolution.
const keys = new Map<string, string>();

export function entryKey(registry: string, name: string): string {
  const id = `${registry}\0${name}`;
  let key = keys.get(id);
  if (key === undefined) {
    if (keys.size >= 100_000) keys.clear();
    key = createHash('sha256').update(cleanRegistry(registry)).update('\0').update(name).digest('hex');
    keys.set(id, key);
  }
  return key;
}

export interface EntryFile {
  key: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export class DiskCache {
  readonly root: string;
  private readonly entries: string;
  private readonly tmp: string;
  private ready = false;

  constructor(readonly dir: string) {
    this.root = join(dir, `v${FORMAT_VERSION}`);
    this.entries = join(this.root, 'entries');
    this.tmp = join(this.root, 'tmp');
  }

  private ensure(): void {
    if (this.ready) return;
    // 0700: entries reveal which packages a user works with.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.entries, { recursive: true, mode: 0o700 });
    mkdirSync(this.tmp, { recursive: true, mode: 0o700 });
    this.ready = true;
  }

  pathOf(key: string): string {
    return join(this.entries, key.slice(0, 2), key.slice(2));
  }

  /** The entry's bytes, or undefined when there is none (or it cannot be read). */
  read(key: string): Buffer | undefined {
    if (!this.mayHold(key.slice(0, 2))) return undefined;
    try {
      return readFileSync(this.pathOf(key));
    } catch {
      return undefined;
    }
  }

  /**
   * Atomic replace: temp file in the same file system, then rename. Best effort: a full disk is not an
   * error. Asynchronous: creating a file can take a millisecond and more (ext4 after many deletions, as
   * a cleared cache leaves), and the cache thread that writes entries also parses the responses a
   * resolution waits for.
   */
  async write(key: string, bytes: Uint8Array, retry = true): Promise<boolean> {
    try {
      this.ensure();
      await this.ensureShard(key);
      const temp = join(this.tmp, `${key.slice(0, 16)}.${process.pid}.${randomBytes(6).toString('hex')}`);
      try {
        await writeFile(temp, bytes, { mode: 0o600 });
        await rename(temp, this.pathOf(key));
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
      return true;
    } catch {
      // The directory may have been cleared under us (another process, or Clear Cache): once more, from scratch.
      this.shards.clear();
      this.ready = false;
      return retry && this.write(key, bytes, false);
    }
  }

  // A cold resolution looks up a thousand names in an empty cache: a failed open (and the exception
  // it throws) for each cost ~0.1 s here. Shard directories that do not exist hold nothing; the listing
  // is refreshed at most once a second, so entries other threads or processes add are seen soon after.
  private listed: Set<string> | undefined;
  private listedAt = 0;
  private mayHold(shard: string): boolean {
    if (this.listed?.has(shard)) return true;
    const now = performance.now();
    if (this.listed && now - this.listedAt < 1000) return false;
    try {
      this.listed = new Set(readdirSync(this.entries));
    } catch {
      this.listed = new Set();
    }
    this.listedAt = now;
    return this.listed.has(shard);
  }

  /** One mkdir per shard directory per process, not one per write. */
  private readonly shards = new Map<string, Promise<unknown>>();
  private ensureShard(key: string): Promise<unknown> {
    const shard = key.slice(0, 2);
    let made = this.shards.get(shard);
    if (!made) {
      made = mkdir(join(this.entries, shard), { recursive: true, mode: 0o700 }).then(() => this.listed?.add(shard));
      this.shards.set(shard, made);
      // A failure is the write's to handle (it retries from scratch), not an unhandled rejection.
      made.catch(() => this.shards.delete(shard));
    }
    return made;
  }

  remove(key: string): void {
    try {
      unlinkSync(this.pathOf(key));
    } catch {
      /* gone already */
    }
  }

  list(): EntryFile[] {
    const out: EntryFile[] = [];
    let shards: string[];
    try {
      shards = readdirSync(this.entries);
    } catch {
      return out;
    }
    for (const shard of shards) {
      let files: string[];
      try {
        files = readdirSync(join(this.entries, shard));
      } catch {
        continue;
      }
      for (const f of files) {
        const path = join(this.entries, shard, f);
        try {
          const st = statSync(path);
          out.push({ key: shard + f, path, size: st.size, mtimeMs: st.mtimeMs });
        } catch {
          /* removed meanwhile */
        }
      }
    }
    return out;
  }

  /** Temp files older than `olderThanMs` (a killed writer's leftovers); returns how many were removed. */
  sweepTemp(now: number, olderThanMs = 60_000): number {
    let n = 0;
    let files: string[];
    try {
      files = readdirSync(this.tmp);
    } catch {
      return 0;
    }
    for (const f of files) {
      const p = join(this.tmp, f);
      try {
        if (now - statSync(p).mtimeMs > olderThanMs) {
          unlinkSync(p);
          n++;
        }
      } catch {
        /* raced with its writer */
      }
    }
    return n;
  }

  /** Appends access records for eviction (one write: O_APPEND keeps concurrent writers' lines whole). */
  appendAccess(lines: string[]): void {
    if (!lines.length) return;
    try {
      this.ensure();
      appendFileSync(join(this.root, 'access.log'), lines.join(''), { mode: 0o600 });
    } catch {
      /* statistics only */
    }
  }

  readAccess(): string {
    try {
      return readFileSync(join(this.root, 'access.log'), 'utf8');
    } catch {
      return '';
    }
  }

  replaceAccess(text: string): void {
    try {
      this.ensure();
      const temp = join(this.tmp, `access.${process.pid}.${randomBytes(6).toString('hex')}`);
      writeFileSync(temp, text, { mode: 0o600 });
      renameSync(temp, join(this.root, 'access.log'));
    } catch {
      /* statistics only */
    }
  }

  /**
   * Everything Citadel keeps in the dir: the entries, and what is derived from them (per-project pick
   * records and result memos, usage history, the editor's saved diagnostics, the CLI's code cache), so
   * that the next resolution is a fresh one. Other files in the dir are not Citadel's and stay.
   */
  clear(): void {
    // A record still waiting to be written would bring the cleared state back.
    discardRecordWrites(join(this.dir, 'picks'));
    for (const sub of [this.root, ...DERIVED.map((d) => join(this.dir, d))]) rmSync(sub, { recursive: true, force: true });
    this.ready = false;
    this.shards.clear();
    this.listed = undefined;
  }
}
