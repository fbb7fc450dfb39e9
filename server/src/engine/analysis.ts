// Problems read off a finished resolution rather than found while building it: deprecated packages
// (direct, and transitive with the chain that brings them in), packages present in several versions,
// direct dependencies a major behind `latest`, and `engines.node` ranges that exclude the Node versions
// the project runs on. Pure: a ResolveResult and the manifest in, Problems out.
import semver from 'semver';
import type { DirectDependency, ProjectManifest, ResolvedPackage, ResolveResult } from './api';
import { parseRange, satisfies } from './semverCache';
import type { Problem } from './types';

export interface AnalysisInput {
  result: Pick<ResolveResult, 'packages' | 'direct'>;
  manifest: ProjectManifest;
  /** The Node version to check engines against when the project declares no `engines.node` (default: the running one). */
  nodeVersion?: string;
}

/** `name@version`: the identity of a package in the resolved tree. */
export const packageKey = (name: string, version: string): string => `${name}@${version}`;

/** The resolved tree as a graph: the project's edges and each package's, by `name@version`. */
export class DependencyGraph {
  readonly byKey = new Map<string, ResolvedPackage>();
  readonly rootEdges = new Map<string, string>();
  /** For each package, the shortest chain of install names from a direct dependency to it (inclusive). */
  private readonly shortest = new Map<string, string[]>();
  /** Who depends on each package: `name@version` keys, "" for the project. */
  readonly dependents = new Map<string, string[]>();

  constructor(result: Pick<ResolveResult, 'packages' | 'direct'>) {
    for (const p of result.packages) this.byKey.set(packageKey(p.name, p.version), p);
    for (const d of result.direct) if (d.version) this.rootEdges.set(d.name, packageKey(d.name, d.version));
    // Breadth first from the project, so the first chain that reaches a package is a shortest one. Each
    // package is expanded once, and its edges go to distinct packages: a dependent is added once.
    const visit = (from: string, chain: string[], name: string, to: string): void => {
      const list = this.dependents.get(to);
      if (list) list.push(from);
      else this.dependents.set(to, [from]);
      if (this.shortest.has(to) || !this.byKey.has(to)) return;
      this.shortest.set(to, [...chain, name]);
      queue.push(to);
    };
    const queue: string[] = [];
    for (const [name, to] of this.rootEdges) visit('', [], name, to);
    for (let i = 0; i < queue.length; i++) {
      const from = queue[i]!;
      const chain = this.shortest.get(from)!;
      const deps = this.byKey.get(from)?.dependencies;
      if (deps) for (const name in deps) visit(from, chain, name, packageKey(name, deps[name]!));
    }
  }

  /** Shortest chain of names from a direct dependency to the package, inclusive; undefined when unreachable. */
  chain(key: string): string[] | undefined {
    return this.shortest.get(key);
  }

  /**
   * Up to `limit` distinct chains from the project to each version of `name`, shortest first: why the
   * package is in the tree. Walks dependents upward, never through a package twice in one chain.
   */
  why(name: string, limit = 10): { version: string; chains: string[][] }[] {
    const out: { version: string; chains: string[][] }[] = [];
    const copies = [...this.byKey.values()].filter((x) => x.name === name).sort((a, b) => semver.compare(a.version, b.version, true));
    for (const p of copies) {
      const target = packageKey(p.name, p.version);
      const chains: string[][] = [];
      // Breadth first over partial chains (upward), so shorter chains come out first; bounded work.
      const queue: { at: string; names: string[]; seen: Set<string> }[] = [{ at: target, names: [p.name], seen: new Set([target]) }];
      for (let i = 0; i < queue.length && chains.length < limit && i < 20_000; i++) {
        const { at, names, seen } = queue[i]!;
        for (const from of this.dependents.get(at) ?? []) {
          if (from === '') {
            chains.push(names);
            continue;
          }
          if (seen.has(from)) continue;
          queue.push({ at: from, names: [this.byKey.get(from)!.name, ...names], seen: new Set([...seen, from]) });
        }
      }
      out.push({ version: p.version, chains: chains.slice(0, limit) });
    }
    return out;
  }
}

/** Where a problem about a package sits: on its own entry when direct, else on the chain that brings it in. */
function placement(graph: DependencyGraph, direct: Map<string, DirectDependency>, p: ResolvedPackage): Pick<Problem, 'name' | 'package' | 'path'> {
  const key = packageKey(p.name, p.version);
  if (direct.get(p.name)?.version === p.version) return { name: p.name, package: '' };
  const chain = graph.chain(key) ?? [];
  const path = chain.slice(0, -1);
  return { name: p.name, package: path.at(-1) ?? '', path };
}

function deprecatedProblems(graph: DependencyGraph, direct: Map<string, DirectDependency>, packages: ResolvedPackage[]): Problem[] {
  const problems: Problem[] = [];
  for (const p of packages) {
    if (!p.deprecated) continue;
    const at = placement(graph, direct, p);
    const isDirect = !at.path;
    problems.push({
      code: 'deprecated',
      // The user can act on a direct dependency; a transitive one is for information.
      severity: isDirect ? 'warning' : 'info',
      message: `${p.name}@${p.version} is deprecated: ${p.deprecated}`,
      ...at,
      data: { version: p.version },
    });
  }
  return problems;
}

function duplicateProblems(graph: DependencyGraph, direct: Map<string, DirectDependency>, packages: ResolvedPackage[]): Problem[] {
  const byName = new Map<string, ResolvedPackage[]>();
  // A bundled or shrinkwrapped copy comes with its dependent's tarball: no install or dedupe changes it.
  for (const p of packages) if (!p.inBundle && !p.inShrinkwrap) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  const problems: Problem[] = [];
  for (const [name, copies] of byName) {
    if (copies.length < 2) continue;
    copies.sort((a, b) => semver.compare(a.version, b.version, true));
    const dependents: Record<string, string[]> = {};
    const parts: string[] = [];
    for (const c of copies) {
      const who = graph.dependents.get(packageKey(c.name, c.version)) ?? [];
      dependents[c.version] = who;
      const shown = who.slice(0, 3).map((k) => (k === '' ? 'the project' : k));
      const more = who.length > 3 ? ` and ${who.length - 3} more` : '';
      parts.push(`${c.version} (${shown.join(', ') || 'unknown'}${more})`);
    }
    // Placed on the entry itself when the project depends on it, else on the chain to the first copy.
    const top = copies.find((c) => direct.get(name)?.version === c.version) ?? copies[0]!;
    problems.push({
      code: 'duplicate',
      severity: 'info',
      message: `${copies.length} versions of ${name} in the tree: ${parts.join('; ')}`,
      ...placement(graph, direct, top),
      data: { dependents },
    });
  }
  return problems;
}

/** A direct dependency whose `latest` is a newer breaking release (a higher major; for 0.x, a higher minor). */
function outdatedProblems(directs: DirectDependency[]): Problem[] {
  const problems: Problem[] = [];
  for (const d of directs) {
    const latest = d.distTags?.latest;
    if (!d.version || !latest || !semver.valid(latest) || !semver.valid(d.version)) continue;
    if (!semver.gt(latest, d.version) || semver.satisfies(latest, `^${d.version}`)) continue;
    problems.push({
      code: 'outdated',
      severity: 'hint',
      message: `${d.name} ${latest} is out (a new major); ${d.spec} resolves to ${d.version}.`,
      name: d.name,
      spec: d.spec,
      package: '',
      data: { version: d.version, latest },
    });
  }
  return problems;
}

/**
 * engines.node against the project: against its own `engines.node` when it declares one (the package
 * must accept the lowest Node version the project accepts, and the two ranges must meet), else against
 * the Node that runs the check. Conservative: unparsable ranges are skipped, and holes inside the project's
 * range (say Node 19 for a package that wants `^18 || >=20`) are not reported.
 */
function enginesProblems(graph: DependencyGraph, direct: Map<string, DirectDependency>, input: AnalysisInput): Problem[] {
  const projectRange = input.manifest.engines?.node;
  const project = projectRange ? semver.validRange(projectRange, { loose: true }) : null;
  const nodeVersion = semver.coerce(input.nodeVersion ?? process.version)?.version;
  const lowest = project ? semver.minVersion(project)?.version : undefined;
  const problems: Problem[] = [];
  for (const p of input.result.packages) {
    const wanted = p.engines?.node;
    // The cached parse: a tree repeats a few dozen engines ranges over a thousand packages, and parsing
    // each one twice per analysis was most of an edit's analysis time.
    if (typeof wanted !== 'string' || !parseRange(wanted)) continue;
    let why: string | undefined;
    if (project) {
      if (!semver.intersects(project, wanted, { loose: true })) why = `no Node version meets both it and the project's "${projectRange}"`;
      else if (lowest && !satisfies(lowest, wanted)) why = `the project's engines.node "${projectRange}" allows Node ${lowest}`;
    } else if (!projectRange && nodeVersion && !satisfies(nodeVersion, wanted)) {
      why = `this is Node ${nodeVersion} and the project declares no engines.node`;
    }
    if (!why) continue;
    problems.push({
      code: 'engines-mismatch',
      severity: 'warning',
      message: `${p.name}@${p.version} requires Node "${wanted}", but ${why}.`,
      ...placement(graph, direct, p),
      data: { version: p.version },
    });
  }
  return problems;
}

export function analyze(input: AnalysisInput): Problem[] {
  return [...analysisPasses(input)].flat();
}

/**
 * The analysis one pass at a time, for a caller that yields to its event loop between them: on a fresh
 * language server (nothing compiled yet) the whole of it held the loop for 30-50 ms.
 */
export function* analysisPasses(input: AnalysisInput): Generator<Problem[], void> {
  const graph = new DependencyGraph(input.result);
  const direct = new Map(input.result.direct.map((d) => [d.name, d]));
  // Only what is reachable from the project: a package the graph cannot place is not reported.
  const packages = input.result.packages.filter((p) => direct.get(p.name)?.version === p.version || graph.chain(packageKey(p.name, p.version)));
  yield deprecatedProblems(graph, direct, packages);
  yield duplicateProblems(graph, direct, packages);
  yield outdatedProblems(input.result.direct);
  yield enginesProblems(graph, direct, { ...input, result: { ...input.result, packages } });
}
