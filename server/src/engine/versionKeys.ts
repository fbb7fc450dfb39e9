// The version numbers of a packument's `versions`, and the order picking walks them in. A document read
// from a projection (cache/entry.ts) is a Proxy that parses each version on first access, and
// Object.keys on it asks the Proxy for every key's descriptor: ~1 µs a version, 0.1 s over a cold
// resolution's picks. Such documents register their key list here, and the order of their versions
// when the cache thread sorted them.
import type { SemVer } from 'semver';

/** A version as picking compares it: the numeric major.minor.patch and the prerelease identifiers. */
export interface VersionEntry {
  raw: string;
  major: number;
  minor: number;
  patch: number;
  /** The prerelease identifiers, numeric ones as numbers (as SemVer.prerelease); empty for a release. */
  pre: readonly (string | number)[];
  /** The SemVer, once a pick has needed one (null: semver refuses it). */
  parsed?: SemVer | null;
}

const PLAIN = /^v?(\d+)\.(\d+)\.(\d+)(?:-([^+]*))?/;
const NUMERIC = /^\d+$/;

function identifiers(pre: string): (string | number)[] {
  return pre.split('.').map((id) => (NUMERIC.test(id) ? Number(id) : id));
}

/** The entry of a version that starts x.y.z[-pre]; undefined for anything else (semver parses those). */
export function plainEntry(raw: string): VersionEntry | undefined {
  const m = PLAIN.exec(raw);
  return m ? { raw, major: +m[1], minor: +m[2], patch: +m[3], pre: m[4] === undefined ? [] : identifiers(m[4]) } : undefined;
}

/** semver's comparePre: numeric identifiers below alphanumeric ones, a longer list above its prefix. */
function comparePre(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return y === undefined ? 0 : -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number') return typeof y === 'number' && x > y ? 1 : -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
}

export function byVersionDesc(a: VersionEntry, b: VersionEntry): number {
  const d = b.major - a.major || b.minor - a.minor || b.patch - a.patch;
  if (d) return d;
  // A release is above its own prereleases.
  if (!a.pre.length || !b.pre.length) return a.pre.length - b.pre.length;
  return comparePre(b.pre, a.pre);
}

/**
 * The positions of `keys`, highest version first, as picking sorts them (a stable sort over the same
 * list); undefined when a key is not a plain version, which picking then sorts through semver itself.
 */
export function descendingOrder(keys: readonly string[]): number[] | undefined {
  const entries: VersionEntry[] = [];
  const order: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const e = plainEntry(keys[i]);
    if (!e) return undefined;
    entries.push(e);
    order.push(i);
  }
  // Indices sorted in place: the [entry, index] pairs and their destructuring this replaced sent V8
  // into a deoptimization loop in the cache thread (1,041 deopts of the same code in one cold
  // resolution of the large fixture; 20-40 ms of the thread's CPU).
  return order.sort((a, b) => byVersionDesc(entries[a], entries[b]));
}

const known = new WeakMap<object, { keys: () => string[]; order?: readonly number[] }>();

export function registerVersionKeys(versions: object, keys: () => string[], order?: readonly number[]): void {
  known.set(versions, { keys, order });
}

export function versionKeys(versions: Record<string, unknown>): string[] {
  return known.get(versions)?.keys() ?? Object.keys(versions);
}

/** Positions into versionKeys(versions), highest version first, when the document came with them. */
export function versionOrder(versions: Record<string, unknown>): readonly number[] | undefined {
  return known.get(versions)?.order;
}
