// What the project's lockfile records for one of the root's dependencies, for the hover: users ask
// for the locked version, which a range alone does not tell them.
import { basename } from 'node:path';
import type { Lockfile } from '../engine/lockfile';

export interface Locked {
  /** The lockfile's file name, e.g. `package-lock.json`. */
  file: string;
  /** The locked version; `workspace` when it links a workspace package; absent when the lockfile has no entry for it. */
  version?: string;
}

export function lockedVersion(lock: Lockfile, name: string, spec: string): Locked {
  const file = basename(lock.file);
  const byKey = (key: string | null | undefined) => lock.packages.find((p) => p.key === key);
  // yarn classic records no importers: an entry answers the descriptors `name@range` it lists.
  if (lock.kind === 'yarn-classic') return { file, version: lock.packages.find((p) => p.descriptors?.includes(`${name}@${spec}`))?.version };
  const edge = lock.edges.find((e) => e.fromImporter && e.from === '' && e.name === name);
  if (edge?.toImporter) return { file, version: 'workspace' };
  // npm v1 lockfiles record no root edges; the root's dependency sits at node_modules/<name>.
  const pkg = byKey(edge?.to) ?? (lock.kind === 'npm' ? byKey(`node_modules/${name}`) : undefined);
  return { file, version: pkg?.version };
}
