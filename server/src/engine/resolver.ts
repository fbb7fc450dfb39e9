// Builds the ideal tree the way npm 11's arborist does (buildIdealTree: a queue of nodes ordered by
// depth then collated location, problem edges fetched, tasks placed by name with PlaceDep/CanPlaceDep
// and peer sets loaded in virtual roots), so the name@version set equals what
// `npm install --package-lock-only` writes. Network work runs ahead of placement in the Fetcher.
import type { BuildReads, DirectDependency, ProjectManifest, ResolveOptions, ResolveResult, ResolvedPackage, Workspace } from './api';
import type { PickOutcome } from './fetcher';
import { describeFetchError, Fetcher } from './fetcher';
import { bundledNames } from './manifest';
import { OverrideSet } from './overrides';
import { pickOptions } from './pick';
import { compareVersions } from './semverCache';
import { isRegistrySpec, parseSpec } from './spec';
import { breathe } from './breathe';
import { accepts, applyOverrides, edgeTo, edgeValid, isPeer, loadEdges, localeCompare, satisfiedBy, SpecReads, TNode, type Edge } from './tree';
import type { LockedPackage, Lockfile } from './lockfile/model';
import { readNpm } from './lockfile/npm';
import type { DepMap, Manifest, Problem } from './types';

const enum Place {
  OK,
  KEEP,
  REPLACE,
  CONFLICT,
}

interface QueueEntry {
  node: TNode;
  depth: number;
  loc: string;
}
const before = (a: QueueEntry, b: QueueEntry): boolean => a.depth < b.depth || (a.depth === b.depth && localeCompare(a.loc, b.loc) < 0);

/** npm fails the whole install with ERESOLVE; Citadel reports it and resolves as --legacy-peer-deps. */
class PeerConflict extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

interface Check {
  target: TNode;
  /** The deepest level this dep could go (can-place-dep's deepestNestingTarget). */
  deepest: TNode;
  canPlace: Place;
  canPlaceSelf: Place;
}

/** The dependency chain of a tree node, or of a virtual peer-set node through its virtual root's source. */
function chainOf(node: TNode): string[] {
  if (node.attached || node.isRoot) return chain(node);
  const source = node.parent?.source;
  return source ? [...chain(source), node.name] : [node.name];
}

function chain(node: TNode): string[] {
  const names: string[] = [];
  for (let n: TNode | null = node; n && !n.isRoot; n = n.parent) names.unshift(n.name);
  return names;
}

/** The deepest level where `name` may go below `start`: not inside a node that peer-depends on it. */
function deepestNestingTarget(start: TNode, name: string): TNode {
  for (let target: TNode | null = start; target; target = target.resolveParent) {
    if (target.isRoot || !target.resolveParent) return target;
    const e = target.edgesOut.get(name);
    if (!e || !isPeer(e)) return target;
  }
  return start;
}

/**
 * The edges named `name` from `under` and below that resolve through `under` (a copy below captures
 * its own region). For a nested node these are the only edges that can reach it: scanning every edge
 * of its name instead grew with the square of the tree.
 */
function namedEdgesBelow(under: TNode, name: string): Edge[] {
  const out: Edge[] = [];
  const stack = [under];
  while (stack.length) {
    const n = stack.pop()!;
    const e = n.edgesOut.get(name);
    if (e) out.push(e);
    // From a node with a child of that name down, the name resolves to that child.
    for (const c of n.children.values()) if (!c.children.has(name)) stack.push(c);
  }
  return out;
}

/** `start` and everything it reaches through edges passing `filter`. */
function closure(start: Iterable<TNode>, filter: (e: Edge) => boolean): Set<TNode> {
  const deps = new Set(start);
  for (const node of deps) {
    for (const e of node.edgesOut.values()) {
      const to = edgeTo(e);
      if (to && filter(e)) deps.add(to);
    }
  }
  return deps;
}

/**
 * A virtual root's copy of its source's edge of that name, made when first asked for. Only these
 * lookups read a virtual root's edges; copying all of them for each virtual root (one per dependency
 * picked) was a sixth of what rebuilding a tree allocated (the large fixture, a version-moving edit).
 */
function virtualEdge(vr: TNode, name: string): Edge | undefined {
  let e = vr.edgesOut.get(name);
  if (!e && vr.source) {
    const s = vr.source.edgesOut.get(name);
    if (s) vr.edgesOut.set(name, (e = { ...s, from: vr }));
  }
  return e;
}

class TreeBuilder {
  readonly root: TNode;
  readonly problems: Problem[] = [];
  private readonly queue: QueueEntry[] = [];
  private readonly queued = new Set<TNode>();
  private readonly seen = new Set<TNode>();
  /** Attached nodes by name (arborist's inventory). */
  private readonly byName = new Map<string, Set<TNode>>();
  /**
   * Per name, the edges that may resolve to the root's copy (edgesIn of a top node): a superset, which
   * edgesIn prunes of the edges a nested copy captures; removing a nested copy puts its region's edges
   * back. Filtering every edge of a popular name instead grew with the square of the tree.
   */
  private readonly topEdges = new Map<string, Set<Edge>>();
  /** Attachments so far (TNode.seq). */
  private attachments = 0;
  private readonly virtualRoots = new Map<TNode, TNode>();
  private readonly failed = new Set<Edge>();
  private readonly reported = new Set<string>();
  /** Nodes this build loaded from tarballs (openTarball), not from a lockfile. */
  private readonly shipped = new Set<TNode>();

  /** Workspace packages: top nodes in their own folders, linked from the root's node_modules. */
  readonly workspaces: TNode[] = [];

  constructor(
    manifest: ProjectManifest,
    workspaces: Workspace[],
    private readonly fetcher: Fetcher,
    private readonly legacyPeerDeps: boolean,
    private readonly strictPeerDeps: boolean,
    lockfile?: Lockfile,
    /** Filled with what the build asks of the root's specs (see SpecReads). */
    reads?: Map<string, SpecReads>,
  ) {
    this.root = new TNode(manifest.name ?? '', asManifest(manifest), true);
    if (manifest.overrides && typeof manifest.overrides === 'object' && Object.keys(manifest.overrides).length) {
      this.root.overrides = new OverrideSet(manifest.overrides);
      this.root.overrides.rootDeps = [manifest.devDependencies, manifest.optionalDependencies, manifest.dependencies, manifest.peerDependencies].filter((d): d is DepMap => !!d);
    }
    // As arborist's root: one `workspace` edge per workspace package, then the root's own deps.
    for (const ws of workspaces) {
      const name = ws.manifest.name ?? '';
      this.root.edgesOut.set(name, { from: this.root, name, type: 'workspace', spec: { raw: `file:${ws.path}`, type: 'directory', name, fetchName: name, fetchSpec: ws.path } });
    }
    loadEdges(this.root, this.root.pkg, true, legacyPeerDeps);
    if (reads) {
      for (const e of this.root.edgesOut.values()) {
        if (e.type === 'workspace') continue;
        let r = reads.get(e.name);
        if (!r) reads.set(e.name, (r = new SpecReads()));
        e.reads = r;
      }
    }
    this.attach(this.root, null);
    for (const ws of workspaces) {
      const target = new TNode(ws.manifest.name ?? '', asManifest(ws.manifest), false);
      target.fsParent = this.root;
      target.fsPath = ws.path;
      target.overrides = this.root.overrides;
      loadEdges(target, target.pkg, true, legacyPeerDeps);
      this.attach(target, null);
      this.workspaces.push(target);
    }
    if (lockfile) this.loadLockedTree(lockfile);
  }

  /**
   * arborist's loadVirtual: every locked package at its locked location, with the edges its lock entry
   * records. The root and the workspaces keep their package.json edges, so an edited spec shows up
   * as a problem edge of the root and is the only thing resolved anew.
   */
  private loadLockedTree(lock: Lockfile): void {
    const byLocation = new Map<string, TNode>([['', this.root]]);
    for (const w of this.workspaces) byLocation.set(w.fsPath!, w);
    this.attachLocked(lock.packages, byLocation);
  }

  /** Locked packages at their locations (relative to the nodes `at` holds), with their entries' edges. */
  private attachLocked(packages: LockedPackage[], at: Map<string, TNode>, mark?: (n: TNode) => void): void {
    const depthOf = (loc: string) => loc.split('node_modules/').length;
    for (const p of [...packages].sort((a, b) => depthOf(a.location ?? '') - depthOf(b.location ?? ''))) {
      if (!p.location || !p.version) continue;
      const cut = p.location.lastIndexOf('node_modules/');
      const parent = at.get(p.location.slice(0, cut).replace(/\/$/, ''));
      if (!parent || parent.children.has(p.name)) continue;
      const pkg: Manifest = {
        name: p.realName ?? p.name,
        version: p.version,
        dependencies: p.dependencies,
        optionalDependencies: p.optionalDependencies,
        peerDependencies: p.peerDependencies,
        ...(p.peerDependenciesMeta && { peerDependenciesMeta: p.peerDependenciesMeta }),
        dist: { ...(p.integrity && { integrity: p.integrity }), ...(p.resolved && { tarball: p.resolved }) },
      };
      const node = new TNode(p.name, pkg, false);
      node.inBundle = p.inBundle === true;
      node.overrides = parent.overrides;
      loadEdges(node, pkg, false, this.legacyPeerDeps);
      mark?.(node);
      this.attach(node, parent);
      at.set(p.location, node);
    }
  }

  async build(): Promise<void> {
    this.push(this.root);
    for (;;) {
      for (let node = this.pop(); node; node = this.pop()) {
        if (this.seen.has(node) || !node.attached) continue;
        this.seen.add(node);
        await this.step(node);
        // With every pick at hand (a warm cache) the walk never waits on I/O and would hold the event
        // loop for the whole build: the language server could not answer a hover or take an edit.
        await breathe();
      }
      // Link targets join the queue only once it has emptied (arborist's #resolveLinks).
      const pending = this.workspaces.filter((w) => !this.seen.has(w));
      if (!pending.length) return;
      for (const w of pending) this.push(w);
    }
  }

  // --- queue: a binary heap ordered by depth, then location collated as npm does ------------------
  private push(node: TNode): void {
    if (this.queued.has(node)) return;
    this.queued.add(node);
    const q = this.queue;
    q.push({ node, depth: node.depth, loc: node.location });
    for (let i = q.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (!before(q[i], q[up])) break;
      [q[i], q[up]] = [q[up], q[i]];
      i = up;
    }
  }
  private pop(): TNode | undefined {
    const q = this.queue;
    if (!q.length) return undefined;
    const top = q[0];
    const last = q.pop()!;
    if (q.length) {
      q[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && before(q[l], q[m])) m = l;
        if (r < q.length && before(q[r], q[m])) m = r;
        if (m === i) break;
        [q[i], q[m]] = [q[m], q[i]];
        i = m;
      }
    }
    this.queued.delete(top.node);
    return top.node;
  }

  // --- inventory --------------------------------------------------------------------------------
  private attach(node: TNode, parent: TNode | null): void {
    // Its name: it may now shadow another node of that name for some dependents.
    this.bump(node.name);
    node.seq = ++this.attachments;
    node.parent = parent;
    if (parent) parent.children.set(node.name, node);
    node.attached = true;
    let set = this.byName.get(node.name);
    if (!set) this.byName.set(node.name, (set = new Set()));
    set.add(node);
    for (const e of node.edgesOut.values()) {
      this.topEdgesOf(e.name).add(e);
      // Its edges only add to their targets' lists: extend a current list rather than drop it (a popular
      // package's list would otherwise be rebuilt after every dependent placed).
      const to = edgeTo(e);
      const memo = to?.attached ? this.edgesInMemo.get(to) : undefined;
      if (memo && memo.version === (this.nameVersions.get(e.name) ?? 0)) memo.edges.push(e);
    }
    if (this.root.overrides && !node.isTop) this.spreadOverrides(node);
  }

  // --- override sets that follow the edges (node.js addEdgeIn / deleteEdgeIn) ---------------------
  /**
   * npm 11 keeps a node's override set in step with the edges reaching it: the most specific of
   * theirs, passed on down its own edges (updateOverridesEdgeInAdded). A dependency shared by a
   * package with nested overrides and one without gets the nested rules. An attachment adds edges in
   * (the ones that now resolve to the node) and out (its own).
   */
  private spreadOverrides(node: TNode): void {
    for (const e of this.edgesIn(node)) this.mergeOverrides(node, e.overrides);
    for (const e of node.edgesOut.values()) {
      const to = edgeTo(e);
      if (to && to !== node) this.mergeOverrides(to, e.overrides);
    }
  }

  private mergeOverrides(node: TNode, set: OverrideSet | undefined): void {
    const stack: [TNode, OverrideSet | undefined][] = [[node, set]];
    while (stack.length) {
      const [n, s] = stack.pop()!;
      if (!s || !n.attached || n.isTop || n.linkTo) continue;
      const next = n.overrides ? OverrideSet.specific(n.overrides, s) : s;
      if (!next || next === n.overrides) continue;
      this.setOverrides(n, next, stack);
    }
  }

  /** A node's edges under a new set (edge.js reload); their targets take it on as above. */
  private setOverrides(n: TNode, set: OverrideSet, stack: [TNode, OverrideSet | undefined][]): void {
    n.overrides = set;
    for (const e of n.edgesOut.values()) {
      applyOverrides(e, set);
      const to = edgeTo(e);
      if (to && to !== n) stack.push([to, e.overrides]);
    }
  }

  /** An edge into `n` under its current set is gone: the set is chosen again from the edges left (updateOverridesEdgeInRemoved). */
  private loseOverrides(n: TNode, lost: OverrideSet | undefined): void {
    if (!lost || n.overrides !== lost || !n.attached || n.isTop || n.linkTo) return;
    let next: OverrideSet | undefined;
    for (const e of this.edgesIn(n)) next = next && e.overrides ? OverrideSet.specific(e.overrides, next) : e.overrides;
    if (!next || next === n.overrides) return;
    const stack: [TNode, OverrideSet | undefined][] = [];
    this.setOverrides(n, next, stack);
    while (stack.length) {
      const [to, s] = stack.pop()!;
      this.mergeOverrides(to, s);
    }
  }

  /** Removes a node and everything below it from the tree (arborist's `node.root = null`). */
  private remove(node: TNode): void {
    if (!node.attached) return;
    if (node.parent && node.parent.children.get(node.name) === node) node.parent.children.delete(node.name);
    const stack = [node];
    const gone: Edge[] = [];
    while (stack.length) {
      const n = stack.pop()!;
      n.attached = false;
      this.touched(n);
      this.byName.get(n.name)?.delete(n);
      for (const e of n.edgesOut.values()) {
        this.topEdges.get(e.name)?.delete(e);
        if (this.root.overrides) gone.push(e);
      }
      for (const c of n.children.values()) stack.push(c);
    }
    // What a nested copy captured now resolves further up, maybe to the root's copy.
    const up = node.resolveParent;
    if (up && !up.isRoot) for (const e of namedEdgesBelow(up, node.name)) this.topEdgesOf(node.name).add(e);
    // The edges out of what went no longer reach their targets: those choose their override sets again.
    for (const e of gone) {
      const to = edgeTo(e);
      if (to) this.loseOverrides(to, e.overrides);
    }
  }

  private topEdgesOf(name: string): Set<Edge> {
    let set = this.topEdges.get(name);
    if (!set) this.topEdges.set(name, (set = new Set()));
    return set;
  }

  /** The edges resolving to a top node, pruning the candidates a nested copy has captured. */
  private edgesIntoTop(node: TNode): Edge[] {
    const out: Edge[] = [];
    const candidates = this.topEdges.get(node.name);
    for (const e of candidates ?? []) {
      const to = edgeTo(e);
      if (to === node) out.push(e);
      else if (to?.parent && !to.parent.isRoot) candidates!.delete(e);
    }
    return out;
  }

  /**
   * Which edges resolve to a node named N changes only when a node named N comes or goes (it can shadow
   * or reveal another), or a node with edges named N does. So edgesIn is memoized per name version:
   * memoizing per tree version made it quadratic on large trees, every placement invalidating every
   * popular name's list.
   */
  private readonly nameVersions = new Map<string, number>();
  private readonly edgesInMemo = new Map<TNode, { version: number; edges: Edge[] }>();

  /** A node was detached: its name's lists and its edges' names' lists change. */
  private touched(node: TNode): void {
    this.bump(node.name);
    for (const name of node.edgesOut.keys()) this.bump(name);
  }

  private bump(name: string): void {
    this.nameVersions.set(name, (this.nameVersions.get(name) ?? 0) + 1);
  }

  private edgesIn(node: TNode): Edge[] {
    if (node.attached) {
      const version = this.nameVersions.get(node.name) ?? 0;
      const memo = this.edgesInMemo.get(node);
      if (memo && memo.version === version) return memo.edges;
      const rp = node.resolveParent;
      const edges = rp && !rp.isRoot ? namedEdgesBelow(rp, node.name).filter((e) => edgeTo(e) === node) : this.edgesIntoTop(node);
      this.edgesInMemo.set(node, { version, edges });
      return edges;
    }
    // A virtual peer-set node: its dependents are its virtual root and that root's children.
    const vr = node.parent;
    if (!vr) return [];
    const out: Edge[] = [];
    for (const n of [vr, ...vr.children.values()]) {
      const e = n.edgesOut.get(node.name);
      if (e && edgeTo(e) === node) out.push(e);
    }
    return out;
  }

  /** gather-dep-set: the deps of `set` that nothing outside the set needs (through edges passing `filter`). */
  private gatherDepSet(start: Iterable<TNode>, filter: (e: Edge) => boolean): Set<TNode> {
    return this.unneededOutside(closure(start, filter), filter);
  }

  /** Narrows a closure (in place) to its nodes that nothing outside it needs. */
  private unneededOutside(deps: Set<TNode>, filter: (e: Edge) => boolean): Set<TNode> {
    // Drop each dep that something outside the set needs; dropping one can expose what it depended on.
    // A worklist reaches the same set as arborist's passes over the whole set until none drops one (the
    // largest subset that nothing outside needs), without rescanning it per pass.
    const check = [...deps];
    while (check.length && deps.size) {
      const dep = check.pop()!;
      if (!deps.has(dep) || !this.edgesIn(dep).some((e) => !deps.has(e.from) && filter(e))) continue;
      deps.delete(dep);
      for (const e of dep.edgesOut.values()) {
        const to = edgeTo(e);
        if (to && deps.has(to)) check.push(to);
      }
    }
    return deps;
  }

  /**
   * Every dependent of `current` accepts `dep`, or is itself only there for `current`. `ignorePeers`:
   * replacing a whole peer set, whose members' peer edges into `current` (from its level) do not count.
   */
  private canReplace(dep: TNode, current: TNode, ignorePeers?: Set<string>): boolean {
    if (dep.name !== current.name || dep.realName !== current.realName) return false;
    // The dep set only matters for the dependents that refuse `dep`, and only if each is in current's
    // closure: usually one is not, and the dep set (the costliest part of placing in a large tree) is
    // never built. Same answer as testing every dependent against the dep set.
    const filter = (e: Edge) => edgeTo(e) !== current && edgeValid(e);
    let deps: Set<TNode> | undefined;
    const refused: Edge[] = [];
    for (const e of this.edgesIn(current)) {
      if (ignorePeers && !current.isTop && e.from.parent === current.parent && isPeer(e) && ignorePeers.has(e.from.name)) continue;
      if (satisfiedBy(dep, e)) continue;
      deps ??= closure([current], filter);
      if (!deps.has(e.from)) return false;
      refused.push(e);
    }
    if (!deps) return true;
    const depSet = this.unneededOutside(deps, filter);
    return refused.every((e) => depSet.has(e.from));
  }

  private canDedupe(node: TNode): boolean {
    if (node.inBundle || node.inShrinkwrap) return false;
    const rp = node.resolveParent;
    if (!rp || !rp.resolveParent) return false;
    if (this.edgesIn(node).length === 0) return true;
    const other = rp.resolveParent.resolve(node.name);
    if (!other) return false;
    if (other.matches(node)) return true;
    if (!this.canReplace(other, node)) return false;
    return compareVersions(other.version, node.version) >= 0;
  }

  private pruneDedupable(node: TNode, descend = true): void {
    if (!node.attached) return;
    if (this.canDedupe(node)) {
      for (const n of this.gatherDepSet([node], (e) => edgeTo(e) !== node && edgeValid(e))) this.remove(n);
      return;
    }
    if (descend) {
      const kids = [...node.children.values()].sort((a, b) => localeCompare(a.location, b.location));
      for (const kid of kids) this.pruneDedupable(kid);
    }
  }

  // --- one step of the queue ----------------------------------------------------------------------
  private problemEdges(node: TNode): Edge[] {
    const bundled = node.isRoot ? [] : bundledNames(node.pkg);
    const out: Edge[] = [];
    for (const e of node.edgesOut.values()) {
      if (bundled.includes(e.name) || this.failed.has(e)) continue;
      if (e.type === 'workspace') {
        if (!edgeValid(e)) out.push(e);
        continue;
      }
      if (!isRegistrySpec(e.spec)) {
        this.report(specProblem(e));
        continue;
      }
      const to = edgeTo(e);
      if (!to) {
        if (e.type !== 'peerOptional') out.push(e);
      } else if (!edgeValid(e) && !to.inShrinkwrap) out.push(e); // a shrinkwrap's answer stands
    }
    return out;
  }

  /**
   * arborist's "crack open" when it builds a complete tree (as `--package-lock-only` does): a package
   * with an npm-shrinkwrap.json gets the shrinkwrap's tree under it, and one that bundles dependencies
   * the node_modules of its tarball, before its own dependencies are placed. What is loaded is never
   * stepped, as npm never queues it.
   */
  private async openTarball(node: TNode): Promise<void> {
    let contents;
    try {
      contents = await this.fetcher.tarball(node.pkg);
    } catch (err) {
      const { code, message } = describeFetchError(node.pkg.name, err);
      this.report({ code, severity: 'warning', message: `${message} What it ships (bundled packages, a shrinkwrap) is not in the tree.`, package: node.pkg.name, name: node.pkg.name, path: chain(node) });
      return;
    }
    const loaded = (n: TNode) => {
      this.seen.add(n);
      this.shipped.add(n);
    };
    if (contents.shrinkwrap !== undefined && node.pkg._hasShrinkwrap) {
      const { lockfile } = readNpm(contents.shrinkwrap, `${node.pkg.name}@${node.pkg.version}/npm-shrinkwrap.json`);
      if (lockfile) this.attachLocked(lockfile.packages, new Map([['', node]]), loaded);
    }
    const at = new Map<string, TNode>([['', node]]);
    for (const { path, manifest } of contents.bundled) {
      const cut = path.lastIndexOf('node_modules/');
      const parent = at.get(path.slice(0, Math.max(0, cut - 1)));
      const name = path.slice(cut + 'node_modules/'.length);
      if (!parent || parent.children.has(name)) continue;
      const child = new TNode(name, manifest, false);
      child.inBundle = true;
      child.overrides = parent.overrides;
      loadEdges(child, manifest, false, this.legacyPeerDeps);
      loaded(child);
      this.attach(child, parent);
      at.set(path, child);
    }
  }

  private async step(node: TNode): Promise<void> {
    if (!node.isTop && !node.inBundle && this.fetcher.opens(node.pkg) && !node.inShrinkwrap) await this.openTarball(node);
    const tasks: { edge: Edge; dep: TNode }[] = [];
    for (const edge of this.problemEdges(node)) {
      if (edge.peerConflicted) continue;
      if (edge.type === 'workspace') {
        this.linkWorkspace(edge);
        continue;
      }
      // A peer set loaded for an earlier edge of this node may already hold a fitting dep.
      const vr = this.virtualRoots.get(node);
      const vrEdge = vr && virtualEdge(vr, edge.name);
      const vrDep = vrEdge && edgeValid(vrEdge) ? edgeTo(vrEdge) : null;
      const required = new Set<TNode>([edge.from]);
      let dep = vrDep && satisfiedBy(vrDep, edge) ? vrDep : null;
      if (!dep && edge.type === 'peerOptional') dep = this.findHoistableNode(node.parent ?? node, edge);
      if (!dep) dep = await this.nodeFromEdge(edge, isPeer(edge) ? (vr ?? this.newVirtualRoot(node)) : null, null, required);
      if (dep) tasks.push({ edge, dep });
      // Picks already in memory (a warm start) resolve at once: without this, the root's step, a hundred
      // dependencies picked and placed, was one 40-50 ms turn of the language server's loop.
      await breathe();
    }
    tasks.sort((a, b) => localeCompare(a.edge.name, b.edge.name));
    for (const { edge, dep } of tasks) {
      this.placeDep(edge, dep, null);
      await breathe();
    }
  }

  private linkWorkspace(edge: Edge): void {
    const target = this.workspaces.find((w) => w.fsPath === edge.spec.fetchSpec);
    if (!target) return;
    const link = new TNode(target.name, target.pkg, false);
    link.linkTo = target;
    this.replaceAt(this.root, link);
  }

  private findHoistableNode(start: TNode, edge: Edge): TNode | null {
    const queue = [...start.children.values()];
    while (queue.length) {
      const n = queue.shift()!;
      if (n.name === edge.name && !n.inBundle && satisfiedBy(n, edge)) return this.copyNode(n, null);
      queue.push(...n.children.values());
    }
    return null;
  }

  /** A virtual root mirrors its source's edges (see virtualEdge). */
  private newVirtualRoot(source: TNode): TNode {
    const vr = new TNode(source.name, source.pkg, false, source);
    this.virtualRoots.set(source, vr);
    return vr;
  }

  private copyNode(n: TNode, parent: TNode | null): TNode {
    const c = new TNode(n.name, n.pkg, false);
    c.overrides = n.overrides;
    loadEdges(c, n.pkg, false, this.legacyPeerDeps);
    c.parent = parent;
    return c;
  }

  /** Picks a manifest for the edge and puts it in a virtual root; null when it cannot be loaded. */
  private async nodeFromSpec(edge: Edge, parent: TNode): Promise<TNode | null> {
    // An optional peer is loaded for its ranges only; its own dependencies are not worth prefetching.
    const r = await this.fetcher.pick(edge.spec, edge.type !== 'peerOptional');
    edge.reads?.picks.add(outcomeId(r));
    if ('failure' in r) {
      this.failed.add(edge);
      if (edge.type !== 'optional' && edge.type !== 'peerOptional') this.report(pickProblem(edge, r.failure));
      return null;
    }
    const node = new TNode(edge.name, r.manifest, false);
    node.overrides = edge.overrides;
    loadEdges(node, r.manifest, false, this.legacyPeerDeps);
    node.parent = parent;
    parent.children.set(node.name, node);
    return node;
  }

  private async nodeFromEdge(edge: Edge, parentVr: TNode | null, secondEdge: Edge | null, required: Set<TNode>): Promise<TNode | null> {
    const parent = parentVr ?? this.newVirtualRoot(edge.from);
    const first = await this.nodeFromSpec(edge, parent);
    let node = first;
    if (secondEdge && !edgeValid(secondEdge)) {
      const second = await this.nodeFromSpec({ ...secondEdge, name: edge.name }, parent);
      // npm keeps the peer's own pick only when it also satisfies the dependent's spec.
      node = second && satisfiedBy(second, edge) ? second : first;
    }
    if (!node) return null;
    node.parent = parent;
    parent.children.set(node.name, node);
    if ((required.has(edge.from) && edge.type !== 'peerOptional') || (secondEdge && required.has(secondEdge.from) && secondEdge.type !== 'peerOptional')) {
      required.add(node);
    }
    return this.loadPeerSet(node, required);
  }

  private async loadPeerSet(node: TNode, required: Set<TNode>): Promise<TNode> {
    // One pass, and no array for a node without open peer edges (most of them).
    let peerEdges: Edge[] | undefined;
    for (const e of node.edgesOut.values()) if (isPeer(e) && !(edgeValid(e) && edgeTo(e))) (peerEdges ??= []).push(e);
    if (!peerEdges) return node;
    peerEdges.sort((a, b) => localeCompare(a.name, b.name));
    for (const edge of peerEdges) {
      const vr = node.parent;
      if (!vr) break;
      if (edgeValid(edge) && edgeTo(edge)) continue;
      if (!isRegistrySpec(edge.spec)) continue;
      const parentEdge = virtualEdge(vr, edge.name);
      const isMine = vr.source?.isRoot ?? false;
      const conflictOk = !isMine && !this.strictPeerDeps;
      const current = edgeTo(edge);
      if (!current) {
        if (!parentEdge || !isRegistrySpec(parentEdge.spec)) {
          await this.nodeFromEdge(edge, vr, null, required);
          continue;
        }
        const dep = await this.nodeFromEdge(parentEdge, vr, edge, required);
        if (edgeValid(edge)) continue;
        if (conflictOk || !dep || !required.has(dep)) {
          edge.peerConflicted = true;
          continue;
        }
        this.failPeerConflict(edge, parentEdge);
      }
      const probe = await this.nodeFromEdge(edge, null, null, required);
      if (probe && current && this.canReplace(probe, current)) {
        await this.nodeFromEdge(edge, vr, null, required);
        continue;
      }
      if (conflictOk || !required.has(edge.from)) continue;
      this.failPeerConflict(edge, parentEdge);
    }
    return node;
  }

  private failPeerConflict(edge: Edge, currentEdge: Edge | undefined): never {
    const current = edgeTo(edge);
    const who = edge.from.isRoot ? 'the project' : `${edge.from.name}@${edge.from.version}`;
    const problem: Problem = {
      code: 'peer-conflict',
      severity: 'error',
      message:
        `npm would fail with ERESOLVE: ${who} needs peer ${edge.name}@"${edge.spec.raw}"` +
        (current ? ` but ${edge.name}@${current.version} is required` : '') +
        (currentEdge ? ` by ${currentEdge.from.isRoot ? 'the project' : currentEdge.from.name} ("${currentEdge.spec.raw}")` : '') +
        '. Resolved as with --legacy-peer-deps.',
      package: edge.from.isRoot ? '' : edge.from.name,
      name: edge.name,
      spec: edge.spec.raw,
      path: chainOf(edge.from),
    };
    throw new PeerConflict(problem);
  }

  // --- placement (place-dep.js / can-place-dep.js) -------------------------------------------------
  private placeDep(edge: Edge, dep: TNode, parent: { start: TNode; check: Check; top: Edge } | null): void {
    if (edgeTo(edge) && edgeValid(edge)) return;
    const start = parent ? deepestNestingTarget(parent.start, dep.name) : deepestNestingTarget(edge.from, dep.name);
    const top = parent?.top ?? edge;
    let canPlace: Check | null = null;
    let canPlaceSelf: Check | null = null;
    for (let target: TNode | null = start; target; target = target.resolveParent) {
      const te = target.edgesOut.get(edge.name);
      if (!target.isTop && te && isPeer(te)) continue;
      const cpd = this.checkCanPlace(dep, edge, target, parent?.check ?? null, top);
      if (cpd.canPlaceSelf !== Place.CONFLICT) canPlaceSelf = cpd;
      if (cpd.canPlace === Place.CONFLICT) break;
      canPlace = cpd;
    }
    if (!canPlace) {
      if (top.from.isRoot || this.strictPeerDeps) this.failPeerConflict(edge, undefined);
      if (!canPlaceSelf) return;
      canPlace = canPlaceSelf;
    }
    const target = canPlace.target;
    const placement = canPlace.canPlace === Place.CONFLICT ? canPlace.canPlaceSelf : canPlace.canPlace;
    if (placement === Place.KEEP) {
      this.pruneDedupable(target);
      return;
    }
    for (let p: TNode | null = target; p; p = p.parent) {
      if (!p.isRoot && p.matches(dep)) {
        // A cycle: npm links back to the ancestor instead of nesting another copy.
        const link = new TNode(dep.name, dep.pkg, false);
        link.linkTo = p;
        this.replaceAt(target, link);
        return;
      }
    }
    const placed = new TNode(dep.name, dep.pkg, false);
    placed.overrides = dep.overrides;
    loadEdges(placed, dep.pkg, false, this.legacyPeerDeps);
    const old = target.children.get(dep.name);
    if (old) this.replaceOldDep(placed, old, target);
    else this.attach(placed, target);

    if (edgeValid(edge)) {
      const to = edgeTo(edge);
      if (to && to !== placed) this.pruneDedupable(to, false);
    }
    for (const n of this.copiesWithin(target, dep.name)) {
      if (n.attached && !n.isTop) {
        this.pruneDedupable(n, false);
        if (n.attached) for (const kid of [...n.children.values()]) this.pruneDedupable(kid, false);
      }
    }

    // Re-evaluate dependents whose edges the placement broke, then the placed node itself.
    for (const e of this.edgesIn(placed)) {
      if (e === edge || e.peerConflicted || edgeValid(e)) continue;
      this.seen.delete(e.from);
      this.push(e.from);
    }
    this.push(placed);

    // Place the peers of the placed node from its peer set alongside it.
    const vr = dep.parent;
    const peers = [...placed.edgesOut.values()].filter((e) => isPeer(e) && !e.peerConflicted && !edgeValid(e));
    for (const peerEdge of peers) {
      const peer = vr?.children.get(peerEdge.name);
      if (!peer || !satisfiedBy(peer, peerEdge)) continue;
      this.placeDep(peerEdge, peer, { start, check: canPlace, top });
    }
  }

  /**
   * The nodes named `name` at or below `target`, in inventory order. Below the root, its subtree is
   * walked: going through every copy of a popular name for each placement grew with the square of the
   * tree.
   */
  private copiesWithin(target: TNode, name: string): TNode[] {
    if (target.isRoot) return [...(this.byName.get(name) ?? [])].filter((n) => n.isDescendantOf(target));
    const out: TNode[] = [];
    const stack = [target];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.name === name) out.push(n);
      for (const c of n.children.values()) stack.push(c);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  private replaceAt(target: TNode, node: TNode): void {
    const old = target.children.get(node.name);
    if (old) this.remove(old);
    this.attach(node, target);
  }

  private replaceOldDep(placed: TNode, old: TNode, target: TNode): void {
    const oldDeps: TNode[] = [];
    for (const [name, e] of old.edgesOut) {
      const to = edgeTo(e);
      if (!placed.edgesOut.has(name) && to) oldDeps.push(...this.gatherDepSet([to], (x) => edgeTo(x) !== to));
    }
    // The new node keeps the old one's children (Node.replace).
    const kids = [...old.children.values()];
    old.children.clear();
    this.remove(old);
    this.attach(placed, target);
    for (const kid of kids) {
      kid.parent = placed;
      this.bump(kid.name);
      placed.children.set(kid.name, kid);
    }
    // Prune what only the replaced node needed.
    const invalid = new Set<TNode>();
    for (const e of placed.edgesOut.values()) {
      const to = edgeTo(e);
      if (to && !edgeValid(e)) invalid.add(to);
    }
    for (const d of oldDeps) for (const x of this.gatherDepSet([d], (e) => edgeTo(e) !== d && edgeValid(e))) invalid.add(x);
    for (const d of this.gatherDepSet(invalid, (e) => e.from !== placed && edgeTo(e) !== placed && edgeValid(e))) this.remove(d);
  }

  private checkCanPlace(dep: TNode, edge: Edge, target: TNode, parent: Check | null, entry: Edge, preferDedupe = false, peerPath: TNode[] = []): Check {
    const deepest = deepestNestingTarget(parent ? parent.deepest : edge.from, dep.name);
    const check: Check = { target, deepest, canPlace: Place.CONFLICT, canPlaceSelf: Place.CONFLICT };
    const current = target.children.get(dep.name);
    const targetEdge = target.edgesOut.get(dep.name);
    const withPeers = (state: Place): Place => {
      check.canPlaceSelf = state;
      return this.canPlacePeers(dep, target, check, entry, [...peerPath, dep]) ? state : Place.CONFLICT;
    };
    const run = (): Place => {
      if (targetEdge && isPeer(targetEdge) && !target.isTop) return Place.CONFLICT;
      if (!current && targetEdge && targetEdge !== edge && !satisfiedBy(dep, targetEdge)) return Place.CONFLICT;
      if (current) {
        const edgeOverride = !satisfiedBy(dep, edge);
        if (dep.matches(current) && (satisfiedBy(current, edge) || edgeOverride)) return Place.KEEP;
        const tryReplace = compareVersions(dep.version, current.version) >= 0;
        if (tryReplace && this.canReplace(dep, current)) {
          const r = withPeers(Place.REPLACE);
          if (r !== Place.CONFLICT) return r;
        }
        if (satisfiedBy(current, edge)) return Place.KEEP;
        if (preferDedupe && !tryReplace && this.canReplace(dep, current)) {
          const r = withPeers(Place.REPLACE);
          if (r !== Place.CONFLICT) return r;
        }
        if (target !== deepest) return Place.CONFLICT;
        if (!isPeer(edge) && target === edge.from) return withPeers(Place.REPLACE);
        if (!parent && !isPeer(edge)) return Place.CONFLICT;
        return this.peerGroupsGiveWay(dep, current, edge, entry, target) ? withPeers(Place.REPLACE) : Place.CONFLICT;
      }
      // Shadowing: dependents below this level that reach another copy must accept this one too.
      const resolved = target !== entry.from ? target.resolve(dep.name) : null;
      if (resolved) {
        for (const e of namedEdgesBelow(target, dep.name)) {
          if (edgeTo(e) === resolved && edgeValid(e) && !satisfiedBy(dep, e)) return Place.CONFLICT;
        }
      }
      return withPeers(Place.OK);
    };
    check.canPlace = run();
    if (check.canPlaceSelf === Place.CONFLICT && check.canPlace !== Place.CONFLICT) check.canPlaceSelf = check.canPlace;
    if (check.canPlace === Place.KEEP) check.canPlaceSelf = Place.KEEP;
    return check;
  }

  /**
   * A peer in a set meets a different copy at its deepest possible target: the set may replace it if
   * every peer group that copy belongs to (peer-entry-sets.js) can be replaced by this set, or has no
   * member this set conflicts with, or can be nested deeper, below the edge that brings it in.
   */
  private peerGroupsGiveWay(dep: TNode, current: TNode, edge: Edge, entry: Edge, target: TNode): boolean {
    const group = dep.parent;
    for (const [entryEdge, peers] of this.peerEntrySets(current)) {
      if (entryEdge === edge || entryEdge === entry) continue;
      const entryNode = edgeTo(entryEdge)!;
      const rep = group?.children.get(entryNode.name);
      if (rep && this.canReplace(rep, entryNode, new Set(group!.children.keys()))) continue;
      if (!rep && this.clobbers(group, entryNode)) continue;
      for (const p of peers) {
        const deepest = deepestNestingTarget(entryEdge.from, p.name);
        if (deepest === target || target.isDescendantOf(deepest)) return false;
      }
    }
    return true;
  }

  /** Whether the peers reachable from `node` are each absent from the set or satisfied by its copy. */
  private clobbers(group: TNode | null, node: TNode): boolean {
    const walk = new Set([node]);
    for (const n of walk) {
      for (const e of n.edgesOut.values()) {
        if (!isPeer(e) || !edgeValid(e)) continue;
        const rep = group?.children.get(e.name);
        const to = edgeTo(e);
        if (!rep) {
          if (to) walk.add(to);
        } else if (!satisfiedBy(rep, e)) return false;
      }
    }
    return true;
  }

  /** peer-entry-sets.js: the peer groups a node is in, each keyed by the edge that brings it into the tree (a non-peer edge, or one from a top node). */
  private peerEntrySets(node: TNode): Map<Edge, Set<TNode>> {
    const peersOf = (n: TNode, into: Set<TNode>) => {
      for (const e of n.edgesOut.values()) {
        const to = isPeer(e) && edgeValid(e) ? edgeTo(e) : null;
        if (to) into.add(to);
      }
    };
    const union = new Set([node]);
    for (const n of union) {
      peersOf(n, union);
      for (const e of this.edgesIn(n)) if (isPeer(e) && edgeValid(e)) union.add(e.from);
    }
    const sets = new Map<Edge, Set<TNode>>();
    for (const peer of union) {
      for (const e of this.edgesIn(peer)) {
        if (!edgeValid(e) || (isPeer(e) && !e.from.isTop)) continue;
        const sub = new Set([peer]);
        for (const p of sub) peersOf(p, sub);
        if (sub.has(node)) sets.set(e, sub);
      }
    }
    return sets;
  }

  private canPlacePeers(dep: TNode, target: TNode, check: Check, entry: Edge, peerPath: TNode[]): boolean {
    for (const e of dep.edgesOut.values()) {
      if (!isPeer(e)) continue;
      const peer = edgeTo(e);
      // Peer cycles (a peers b peers a) are checked once along the path.
      if (!peer || peerPath.includes(peer)) continue;
      const t = deepestNestingTarget(target, peer.name);
      const c = this.checkCanPlace(peer, e, t, check, entry, true, peerPath);
      if (c.canPlace === Place.CONFLICT) return false;
    }
    return true;
  }

  // --- problems ---------------------------------------------------------------------------------
  private report(p: Problem): void {
    const key = `${p.code}\0${p.package}\0${p.name}\0${p.spec}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.problems.push(p);
  }

  /** calc-dep-flags: dev/optional/peer are cleared along edges from the root; unreachable nodes are dropped. */
  finish(): TNode[] {
    const nodes: TNode[] = [];
    const stack = [this.root, ...this.workspaces];
    while (stack.length) {
      const n = stack.pop()!;
      if (!n.isTop && !n.linkTo) nodes.push(n);
      for (const c of n.children.values()) stack.push(c);
    }
    this.root.dev = this.root.optional = this.root.peer = this.root.devOptional = false;
    const visited = new Set<TNode>([this.root]);
    const order = [this.root];
    for (let i = 0; i < order.length; i++) {
      const node = order[i].linkTo ?? order[i];
      for (const e of node.edgesOut.values()) {
        const to0 = edgeTo(e);
        const to = to0?.linkTo ?? to0;
        if (!to) continue;
        const dev = e.type === 'dev';
        const opt = e.type === 'optional' || e.type === 'peerOptional';
        const peer = isPeer(e);
        const unsetDevOpt = !node.devOptional && !node.dev && !node.optional && !dev && !opt;
        if (!node.peer && !peer) unsetFlag(to, 'peer');
        if (unsetDevOpt) unsetFlag(to, 'devOptional');
        if (unsetDevOpt || (!node.dev && !dev)) unsetFlag(to, 'dev');
        if (unsetDevOpt || (!node.optional && !opt)) unsetFlag(to, 'optional');
        if (!visited.has(to)) {
          visited.add(to);
          order.push(to);
        }
      }
    }
    return nodes.filter((n) => visited.has(n) || (this.shipped.has(n) && this.keepShipped(n, visited)));
  }

  /**
   * A package from a tarball that nothing depends on (a bundle ships what its packer had, a shrinkwrap
   * what its author's tree held) stays where its package does, as in the lockfile npm writes then
   * (`extraneous`), with that package's flags. (From a lockfile, npm prunes such entries, and so does
   * the list.)
   */
  private keepShipped(n: TNode, visited: Set<TNode>): boolean {
    let bundler = n.parent;
    while (bundler?.inBundle || bundler?.inShrinkwrap) bundler = bundler.parent;
    if (!bundler || !visited.has(bundler)) return false;
    n.dev = bundler.dev;
    n.optional = bundler.optional;
    n.peer = bundler.peer;
    n.devOptional = bundler.devOptional;
    return true;
  }
}

type Flag = 'dev' | 'optional' | 'peer' | 'devOptional';
function unsetFlag(node: TNode, flag: Flag): void {
  if (!node[flag]) return;
  node[flag] = false;
  const stack = [node];
  while (stack.length) {
    const n = stack.pop()!;
    for (const e of n.edgesOut.values()) {
      const to0 = edgeTo(e);
      const to = to0?.linkTo ?? to0;
      if (to && to[flag] && ((flag !== 'peer' && e.type === 'peer') || e.type === 'prod')) {
        to[flag] = false;
        stack.push(to);
      }
    }
  }
}


export async function resolve(opts: ResolveOptions): Promise<ResolveResult> {
  const started = performance.now();
  const problems: Problem[] = [];
  const picking = pickOptions({ defaultTag: opts.defaultTag, nodeVersion: opts.nodeVersion, npmVersion: opts.npmVersion });
  let legacy = opts.legacyPeerDeps ?? false;
  let fetcher = new Fetcher(opts.source, picking, !legacy, opts.onEvent, opts.signal);
  if (opts.seed) fetcher.seed(opts.seed);
  if (opts.previous) {
    const reused = await reuse(opts.previous, opts.manifest, fetcher);
    if (reused) {
      const stats = { ...reused.stats, durationMs: performance.now() - started, requests: fetcher.requests, bytes: fetcher.bytes };
      opts.onEvent?.({ type: 'done', at: Date.now(), durationMs: stats.durationMs, packages: reused.packages.length, requests: stats.requests, bytes: stats.bytes });
      const result = { ...reused, stats };
      opts.onBuild?.({ manifest: opts.manifest, specs: opts.previous.specs, result });
      return result;
    }
  }
  const specs = new Map<string, SpecReads>();
  const workspaces = opts.workspaces ?? [];
  for (const ws of workspaces) fetcher.local.add(ws.manifest.name ?? '');
  const lockfile = opts.lockfile?.kind === 'npm' ? opts.lockfile : undefined;
  // With a lockfile only changed specs are fetched, and the walk asks for those itself.
  if (!lockfile) {
    fetcher.speculate(opts.manifest, true);
    for (const ws of workspaces) fetcher.speculate(ws.manifest, true);
  }
  let builder = new TreeBuilder(opts.manifest, workspaces, fetcher, legacy, opts.strictPeerDeps ?? false, lockfile, specs);
  // Without a lockfile (whose locked versions the picks would not show), an early look at the
  // project's own dependencies: their documents come first, long before the tree is done.
  if (opts.onDirect && !lockfile) {
    const send = opts.onDirect;
    // Best effort: a failure here must not fail the resolution.
    void directLook(builder.root, fetcher, opts.directDistTags ?? true)
      .then(send)
      .catch(() => undefined);
  }
  try {
    await builder.build();
  } catch (err) {
    if (!(err instanceof PeerConflict) || legacy) throw err;
    problems.push(err.problem);
    opts.onEvent?.({ type: 'conflict', problem: err.problem, at: Date.now() });
    legacy = true;
    // Without peers the walk needs different packuments only where peers were involved; keep the fetched ones.
    const prior = fetcher;
    fetcher = new Fetcher(opts.source, picking, false, opts.onEvent, opts.signal);
    fetcher.inherit(prior);
    for (const name of prior.local) fetcher.local.add(name);
    builder = new TreeBuilder(opts.manifest, workspaces, fetcher, true, false, lockfile, specs);
    await builder.build();
  }
  // What follows the walk checks and lists the whole tree: tens of milliseconds in all on the large
  // fixture, so the loop may turn between the passes (see breathe()).
  await breathe();
  if ((opts.overridesFrom ?? 'npm') === 'npm') problems.push(...overrideConflicts(builder.root));
  const nodes = builder.finish();
  await breathe();
  problems.push(...builder.problems, ...peerProblems(nodes, legacy, problems));
  await breathe();
  const packages = distinctPackages(nodes);
  await breathe();
  const direct = await directDependencies(builder.root, fetcher, opts.directDistTags ?? true);
  opts.onPicks?.(fetcher.record(), fetcher.onlySeeded);
  let edges = 0;
  for (const n of nodes) edges += n.edgesOut.size;
  const durationMs = performance.now() - started;
  const stats = { durationMs, requests: fetcher.requests, bytes: fetcher.bytes, edges: edges + builder.root.edgesOut.size };
  opts.onEvent?.({ type: 'done', at: Date.now(), durationMs, packages: packages.length, requests: stats.requests, bytes: stats.bytes });
  const result = { packages, direct, problems, stats };
  opts.onBuild?.({ manifest: opts.manifest, specs, result });
  return result;
}

function pickProblem(edge: Edge, failure: Extract<PickOutcome, { failure: unknown }>['failure']): Problem {
  return {
    code: failure.code,
    severity: 'error',
    message: failure.message,
    package: edge.from.isRoot ? '' : edge.from.name,
    name: edge.name,
    spec: edge.spec.raw,
    path: chain(edge.from),
    ...(failure.data && { data: failure.data }),
  };
}

/** A spec Citadel does not resolve: invalid, or not from a registry (git, file, ...). */
function specProblem(e: Edge): Problem {
  const s = e.spec;
  return {
    code: s.type === 'invalid' ? 'invalid-spec' : 'unsupported-spec',
    severity: s.type === 'invalid' ? 'error' : 'info',
    message:
      s.type === 'invalid'
        ? `Invalid dependency ${e.name}@"${s.raw}": ${s.reason}.`
        : `${e.name}@"${s.raw}" is a ${s.type} dependency; Citadel resolves registry packages only, so it is not checked.`,
    package: e.from.isRoot ? '' : e.from.name,
    name: e.name,
    spec: s.raw,
    path: chain(e.from),
  };
}

/**
 * The project's own dependencies as their picks give them, before any is placed (ResolveOptions.onDirect):
 * the same picks the walk makes (memoized), so it costs nothing but waiting for their documents.
 */
async function directLook(root: TNode, fetcher: Fetcher, fetchTags: boolean): Promise<Pick<ResolveResult, 'packages' | 'direct' | 'problems'>> {
  const problems: Problem[] = [];
  const versions = new Map<string, string>();
  const packages: ResolvedPackage[] = [];
  await Promise.all(
    [...root.edgesOut.values()].map(async (e) => {
      if (e.type === 'workspace' || e.type === 'peerOptional') return;
      if (!isRegistrySpec(e.spec)) {
        problems.push(specProblem(e));
        return;
      }
      const r = await fetcher.pick(e.spec);
      if ('failure' in r) {
        if (e.type !== 'optional') problems.push(pickProblem(e, r.failure));
        return;
      }
      versions.set(e.name, r.manifest.version);
      packages.push(packageOf(e.name, r.manifest, `node_modules/${e.name}`));
    }),
  );
  return { packages, problems, direct: await directDependencies(root, fetcher, fetchTags, (name) => versions.get(name)) };
}

const outcomeId = (r: PickOutcome): string => ('manifest' in r ? `${r.manifest.name}@${r.manifest.version}` : `!${r.failure.code}`);

const SPEC_FIELDS = ['peerDependencies', 'dependencies', 'optionalDependencies', 'devDependencies'] as const;

/**
 * The previous build's result for a manifest that differs from the one it was built from only in the
 * specs of some dependencies, when each changed spec answers everything the build asked of the old one
 * the same way (the same picks, the same versions accepted and refused): every decision of the build,
 * and so the tree, would be the same. The caller vouches that nothing else changed.
 */
async function reuse(prev: BuildReads, manifest: ProjectManifest, fetcher: Fetcher): Promise<ResolveResult | undefined> {
  // Override rules match on the specs' text; a name in two fields has its edge from one of them.
  if (manifest.overrides) return undefined;
  const changed = new Map<string, string>();
  const fields = new Map<string, number>();
  for (const field of SPEC_FIELDS) {
    const before = Object.entries(prev.manifest[field] ?? {});
    const after = Object.entries(manifest[field] ?? {});
    if (before.length !== after.length) return undefined;
    for (let i = 0; i < after.length; i++) {
      const [name, raw] = after[i];
      if (before[i][0] !== name) return undefined;
      fields.set(name, (fields.get(name) ?? 0) + 1);
      if (before[i][1] === raw) continue;
      if (field === 'peerDependencies') return undefined;
      changed.set(name, raw);
    }
  }
  for (const [name, raw] of changed) {
    const reads = prev.specs.get(name);
    const spec = parseSpec(name, raw);
    // The build's problems about this name may quote its old spec.
    if (!reads || fields.get(name) !== 1 || !isRegistrySpec(spec) || prev.result.problems.some((p) => p.name === name)) return undefined;
    for (const versions of reads.tests.values()) {
      for (const [version, ok] of versions) if (accepts(version, { spec }) !== ok) return undefined;
    }
    for (const id of reads.picks) if (outcomeId(await fetcher.pick(spec, false)) !== id) return undefined;
  }
  return { ...prev.result, direct: prev.result.direct.map((d) => (changed.has(d.name) ? { ...d, spec: changed.get(d.name)! } : d)) };
}

/**
 * Required peers the final tree does not meet, checked from each package's own manifest (under
 * legacy-peer-deps the tree has no peer edges at all). `peer-missing` when nothing of that name is
 * reachable, `peer-conflict` (a warning: npm overrides it, or installed nothing) when the one reachable
 * does not satisfy the range. `fellBack`: the run already reported the ERESOLVE that made it legacy.
 */
function peerProblems(nodes: TNode[], legacy: boolean, reported: Problem[]): Problem[] {
  const out: Problem[] = [];
  const fellBack = reported.some((p) => p.code === 'peer-conflict');
  // The conflict that made npm fail is already an error; do not repeat it as a warning.
  const seen = new Set(reported.map((p) => `${p.package}>${p.name}`));
  for (const n of nodes) {
    const peers = n.pkg.peerDependencies;
    if (!peers || typeof peers !== 'object') continue;
    for (const [name, range] of Object.entries(peers)) {
      if (typeof range !== 'string' || n.pkg.peerDependenciesMeta?.[name]?.optional) continue;
      const spec = parseSpec(name, range);
      if (!isRegistrySpec(spec)) continue;
      const to = n.resolve(name);
      const target = to?.linkTo ?? to;
      const edge = { from: n, name, type: 'peer' as const, spec };
      if (target && satisfiedBy(target, edge)) continue;
      const key = `${n.name}>${name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const why = legacy
        ? fellBack
          ? 'resolved as --legacy-peer-deps after the ERESOLVE above'
          : 'legacy-peer-deps is set, so npm installs no peers and does not fail'
        : 'npm warns ("overriding peer dependency") and does not fail';
      out.push({
        code: target ? 'peer-conflict' : 'peer-missing',
        severity: 'warning',
        message: target
          ? `${n.name}@${n.version} wants peer ${name}@"${range}" but gets ${name}@${target.version}: ${why}.`
          : `${n.name}@${n.version} needs peer ${name}@"${range}" and none is installed: ${why}.`,
        package: n.name,
        name,
        spec: range,
        path: chain(n),
      });
    }
  }
  return out;
}

/** npm refuses (EOVERRIDE) an override that contradicts the root's own spec for a direct dependency. */
function overrideConflicts(root: TNode): Problem[] {
  const out: Problem[] = [];
  for (const e of root.edgesOut.values()) {
    const value = e.rawSpec && e.overrides?.value;
    if (!e.rawSpec || !value || value.startsWith('$') || e.rawSpec.raw === e.spec.raw) continue;
    out.push({
      code: 'override-conflict',
      severity: 'error',
      message: `npm would fail with EOVERRIDE: ${e.name}@"${e.rawSpec.raw}" is a direct dependency and the override sets "${e.spec.raw}". Use "$${e.name}" in overrides, or change the dependency.`,
      package: '',
      name: e.name,
      spec: e.rawSpec.raw,
      path: [],
    });
  }
  return out;
}

function asManifest(m: ProjectManifest): Manifest {
  return { ...m, name: m.name ?? '', version: m.version ?? '' } as Manifest;
}

/** The project's own dependencies with what they resolved to, and their dist-tags (already fetched). */
async function directDependencies(
  root: TNode,
  fetcher: Fetcher,
  fetchTags: boolean,
  versionOf = (name: string) => {
    const to = root.children.get(name);
    return to && !to.linkTo ? to.version : undefined;
  },
): Promise<DirectDependency[]> {
  return Promise.all(
    [...root.edgesOut.values()].map(async (e) => {
      const d: DirectDependency = { name: e.name, spec: e.spec.raw, type: e.type };
      const version = versionOf(e.name);
      if (version) d.version = version;
      if (isRegistrySpec(e.spec)) {
        const tags = await fetcher.distTags(e.spec.fetchName, fetchTags);
        if (tags) d.distTags = tags;
        const at = d.version && fetcher.loaded(e.spec.fetchName)?.time?.[d.version];
        if (at) d.publishedAt = at;
      }
      return d;
    }),
  );
}

/** A package as the result lists it; flags as calc-dep-flags left them (none when not computed yet). */
function packageOf(name: string, m: Manifest, location: string, flags?: Pick<TNode, 'dev' | 'optional' | 'peer'>): ResolvedPackage {
  const p: ResolvedPackage = { name, version: m.version, locations: [location] };
  if (m.name && m.name !== name) p.realName = m.name;
  if (m.dist?.integrity) p.integrity = m.dist.integrity;
  if (m.dist?.tarball) p.resolved = m.dist.tarball;
  if (m.deprecated) p.deprecated = m.deprecated;
  if (m.license) p.license = m.license;
  if (flags?.dev) p.dev = true;
  if (flags?.optional) p.optional = true;
  if (flags?.peer) p.peer = true;
  if (m.engines && typeof m.engines === 'object') p.engines = m.engines;
  if (m.hasInstallScript) p.hasInstallScript = true;
  if (m.dist?.unpackedSize) p.unpackedSize = m.dist.unpackedSize;
  return p;
}

/** One entry per distinct name@version, with every location it is installed at. */
function distinctPackages(nodes: TNode[]): ResolvedPackage[] {
  const byKey = new Map<string, ResolvedPackage>();
  const located = nodes.map((n) => [n.location, n] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [location, n] of located) {
    const key = `${n.name}@${n.version}`;
    const seen = byKey.get(key);
    if (seen) {
      seen.locations.push(location);
      // A copy that is not dev/optional/peer makes the package itself non-dev etc.
      if (!n.dev) delete seen.dev;
      if (!n.optional) delete seen.optional;
      if (!n.peer) delete seen.peer;
      if (!n.inBundle) delete seen.inBundle;
      if (!n.inShrinkwrap) delete seen.inShrinkwrap;
      continue;
    }
    const p = packageOf(n.name, n.pkg, location, n);
    if (n.inBundle) p.inBundle = true;
    if (n.inShrinkwrap) p.inShrinkwrap = true;
    const deps: Record<string, string> = {};
    for (const e of n.edgesOut.values()) {
      const to = edgeTo(e);
      if (to) deps[e.name] = (to.linkTo ?? to).version;
    }
    if (n.edgesOut.size) p.dependencies = deps;
    byKey.set(key, p);
  }
  return [...byKey.values()];
}
