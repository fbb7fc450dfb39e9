// npm/yarn workspaces: the folders the root package.json's `workspaces` globs name, each with its own
// package.json, as @npmcli/map-workspaces finds them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectManifest, Workspace } from './api';
import type { Problem } from './types';

function patternsOf(manifest: ProjectManifest): string[] {
  const ws = manifest.workspaces;
  const list = Array.isArray(ws) ? ws : ws && typeof ws === 'object' && Array.isArray(ws.packages) ? ws.packages : [];
  return list.filter((p): p is string => typeof p === 'string');
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

export function findWorkspaces(root: string, manifest: ProjectManifest): { workspaces: Workspace[]; problems: Problem[] } {
  const patterns = patternsOf(manifest);
  const include = new Set<string>();
  const exclude = new Set<string>();
  for (const p of patterns) for (const dir of expand(root, p.replace(/^!/, ''))) (p.startsWith('!') ? exclude : include).add(dir);
  const workspaces: Workspace[] = [];
  const problems: Problem[] = [];
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
  return { workspaces, problems };
}
