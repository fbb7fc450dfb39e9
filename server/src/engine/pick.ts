// Version picking with npm-pick-manifest's rules (v11): an explicit tag or version is taken as is; a
// range prefers the default dist-tag when it fits and is healthy, otherwise it sorts the versions in
// range by (not deprecated and engine-OK), engine-OK, not deprecated, then highest.
import semver from 'semver';
import type { Manifest, Packument } from './types';
import type { Spec } from './spec';

export interface PickOptions {
  defaultTag?: string;
  nodeVersion?: string;
  npmVersion?: string;
}

export type PickResult =
  | { manifest: Manifest }
  | { error: 'ETARGET' | 'ENOVERSIONS'; nearest: string[]; latest?: string };

function engineOk(m: Manifest, nodeVersion: string, npmVersion: string | undefined): boolean {
  const engines = m.engines;
  if (!engines || typeof engines !== 'object') return true;
  const { node, npm } = engines;
  if (typeof node === 'string' && !safeSatisfies(nodeVersion, node, true)) return false;
  if (npmVersion && typeof npm === 'string' && !safeSatisfies(npmVersion, npm, true)) return false;
  return true;
}

function safeSatisfies(version: string, range: string, includePrerelease = false): boolean {
  try {
    return semver.satisfies(version, range, { loose: true, includePrerelease });
  } catch {
    return false;
  }
}

export function pickManifest(packument: Packument, spec: Spec, opts: PickOptions = {}): PickResult {
  const versions = packument.versions ?? {};
  const distTags = packument['dist-tags'] ?? {};
  const nodeVersion = opts.nodeVersion ?? process.version;
  const defaultTag = opts.defaultTag ?? 'latest';
  const names = Object.keys(versions);
  const miss = (): PickResult => ({
    error: names.length ? 'ETARGET' : 'ENOVERSIONS',
    nearest: nearestVersions(names, spec),
    latest: distTags[defaultTag],
  });

  if (spec.registryType === 'tag') {
    const v = distTags[spec.fetchSpec];
    return v && versions[v] ? { manifest: versions[v] } : miss();
  }
  if (spec.registryType === 'version') {
    const m = versions[spec.fetchSpec];
    return m ? { manifest: m } : miss();
  }
  const range = spec.fetchSpec;
  const defaultVer = distTags[defaultTag];
  if (defaultVer && (range === '*' || safeSatisfies(defaultVer, range))) {
    const m = versions[defaultVer];
    if (m && engineOk(m, nodeVersion, opts.npmVersion) && !m.deprecated) return { manifest: m };
  }
  let best: Manifest | undefined;
  let bestKey = -1;
  for (const v of names) {
    if (!safeSatisfies(v, range)) continue;
    const m = versions[v];
    const eng = engineOk(m, nodeVersion, opts.npmVersion);
    const notDep = !m.deprecated;
    const key = (eng && notDep ? 4 : 0) + (eng ? 2 : 0) + (notDep ? 1 : 0);
    if (key > bestKey || (key === bestKey && best && semver.gt(v, best.version, { loose: true }))) {
      best = m;
      bestKey = key;
    }
  }
  return best ? { manifest: best } : miss();
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
