// The version numbers of a packument's `versions`. A document read from a projection (cache/entry.ts)
// is a Proxy that parses each version on first access, and Object.keys on it asks the Proxy for every
// key's descriptor: ~1 µs a version, 0.1 s over a cold resolution's picks. Such documents register
// their key list here.
const known = new WeakMap<object, () => string[]>();

export function registerVersionKeys(versions: object, keys: () => string[]): void {
  known.set(versions, keys);
}

export function versionKeys(versions: Record<string, unknown>): string[] {
  return known.get(versions)?.() ?? Object.keys(versions);
}
