// The real package managers as oracles: write a lockfile against the loopback registry, then ask the same
// tool what it holds. Everything is reduced to two sorted lists, so a reader and a tool compare with deepEqual:
// `ids` (name@version) and `edges` (name@version>name@version).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isolatedEnv } from '../../../server/src/testRegistry/recorder';
import type { Lockfile } from '../../../server/src/engine/lockfile';
import { fixtureDir } from '../../helpers/npmOracle';

export interface View {
  ids: string[];
  edges: string[];
}

export type Tool = 'npm' | 'pnpm' | 'bun';

const bin = (name: string): string => resolve(process.cwd(), 'node_modules/.bin', name);

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ rc: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => ok({ rc: -1, stdout, stderr: String(e) }));
    child.on('close', (rc) => ok({ rc: rc ?? -1, stdout, stderr }));
  });
}

export interface Generated {
  dir: string;
  env: NodeJS.ProcessEnv;
  file: string;
}

/** Writes `tool`'s lockfile for a fixture project (or a package.json given as an object) into a fresh dir under `scratch`. */
export async function generate(tool: Tool, project: string | Record<string, object | string>, registry: string, scratch: string, extra: string[] = []): Promise<Generated> {
  const dir = mkdtempSync(join(scratch, `${tool}-`));
  if (typeof project === 'string') cpSync(join(fixtureDir(project), 'package.json'), join(dir, 'package.json'));
  else {
    // Files by relative path (a monorepo): objects are written as JSON.
    for (const [path, body] of Object.entries(project)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), typeof body === 'string' ? body : JSON.stringify(body, null, 2));
    }
  }
  const env = isolatedEnv(scratch);
  mkdirSync(env.HOME!, { recursive: true });
  const [cmd, args, file] =
    tool === 'npm'
      ? ['npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'warn', '--cache', join(env.HOME!, '.npm')], 'package-lock.json']
      : tool === 'pnpm'
        ? [bin('pnpm'), ['install', '--lockfile-only', '--ignore-scripts', '--store-dir', join(env.HOME!, '.pnpm-store')], 'pnpm-lock.yaml']
        : [bin('bun'), ['install', '--lockfile-only'], 'bun.lock'];
  const r = await run(cmd, [...args, ...extra, '--registry', registry], dir, env);
  if (r.rc !== 0) throw new Error(`${tool} failed (${r.rc}): ${r.stderr.slice(-800)}`);
  return { dir, env, file: join(dir, file) };
}

const sorted = (s: Iterable<string>): string[] => [...new Set(s)].sort();

interface TreeNode {
  version?: string;
  from?: string;
  deduped?: boolean;
  dependencies?: Record<string, TreeNode>;
  devDependencies?: Record<string, TreeNode>;
  optionalDependencies?: Record<string, TreeNode>;
}

/** npm ls / pnpm list JSON trees: every node, and every parent→child pair below the root. */
function viewOfTree(root: TreeNode, naming: (key: string, node: TreeNode) => string): View {
  const ids: string[] = [];
  const edges: string[] = [];
  const walk = (node: TreeNode, id: string | undefined): void => {
    // npm ls nests everything under `dependencies`; pnpm list splits the root's by field.
    for (const [key, child] of Object.entries({ ...node.dependencies, ...node.devDependencies, ...node.optionalDependencies })) {
      if (!child.version) continue; // missing optional/peer: not in the lockfile either
      const cid = naming(key, child);
      ids.push(cid);
      if (id) edges.push(`${id}>${cid}`);
      walk(child, cid);
    }
  };
  walk(root, undefined);
  return { ids: sorted(ids), edges: sorted(edges) };
}

/** What the tool itself reports about the lockfile in `g.dir`. */
export async function toolView(tool: Tool, g: Generated): Promise<View> {
  if (tool === 'npm') {
    const r = await run('npm', ['ls', '--all', '--json', '--package-lock-only'], g.dir, g.env);
    return viewOfTree(JSON.parse(r.stdout) as TreeNode, (key, n) => `${key}@${n.version}`);
  }
  if (tool === 'pnpm') {
    const r = await run(bin('pnpm'), ['list', '--lockfile-only', '--depth', 'Infinity', '--json'], g.dir, g.env);
    return pnpmView(JSON.parse(r.stdout));
  }
  // `bun pm ls --all` prints the install layout (no edges): each line becomes its install path@version.
  const r = await run(bin('bun'), ['pm', 'ls', '--all'], g.dir, g.env);
  const ids: string[] = [];
  const stack: string[] = [];
  for (const line of r.stdout.split('\n').slice(1)) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+)@([^@]+)$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    ids.push(`${stack.join('/')}@${m[3]}`);
  }
  return { ids: sorted(ids), edges: [] };
}

/** pnpm names packages by their real name (`from`), aliases included. */
export function pnpmView(report: unknown): View {
  const projects = report as TreeNode[];
  const views = projects.map((p) => viewOfTree(p, (key, n) => `${n.from ?? key}@${n.version}`));
  return { ids: sorted(views.flatMap((v) => v.ids)), edges: sorted(views.flatMap((v) => v.edges)) };
}

/**
 * yarn 1's `yarn list --json`: every tree node is a package; its `shadow` children are its dependencies,
 * named by the range asked for (`ms@^2.1.1`), so these edges compare with the model's recorded specs.
 */
export function yarnClassicView(report: unknown): View {
  interface Node { name: string; shadow?: boolean; children?: Node[] }
  const ids: string[] = [];
  const edges: string[] = [];
  const walk = (nodes: Node[], parent: string | undefined): void => {
    for (const n of nodes) {
      if (n.shadow) {
        if (parent) edges.push(`${parent}>${n.name}`);
        continue;
      }
      ids.push(n.name);
      walk(n.children ?? [], n.name);
    }
  };
  walk((report as { data: { trees: Node[] } }).data.trees, undefined);
  return { ids: sorted(ids), edges: sorted(edges) };
}

/** yarn berry's `yarn info --all --recursive --json`: locators (virtual ones folded) and their dependencies. */
export function yarnBerryView(report: unknown): View {
  const entries = report as { value: string; children: { Version: string; Dependencies?: { locator: string }[] } }[];
  // Virtual locators (peer contexts) fold onto their package; yarn's built-in compat patches (fsevents,
  // typescript, resolve) onto the version they patch, as the lockfile's own entry for the range does.
  const plain = (locator: string): string => {
    const m = /^(@?[^@]+)@(?:virtual:[^#]+#)?(?:npm:(.+)|patch:.*::version=([^&]+)&.*)$/.exec(locator);
    return m ? `${m[1]}@${m[2] ?? m[3]}` : locator;
  };
  const ids: string[] = [];
  const edges: string[] = [];
  for (const e of entries) {
    if (e.value.includes('@workspace:')) continue;
    const id = plain(e.value);
    ids.push(id);
    for (const d of e.children.Dependencies ?? []) edges.push(`${id}>${plain(d.locator)}`);
  }
  return { ids: sorted(ids), edges: sorted(edges) };
}

/** The same two lists from a model: `install` names (npm, yarn 1, bun layout) or `real` names (pnpm, yarn berry). */
export function modelView(lock: Lockfile, naming: 'install' | 'real' | 'key' | 'install-spec'): View {
  const byKey = new Map(lock.packages.map((p) => [p.key, p]));
  const id = (key: string): string => {
    const p = byKey.get(key)!;
    return naming === 'key' ? `${p.key}@${p.version}` : `${naming === 'real' ? (p.realName ?? p.name) : p.name}@${p.version}`;
  };
  const edges = lock.edges
    .filter((e) => !e.fromImporter && e.to !== null && !e.toImporter)
    .map((e) => `${id(e.from)}>${naming === 'install-spec' ? `${e.name}@${e.spec}` : id(e.to!)}`);
  // A yarn compat patch depends on the package it patches (same name@version); `yarn info` does not list that.
  const listed = edges.filter((e) => e.split('>')[0] !== e.split('>')[1]);
  return { ids: sorted(lock.packages.map((p) => id(p.key))), edges: naming === 'key' ? [] : sorted(listed) };
}

/** The parts of a package-lock.json (v2/v3) tests read and edit. */
export interface NpmLockJson {
  name: string;
  version: string;
  packages: Record<string, NpmLockEntry>;
}

export interface NpmLockEntry {
  name?: string;
  version: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
