// semver, parsed once. Picking tests every version of a packument against a range and the tree tests
// edges over and over; parsing the same strings each time was most of a resolution's CPU time.
import semver, { Range, SemVer } from 'semver';

const ranges = new Map<string, Range | null>();
const versions = new Map<string, SemVer | null>();
const MAX = 50_000;

function remember<V>(map: Map<string, V>, key: string, value: V): V {
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
      r = new Range(range, { loose: true, includePrerelease });
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
      v = new SemVer(version, { loose: true });
    } catch {
      v = null;
    }
    remember(versions, version, v);
  }
  return v;
}

export function satisfies(version: string | SemVer, range: string, includePrerelease = false): boolean {
  const r = parseRange(range, includePrerelease);
  const v = typeof version === 'string' ? parseVersion(version) : version;
  return !!r && !!v && r.test(v);
}

export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va && vb) return va.compare(vb);
  return semver.compareLoose(a, b);
}
