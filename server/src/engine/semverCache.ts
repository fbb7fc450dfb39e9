// semver, parsed once. Picking tests every version of a packument against a range and the tree tests
// edges over and over; parsing the same strings each time was most of a resolution's CPU time.
import type { Range, SemVer } from 'semver';
import { semver } from './lazy';

const ranges = new Map<string, Range | null>();
const versions = new Map<string, SemVer | null>();
const MAX = 50_000;

export function remember<V>(map: Map<string, V>, key: string, value: V): V {
  // Bounded without LRU bookkeeping: ranges and versions seen by one process repeat heavily.
  if (map.size >= MAX) map.clear();
  map.set(key, value);
  return value;
}

export function parseRange(range: string, includePrerelease = false): Range | null {
  const key = includePrerelease ? '\0' + range : range;
  let r = ranges.get(key);
  if (r === undefined) {
    try {
      r = new (semver().Range)(range, { loose: true, includePrerelease });
    } catch {
      r = null;
    }
    remember(ranges, key, r);
  }
  return r;
}

export function parseVersion(version: string): SemVer | null {
  let v = versions.get(version);
  if (v === undefined) {
    try {
      v = new (semver().SemVer)(version, { loose: true });
    } catch {
      v = null;
    }
    remember(versions, version, v);
  }
  return v;
}

// Most ranges in the wild are `^x.y.z`, `~x.y.z` or an exact `x.y.z`, and most versions are plain
// `x.y.z`: those are decided here without building semver objects (a cold resolution parses
// thousands of distinct ranges; semver's Range constructor dominated it).
const SIMPLE_RANGE = /^([\^~]?)(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;
const PLAIN_VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

/** `^x.y.z`, `~x.y.z` or `x.y.z` taken apart (operator '' for exact), or undefined for any other range. */
export function simpleRange(range: string): { op: '' | '^' | '~'; major: number; minor: number; patch: number } | undefined {
  const r = SIMPLE_RANGE.exec(range);
  return r ? { op: r[1] as '' | '^' | '~', major: +r[2], minor: +r[3], patch: +r[4] } : undefined;
}

// The tree tests the same edges against the same versions again and again: the answer per (range,
// version) is kept, so a test is two lookups, not two regular expressions (their matches were a tenth of
// what rebuilding a tree allocated). 0 false, 1 true, 2 not a simple pair (semver decides).
const simpleAnswers = new Map<string, Map<string, 0 | 1 | 2>>();
let simpleAnswerCount = 0;

function simpleSatisfies(version: string, range: string): boolean | undefined {
  let a = simpleAnswers.get(range)?.get(version);
  if (a === undefined) {
    const r = decideSimple(version, range);
    a = r === undefined ? 2 : r ? 1 : 0;
    // Bounded as the other memos here: cleared when full.
    if (++simpleAnswerCount > MAX) {
      simpleAnswers.clear();
      simpleAnswerCount = 1;
    }
    let byVersion = simpleAnswers.get(range);
    if (!byVersion) simpleAnswers.set(range, (byVersion = new Map()));
    byVersion.set(version, a);
  }
  return a === 2 ? undefined : a === 1;
}

function decideSimple(version: string, range: string): boolean | undefined {
  const r = simpleRange(range);
  if (!r) return undefined;
  const v = PLAIN_VERSION.exec(version);
  if (!v) return undefined;
  const [M, m, p] = [+v[1], +v[2], +v[3]];
  const { major: rM, minor: rm, patch: rp } = r;
  const atLeast = M > rM || (M === rM && (m > rm || (m === rm && p >= rp)));
  switch (r.op) {
    case '':
      return M === rM && m === rm && p === rp;
    case '~':
      return atLeast && M === rM && m === rm;
    default:
      // Caret: the first non-zero part is fixed (^0.2.3 is <0.3.0, ^0.0.3 is <0.0.4).
      if (!atLeast) return false;
      if (rM > 0) return M === rM;
      if (rm > 0) return M === 0 && m === rm;
      return M === 0 && m === 0 && p === rp;
  }
}

export function satisfies(version: string | SemVer, range: string, includePrerelease = false): boolean {
  if (typeof version === 'string' && !includePrerelease) {
    const quick = simpleSatisfies(version, range);
    if (quick !== undefined) return quick;
  }
  const r = parseRange(range, includePrerelease);
  const v = typeof version === 'string' ? parseVersion(version) : version;
  return !!r && !!v && r.test(v);
}

export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va && vb) return va.compare(vb);
  return semver().compareLoose(a, b);
}
