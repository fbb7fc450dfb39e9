// The cache thread's projection of a registry document (see entry.ts), read off the document's bytes.
// Parsing a cold resolution's ~1,100 documents with JSON.parse, projecting every version and serializing
// it again was most of that thread's work (CPU profile of a cold CLI run on the large fixture: 0.43 of
// its 1.2 s busy). Most of a version's bytes are either dropped by the projection or kept as they are
// (a dependencies object), so this walks the bytes once, checking them as JSON.parse would, and copies
// what the projection keeps. Anything unusual (a duplicate version, a version that is not an object, an
// escaped field name, ...) throws Unusual: the caller takes the parse path. The two agree byte for byte
// on every recorded document, and as read back on any other (whitespace inside a kept value is copied).
// Cold CLI on the large fixture, where the cache thread uses it: 1.23 s against 1.35 (CPU 1.92 against
// 2.10) in 6 alternating runs, 1.45 against 1.54 in 4 more in a slower hour. The language server reads
// most bodies with it on its main thread (see ProjectCacheOptions.thread).
import { MANIFEST_FIELDS } from '../manifest';
import type { Packument } from '../types';
import { layOut, SORTED_FROM } from './entry';

/** Not an error in the document: only a case this reader leaves to the parse path (or invalid JSON). */
class Unusual extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Bytes a string's scan must stop at: its end, an escape, or a control character JSON forbids. */
const STRING_STOP = new Uint8Array(256);
STRING_STOP[QUOTE] = STRING_STOP[BACKSLASH] = 1;
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 1;
const ESCAPES = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

// A version's members the projection reads: its fields in toManifest's order, then the three it derives
// from, then dist. toManifest's rules are applied to these when the version is written (emitVersion).
const BUNDLED = MANIFEST_FIELDS.length;
const SCRIPTS = BUNDLED + 1;
const GYPFILE = BUNDLED + 2;
const DIST = BUNDLED + 3;
const MEMBERS = [...MANIFEST_FIELDS, 'bundledDependencies', 'scripts', 'gypfile', 'dist'];
const LICENSE = MEMBERS.indexOf('license');
const BUNDLE = MEMBERS.indexOf('bundleDependencies');
const HAS_INSTALL_SCRIPT = MEMBERS.indexOf('hasInstallScript');
const DIST_MEMBERS = ['integrity', 'shasum', 'tarball', 'unpackedSize'];

/** Names as bytes, by length, for matching a member's name without making a string of it. */
function byLength(names: string[]): (readonly [Buffer, number])[][] {
  const table: (readonly [Buffer, number])[][] = [];
  names.forEach((name, i) => (table[name.length] ??= []).push([Buffer.from(name), i]));
  return table;
}
const MEMBER_NAMES = byLength(MEMBERS);
const DIST_NAMES = byLength(DIST_MEMBERS);
/** `"name":` for each member as written, and with the comma before it. */
const keyBytes = (names: string[]): Buffer[][] => names.map((n) => [Buffer.from(`${JSON.stringify(n)}:`), Buffer.from(`,${JSON.stringify(n)}:`)]);
const MEMBER_KEYS = keyBytes(MEMBERS);
const DIST_KEYS = keyBytes(DIST_MEMBERS);
const TRUE = Buffer.from('true');
const OPEN_BYTES = Buffer.from('{');
const CLOSE_BYTES = Buffer.from('}');

class Scanner {
  private readonly n: number;
  /** Whether the last string scanned had an escape in it. */
  private escaped = false;
  /** Where the last name read by key() ends (after its closing quote). */
  private keyEnd = 0;
  private out: Buffer;
  private o = 0;
  /**
   * Per member of the version being read, then of its dist: where its name starts (see record), where
   * its value starts (-1: absent) and ends.
   */
  private readonly at = new Int32Array(3 * (MEMBERS.length + DIST_MEMBERS.length));
  /** Where the version's dist starts when it is an object or an array (toManifest projects both), else -1. */
  private distAt = -1;

  /** The document as 32-bit words when its bytes start 4-aligned in their buffer (see string()). */
  private readonly words: Int32Array | undefined;

  constructor(
    private readonly b: Buffer,
    private readonly abbreviated: boolean,
  ) {
    this.n = b.length;
    this.out = Buffer.allocUnsafeSlow(Math.max(b.length, 1024));
    this.words = b.byteOffset % 4 === 0 ? new Int32Array(b.buffer, b.byteOffset, b.length >> 2) : undefined;
  }

  document(name: string, shared: boolean, sortedFrom: number): Buffer {
    const abbreviated = this.abbreviated;
    const b = this.b;
    let i = this.ws(0);
    if (b[i] !== OPEN) throw new Unusual();
    const top = new Map<string, [number, number]>();
    let keys: string[] | undefined;
    const v: (string | number)[] = [];
    i = this.ws(i + 1);
    if (b[i] !== CLOSE) {
      for (;;) {
        const key = this.key(i);
        i = this.colon(this.keyEnd);
        if (key === 'versions') {
          if (keys || b[i] !== OPEN) throw new Unusual();
          keys = [];
          i = this.versions(i, keys, v);
        } else {
          const end = this.value(i);
          top.set(key, [i, end]);
          i = end;
        }
        i = this.ws(i);
        if (b[i] === COMMA) i = this.ws(i + 1);
        else if (b[i] === CLOSE) break;
        else throw new Unusual();
      }
    }
    if (this.ws(i + 1) !== this.n || !keys) throw new Unusual();
    const field = (k: string): unknown => {
      const span = top.get(k);
      return span && JSON.parse(b.toString('utf8', span[0], span[1]));
    };
    // As toPackument and encodeProjection take them.
    const time = field('time') as Packument['time'];
    const docName = field('name');
    const shell = {
      name: abbreviated || typeof docName === 'string' ? docName : name,
      'dist-tags': (field('dist-tags') ?? {}) as Packument['dist-tags'],
      time,
      modified: (abbreviated ? field('modified') : ((time as Record<string, unknown> | undefined)?.modified ?? field('modified'))) as string | undefined,
    } as Packument;
    return layOut(shell, keys, v, this.out, this.o, shared, sortedFrom);
  }

  private versions(i: number, keys: string[], v: (string | number)[]): number {
    const b = this.b;
    const seen = new Set<string>();
    i = this.ws(i + 1);
    if (b[i] === CLOSE) return i + 1;
    for (;;) {
      const key = this.key(i);
      // A repeated version, or one whose name JSON.parse would move to the front (an array index).
      if (seen.has(key) || /^\d+$/.test(key)) throw new Unusual();
      seen.add(key);
      i = this.colon(this.keyEnd);
      if (b[i] !== OPEN) throw new Unusual();
      i = this.version(i);
      keys.push(key);
      v.push(key, this.o);
      i = this.ws(i);
      if (b[i] === COMMA) i = this.ws(i + 1);
      else if (b[i] === CLOSE) return i + 1;
      else throw new Unusual();
    }
  }

  /** Reads one version's object (b[i] is its `{`) and writes its projection. */
  private version(i: number): number {
    const b = this.b;
    const at = this.at;
    const start = i;
    at.fill(-1);
    this.distAt = -1;
    i = this.ws(i + 1);
    if (b[i] !== CLOSE) {
      for (;;) {
        if (b[i] !== QUOTE) throw new Unusual();
        const keyStart = i;
        const keyEnd = this.string(i);
        const m = this.member(MEMBER_NAMES, MEMBERS, i, keyEnd);
        i = this.colon(keyEnd);
        const end = m === DIST ? this.dist(i) : this.value(i);
        // Last one wins, as with JSON.parse.
        if (m >= 0) this.record(3 * m, keyStart, keyEnd, i, end);
        i = this.ws(end);
        if (b[i] === COMMA) i = this.ws(i + 1);
        else if (b[i] === CLOSE) break;
        else throw new Unusual();
      }
    }
    this.emitVersion(start, i + 1);
    return i + 1;
  }

  /** Where a member's name starts (-1 unless it reads `"name":` exactly as written out), and its value. */
  private record(slot: number, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    this.at[slot] = !this.escaped && valueStart === keyEnd + 1 ? keyStart : -1;
    this.at[slot + 1] = valueStart;
    this.at[slot + 2] = valueEnd;
  }

  /** A version's dist (b[i] is its value): its members read, its end returned. */
  private dist(i: number): number {
    const b = this.b;
    const base = 3 * MEMBERS.length;
    this.at.fill(-1, base);
    const end = this.value(i);
    this.distAt = b[i] === OPEN || b[i] === OPEN_ARRAY ? i : -1;
    if (b[i] !== OPEN) return end;
    i = this.ws(i + 1);
    if (b[i] === CLOSE) return end;
    for (;;) {
      const keyStart = i;
      const keyEnd = this.string(i);
      const m = this.member(DIST_NAMES, DIST_MEMBERS, i, keyEnd);
      i = this.colon(keyEnd);
      const valueEnd = this.value(i);
      if (m >= 0) this.record(base + 3 * m, keyStart, keyEnd, i, valueEnd);
      i = this.ws(valueEnd);
      if (b[i] === COMMA) i = this.ws(i + 1);
      else return end;
    }
  }

  /**
   * toManifest, on the members read: fields in order, bundledDependencies, a derived hasInstallScript,
   * dist. What reads in the document as it is written out is copied in runs: a version the registry
   * wrote as the projection would (the test registry's are) is one copy.
   */
  private emitVersion(start: number, end: number): void {
    const at = this.at;
    const b = this.b;
    let first = true;
    this.source(start, start + 1);
    for (let m = 0; m < MANIFEST_FIELDS.length; m++) {
      const s = at[3 * m + 1];
      if (s < 0) {
        if (!this.abbreviated && this.derived(m, first)) first = false;
        continue;
      }
      const e = at[3 * m + 2];
      if (m === LICENSE && (b[s] === OPEN || b[s] === OPEN_ARRAY)) {
        // Old documents carry { type, url }: the SPDX string (dropped when there is none, as undefined is).
        const type = (JSON.parse(b.toString('utf8', s, e)) as { type?: unknown }).type;
        if (type === undefined) continue;
        this.name(MEMBER_KEYS[m], -1, first);
        this.put(Buffer.from(JSON.stringify(type)));
      } else {
        this.name(MEMBER_KEYS[m], at[3 * m], first);
        this.source(s, e);
      }
      first = false;
    }
    if (this.abbreviated) {
      if (at[3 * BUNDLE + 1] < 0 && this.derived(BUNDLE, first)) first = false;
      if (at[3 * HAS_INSTALL_SCRIPT + 1] < 0 && this.derived(HAS_INSTALL_SCRIPT, first)) first = false;
    }
    if (this.distAt >= 0) {
      this.name(MEMBER_KEYS[DIST], at[3 * DIST], first);
      // An array is projected as {}, as toManifest's copy of its (absent) fields.
      if (b[this.distAt] === OPEN) this.source(this.distAt, this.distAt + 1);
      else this.put(OPEN_BYTES);
      let firstDist = true;
      const base = 3 * MEMBERS.length;
      for (let m = 0; m < DIST_MEMBERS.length; m++) {
        const s = at[base + 3 * m + 1];
        if (s < 0) continue;
        this.name(DIST_KEYS[m], at[base + 3 * m], firstDist);
        this.source(s, at[base + 3 * m + 2]);
        firstDist = false;
      }
      const distEnd = at[3 * DIST + 2];
      if (b[this.distAt] === OPEN) this.source(distEnd - 1, distEnd);
      else this.put(CLOSE_BYTES);
    }
    this.source(end - 1, end);
    this.flush();
  }

  /**
   * A derived field, if the version has what it derives from: at its place among the fields in a full
   * document (the registry client projects those once as it parses them, and the cache projects that
   * again), after them in an abbreviated one. Whether it wrote one.
   */
  private derived(m: number, first: boolean): boolean {
    const at = this.at;
    if (m === BUNDLE && at[3 * BUNDLED + 1] >= 0) {
      this.name(MEMBER_KEYS[BUNDLE], -1, first);
      this.source(at[3 * BUNDLED + 1], at[3 * BUNDLED + 2]);
      return true;
    }
    if (m === HAS_INSTALL_SCRIPT && this.installScript()) {
      this.name(MEMBER_KEYS[HAS_INSTALL_SCRIPT], -1, first);
      this.put(TRUE);
      return true;
    }
    return false;
  }

  /** A member's `"name":` (and the comma before it): from the document where it reads so there. */
  private name(keys: Buffer[], keyStart: number, first: boolean): void {
    if (keyStart < 0) this.put(keys[first ? 0 : 1]);
    else if (first) this.source(keyStart, keyStart + keys[0].length);
    else if (this.b[keyStart - 1] === COMMA) this.source(keyStart - 1, keyStart + keys[0].length);
    else this.put(keys[1]);
  }

  /** The registry sets hasInstallScript at publish time; old documents lack it, so derive it as npm would. */
  private installScript(): boolean {
    const at = this.at;
    // Abbreviated documents have neither.
    if (at[3 * SCRIPTS + 1] < 0 && at[3 * GYPFILE + 1] < 0) return false;
    const read = (m: number): unknown => (at[3 * m + 1] < 0 ? undefined : JSON.parse(this.b.toString('utf8', at[3 * m + 1], at[3 * m + 2])));
    const scripts = (read(SCRIPTS) ?? {}) as Record<string, unknown>;
    return !!(scripts.preinstall || scripts.install || scripts.postinstall || read(GYPFILE));
  }

  // --- output: bytes of the document are gathered into runs, copied when a run breaks ----------------
  private runStart = -1;
  private runEnd = -1;

  private source(s: number, e: number): void {
    if (this.runEnd === s) this.runEnd = e;
    else {
      this.flush();
      this.runStart = s;
      this.runEnd = e;
    }
  }

  private flush(): void {
    if (this.runStart < 0) return;
    const s = this.runStart;
    const e = this.runEnd;
    this.runStart = this.runEnd = -1;
    this.ensure(e - s);
    // Buffer#copy is implemented in JS on Node 20, and a subarray to set() from is an allocation: a loop
    // beats both on short runs (under 64 bytes; 1 kB was ~12% slower over all the recorded documents).
    const out = this.out;
    const b = this.b;
    let o = this.o;
    if (e - s < 64) for (let i = s; i < e; i++) out[o++] = b[i];
    else {
      out.set(b.subarray(s, e), o);
      o += e - s;
    }
    this.o = o;
  }

  private put(bytes: Uint8Array): void {
    this.flush();
    this.ensure(bytes.length);
    const out = this.out;
    let o = this.o;
    for (let i = 0; i < bytes.length; i++) out[o++] = bytes[i];
    this.o = o;
  }

  private ensure(k: number): void {
    if (this.o + k <= this.out.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.out.length, this.o + k));
    grown.set(this.out.subarray(0, this.o));
    this.out = grown;
  }

  // --- JSON, checked as JSON.parse checks it --------------------------------------------------------
  private ws(i: number): number {
    const b = this.b;
    for (;;) {
      const c = b[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return i;
    }
  }

  /** A member's name (b[i] is its quote); where it ends is keyEnd. */
  private key(i: number): string {
    if (this.b[i] !== QUOTE) throw new Unusual();
    const end = (this.keyEnd = this.string(i));
    return this.escaped ? (JSON.parse(this.b.toString('utf8', i, end)) as string) : this.b.toString('utf8', i + 1, end - 1);
  }

  private colon(i: number): number {
    i = this.ws(i);
    if (this.b[i] !== COLON) throw new Unusual();
    return this.ws(i + 1);
  }

  /** Which of `names` the member name b[s, e) (quotes included) is, or -1. */
  private member(table: (readonly [Buffer, number])[][], names: string[], s: number, e: number): number {
    // Spelled with an escape: JSON.stringify would spell it another way, so leave it to the parse path.
    if (this.escaped) {
      if (names.includes(JSON.parse(this.b.toString('utf8', s, e)) as string)) throw new Unusual();
      return -1;
    }
    s++;
    e--;
    const candidates = table[e - s];
    if (!candidates) return -1;
    const b = this.b;
    // Index loops: for-of with destructuring allocated an iterator result per member (9 MB of a cold run).
    next: for (let c = 0; c < candidates.length; c++) {
      const name = candidates[c][0];
      for (let k = 0; k < name.length; k++) if (b[s + k] !== name[k]) continue next;
      return candidates[c][1];
    }
    return -1;
  }

  /** The end of the string at b[i] (its opening quote), just after its closing quote. */
  private string(i: number): number {
    const b = this.b;
    const n = this.n;
    this.escaped = false;
    i++;
    const w = this.words;
    for (;;) {
      if (w) {
        // Four bytes at a time up to a word with a quote, a backslash or a control character in it:
        // most of a document's bytes are in strings, many long (tarball URLs, integrity hashes). A word
        // has a byte below k where (x - k * 0x01010101) & ~x has a high bit set (k <= 0x80); a quote or
        // a backslash is a zero byte once XORed away. Every recorded document: 350 against 380 ms.
        while (i & 3 && i < n && !STRING_STOP[b[i]]) i++;
        if (!(i & 3)) {
          let k = i >> 2;
          for (; k < w.length; k++) {
            const x = w[k];
            const q = x ^ 0x22222222;
            const e = x ^ 0x5c5c5c5c;
            if ((((q - 0x01010101) & ~q) | ((e - 0x01010101) & ~e) | ((x - 0x20202020) & ~x)) & 0x80808080) break;
          }
          i = k << 2;
        }
      }
      while (i < n && !STRING_STOP[b[i]]) i++;
      if (i >= n) throw new Unusual();
      const c = b[i++];
      if (c === QUOTE) return i;
      if (c !== BACKSLASH) throw new Unusual();
      this.escaped = true;
      const e = b[i++];
      if (e === 0x75) {
        for (let k = 0; k < 4; k++) if (!isHex(b[i++])) throw new Unusual();
      } else if (!ESCAPES.has(e)) throw new Unusual();
    }
  }

  /** The end of the value at b[i]. */
  private value(i: number): number {
    const b = this.b;
    const c = b[i];
    if (c === QUOTE) return this.string(i);
    if (c === OPEN) {
      i = this.ws(i + 1);
      if (b[i] === CLOSE) return i + 1;
      for (;;) {
        if (b[i] !== QUOTE) throw new Unusual();
        i = this.ws(this.value(this.colon(this.string(i))));
        if (b[i] === COMMA) i = this.ws(i + 1);
        else if (b[i] === CLOSE) return i + 1;
        else throw new Unusual();
      }
    }
    if (c === OPEN_ARRAY) {
      i = this.ws(i + 1);
      if (b[i] === CLOSE_ARRAY) return i + 1;
      for (;;) {
        i = this.ws(this.value(i));
        if (b[i] === COMMA) i = this.ws(i + 1);
        else if (b[i] === CLOSE_ARRAY) return i + 1;
        else throw new Unusual();
      }
    }
    if (c === 0x74) return this.literal(i, 'true');
    if (c === 0x66) return this.literal(i, 'false');
    if (c === 0x6e) return this.literal(i, 'null');
    return this.number(i);
  }

  private literal(i: number, word: string): number {
    for (let k = 0; k < word.length; k++) if (this.b[i + k] !== word.charCodeAt(k)) throw new Unusual();
    return i + word.length;
  }

  private number(i: number): number {
    const b = this.b;
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if (isDigit(b[i])) while (isDigit(b[i])) i++;
    else throw new Unusual();
    if (b[i] === 0x2e) {
      if (!isDigit(b[++i])) throw new Unusual();
      while (isDigit(b[i])) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!isDigit(b[i])) throw new Unusual();
      while (isDigit(b[i])) i++;
    }
    return i;
  }
}

/**
 * The projection of a document's bytes (see entry.ts), equal to encodeProjection's of the packument
 * toPackument makes of it; throws (Unusual, or RangeError on deep nesting) where the parse path must decide.
 */
export function scanProjection(body: Buffer, abbreviated: boolean, name: string, shared = false, sortedFrom = SORTED_FROM): Buffer {
  return new Scanner(body, abbreviated).document(name, shared, sortedFrom);
}
