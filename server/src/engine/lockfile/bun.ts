// bun.lock, bun's text lockfile (JSONC with trailing commas). Packages are keyed by install path:
// `ms` at the root, `debug/ms` nested under debug, `ws-a/lodash` under a workspace named ws-a. Each value
// is [ident `name@version`, resolved URL, metadata, integrity]; workspace packages are [`name@workspace:path`].
import type { DepMap } from '../types';
import { edgesOf, emptyImporter, splitIdent, type LockedEdge, type LockedImporter, type LockedPackage, type LockfileResult } from './model';
import { invalid, parseJson } from './text';

interface BunMeta {
  dependencies?: DepMap;
  optionalDependencies?: DepMap;
  peerDependencies?: DepMap;
  optionalPeers?: string[];
}

interface BunWorkspace {
  name?: string;
  dependencies?: DepMap;
  devDependencies?: DepMap;
  optionalDependencies?: DepMap;
  peerDependencies?: DepMap;
}

/** bun.lock versions written so far (0: bun 1.1.x, 1: bun 1.2, 2: bun 1.3 and later). */
const BUN_VERSIONS = new Set([0, 1, 2]);

/** `@s/a/debug/ms` → ['@s/a', 'debug', 'ms']: the chain of install names. */
function segments(key: string): string[] {
  const out: string[] = [];
  const parts = key.split('/');
  for (let i = 0; i < parts.length; i++) out.push(parts[i].startsWith('@') && i + 1 < parts.length ? `${parts[i]}/${parts[++i]}` : parts[i]);
  return out;
}

export function readBun(text: string, file: string): LockfileResult {
  const doc = parseJson(text, file, true);
  if ('code' in doc) return { problems: [doc] };
  const json = doc.value as { lockfileVersion?: unknown; workspaces?: Record<string, BunWorkspace>; packages?: Record<string, unknown[]> };
  const version = json.lockfileVersion;
  if (typeof version !== 'number' || !BUN_VERSIONS.has(version)) {
    return { problems: [invalid(file, `unknown bun.lock lockfileVersion ${JSON.stringify(version)} (bun writes 0, 1 or 2)`, doc.keyLines([]).get('lockfileVersion') ?? 1)] };
  }
  const lines = doc.keyLines(['packages']);
  const wsLines = doc.keyLines(['workspaces']);
  const importers: Record<string, LockedImporter> = {};
  for (const [path, w] of Object.entries(json.workspaces ?? {})) {
    importers[path] = { ...emptyImporter(wsLines.get(path)), dependencies: w.dependencies ?? {}, devDependencies: w.devDependencies ?? {}, optionalDependencies: w.optionalDependencies ?? {} };
  }
  const raw = json.packages ?? {};
  const packages: LockedPackage[] = [];
  const edges: LockedEdge[] = [];

  /** From install path `from`, bun (like node) looks in `from/name`, then each ancestor, then the root. */
  function resolve(fromChain: string[], name: string): { to: string | null; toImporter?: boolean } {
    for (let n = fromChain.length; n >= 0; n--) {
      const key = [...fromChain.slice(0, n), name].join('/');
      const entry = raw[key];
      if (!entry) continue;
      const [, ref] = splitIdent(String(entry[0]));
      if (ref.startsWith('workspace:')) return { to: ref.slice('workspace:'.length), toImporter: true };
      return { to: key };
    }
    return { to: null };
  }

  for (const [key, entry] of Object.entries(raw)) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') return { problems: [invalid(file, `malformed bun.lock entry "${key}"`, lines.get(key) ?? 1)] };
    const [realName, ref] = splitIdent(entry[0]);
    if (ref.startsWith('workspace:')) continue;
    const chain = segments(key);
    const name = chain[chain.length - 1];
    const meta = (entry.find((x, i) => i > 0 && x && typeof x === 'object' && !Array.isArray(x)) ?? {}) as BunMeta;
    const integrity = typeof entry[3] === 'string' ? entry[3] : undefined;
    const optionalPeers = new Set(meta.optionalPeers ?? []);
    packages.push({
      key,
      name,
      version: ref,
      ...(realName !== name && { realName }),
      integrity,
      resolved: typeof entry[1] === 'string' && entry[1] ? entry[1] : undefined,
      dependencies: meta.dependencies ?? {},
      optionalDependencies: meta.optionalDependencies ?? {},
      peerDependencies: meta.peerDependencies ?? {},
      line: lines.get(key) ?? 1,
    });
    const peers = Object.fromEntries(Object.entries(meta.peerDependencies ?? {}).filter(([n]) => !optionalPeers.has(n)));
    edges.push(...edgesOf(key, false, { prod: meta.dependencies, optional: meta.optionalDependencies, peer: peers }, (n) => resolve(chain, n)));
  }
  for (const [path, imp] of Object.entries(importers)) {
    // A workspace's own nested packages are keyed under its package name.
    const w = json.workspaces?.[path];
    const chain = path === '' || !w?.name ? [] : [w.name];
    edges.push(...edgesOf(path, true, { prod: imp.dependencies, dev: imp.devDependencies, optional: imp.optionalDependencies }, (n) => resolve(chain, n)));
  }
  return { lockfile: { kind: 'bun', file, version, packages, importers, edges }, problems: [] };
}
