// Version picking with npm-pick-manifest's rules (v11): an explicit tag or version is taken as is; a
// range prefers the default dist-tag when it fits and is healthy, otherwise it sorts the versions in
// range by (not deprecated and engine-OK), engine-OK, not deprecated, then highest.
import semver, { type Comparator, type Range } from 'semver';
import { parseRange, parseVersion, remember, satisfies, simpleRange } from './semverCache';
import type { Manifest, Packument } from './types';
import type { Spec } from './spec';
import { byVersionDesc, plainEntry, versionKeys, versionOrder, type VersionEntry } from './versionKeys';

export interface PickOptions {
  defaultTag?: string;
  nodeVersion?: string;
  npmVersion?: string;
}

export type PickResult =
  | { manifest: Manifest }
  | { error: 'ETARGET' | 'ENOVERSIONS'; nearest: string[]; latest?: string };

// Thousands of manifests declare a handful of distinct engines ranges (">=0.10.0", ">= 8"...).
const engineMemo = new Map<string, boolean>();
function engineSatisfies(version: string, range: string): boolean {
  const key = version + '\0' + range;
  return engineMemo.get(key) ?? remember(engineMemo, key, satisfies(version, range, true));
}

function engineOk(m: Manifest, nodeVersion: string, npmVersion: string | undefined): boolean {
  const engines = m.engines;
  if (!engines || typeof engines !== 'object') return true;
  const { node, npm } = engines;
  if (typeof node === 'string' && !engineSatisfies(nodeVersion, node)) return false;
  if (npmVersion && typeof npm === 'string' && !engineSatisfies(npmVersion, npm)) return false;
  return true;
}

/**
 * A packument's versions sorted highest first, computed once per document. Sorting uses the numeric
 * major.minor.patch and the prerelease identifiers, compared as semver compares them; semver objects
 * are made only for versions a pick actually tests (a document of thousands of prereleases, typescript's
 * nightlies, took ~40 ms to sort through SemVer objects, all of it in one turn of the event loop). A
 * document that comes with its order (versionOrder: the cache thread sorts every document it reads,
 * the language server's own reading those of SORTED_FROM versions and more) is not sorted here, and
 * its entries are made as a pick reaches them: a pick walks from the top and stops at the first
 * healthy version in range, and making an entry for every version of every document picked from was
 * ~60 ms of a cold CLI run's main thread.
 */
interface VersionIndex {
  readonly length: number;
  at(i: number): VersionEntry;
}
const indexes = new WeakMap<Packument, VersionIndex>();

/** A version's entry; undefined when neither the plain pattern nor semver reads it. */
function entryOf(raw: string): VersionEntry | undefined {
  const plain = plainEntry(raw);
  if (plain) return plain;
  const v = parseVersion(raw);
  return v ? { raw, major: v.major, minor: v.minor, patch: v.patch, pre: v.prerelease, parsed: v } : undefined;
}

/**
 * Never picked: outside no bounds (NaN compares false) and a prerelease, so an exact set does not take it
 * untested, and semver refuses it when tested. Orders are only made for documents whose every version is
 * plain (descendingOrder), so this stands in for what cannot happen, rather than a crash.
 */
const unreadable = (raw: string): VersionEntry => ({ raw, major: NaN, minor: NaN, patch: NaN, pre: ['?'], parsed: null });

function versionIndex(p: Packument): VersionIndex {
  let index = indexes.get(p);
  if (!index) {
    const versions = p.versions ?? {};
    const keys = versionKeys(versions);
    const order = versionOrder(versions);
    if (order) {
      const entries: VersionEntry[] = [];
      index = { length: order.length, at: (i) => (entries[i] ??= entryOf(keys[order[i]]) ?? unreadable(keys[order[i]])) };
    } else {
      const sorted: VersionEntry[] = [];
      for (const raw of keys) {
        const e = entryOf(raw);
        if (e) sorted.push(e);
      }
      sorted.sort(byVersionDesc);
      index = { length: sorted.length, at: (i) => sorted[i] };
    }
    indexes.set(p, index);
  }
  return index;
}

type Triple = readonly [number, number, number];
const cmp3 = (a: Triple, b: Triple): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * The numeric bounds of each comparator set of a range (one set, or a union `||`). A set of release
 * comparators (what ^, ~, x-ranges, hyphen ranges and >=/< pairs desugar to) admits no prerelease and
 * exactly the release versions between its bounds: `exact`, so a pick over versions sorted highest
 * first can skip, stop and accept by comparing numbers (a document of thousands of versions was a
 * 100 ms stretch of range tests otherwise). A set with a prerelease comparator gets the numeric
 * envelope of what it admits, ends included: versions outside every set's envelope are skipped without
 * a test, and those inside an inexact one are tested as semver tests them (react's `^15.0.0-rc` tested
 * all 2,963 versions, canaries included: 35 ms in one turn).
 */
interface Bounds {
  lo?: Triple;
  loInclusive: boolean;
  hi?: Triple;
  hiInclusive: boolean;
  exact: boolean;
}
const boundsMemo = new WeakMap<Range, Bounds[] | null>();
function boundsOf(range: Range): Bounds[] | undefined {
  let b = boundsMemo.get(range);
  if (b === undefined) {
    const sets = range.set.map(bounds);
    b = sets.every((s) => s !== null) ? (sets as Bounds[]) : null;
    boundsMemo.set(range, b);
  }
  return b ?? undefined;
}
// A version against a bound, read off its entry: picking compares every version it walks past, and a
// triple per comparison was a sixth of what a cold resolution allocated on the main thread.
const cmpEntry = (e: VersionEntry, t: Triple): number => e.major - t[0] || e.minor - t[1] || e.patch - t[2];
const aboveHi = (e: VersionEntry, b: Bounds): boolean => b.hi !== undefined && (b.hiInclusive ? cmpEntry(e, b.hi) > 0 : cmpEntry(e, b.hi) >= 0);
const belowLo = (e: VersionEntry, b: Bounds): boolean => b.lo !== undefined && (b.loInclusive ? cmpEntry(e, b.lo) < 0 : cmpEntry(e, b.lo) <= 0);
function bounds(comparators: readonly Comparator[]): Bounds | null {
  const b: Bounds = { loInclusive: true, hiInclusive: true, exact: true };
  for (const c of comparators) {
    if (c.value === '') continue; // `*`: no bound
    const t: Triple = [c.semver.major, c.semver.minor, c.semver.patch];
    const lower = c.operator === '>=' || c.operator === '>' || c.operator === '' || c.operator === '=';
    const upper = c.operator === '<=' || c.operator === '<' || c.operator === '' || c.operator === '=';
    if (!lower && !upper) return null;
    // `<X.Y.Z-0` is how semver writes the top of ^, ~ and x-ranges. No prerelease of X.Y.Z is below it
    // (0 is the lowest identifier), so on release versions it is `<X.Y.Z`. Any other prerelease
    // comparator makes the set inexact.
    const pre = c.semver.prerelease;
    if (pre.length && !(c.operator === '<' && pre.length === 1 && pre[0] === 0)) b.exact = false;
    if (lower && (!b.lo || cmp3(t, b.lo) > 0 || (cmp3(t, b.lo) === 0 && c.operator === '>'))) {
      b.lo = t;
      b.loInclusive = c.operator !== '>';
    }
    if (upper && (!b.hi || cmp3(t, b.hi) < 0 || (cmp3(t, b.hi) === 0 && c.operator === '<'))) {
      b.hi = t;
      b.hiInclusive = c.operator !== '<';
    }
  }
  // A set that admits prereleases may admit some of its bounds' own X.Y.Z (`>=5.4.0-dev <5.4.0` holds
  // 5.4.0-rc): its envelope includes both ends.
  if (!b.exact) b.loInclusive = b.hiInclusive = true;
  return b;
}

/** Bounds of `^x.y.z`, `~x.y.z` and `x.y.z` (most ranges in the wild) read off the string: no Range object. */
const simpleMemo = new Map<string, Bounds[] | null>();
function simpleBounds(spec: string): Bounds[] | undefined {
  return (simpleMemo.get(spec) ?? remember(simpleMemo, spec, readSimpleBounds(spec))) ?? undefined;
}
function readSimpleBounds(spec: string): Bounds[] | null {
  const r = simpleRange(spec);
  if (!r) return null;
  const { op, major: M, minor: m, patch: p } = r;
  const lo: Triple = [M, m, p];
  const hi: Triple = op === '' ? lo : op === '~' || (M === 0 && m > 0) ? [M, m + 1, 0] : M > 0 ? [M + 1, 0, 0] : [0, 0, p + 1];
  return [{ lo, loInclusive: true, hi, hiInclusive: op === '', exact: true }];
}

/** Picks are pure in (document, spec, options); a re-resolution with the same documents reuses them. */
const memo = new WeakMap<PickOptions, WeakMap<Packument, Map<string, PickResult>>>();

/** One options object per distinct setting, so picks memoized under it survive across resolutions. */
const interned = new Map<string, PickOptions>();
export function pickOptions(opts: PickOptions): PickOptions {
  const key = `${opts.defaultTag ?? ''}\0${opts.nodeVersion ?? ''}\0${opts.npmVersion ?? ''}`;
  let o = interned.get(key);
  if (!o) interned.set(key, (o = Object.freeze({ ...opts })));
  return o;
}

export function pickManifest(packument: Packument, spec: Spec, opts: PickOptions = {}): PickResult {
  let byDoc = memo.get(opts);
  if (!byDoc) memo.set(opts, (byDoc = new WeakMap()));
  let picks = byDoc.get(packument);
  if (!picks) byDoc.set(packument, (picks = new Map()));
  const key = spec.key ?? `${spec.registryType}\0${spec.fetchSpec}`;
  let r = picks.get(key);
  if (!r) picks.set(key, (r = pick(packument, spec, opts)));
  return r;
}

function pick(packument: Packument, spec: Spec, opts: PickOptions): PickResult {
  const versions = packument.versions ?? {};
  const distTags = packument['dist-tags'] ?? {};
  const nodeVersion = opts.nodeVersion ?? process.version;
  const defaultTag = opts.defaultTag ?? 'latest';
  const miss = (): PickResult => {
    const names = versionKeys(versions);
    return { error: names.length ? 'ETARGET' : 'ENOVERSIONS', nearest: nearestVersions(names, spec), latest: distTags[defaultTag] };
  };

  if (spec.registryType === 'tag') {
    const v = distTags[spec.fetchSpec];
    return v && versions[v] ? { manifest: versions[v] } : miss();
  }
  if (spec.registryType === 'version') {
    const m = versions[spec.fetchSpec];
    return m ? { manifest: m } : miss();
  }
  const simple = simpleBounds(spec.fetchSpec);
  const range = simple ? undefined : parseRange(spec.fetchSpec);
  if (!simple && !range) return miss();
  const any = spec.fetchSpec === '*';
  const defaultVer = distTags[defaultTag];
  if (defaultVer && (any || satisfies(defaultVer, spec.fetchSpec))) {
    const m = versions[defaultVer];
    if (m && engineOk(m, nodeVersion, opts.npmVersion) && !m.deprecated) return { manifest: m };
  }
  // Highest first: the first healthy version wins; otherwise the best-ranked of the rest, as npm sorts
  // by (not deprecated and engine-OK), engine-OK, not deprecated, then version.
  let fallback: Manifest | undefined;
  let fallbackRank = -1;
  const sets = simple ?? boundsOf(range!);
  const index = versionIndex(packument);
  // Index loops: for-of allocated an iterator result per step until the optimizing compiler got to it.
  for (let i = 0; i < index.length; i++) {
    const entry = index.at(i);
    // Highest first: skip what is outside every set, stop below all of them, take a release inside an
    // exact set without parsing it, and test the rest as semver does.
    let test = true;
    if (sets) {
      let accept = false;
      let inexact = false;
      let belowAll = true;
      for (let j = 0; j < sets.length; j++) {
        const b = sets[j];
        const below = belowLo(entry, b);
        belowAll &&= below;
        if (below || aboveHi(entry, b)) continue;
        if (!b.exact) inexact = true;
        else if (!entry.pre.length) {
          accept = true;
          break;
        }
      }
      if (!accept && !inexact) {
        if (belowAll) break;
        continue;
      }
      test = !accept;
    }
    if (test) {
      const v = (entry.parsed ??= parseVersion(entry.raw));
      if (!v || !range!.test(v)) continue;
    }
    const m = versions[entry.raw];
    const eng = engineOk(m, nodeVersion, opts.npmVersion);
    if (eng && !m.deprecated) return { manifest: m };
    const rank = (eng ? 2 : 0) + (m.deprecated ? 0 : 1);
    if (rank > fallbackRank) {
      fallback = m;
      fallbackRank = rank;
    }
  }
  return fallback ? { manifest: fallback } : miss();
}

/** The existing versions closest to what the spec asked for, for "no matching version" messages. */
export function nearestVersions(all: string[], spec: Spec, count = 4): string[] {
  const sorted = all.filter((v) => semver.valid(v)).sort(semver.compare);
  if (sorted.length <= count) return sorted;
  let anchor: string | null = null;
  try {
    anchor = spec.registryType === 'version' ? spec.fetchSpec : semver.minVersion(spec.fetchSpec)?.version ?? null;
  } catch {
    anchor = null;
  }
  if (!anchor) return sorted.slice(-count);
  let i = sorted.findIndex((v) => semver.gte(v, anchor!));
  if (i === -1) i = sorted.length;
  const start = Math.max(0, Math.min(i - count / 2, sorted.length - count));
  return sorted.slice(start, start + count);
}
