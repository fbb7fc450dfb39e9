// One model for every lockfile format. Readers fill it from what the file records and nothing else (no
// registry, no package.json), so drift checks can compare it with the manifests and the registry.
import type { DepMap, Problem } from '../types';

export type LockfileKind = 'npm' | 'yarn-classic' | 'yarn-berry' | 'pnpm' | 'bun';

export interface LockedPackage {
  /** Unique within the lockfile: npm location, yarn entry header, pnpm snapshot key, bun package key. */
  key: string;
  /**
   * The name the package is installed under (the alias for npm, yarn and bun aliases). pnpm keys packages
   * by their real name, so for pnpm this is the real name and aliases live on the edges.
   */
  name: string;
  version: string;
  /** The registry package when installed under another name. */
  realName?: string;
  /** npm only: the install location, e.g. `node_modules/a/node_modules/b`. */
  location?: string;
  integrity?: string;
  resolved?: string;
  /** What the entry records for its dependencies: a range (npm, yarn, bun) or the resolved reference (pnpm). */
  dependencies: DepMap;
  optionalDependencies: DepMap;
  peerDependencies: DepMap;
  /** npm: which peers are optional, so the locked tree can be rebuilt with npm's edge types. */
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  /** yarn: the descriptors (`name@range`) the entry answers, the lookup key yarn itself uses. */
  descriptors?: string[];
  /** Flags as the format records them (npm: dev/optional/devOptional/peer; pnpm v6: dev/optional; pnpm v9: optional). */
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  /** npm: shipped in another locked package's tarball (bundleDependencies). */
  inBundle?: boolean;
  /** npm: written as needed by nothing (an optional peer nobody installs, placed all the same). */
  extraneous?: boolean;
  /** 1-based line where the entry starts in the lockfile. */
  line: number;
}

/** A root project or a workspace, keyed by its path relative to the lockfile ('' for the root). */
export interface LockedImporter {
  /** name → spec as recorded (pnpm: the specifier; yarn berry: the descriptor range, e.g. `npm:^1.0.0`). */
  dependencies: DepMap;
  devDependencies: DepMap;
  optionalDependencies: DepMap;
  line: number;
}

export type EdgeType = 'prod' | 'dev' | 'optional' | 'peer';

/** A dependency as the lockfile resolves it. */
export interface LockedEdge {
  /** Key of the depending package, or an importer path when `fromImporter`. */
  from: string;
  fromImporter?: boolean;
  name: string;
  spec: string;
  type: EdgeType;
  /** Key of the package it resolves to, an importer path when `toImporter`, null when the lockfile has none. */
  to: string | null;
  toImporter?: boolean;
}

export interface Lockfile {
  kind: LockfileKind;
  /** Absolute path (or the name given to the parser). */
  file: string;
  version: string | number;
  packages: LockedPackage[];
  /** yarn classic records no importers; the drift check reads them from package.json. */
  importers: Record<string, LockedImporter>;
  edges: LockedEdge[];
}

/** A problem tied to a place in a file: the lockfile, or the package.json it was checked against. */
export interface LockfileProblem extends Problem {
  file: string;
  line: number;
  column: number;
}

export interface LockfileResult {
  /** Absent when the file could not be read as a lockfile at all. */
  lockfile?: Lockfile;
  problems: LockfileProblem[];
  /** sha1 of the file's text: what a memoized resolution remembers of it. */
  digest?: string;
}

/** `name@1.2.3` → ['name', '1.2.3']; scoped names keep their leading '@'. */
export function splitIdent(ident: string): [string, string] {
  const at = ident.indexOf('@', 1);
  return at === -1 ? [ident, ''] : [ident.slice(0, at), ident.slice(at + 1)];
}

export function emptyImporter(line = 1): LockedImporter {
  return { dependencies: {}, devDependencies: {}, optionalDependencies: {}, line };
}

/** Edges of one dependent, in the order npm walks them; `resolve` maps a name to its target. */
export function edgesOf(
  from: string,
  fromImporter: boolean,
  deps: { prod?: DepMap; dev?: DepMap; optional?: DepMap; peer?: DepMap },
  resolve: (name: string, spec: string) => { to: string | null; toImporter?: boolean },
): LockedEdge[] {
  const out: LockedEdge[] = [];
  for (const type of ['prod', 'dev', 'optional', 'peer'] as const) {
    for (const [name, spec] of Object.entries(deps[type] ?? {})) {
      const r = resolve(name, spec);
      // A peer the lockfile does not hold was optional or left to the installer: not an edge.
      if (r.to === null && type === 'peer') continue;
      out.push({ from, ...(fromImporter && { fromImporter }), name, spec, type, to: r.to, ...(r.toImporter && { toImporter: true }) });
    }
  }
  return out;
}
