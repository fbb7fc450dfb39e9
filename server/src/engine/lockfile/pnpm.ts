// pnpm-lock.yaml, lockfileVersion 6.x (pnpm 8: `/name@version` keys, metadata and dependencies in
// `packages`) and 9.x (pnpm 9+: `name@version` metadata in `packages`, dependencies in `snapshots`).
// A package's key carries its peer resolution, `react-dom@18.2.0(react@18.3.1)`: one entry per peer context.
import { posix } from 'node:path';
import type { DepMap } from '../types';
import { edgesOf, splitIdent, type LockedEdge, type LockedImporter, type LockedPackage, type LockfileResult } from './model';
import { depMap, invalid, record } from './text';
import { parseYaml, yamlKeyLines } from './yamlText';

interface ImporterDeps {
  dependencies?: Record<string, { specifier: string; version: string }>;
  devDependencies?: Record<string, { specifier: string; version: string }>;
  optionalDependencies?: Record<string, { specifier: string; version: string }>;
}

interface PackageEntry {
  resolution?: { integrity?: string; tarball?: string };
  dependencies?: DepMap;
  optionalDependencies?: DepMap;
  peerDependencies?: DepMap;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean | string;
  optional?: boolean | string;
  name?: string;
  version?: string;
}

/** Key lines of one top-level section (v6 keys lose their leading '/', as everywhere below). */
function sectionLines(keyLines: Map<string, Map<string, number>>, section: string): Map<string, number> {
  return new Map([...(keyLines.get(section) ?? [])].map(([k, line]) => [k.replace(/^\//, ''), line]));
}

/** Flags arrive as strings from the failsafe parser. */
const yes = (v: unknown): boolean => v === true || v === 'true';

/** `react-dom@18.2.0(react@18.3.1)` → `react-dom@18.2.0`. */
function withoutPeers(key: string): string {
  const i = key.indexOf('(');
  return i === -1 ? key : key.slice(0, i);
}

/**
 * What a dependency's recorded reference points at: `2.0.0` → `ms@2.0.0`; an alias `debug@2.6.9` (v9) or
 * `/debug@2.6.9` (v6) as is; `link:../a` → the importer it links to.
 */
function target(name: string, ref: string, fromImporter: string): { to: string; toImporter?: boolean } {
  if (ref.startsWith('link:')) return { to: posix.normalize(posix.join(fromImporter || '.', ref.slice(5))).replace(/^\.$/, ''), toImporter: true };
  const r = ref.replace(/^\//, '');
  // A reference that starts with a version digit is just the version; otherwise it names the package.
  return { to: /^\d/.test(r) ? `${name}@${r}` : r };
}

export function readPnpm(text: string, file: string): LockfileResult {
  const parsed = parseYaml(text, file, 'pnpm-lock.yaml');
  if ('problem' in parsed) return { problems: [parsed.problem] };
  const json = parsed.value as ImporterDeps & {
    lockfileVersion?: unknown;
    importers?: Record<string, ImporterDeps>;
    packages?: Record<string, PackageEntry>;
    snapshots?: Record<string, PackageEntry>;
  };
  const version = String(json.lockfileVersion ?? '');
  const major = version.split('.')[0];
  if (major !== '6' && major !== '9') {
    return { problems: [invalid(file, `unknown pnpm lockfileVersion ${JSON.stringify(json.lockfileVersion)} (supported: 6.x from pnpm 8, 9.x from pnpm 9 and later)`, 1, 1)] };
  }
  // Every entry is made an object of the expected field types: a damaged file puts anything anywhere.
  const strip = (m: unknown): Record<string, PackageEntry> =>
    Object.fromEntries(Object.entries(record(m)).map(([k, v]) => [k.replace(/^\//, ''), packageEntry(v)]));
  const meta = strip(json.packages);
  // v9 splits metadata (packages, no peer suffix) from resolved dependencies (snapshots); v6 has one map.
  const snapshots = major === '9' ? strip(json.snapshots) : meta;
  const keyLines = yamlKeyLines(text);
  const lines = sectionLines(keyLines, major === '9' ? 'snapshots' : 'packages');
  const metaLines = sectionLines(keyLines, 'packages');

  const importerLines = sectionLines(keyLines, 'importers');
  // A single-project v6 lockfile puts the root's dependencies at the top level.
  const rawImporters = json.importers ?? { '.': { dependencies: json.dependencies, devDependencies: json.devDependencies, optionalDependencies: json.optionalDependencies } };
  const importers: Record<string, LockedImporter> = {};
  const edges: LockedEdge[] = [];
  for (const [dir, rawImp] of Object.entries(record(rawImporters))) {
    const path = dir === '.' ? '' : dir;
    const imp = importerDeps(rawImp);
    const specs = (m: ImporterDeps['dependencies']): DepMap => Object.fromEntries(Object.entries(m ?? {}).map(([n, d]) => [n, d.specifier]));
    const refs = new Map<string, string>();
    for (const m of [imp.dependencies, imp.devDependencies, imp.optionalDependencies]) for (const [n, d] of Object.entries(m ?? {})) refs.set(n, d.version);
    importers[path] = { dependencies: specs(imp.dependencies), devDependencies: specs(imp.devDependencies), optionalDependencies: specs(imp.optionalDependencies), line: importerLines.get(dir) ?? 1 };
    const i = importers[path];
    edges.push(...edgesOf(path, true, { prod: i.dependencies, dev: i.devDependencies, optional: i.optionalDependencies }, (n) => known(target(n, refs.get(n) ?? '', path))));
  }

  function known(t: { to: string; toImporter?: boolean }): { to: string | null; toImporter?: boolean } {
    return t.toImporter || snapshots[t.to] ? t : { to: null };
  }

  const packages: LockedPackage[] = [];
  for (const [key, snap] of Object.entries(snapshots)) {
    const base = withoutPeers(key);
    const m = meta[base] ?? snap;
    const [name, v] = splitIdent(base);
    packages.push({
      key,
      name,
      version: v,
      integrity: m.resolution?.integrity,
      resolved: m.resolution?.tarball,
      dependencies: snap.dependencies ?? {},
      optionalDependencies: snap.optionalDependencies ?? {},
      peerDependencies: m.peerDependencies ?? {},
      ...(yes(snap.dev) && { dev: true }),
      ...(yes(snap.optional) && { optional: true }),
      line: lines.get(key) ?? metaLines.get(base) ?? 1,
    });
    // Resolved peers are already among the snapshot's dependencies; they are not listed twice.
    edges.push(...edgesOf(key, false, { prod: snap.dependencies, optional: snap.optionalDependencies }, (n, ref) => known(target(n, ref, ''))));
  }
  return { lockfile: { kind: 'pnpm', file, version, packages, importers, edges }, problems: [] };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function packageEntry(v: unknown): PackageEntry {
  const e = record(v);
  const resolution = record(e.resolution);
  return {
    resolution: { integrity: str(resolution.integrity), tarball: str(resolution.tarball) },
    dependencies: depMap(e.dependencies),
    optionalDependencies: depMap(e.optionalDependencies),
    peerDependencies: depMap(e.peerDependencies),
    dev: e.dev as PackageEntry['dev'],
    optional: e.optional as PackageEntry['optional'],
  };
}

/** An importer's sections, keeping only `name: { specifier, version }` entries of strings. */
function importerDeps(v: unknown): ImporterDeps {
  const imp = record(v);
  const section = (s: unknown) =>
    Object.fromEntries(
      Object.entries(record(s))
        .map(([n, d]) => [n, record(d)] as const)
        .filter(([, d]) => typeof d.specifier === 'string' && typeof d.version === 'string'),
    ) as ImporterDeps['dependencies'];
  return { dependencies: section(imp.dependencies), devDependencies: section(imp.devDependencies), optionalDependencies: section(imp.optionalDependencies) };
}
