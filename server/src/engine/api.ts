// The engine's public surface: what the CLI, the language server and the benchmarks call.
import type { PickRecord } from './fetcher';
import type { Lockfile } from './lockfile/model';
import type { SpecReads } from './tree';
import type { DepMap, EventSink, PackumentSource, Problem } from './types';

/** The fields of a project's package.json that resolution reads. */
export interface ProjectManifest {
  name?: string;
  version?: string;
  dependencies?: DepMap;
  devDependencies?: DepMap;
  optionalDependencies?: DepMap;
  peerDependencies?: DepMap;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  engines?: Record<string, string>;
  workspaces?: string[] | { packages?: string[] };
  /** npm overrides: `{ "name" | "name@range": spec | { ".": spec, ...nested } }`. */
  overrides?: Record<string, unknown>;
  /** yarn's equivalent. */
  resolutions?: Record<string, unknown>;
  /** pnpm's, in package.json (`pnpm.overrides`); pnpm-workspace.yaml may hold them too. */
  pnpm?: { overrides?: Record<string, unknown> };
}

/** A workspace package of a monorepo: its folder relative to the root, and its package.json. */
export interface Workspace {
  path: string;
  manifest: ProjectManifest;
}

export interface ResolveOptions {
  manifest: ProjectManifest;
  /** npm/yarn `workspaces`: each resolves as a root of the same graph. */
  workspaces?: Workspace[];
  /**
   * Whose override rules `manifest.overrides` holds: npm's own (a rule contradicting a direct dependency
   * is npm's EOVERRIDE), or yarn resolutions / pnpm overrides translated, which apply to direct
   * dependencies too.
   */
  overridesFrom?: 'npm' | 'yarn' | 'pnpm';
  source: PackumentSource;
  /** npm's `legacy-peer-deps`: peers are neither installed nor checked. */
  legacyPeerDeps?: boolean;
  /** npm's `strict-peer-deps`: every peer conflict is an error. */
  strictPeerDeps?: boolean;
  /** Node and npm versions that engine-aware picking compares against (npm uses the running ones). */
  nodeVersion?: string;
  npmVersion?: string;
  /** npm's `tag` config: the dist-tag preferred when it satisfies a range. */
  defaultTag?: string;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /**
   * An npm lockfile to start from, as npm does: its tree is loaded as is, locked versions that still
   * satisfy their specs are kept (and not fetched), and only new or changed specs are resolved.
   */
  lockfile?: Lockfile;
  /**
   * Fetch the direct dependencies' documents for their dist-tags (outdated checks, hovers) even when
   * resolution did not need them, as with a lockfile. Default true.
   */
  directDistTags?: boolean;
  /** Picks of an earlier resolution whose documents are still fresh (see cache/pickSnapshot). */
  seed?: PickRecord;
  /** Receives this resolution's picks; `unchanged` when they all came from the seed. */
  onPicks?: (record: PickRecord, unchanged: boolean) => void;
  /**
   * An earlier build of this project whose inputs were the same but for the specs of some direct
   * dependencies (the caller vouches for it): its result is reused when the edited specs would build
   * the same tree. An edit in the editor usually keeps every version as it was.
   */
  previous?: BuildReads;
  /** Receives what this build read of the root's specs, to pass as `previous` after an edit. */
  onBuild?: (build: BuildReads) => void;
  /**
   * Called once the project's own dependencies are picked, long before the tree is built: those
   * packages (no dev/optional/peer flags, no dependencies yet), the direct list and their problems.
   * Not with a lockfile, whose locked versions the picks would not show.
   */
  onDirect?: (early: Pick<ResolveResult, 'packages' | 'direct' | 'problems'>) => void;
}

/** A build's manifest and result, and what the build asked of each of the root's specs. */
export interface BuildReads {
  manifest: ProjectManifest;
  specs: Map<string, SpecReads>;
  result: ResolveResult;
}

/** One distinct name@version in the resolved tree (the root excluded). */
export interface ResolvedPackage {
  name: string;
  version: string;
  /** Install locations as npm's lockfile keys them, e.g. `node_modules/a/node_modules/b`. */
  locations: string[];
  integrity?: string;
  resolved?: string;
  deprecated?: string;
  dev?: boolean;
  optional?: boolean;
  peer?: boolean;
  license?: string;
  /** Real package name when installed under an `npm:` alias. */
  realName?: string;
  /** Shipped inside another package's tarball (its bundleDependencies), at every location. */
  inBundle?: boolean;
  /** Placed by another package's npm-shrinkwrap.json, at every location. */
  inShrinkwrap?: boolean;
  /** What each of its dependency edges resolved to (name -> version), peers included. */
  dependencies?: Record<string, string>;
  engines?: Record<string, string>;
  hasInstallScript?: boolean;
  unpackedSize?: number;
}

/** A dependency of the project itself, as declared and as resolved. */
export interface DirectDependency {
  name: string;
  spec: string;
  type: 'prod' | 'dev' | 'optional' | 'peer' | 'peerOptional' | 'workspace';
  /** The version installed at the top level; absent when unresolved. */
  version?: string;
  /** The registry's dist-tags for the package (for "outdated", hovers and completion). */
  distTags?: Record<string, string>;
  /** Publish time of the resolved version, ISO 8601, when the registry gives it. */
  publishedAt?: string;
}

export interface ResolveStats {
  durationMs: number;
  requests: number;
  bytes: number;
  edges: number;
}

export interface ResolveResult {
  packages: ResolvedPackage[];
  direct: DirectDependency[];
  problems: Problem[];
  stats: ResolveStats;
}
