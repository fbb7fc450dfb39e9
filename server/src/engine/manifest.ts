// One projection of a published version, shared by the registry client (full documents), the cache
// (what it stores) and the test registry (what it records): only what resolution, hovers and
// diagnostics read, with the fields old documents spell differently normalized.
import type { Manifest } from './types';

export const MANIFEST_FIELDS = [
  'name',
  'version',
  'dependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bundleDependencies',
  'engines',
  'os',
  'cpu',
  'libc',
  'deprecated',
  'license',
  'bin',
  'hasInstallScript',
  '_hasShrinkwrap',
] as const;

const DIST_FIELDS = ['integrity', 'shasum', 'tarball', 'unpackedSize'] as const;

type Json = Record<string, unknown>;

export function toManifest(v: Json): Manifest {
  const m: Json = {};
  for (const f of MANIFEST_FIELDS) if (v[f] !== undefined) m[f] = v[f];
  if (m.bundleDependencies === undefined && v.bundledDependencies !== undefined) m.bundleDependencies = v.bundledDependencies;
  // The registry sets hasInstallScript at publish time; old documents lack it, so derive it as npm would.
  const scripts = (v.scripts ?? {}) as Json;
  if (m.hasInstallScript === undefined && (scripts.preinstall || scripts.install || scripts.postinstall || v.gypfile)) m.hasInstallScript = true;
  // Old documents carry { type, url }; the engine wants the SPDX string.
  if (m.license && typeof m.license === 'object') m.license = (m.license as { type?: string }).type;
  const dist = v.dist as Json | undefined;
  if (dist && typeof dist === 'object') {
    const d: Json = {};
    for (const k of DIST_FIELDS) if (dist[k] !== undefined) d[k] = dist[k];
    m.dist = d;
  }
  return m as unknown as Manifest;
}

/** The names a version ships in its tarball (bundleDependencies; `true` means all its dependencies). */
export function bundledNames(pkg: Manifest): string[] {
  const b = pkg.bundleDependencies;
  if (Array.isArray(b)) return b;
  if (b === true) return Object.keys(pkg.dependencies ?? {});
  return [];
}
