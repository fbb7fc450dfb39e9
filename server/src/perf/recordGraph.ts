// The dependency graph a resolution actually walked, for the simulator and the physical floor: resolve
// once in-process through a recording source, keep every document fetched and every pick made, and
// turn them into "parsing X unlocks requests for Y" edges, with each document's measured parse cost.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ProjectManifest, ResolveResult, Workspace } from '../engine/api';
import { loadNpmConfig } from '../engine/npmrc';
import { parseManifest } from '../engine/project';
import { createRegistryClient } from '../engine/registryClient';
import { resolve as resolveTree } from '../engine/resolver';
import type { Manifest, Packument } from '../engine/types';
import { findWorkspaces } from '../engine/workspaces';
import type { SimGraph } from './simulator';

type Deps = Pick<Manifest, 'dependencies' | 'optionalDependencies' | 'peerDependencies'> & { devDependencies?: Record<string, string> };

function names(m: Deps, withPeers: boolean, withDev: boolean): string[] {
  return Object.keys({ ...m.dependencies, ...m.optionalDependencies, ...(withPeers ? m.peerDependencies : {}), ...(withDev ? m.devDependencies : {}) });
}

/**
 * Edges from each fetched document to the documents its picked versions name. `picks` are the
 * name@version pairs picked (by fetch name); `docs` the documents fetched: only those become nodes.
 */
export function simGraphFrom(
  picks: Iterable<{ name: string; realName?: string; version: string }> | Pick<ResolveResult, 'packages'>,
  docs: ReadonlyMap<string, Packument>,
  manifest: ProjectManifest,
  workspaces: readonly Workspace[],
  legacyPeerDeps: boolean,
  cpuMs?: ReadonlyMap<string, number>,
): SimGraph {
  const list = 'packages' in picks ? picks.packages : picks;
  const local = new Set(workspaces.map((w) => w.manifest.name ?? ''));
  const deps = new Map<string, string[]>();
  const add = (from: string, to: string[]) => {
    const set = new Set(deps.get(from) ?? []);
    for (const t of to) if (docs.has(t) && !local.has(t) && t !== from) set.add(t);
    deps.set(from, [...set]);
  };
  for (const p of list) {
    const name = p.realName ?? p.name;
    const m = docs.get(name)?.versions[p.version];
    if (m) add(name, names(m, !legacyPeerDeps, false));
  }
  const roots = new Set<string>();
  for (const m of [manifest, ...workspaces.map((w) => w.manifest)]) for (const n of names(m, !legacyPeerDeps, true)) if (docs.has(n) && !local.has(n)) roots.add(n);
  return { roots: [...roots], deps, cpuMs };
}

export interface RecordedGraph {
  graph: SimGraph;
  result: ResolveResult;
  docs: Map<string, Packument>;
  /** The gzipped abbreviated body of each document, as the registry sends it. */
  gzBytes: Map<string, number>;
  /** Sum of the per-document parse costs (gunzip + JSON.parse, JIT-warm). */
  parseMs: number;
  legacyPeerDeps: boolean;
}

/** Resolves the fixture in this process against `registry` and records the walk (no cache involved). */
export async function recordGraph(registry: string, fixtureDir: string, legacyPeerDeps: boolean, fetchGz: (name: string) => Promise<Buffer>): Promise<RecordedGraph> {
  const manifest = parseManifest(readFileSync(join(fixtureDir, 'package.json'), 'utf8'), 'package.json');
  const { workspaces } = findWorkspaces(fixtureDir, manifest);
  const docs = new Map<string, Packument>();
  const picks: { name: string; version: string }[] = [];
  const client = createRegistryClient(loadNpmConfig({ cli: { registry }, env: {} }));
  const source = {
    packument: async (name: string) => {
      const f = await client.packument(name);
      docs.set(name, f.packument);
      return f;
    },
  };
  let result: ResolveResult;
  try {
    result = await resolveTree({ manifest, workspaces, source, legacyPeerDeps, onEvent: (e) => e.type === 'pick' && picks.push({ name: e.name, version: e.version }) });
  } finally {
    client.close();
  }
  // Every pick, including versions picked and then not placed: the fetcher followed those too.
  const all = [...picks, ...result.packages.map((p) => ({ name: p.realName ?? p.name, version: p.version }))];
  const bodies = new Map<string, Buffer>();
  await Promise.all([...docs.keys()].map(async (n) => bodies.set(n, await fetchGz(n))));
  const cpuMs = new Map<string, number>();
  const decoded = new Map<string, number>();
  let parseMs = 0;
  for (let pass = 0; pass < 3; pass++) {
    parseMs = 0;
    for (const [n, b] of bodies) {
      const t0 = performance.now();
      const json = gunzipSync(b);
      JSON.parse(json.toString('utf8'));
      const ms = performance.now() - t0;
      parseMs += ms;
      cpuMs.set(n, ms);
      decoded.set(n, json.length);
    }
  }
  const graph = { ...simGraphFrom(all, docs, manifest, workspaces, legacyPeerDeps, cpuMs), bytes: decoded };
  return { graph, result, docs, gzBytes: new Map([...bodies].map(([k, v]) => [k, v.length])), parseMs, legacyPeerDeps };
}
