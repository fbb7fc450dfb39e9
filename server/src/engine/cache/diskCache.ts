// The disk tier: entries appended to pack files, <dir>/v1/packs/<id>.pack, each with an index beside
// it, <id>.idx, of fixed 48-byte records: the entry's key (a SHA-256 of registry URL and name, so no
// package name reaches the file system and two registries never share an entry), its offset and
// length in the pack, and when it was written. A process appends to packs of its own, an entry's bytes
// before its index record, so a reader never finds a record for bytes that are not there; a writer
// killed mid-write leaves at most a partial record, which readers skip. Of two records for a key the
// later wins; a record of length 0 is a removal. Compaction rewrites the live entries into one pack
// when dead ones outweigh them or packs multiply.
//
// Why packs, not a file per entry (the layout until 2026-11): a cold resolution writes a thousand
// entries, and creating a file cost the kernel 0.3-1 ms each here (ext4, worse soon after a cleared
// cache's deletions): 0.3-1.2 s of system CPU on a two-core machine whose resolution is CPU-bound.
// Reads are synchronous (open, positioned read, close): cheaper than a trip through the thread pool
// for a small entry, and a warm resolution reads a thousand of them.
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FORMAT_VERSION } from './entry';
import { discardRecordWrites } from './recordFile';

export { defaultCacheDir } from './cacheDir';

/** Folders beside the entries that hold what was derived from them (see clear()). */
const DERIVED = ['picks', 'tarballs', 'usage', 'editor', 'v8'];

/** key (32 bytes) | offset u32 | length u32 | written at, ms (f64). */
const RECORD = 48;
/** A pack is sealed (a new one started) past this size, so offsets fit 32 bits with room to spare. */
const PACK_LIMIT = 1 << 30;
/** Compact when dead bytes exceed both the live ones and this, or when there are more packs than MAX_PACKS. */
const MIN_DEAD_BYTES = 4 << 20;
const MAX_PACKS = 16;
/** Append, write-only, and fail if the file is gone. */
const APPEND = constants.O_WRONLY | constants.O_APPEND;

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
  size: number;
  mtimeMs: number;
}

interface Pack {
  id: string;
  /** Index bytes read so far: only whole records are taken, a partial one is read again later. */
  indexed: number;
  /** End of the furthest entry its records name (its size, as far as this process knows). */
  end: number;
}

interface Loc {
  pack: Pack;
  offset: number;
  /** 0: removed. */
  length: number;
  at: number;
}

interface Queued {
  key: string;
  bytes: Uint8Array;
  done: (ok: boolean) => void;
}

export class DiskCache {
  readonly root: string;
  private readonly packs: string;
  private readonly tmp: string;
  private ready = false;
  private readonly known = new Map<string, Pack>();
  private readonly index = new Map<string, Loc>();
  private scannedAt = -Infinity;
  /** The pack this object appends to. */
  private own: Pack | undefined;
  private queue: Queued[] = [];

  constructor(readonly dir: string) {
    this.root = join(dir, `v${FORMAT_VERSION}`);
    this.packs = join(this.root, 'packs');
    this.tmp = join(this.root, 'tmp');
  }

  private ensure(): void {
    if (this.ready) return;
    // 0700: entries reveal which packages a user works with.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.packs, { recursive: true, mode: 0o700 });
    mkdirSync(this.tmp, { recursive: true, mode: 0o700 });
    // The file-per-entry layout of earlier versions: nothing reads it any more.
    void rm(join(this.root, 'entries'), { recursive: true, force: true }).catch(() => undefined);
    this.ready = true;
  }

  /** The entry's bytes, or undefined when there is none (or it cannot be read). */
  read(key: string): Buffer | undefined {
    let loc = this.live(key);
    // Entries other threads or processes added are looked for at most once a second: a cold
    // resolution looks up a thousand names that are not there.
    if (!loc && performance.now() - this.scannedAt > 1000) {
      this.scan();
      loc = this.live(key);
    }
    if (!loc) return undefined;
    // Opened and closed per read: a descriptor kept open would outlive this object (the language server
    // makes one per resolution) and hold a pack that compaction or Clear Cache removed.
    let fd: number | undefined;
    try {
      fd = openSync(join(this.packs, `${loc.pack.id}.pack`), 'r');
      const out = Buffer.allocUnsafe(loc.length);
      const n = readSync(fd, out, 0, loc.length, loc.offset);
      // A short read (a truncated pack) is handed on: the entry's checksum rejects it as corrupt.
      return n === loc.length ? out : out.subarray(0, n);
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeQuietly(fd);
    }
  }

  /** Where an entry's bytes are: for tests that damage them on purpose. */
  locate(key: string): { path: string; offset: number; length: number } | undefined {
    this.scan();
    const loc = this.live(key);
    return loc && { path: join(this.packs, `${loc.pack.id}.pack`), offset: loc.offset, length: loc.length };
  }

  /**
   * Appends the entry. The writes asked for within one turn of the event loop go out as one append to
   * the pack and one to its index. Best effort: a full disk is not an error.
   */
  write(key: string, bytes: Uint8Array): Promise<boolean> {
    return new Promise((done) => {
      if (!this.queue.length) setImmediate(() => this.drain());
      this.queue.push({ key, bytes, done });
    });
  }

  private drain(): void {
    const batch = this.queue;
    this.queue = [];
    const ok = this.append(batch.map((q) => ({ key: q.key, bytes: q.bytes })));
    for (const q of batch) q.done(ok);
  }

  /**
   * One append to this process's pack, then one to its index; a length of 0 records a removal. The
   * files are opened for the append and closed after it: a descriptor kept open would outlive this
   * object (the language server makes one per resolution). When the pack is gone (compaction by
   * another process, Clear Cache) or not as we left it, a new one is started: once more, from scratch.
   */
  private append(entries: { key: string; bytes: Uint8Array }[]): boolean {
    const adding = entries.reduce((n, e) => n + e.bytes.length, 0);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        if (!this.own || this.own.end + adding > PACK_LIMIT) this.own = this.startPack();
        const own = this.own;
        const at = now();
        const records = Buffer.alloc(entries.length * RECORD);
        const locs: Loc[] = [];
        let offset = own.end;
        entries.forEach((e, i) => {
          writeRecord(records, i * RECORD, e.key, offset, e.bytes.length, at);
          locs.push({ pack: own, offset, length: e.bytes.length, at });
          offset += e.bytes.length;
        });
        // No O_CREAT: a pack removed meanwhile must fail here, not come back empty under old offsets.
        const packFd = openSync(join(this.packs, `${own.id}.pack`), APPEND);
        try {
          if (fstatSync(packFd).size !== own.end) throw new Error('pack changed under us');
          const data = entries.filter((e) => e.bytes.length);
          if (data.length) writeAll(packFd, data.length === 1 ? data[0]!.bytes : Buffer.concat(data.map((e) => e.bytes)));
        } finally {
          closeSync(packFd);
        }
        own.end = offset;
        const indexFd = openSync(join(this.packs, `${own.id}.idx`), APPEND);
        try {
          writeAll(indexFd, records);
        } finally {
          closeSync(indexFd);
        }
        own.indexed += records.length;
        entries.forEach((e, i) => this.apply(e.key, locs[i]!));
        return true;
      } catch {
        this.own = undefined;
        this.ready = false;
      }
    }
    return false;
  }

  /** A new pack of this process's own (the pack first: an index on disk always has its pack). */
  private startPack(): Pack {
    this.ensure();
    const id = packId();
    for (const ext of ['pack', 'idx']) closeSync(openSync(join(this.packs, `${id}.${ext}`), 'wx', 0o600));
    const pack: Pack = { id, indexed: 0, end: 0 };
    this.known.set(id, pack);
    return pack;
  }

  private live(key: string): Loc | undefined {
    const loc = this.index.get(key);
    return loc && loc.length > 0 ? loc : undefined;
  }

  /**
   * The later record wins; of two at the same time an entry beats a removal, else the one read last.
   * Removals are kept, to hide older records read after them.
   */
  private apply(key: string, loc: Loc): void {
    const had = this.index.get(key);
    if (!had || loc.at > had.at || (loc.at === had.at && (loc.length > 0 || had.length === 0))) this.index.set(key, loc);
  }

  /** Reads the index records added since the last scan, and forgets packs that are gone. */
  private scan(): void {
    this.scannedAt = performance.now();
    let names: string[];
    try {
      names = readdirSync(this.packs);
    } catch {
      names = [];
    }
    const present = new Set<string>();
    for (const name of names) {
      if (!name.endsWith('.idx')) continue;
      const id = name.slice(0, -4);
      present.add(id);
      let pack = this.known.get(id);
      if (!pack) this.known.set(id, (pack = { id, indexed: 0, end: 0 }));
      if (pack === this.own) continue;
      // Only the records added since the last scan (a partial one is read again next time).
      const bytes = readTail(join(this.packs, name), pack.indexed);
      if (!bytes) continue;
      for (let r = 0; r < bytes.length; r += RECORD) {
        const loc: Loc = { pack, offset: bytes.readUInt32LE(r + 32), length: bytes.readUInt32LE(r + 36), at: bytes.readDoubleLE(r + 40) };
        // A record damaged into nonsense is skipped, not trusted.
        if (!Number.isFinite(loc.at)) continue;
        pack.end = Math.max(pack.end, loc.offset + loc.length);
        this.apply(bytes.toString('hex', r, r + 32), loc);
      }
      pack.indexed += bytes.length;
    }
    let lost = false;
    for (const [id, pack] of this.known) {
      if (present.has(id) || pack === this.own) continue;
      this.known.delete(id);
      lost = true;
    }
    if (lost) for (const [key, loc] of this.index) if (!this.known.has(loc.pack.id)) this.index.delete(key);
  }

  /** Best effort: in a read-only cache there is nothing to hide it in. */
  remove(key: string): void {
    this.append([{ key, bytes: new Uint8Array(0) }]);
  }

  list(): EntryFile[] {
    this.scan();
    const out: EntryFile[] = [];
    for (const [key, loc] of this.index) if (loc.length > 0) out.push({ key, size: loc.length, mtimeMs: loc.at });
    return out;
  }

  /**
   * Rewrites the live entries into one pack when dead ones (replaced or removed) outweigh them, or when
   * packs multiply; returns whether it did. A pack another process appends to meanwhile loses what it
   * gets after the rewrite has read it: entries, fetched again when missed.
   */
  compact(): boolean {
    this.scan();
    let total = 0;
    for (const pack of this.known.values()) total += pack.end;
    // Called after every resolution that wrote: the common answer (no) takes one pass and no copies.
    const liveIn = new Map<Pack, number>();
    let liveBytes = 0;
    for (const loc of this.index.values()) {
      liveBytes += loc.length;
      if (loc.length) liveIn.set(loc.pack, (liveIn.get(loc.pack) ?? 0) + loc.length);
    }
    const dead = total - liveBytes;
    if (!(dead > liveBytes && dead > MIN_DEAD_BYTES) && this.known.size <= MAX_PACKS) return false;
    const live = [...this.index].filter(([, loc]) => loc.length > 0);
    // The biggest pack stays as it is when most of it is live: merging the others into one is enough,
    // and a big cache is not rewritten whole because small packs piled up.
    const biggest = [...this.known.values()].reduce<Pack | undefined>((a, p) => (!a || p.end > a.end ? p : a), undefined);
    const kept = biggest && (liveIn.get(biggest) ?? 0) * 2 >= biggest.end ? biggest : undefined;
    const old = [...this.known.values()].filter((p) => p !== kept);
    if (old.length < 2 && !(dead > liveBytes)) return false;
    const id = packId();
    const temp = (ext: string) => join(this.tmp, `${id}.${ext}`);
    try {
      this.ensure();
      // Removals are carried over while a kept pack may hold what they hide.
      const carried = kept ? [...this.index].filter(([, loc]) => loc.length === 0) : [];
      const records = Buffer.alloc((live.length + carried.length) * RECORD);
      let offset = 0;
      let n = 0;
      const fd = openSync(temp('pack'), 'w', 0o600);
      try {
        // An entry at a time: a cache may hold gigabytes.
        for (const [key, loc] of live) {
          if (loc.pack === kept) continue;
          const bytes = this.read(key);
          if (bytes?.length !== loc.length) continue;
          writeAll(fd, bytes);
          writeRecord(records, n++ * RECORD, key, offset, loc.length, loc.at);
          offset += loc.length;
        }
      } finally {
        closeSync(fd);
      }
      for (const [key, loc] of carried) writeRecord(records, n++ * RECORD, key, 0, 0, loc.at);
      writeFileSync(temp('idx'), records.subarray(0, n * RECORD), { mode: 0o600 });
      // The pack first: an index on disk always has its pack. Only then are the old ones removed.
      renameSync(temp('pack'), join(this.packs, `${id}.pack`));
      renameSync(temp('idx'), join(this.packs, `${id}.idx`));
    } catch {
      for (const ext of ['pack', 'idx']) rmSync(temp(ext), { force: true });
      return false;
    }
    if (this.own !== kept) this.own = undefined;
    for (const pack of old) {
      for (const ext of ['idx', 'pack']) rmSync(join(this.packs, `${pack.id}.${ext}`), { force: true });
      this.known.delete(pack.id);
    }
    for (const [key, loc] of this.index) if (loc.pack !== kept) this.index.delete(key);
    this.scan();
    return true;
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
    this.own = undefined;
    this.known.clear();
    this.index.clear();
    this.scannedAt = -Infinity;
    for (const sub of [this.root, ...DERIVED.map((d) => join(this.dir, d))]) rmSync(sub, { recursive: true, force: true });
    this.ready = false;
  }
}

function writeRecord(records: Buffer, r: number, key: string, offset: number, length: number, at: number): void {
  records.write(key, r, 32, 'hex');
  records.writeUInt32LE(offset, r + 32);
  records.writeUInt32LE(length, r + 36);
  records.writeDoubleLE(at, r + 40);
}

/** Wall-clock milliseconds with a fraction: records of one key written within a millisecond stay ordered. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function packId(): string {
  return `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The whole records of an index file from `from` on; undefined when it cannot be read. */
function readTail(path: string, from: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = size - from - ((size - from) % RECORD);
    if (length <= 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(length);
    const n = readSync(fd, out, 0, length, from);
    return out.subarray(0, n - (n % RECORD));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
