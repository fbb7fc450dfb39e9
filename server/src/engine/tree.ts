// The node_modules tree model that npm's placement works on: nodes sit at a location, edges resolve by
// walking up the tree as Node's module lookup does. Mirrors the parts of @npmcli/arborist's Node and
// Edge that decide the name@version set.
import { overriddenAccepts, type OverrideSet } from './overrides';
import { satisfies } from './semverCache';
import type { Manifest } from './types';
import { parseSpec, type Spec } from './spec';

export type EdgeType = 'prod' | 'dev' | 'optional' | 'peer' | 'peerOptional' | 'workspace';

export interface Edge {
  from: TNode;
  name: string;
  type: EdgeType;
  spec: Spec;
  /** Set when npm would override this peer with a warning instead of failing. */
  peerConflicted?: boolean;
  /** The override rule in scope for this edge (or its node's rule set), and the spec it replaced. */
  overrides?: OverrideSet;
  rawSpec?: Spec;
  /** On the root's edges (and their peer-set copies): what the build asked of the spec. */
  reads?: SpecReads;
}

/**
 * What a build asked of one of the root's specs: each package version tested against it with the
 * answer, and each pick made with it. A build reads the root's specs nowhere else, so an edited spec
 * that gives every one of these the same answer builds the same tree (the resolver's `reuse`).
 */
export class SpecReads {
  /** realName -> version -> satisfied. */
  readonly tests = new Map<string, Map<string, boolean>>();
  /** `name@version`, or `!code` for a pick that failed. */
  readonly picks = new Set<string>();

  tested(realName: string, version: string, ok: boolean): void {
    let versions = this.tests.get(realName);
    if (!versions) this.tests.set(realName, (versions = new Map()));
    versions.set(version, ok);
  }

  /** As JSON (a result memo keeps the reads of its build: cache/resultMemo.ts SavedBuild). */
  toJSON(): { tests: Record<string, Record<string, boolean>>; picks: string[] } {
    return { tests: Object.fromEntries([...this.tests].map(([name, versions]) => [name, Object.fromEntries(versions)])), picks: [...this.picks] };
  }

  static fromJSON(j: { tests: Record<string, Record<string, boolean>>; picks: string[] }): SpecReads {
    const r = new SpecReads();
    for (const [name, versions] of Object.entries(j.tests)) r.tests.set(name, new Map(Object.entries(versions)));
    for (const id of j.picks) r.picks.add(id);
    return r;
  }
}

export const isPeer = (e: Edge): boolean => e.type === 'peer' || e.type === 'peerOptional';
export const isOptional = (e: Edge): boolean => e.type === 'optional' || e.type === 'peerOptional';

// Intl.Collator('en'), as @isaacs/string-locale-compare: npm orders its queue and tasks by it. Made
// when localeCompare first needs it, which lowercase names and locations never do: making one read
// ICU's collation data into memory, 2.3 MB of the language server's resident binary at its peak.
let collatorCompare: ((a: string, b: string) => number) | undefined;
const collator = (a: string, b: string): number => (collatorCompare ??= new Intl.Collator('en').compare)(a, b);

/**
 * The collator's primary order of the characters of lowercase package names and locations, which differ
 * in primary weight one from another: for two strings whose first difference is between two of these,
 * it decides, as plain code order would not (`_` < `-` < `.` < `@` < `/` < `~` < digits < letters).
 */
const WEIGHTS = (() => {
  const w = new Int8Array(128).fill(-1);
  [...'_-.@/~0123456789abcdefghijklmnopqrstuvwxyz'].forEach((c, i) => (w[c.charCodeAt(0)] = i));
  return w;
})();
const weight = (code: number): number => (code < 128 ? WEIGHTS[code] : -1);

/**
 * The collator's answer, without asking it where the first difference of two strings is between the
 * characters above (or one string ends where the other goes on with one): the tree build compares
 * locations ~30,000 times per resolution of the large fixture, and the collator was 6% of a rebuild.
 * Identical characters before the difference weigh the same at every level, so only the difference decides.
 */
export function localeCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) {
    if (a.length === b.length) return 0;
    const next = weight((a.length > n ? a : b).charCodeAt(n));
    return next < 0 ? collator(a, b) : a.length - b.length;
  }
  const x = weight(a.charCodeAt(i));
  const y = weight(b.charCodeAt(i));
  return x < 0 || y < 0 ? collator(a, b) : x - y;
}

export class TNode {
  readonly children = new Map<string, TNode>();
  readonly edgesOut = new Map<string, Edge>();
  parent: TNode | null = null;
  /** For a workspace package: the project root it sits in (arborist's fsParent), and its folder. */
  fsParent: TNode | null = null;
  fsPath?: string;
  /** npm overrides in scope for this node's dependencies. */
  overrides?: OverrideSet;
  /** Nodes in the ideal tree (as opposed to virtual peer-set nodes and removed ones). */
  attached = false;
  /** When it was last attached: the order of the builder's inventory. */
  seq = 0;
  /** A link back to an ancestor of the same package (a cycle); it has no edges of its own. */
  linkTo?: TNode;
  /** Shipped in a dependency's tarball (its bundleDependencies): never resolved, moved or deduped. */
  inBundle = false;
  /** Below a package whose npm-shrinkwrap.json decides its tree (arborist's getter of the same name). */
  get inShrinkwrap(): boolean {
    const p = this.parent;
    return !!p && (p.pkg._hasShrinkwrap === true || p.inShrinkwrap);
  }
  // Lockfile flags, computed at the end.
  dev = true;
  optional = true;
  peer = true;
  devOptional = true;

  constructor(
    readonly name: string,
    readonly pkg: Manifest,
    readonly isRoot: boolean,
    /** For a virtual root: the tree node whose dependencies it mirrors. */
    readonly source?: TNode,
  ) {}

  get version(): string {
    return this.pkg.version;
  }
  get realName(): string {
    return this.pkg.name || this.name;
  }
  /** Top nodes get dev edges and may hold peers of their own. */
  get isTop(): boolean {
    return this.isRoot || this.parent === null;
  }
  get depth(): number {
    let d = 0;
    for (let p = this.parent; p; p = p.parent) d++;
    return d;
  }
  get location(): string {
    if (!this.parent) return this.fsPath ?? '';
    const up = this.parent.location;
    return (up ? up + '/' : '') + 'node_modules/' + this.name;
  }
  /** Node's module lookup: own children first, then each ancestor's (a workspace's root included). */
  resolve(name: string): TNode | null {
    return this.children.get(name) ?? this.resolveParent?.resolve(name) ?? null;
  }
  get resolveParent(): TNode | null {
    return this.parent ?? this.fsParent;
  }
  isDescendantOf(node: TNode): boolean {
    return this === node || (this.resolveParent?.isDescendantOf(node) ?? false);
  }
  matches(other: TNode): boolean {
    return other === this || (other.name === this.name && other.realName === this.realName && other.version === this.version);
  }
}

/** Creates the edges of a node in npm's order; a later type replaces an earlier one of the same name. */
export function loadEdges(node: TNode, pkg: Manifest & { devDependencies?: Record<string, string> }, withDev: boolean, legacyPeerDeps: boolean): void {
  const add = (deps: Record<string, string> | undefined, type: (name: string) => EdgeType) => {
    if (!deps || typeof deps !== 'object') return;
    for (const [name, raw] of Object.entries(deps)) {
      node.edgesOut.delete(name);
      const rawText = typeof raw === 'string' ? raw : '';
      const edge: Edge = { from: node, name, type: type(name), spec: parseSpec(name, rawText) };
      if (node.overrides) applyOverrides(edge, node.overrides);
      node.edgesOut.set(name, edge);
    }
  };
  if (!legacyPeerDeps) {
    const meta = pkg.peerDependenciesMeta ?? {};
    add(pkg.peerDependencies, (n) => (meta[n]?.optional ? 'peerOptional' : 'peer'));
  }
  add(pkg.dependencies, () => 'prod');
  add(pkg.optionalDependencies, () => 'optional');
  if (withDev) add(pkg.devDependencies, () => 'dev');
}

/** The rule of `set` an edge falls under (edge.js reload), and the spec it resolves with under it. */
export function applyOverrides(edge: Edge, set: OverrideSet): void {
  const raw = edge.rawSpec ?? edge.spec;
  const rule = set.edgeRule(edge.name, raw.raw);
  edge.overrides = rule;
  const value = rule.overrideFor(edge.name);
  if (value === undefined) {
    edge.spec = raw;
    if (edge.rawSpec) edge.rawSpec = undefined;
  } else {
    edge.rawSpec = raw;
    edge.spec = parseSpec(edge.name, value);
  }
}

/** dep-valid: does this node satisfy the edge's spec? */
export function satisfiedBy(node: TNode, edge: Edge): boolean {
  if (node.name !== edge.name) return false;
  if (edge.type === 'workspace') return node.linkTo !== undefined && node.linkTo.fsPath === edge.spec.fetchSpec;
  if (node.linkTo) return satisfiedBy(node.linkTo, edge);
  const ok = accepts(node.version, edge);
  edge.reads?.tested(node.realName, node.version, ok);
  return ok;
}

/**
 * Whether the edge's spec takes this package version (satisfiedBy past the node's name and links). As
 * npm's dep-valid, only the version counts, not which package it is: a package installed under an alias
 * (`"react-loadable": "npm:@docusaurus/react-loadable@6"`) meets `react-loadable@*` and `@^6` too.
 */
export function accepts(version: string, edge: Pick<Edge, 'spec' | 'rawSpec' | 'overrides'>): boolean {
  const spec = edge.spec;
  if (spec.registryType === undefined) return false;
  if (spec.registryType === 'tag') return true;
  if (spec.fetchSpec === '*') return true;
  const raw = edge.rawSpec;
  if (raw && edge.overrides?.keySpec && raw.registryType !== 'tag' && spec.registryType !== undefined) {
    return overriddenAccepts(version, edge.overrides, spec.fetchSpec, raw.fetchSpec);
  }
  return satisfies(version, spec.fetchSpec);
}

export function edgeTo(edge: Edge): TNode | null {
  return edge.from.resolve(edge.name);
}

export function edgeValid(edge: Edge): boolean {
  const to = edgeTo(edge);
  if (!to) return isOptional(edge);
  // A peer nested inside its own dependent is not a peer ("PEER LOCAL").
  if (isPeer(edge) && to.parent === edge.from && !edge.from.isTop) return false;
  return satisfiedBy(to, edge);
}
