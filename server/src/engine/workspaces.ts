// npm/yarn workspaces: the folders the root package.json's `workspaces` globs name, each with its own
// package.json, as @npmcli/map-workspaces finds them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectManifest, Workspace } from './api';
import { yaml } from './lazy';
import type { Problem } from './types';

/** pnpm's workspace file: package globs and the catalogs that `catalog:` specs name. */
interface PnpmWorkspace {
  packages?: unknown;
  overrides?: unknown;
  catalog?: unknown;
  catalogs?: unknown;
}

function readPnpmWorkspace(root: string, problems: Problem[]): PnpmWorkspace | undefined {
  const file = join(root, 'pnpm-workspace.yaml');
  if (!existsSync(file)) return undefined;
  try {
    const doc = yaml().parse(readFileSync(file, 'utf8')) as unknown;
    return doc && typeof doc === 'object' ? (doc as PnpmWorkspace) : {};
  } catch (err) {
    problems.push({ code: 'invalid-package-json', severity: 'error', message: `pnpm-workspace.yaml: ${(err as Error).message.split('\n')[0]}` });
    return undefined;
  }
}

function strings(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : [];
}

function patternsOf(manifest: ProjectManifest, pnpm: PnpmWorkspace | undefined): string[] {
  const ws = manifest.workspaces;
  const list = Array.isArray(ws) ? ws : ws && typeof ws === 'object' ? ws.packages : undefined;
  return strings(list ?? pnpm?.packages);
}

export type Catalogs = Record<string, Record<string, string>>;

function catalogsOf(pnpm: PnpmWorkspace | undefined): Catalogs {
  const out: Catalogs = {};
  const table = (v: unknown): Record<string, string> =>
    v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, r]) => typeof r === 'string')) : {};
  if (pnpm?.catalog) out.default = table(pnpm.catalog);
  if (pnpm?.catalogs && typeof pnpm.catalogs === 'object') for (const [name, t] of Object.entries(pnpm.catalogs)) out[name] = { ...out[name], ...table(t) };
  return out;
}

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

/**
 * pnpm/yarn protocols rewritten to what they mean for resolution: `catalog:` and `catalog:name` take
 * the catalog's range; `workspace:*`, `workspace:^` and `workspace:~` accept whatever version the
 * workspace package has (it is linked), `workspace:<range>` keeps the range.
 */
export function normalizeSpecs(manifest: ProjectManifest, catalogs: Catalogs, workspaceNames: Set<string>, problems: Problem[]): ProjectManifest {
  const out: ProjectManifest = { ...manifest };
  for (const field of DEP_FIELDS) {
    const deps = manifest[field];
    if (!deps) continue;
    const next: Record<string, string> = {};
    for (const [name, raw] of Object.entries(deps)) {
      let spec = typeof raw === 'string' ? raw : '';
      if (spec.startsWith('catalog:')) {
        const range = catalogs[spec.slice(8) || 'default']?.[name];
        if (range === undefined) {
          problems.push({ code: 'invalid-spec', severity: 'error', message: `${name}@"${spec}": no such entry in the catalogs of pnpm-workspace.yaml.`, package: '', name, spec });
        } else spec = range;
      } else if (spec.startsWith('workspace:') && workspaceNames.has(name)) {
        const range = spec.slice(10);
        spec = range === '*' || range === '^' || range === '~' || range === '' ? '*' : range;
      }
      next[name] = spec;
    }
    out[field] = next;
  }
  return out;
}

function segmentRegex(segment: string): RegExp {
  const body = segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** Folders under `root` matching a glob of `*`, `?` and `**` segments (node_modules is never entered). */
function expand(root: string, pattern: string): string[] {
  const segments = pattern.replace(/^\.\//, '').replace(/\/+$/, '').split('/').filter((s) => s && s !== '.');
  let found = [''];
  for (const segment of segments) {
    const next: string[] = [];
    for (const rel of found) {
      if (segment === '**') {
        const stack = [rel];
        while (stack.length) {
          const dir = stack.pop()!;
          next.push(dir);
          for (const child of subdirs(join(root, dir))) stack.push(dir ? `${dir}/${child}` : child);
        }
      } else if (/[*?]/.test(segment)) {
        const re = segmentRegex(segment);
        for (const child of subdirs(join(root, rel))) if (re.test(child)) next.push(rel ? `${rel}/${child}` : child);
      } else if (segment !== '..') {
        next.push(rel ? `${rel}/${segment}` : segment);
      }
    }
    found = next;
  }
  return found.filter((rel) => rel !== '');
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'node_modules' && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

export function findWorkspaces(
  root: string,
  manifest: ProjectManifest,
): { workspaces: Workspace[]; problems: Problem[]; catalogs: Catalogs; pnpmOverrides?: unknown } {
  const problems: Problem[] = [];
  const pnpm = readPnpmWorkspace(root, problems);
  const catalogs = catalogsOf(pnpm);
  const patterns = patternsOf(manifest, pnpm);
  const include = new Set<string>();
  const exclude = new Set<string>();
  for (const p of patterns) for (const dir of expand(root, p.replace(/^!/, ''))) (p.startsWith('!') ? exclude : include).add(dir);
  const workspaces: Workspace[] = [];
  const names = new Map<string, string>();
  for (const path of [...include].filter((d) => !exclude.has(d)).sort()) {
    const file = join(root, path, 'package.json');
    if (!existsSync(file)) continue;
    let ws: ProjectManifest;
    try {
      ws = JSON.parse(readFileSync(file, 'utf8')) as ProjectManifest;
    } catch (err) {
      problems.push({ code: 'invalid-package-json', severity: 'error', message: `${path}/package.json: ${(err as Error).message}` });
      continue;
    }
    if (!ws || typeof ws !== 'object' || typeof ws.name !== 'string' || !ws.name) {
      problems.push({ code: 'invalid-package-json', severity: 'error', message: `${path}/package.json: a workspace needs a "name"` });
      continue;
    }
    const other = names.get(ws.name);
    if (other) {
      problems.push({ code: 'invalid-package-json', severity: 'error', message: `Workspaces ${other} and ${path} are both named "${ws.name}" (npm refuses this).` });
      continue;
    }
    names.set(ws.name, path);
    workspaces.push({ path, manifest: ws });
  }
  const wsNames = new Set(names.keys());
  return {
    workspaces: workspaces.map((w) => ({ ...w, manifest: normalizeSpecs(w.manifest, catalogs, wsNames, problems) })),
    problems,
    catalogs,
    pnpmOverrides: pnpm?.overrides,
  };
}
