// package-lock.json / npm-shrinkwrap.json, lockfileVersion 1, 2 and 3. Versions 2 and 3 are read from
// `packages` (keyed by install location, as npm 7+ reads them); version 1 from the nested `dependencies`.
import type { DepMap } from '../types';
import { edgesOf, emptyImporter, type LockedEdge, type LockedImporter, type LockedPackage, type LockfileProblem, type LockfileResult } from './model';
import { depMap, invalid, parseJson, record } from './text';

interface V2Entry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  inBundle?: boolean;
  extraneous?: boolean;
  dependencies?: DepMap;
  devDependencies?: DepMap;
  optionalDependencies?: DepMap;
  peerDependencies?: DepMap;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface V1Entry {
  version: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  bundled?: boolean;
  requires?: DepMap;
  dependencies?: Record<string, V1Entry>;
}

const NM = 'node_modules/';

/** `a/node_modules/b` → `a`; `node_modules/a` or a workspace folder → '' (the root). */
function parentOf(location: string): string {
  const i = location.lastIndexOf('/' + NM);
  return i === -1 ? '' : location.slice(0, i);
}

function installName(location: string): string {
  return location.slice(location.lastIndexOf(NM) + NM.length);
}

/** `npm:debug@2.6.9` (v1 alias versions) → ['debug', '2.6.9']. */
function aliasVersion(version: string): [string | undefined, string] {
  if (!version.startsWith('npm:') || version.lastIndexOf('@') < 4) return [undefined, version];
  const at = version.lastIndexOf('@');
  return [version.slice(4, at), version.slice(at + 1)];
}

/**
 * Lines of `packages` keys as npm writes them (two-space indent, one key per line), found with a line scan
 * instead of a JSON tree; undefined when the layout is not npm's, and the tree is used instead.
 */
function packageLines(text: string, count: number): Map<string, number> | undefined {
  const lines = new Map<string, number>();
  const re = /^ {4}("(?:[^"\\]|\\.)*"): \{$/gm;
  let line = 1;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    for (; at < m.index; at++) if (text.charCodeAt(at) === 10) line++;
    lines.set(JSON.parse(m[1]) as string, line);
  }
  return lines.size === count ? lines : undefined;
}

export function readNpm(text: string, file: string): LockfileResult {
  const doc = parseJson(text, file, false);
  if ('code' in doc) return { problems: [doc] };
  const json = doc.value as { lockfileVersion?: unknown; packages?: Record<string, V2Entry>; dependencies?: Record<string, V1Entry> };
  const version = json.lockfileVersion;
  if (version !== 1 && version !== 2 && version !== 3) {
    return { problems: [invalid(file, `unknown lockfileVersion ${JSON.stringify(version)} (npm writes 1, 2 or 3)`, doc.keyLines([]).get('lockfileVersion') ?? 1)] };
  }
  const packages: LockedPackage[] = [];
  const problems: LockfileProblem[] = [];
  const importers: Record<string, LockedImporter> = {};
  // Location → what npm finds there: a package, an importer (workspace folder) or a link to one.
  const byLocation = new Map<string, { importer?: string }>();
  const pending: { from: string; importer: boolean; deps: Parameters<typeof edgesOf>[2] }[] = [];

  if (version === 1) {
    importers[''] = emptyImporter();
    const walk = (deps: Record<string, V1Entry>, parent: string, path: string[]): void => {
      const lines = doc.keyLines(path);
      for (const [name, raw] of Object.entries(record(deps))) {
        const location = (parent ? parent + '/' : '') + NM + name;
        const e = record(raw) as unknown as V1Entry;
        if (typeof e.version !== 'string') {
          problems.push(invalid(file, `the entry for ${location} has no version`, lines.get(name) ?? 1));
          continue;
        }
        e.requires = depMap(e.requires);
        const [realName, v] = aliasVersion(e.version);
        packages.push({
          key: location,
          name,
          version: v,
          ...(realName && realName !== name && { realName }),
          location,
          integrity: typeof e.integrity === 'string' ? e.integrity : undefined,
          resolved: typeof e.resolved === 'string' ? e.resolved : undefined,
          dependencies: e.requires ?? {},
          optionalDependencies: {},
          peerDependencies: {},
          ...(e.dev && { dev: true }),
          ...(e.optional && { optional: true }),
          ...(e.bundled === true && { inBundle: true }),
          line: lines.get(name) ?? 1,
        });
        byLocation.set(location, {});
        // v1 does not say which requires are optional: all are plain edges.
        pending.push({ from: location, importer: false, deps: { prod: e.requires } });
        if (e.dependencies) walk(record(e.dependencies) as Record<string, V1Entry>, location, [...path, name, 'dependencies']);
      }
    };
    walk(json.dependencies ?? {}, '', ['dependencies']);
  } else {
    const lines = packageLines(text, Object.keys(json.packages ?? {}).length) ?? doc.keyLines(['packages']);
    for (const [location, raw] of Object.entries(record(json.packages))) {
      const line = lines.get(location) ?? 1;
      const e = sanitizeEntry(raw);
      if (!e || (!e.link && location.includes(NM) && typeof e.version !== 'string')) {
        problems.push(invalid(file, `the entry for ${location || 'the root'} is not a package entry${e ? ' (no version)' : ''}`, line));
        continue;
      }
      if (e.link) {
        byLocation.set(location, { importer: e.resolved ?? '' });
        continue;
      }
      const isImporter = !location.includes(NM);
      const optionalPeers = Object.keys(e.peerDependenciesMeta ?? {}).filter((n) => e.peerDependenciesMeta?.[n]?.optional);
      const peers = Object.fromEntries(Object.entries(e.peerDependencies ?? {}).filter(([n]) => !optionalPeers.includes(n)));
      if (isImporter) {
        importers[location] = { dependencies: e.dependencies ?? {}, devDependencies: e.devDependencies ?? {}, optionalDependencies: e.optionalDependencies ?? {}, line };
        byLocation.set(location, { importer: location });
        pending.push({ from: location, importer: true, deps: { prod: e.dependencies, dev: e.devDependencies, optional: e.optionalDependencies, peer: peers } });
        continue;
      }
      const name = installName(location);
      packages.push({
        key: location,
        name,
        version: e.version ?? '',
        ...(e.name && e.name !== name && { realName: e.name }),
        location,
        integrity: e.integrity,
        resolved: e.resolved,
        dependencies: e.dependencies ?? {},
        optionalDependencies: e.optionalDependencies ?? {},
        peerDependencies: e.peerDependencies ?? {},
        ...(e.peerDependenciesMeta && { peerDependenciesMeta: e.peerDependenciesMeta }),
        ...(e.dev && { dev: true }),
        ...(e.optional && { optional: true }),
        ...(e.devOptional && { devOptional: true }),
        ...(e.peer && { peer: true }),
        ...(e.inBundle && { inBundle: true }),
        ...(e.extraneous && { extraneous: true }),
        line,
      });
      byLocation.set(location, {});
      pending.push({ from: location, importer: false, deps: { prod: e.dependencies, optional: e.optionalDependencies, peer: peers } });
    }
  }
  if (!importers['']) importers[''] = emptyImporter();

  const edges: LockedEdge[] = [];
  for (const p of pending) edges.push(...edgesOf(p.from, p.importer, p.deps, (name) => resolveFrom(byLocation, p.from, name)));
  return { lockfile: { kind: 'npm', file, version, packages, importers, edges }, problems };
}

/** A `packages` entry with its fields of the types npm writes (others dropped); undefined when not an object. */
function sanitizeEntry(raw: unknown): V2Entry | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const e = raw as Record<string, unknown>;
  const str = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : undefined);
  const meta = record(e.peerDependenciesMeta) as V2Entry['peerDependenciesMeta'];
  return {
    name: str('name'),
    version: str('version'),
    resolved: str('resolved'),
    integrity: str('integrity'),
    link: e.link === true,
    dev: e.dev === true,
    optional: e.optional === true,
    devOptional: e.devOptional === true,
    peer: e.peer === true,
    inBundle: e.inBundle === true,
    extraneous: e.extraneous === true,
    dependencies: depMap(e.dependencies),
    devDependencies: depMap(e.devDependencies),
    optionalDependencies: depMap(e.optionalDependencies),
    peerDependencies: depMap(e.peerDependencies),
    ...(e.peerDependenciesMeta !== undefined && { peerDependenciesMeta: Object.fromEntries(Object.entries(meta!).map(([k, v]) => [k, record(v)])) }),
  };
}

/** Node's lookup: `<from>/node_modules/<name>`, then each ancestor's, up to the root. */
export function resolveFrom(byLocation: Map<string, { importer?: string }>, from: string, name: string): { to: string | null; toImporter?: boolean } {
  for (let base = from; ; base = parentOf(base)) {
    const candidate = (base ? base + '/' : '') + NM + name;
    const hit = byLocation.get(candidate);
    if (hit) return hit.importer !== undefined ? { to: hit.importer, toImporter: true } : { to: candidate };
    if (base === '') return { to: null };
  }
}
