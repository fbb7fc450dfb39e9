// Drift between package.json, the lockfile and the registry: the reasons a frozen install (`npm ci`,
// `pnpm install --frozen-lockfile`, ...) fails, found before CI runs it. Pure functions of their inputs;
// the only I/O is the packument lookup the caller passes in.
import { semver } from '../lazy';
import type { ProjectManifest } from '../api';
import { isRegistrySpec, parseSpec } from '../spec';
import type { Packument, Severity } from '../types';
import type { LockedPackage, Lockfile, LockfileKind, LockfileProblem } from './model';

export type PackumentLookup = (name: string) => Promise<Packument | undefined>;

export interface DriftOptions {
  /** Resolves packuments for `lockfile-unpublished` and `lockfile-integrity-mismatch`; without it those are not checked. */
  lookup?: PackumentLookup;
  /** Packuments fetched at once (default 16). */
  concurrency?: number;
}

/** Importer path ('' for the root) → its package.json; a single manifest means the root alone. */
export type Manifests = ProjectManifest | Record<string, ProjectManifest>;

const FROZEN: Record<LockfileKind, string> = {
  npm: 'npm ci',
  'yarn-classic': 'yarn install --frozen-lockfile',
  'yarn-berry': 'yarn install --immutable',
  pnpm: 'pnpm install --frozen-lockfile',
  bun: 'bun install --frozen-lockfile',
};

/**
 * One line for `citadel check`: "`npm ci` would fail: 2 problems". Counts the error-severity lockfile
 * problems, which are exactly those the frozen install fails on (severities are set per tool below).
 */
export function verdict(kind: LockfileKind, problems: readonly { code: string; severity: Severity }[]): string {
  const n = problems.filter((p) => p.severity === 'error' && (p.code.startsWith('lockfile-') || p.code === 'invalid-lockfile')).length;
  return n ? `\`${FROZEN[kind]}\` would fail: ${n} problem${n === 1 ? '' : 's'}` : `\`${FROZEN[kind]}\` would succeed`;
}

function asImporters(m: Manifests): Record<string, ProjectManifest> {
  const single = ['name', 'version', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].some((k) => k in m);
  return single || Object.keys(m).length === 0 ? { '': m as ProjectManifest } : (m as Record<string, ProjectManifest>);
}

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies'] as const;

interface Found {
  /** The lockfile links the dependency to a workspace (an importer), not to a package entry. */
  workspace?: boolean;
  pkg?: LockedPackage;
  /** The spec the lockfile recorded for this dependency, when it records one. */
  recorded?: string;
  /** Entries of that name, when none answers this dependency (yarn classic). */
  others?: LockedPackage[];
}

/** Structural checks, no registry: drift, missing entries, extraneous entries. */
export function checkLockfile(manifests: Manifests, lock: Lockfile): LockfileProblem[] {
  const problems: LockfileProblem[] = [];
  const byKey = new Map(lock.packages.map((p) => [p.key, p]));
  const byName = new Map<string, LockedPackage[]>();
  const byDescriptor = new Map<string, LockedPackage>();
  for (const p of lock.packages) {
    byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
    for (const d of p.descriptors ?? []) byDescriptor.set(d, p);
  }
  const importerEdges = new Map(lock.edges.filter((e) => e.fromImporter).map((e) => [`${e.from}\0${e.name}`, e]));
  const at = (p: LockedPackage | undefined, line?: number): { file: string; line: number; column: number } => ({ file: lock.file, line: p?.line ?? line ?? 1, column: 1 });
  // pnpm and yarn fail a frozen install on any change to a recorded spec, even one the locked version still
  // satisfies; npm and bun accept it. All but npm fail when package.json dropped a dependency the lockfile records.
  const strictSpecs = lock.kind === 'pnpm' || lock.kind === 'yarn-classic' || lock.kind === 'yarn-berry';
  const strictImporters = lock.kind !== 'npm';

  function find(importer: string, name: string, spec: string): Found {
    if (lock.kind === 'yarn-classic') {
      const pkg = byDescriptor.get(`${name}@${spec}`);
      return pkg ? { pkg, recorded: spec } : { others: byName.get(name) };
    }
    const edge = importerEdges.get(`${importer}\0${name}`);
    if (edge?.toImporter) return { workspace: true };
    if (edge?.to) return { pkg: byKey.get(edge.to), recorded: edge.spec };
    if (lock.kind === 'npm') {
      // npm v1 records no root edges, and a new dependency may already sit where node would find it.
      const loc = (importer ? importer + '/' : '') + 'node_modules/' + name;
      return { pkg: byKey.get(loc) ?? byKey.get('node_modules/' + name) };
    }
    return {};
  }

  const satisfies = (p: LockedPackage, spec: ReturnType<typeof parseSpec>): boolean =>
    (p.realName ?? p.name) === spec.fetchName && (spec.registryType === 'tag' || semver().satisfies(p.version, spec.fetchSpec, { loose: true }));

  const roots = new Set<string>();
  const all = asImporters(manifests);
  const overridden = overrideValues(all['']);
  // yarn 1 lists no workspaces in its lockfile: a dependency on a workspace package is known by name only.
  const workspaceNames = new Set(Object.entries(all).filter(([path]) => path !== '').map(([, m]) => m.name));
  for (const [importer, manifest] of Object.entries(all)) {
    const wanted = new Set<string>();
    for (const field of DEP_FIELDS) {
      for (const [name, raw] of Object.entries(manifest[field] ?? {})) {
        wanted.add(name);
        const spec = parseSpec(name, raw);
        const found = find(importer, name, raw);
        if (found.workspace || (!found.pkg && workspaceNames.has(name))) continue;
        if (found.pkg) roots.add(found.pkg.key);
        // workspace:, file:, git... are not locked to a registry version: nothing to compare.
        if (!isRegistrySpec(spec)) continue;
        const where = importer ? `${importer}/package.json` : 'package.json';
        const base = { package: importer, name, spec: raw, path: importer ? [importer] : [] };
        if (!found.pkg) {
          const others = found.others ?? [];
          const ok = others.find((p) => satisfies(p, spec));
          if (ok) {
            roots.add(ok.key);
            problems.push({ ...base, code: 'lockfile-drift', severity: 'error', message: `${where} asks for ${name}@${raw}, which the lockfile does not record (it has ${ok.descriptors?.join(', ') ?? ok.key}); ${FROZEN[lock.kind]} fails until the lockfile is updated`, ...at(ok) });
          } else if (others.length) {
            others.forEach((p) => roots.add(p.key));
            problems.push({ ...base, code: 'lockfile-drift', severity: 'error', message: `${where} asks for ${name}@${raw}, but the lockfile has ${others.map((p) => p.version).join(', ')}`, ...at(others[0]) });
          } else {
            problems.push({ ...base, code: 'lockfile-missing-entry', severity: 'error', message: `${name}@${raw} is in ${where} but has no lockfile entry`, ...at(undefined, lock.importers[importer]?.line) });
          }
          continue;
        }
        if (!satisfies(found.pkg, spec)) {
          problems.push({ ...base, code: 'lockfile-drift', severity: 'error', message: `the lockfile has ${name}@${found.pkg.version}${found.pkg.realName ? ` (${found.pkg.realName})` : ''}, which no longer satisfies "${raw}" in ${where}`, ...at(found.pkg) });
        } else if (strictSpecs && found.recorded !== undefined && !sameSpec(lock.kind, found.recorded, raw)) {
          problems.push({ ...base, code: 'lockfile-drift', severity: 'error', message: `${name} is "${raw}" in ${where} but "${found.recorded}" in the lockfile; ${FROZEN[lock.kind]} fails on any changed spec, even one ${found.pkg.version} still satisfies`, ...at(found.pkg) });
        }
      }
    }
    // Dependencies the lockfile records for this importer that package.json no longer has.
    const recorded = lock.importers[importer];
    for (const field of DEP_FIELDS) {
      for (const name of Object.keys(recorded?.[field] ?? {})) {
        if (wanted.has(name)) continue;
        const edge = importerEdges.get(`${importer}\0${name}`);
        const pkg = edge?.to ? byKey.get(edge.to) : undefined;
        problems.push({ code: 'lockfile-extraneous', severity: strictImporters ? 'error' : 'warning', message: `the lockfile still records ${name} as a dependency of ${importer || 'the root project'}, which package.json no longer lists`, package: importer, name, ...at(pkg, recorded?.line) });
      }
    }
  }

  // Walk the lockfile's own edges from what package.json asks for; whatever is not reached is extraneous.
  const out = new Map<string, string[]>();
  for (const e of lock.edges) {
    if (e.fromImporter || !e.to || e.toImporter) continue;
    out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  }
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    const k = queue.pop()!;
    if (seen.has(k)) continue;
    seen.add(k);
    queue.push(...(out.get(k) ?? []));
  }
  for (const p of lock.packages) {
    // What a package ships in its tarball is there whatever depends on it, and what npm itself wrote as
    // extraneous (an optional peer it placed) is how npm left it: neither is drift.
    if (seen.has(p.key) || p.inBundle || p.extraneous) continue;
    // yarn berry's --immutable fails when the lockfile would be pruned; npm ci, pnpm, bun and yarn 1 leave such entries alone.
    const severity: Severity = lock.kind === 'yarn-berry' ? 'error' : 'warning';
    problems.push({ code: 'lockfile-extraneous', severity, message: `${p.name}@${p.version} is locked but nothing in package.json depends on it any more`, name: p.name, spec: p.version, ...at(p) });
  }
  for (const e of lock.edges) {
    if (e.fromImporter || !seen.has(e.from)) continue;
    const from = byKey.get(e.from);
    // npm and bun place by node's lookup, so an edit can leave an edge resolving to the wrong version;
    // yarn and pnpm resolve by exact key, which cannot. npm ci fails on such an edge ("Missing ... from lock file").
    const to = e.to && !e.toImporter ? byKey.get(e.to) : undefined;
    if (to && (lock.kind === 'npm' || lock.kind === 'bun') && e.type !== 'peer') {
      const spec = parseSpec(e.name, e.spec);
      // An override may set the version for that name (npm wrote what the rule says): not drift.
      if (isRegistrySpec(spec) && !satisfies(to, spec) && !(overridden.get(e.name) ?? []).some((v) => satisfies(to, parseSpec(e.name, v)))) {
        problems.push({ code: 'lockfile-drift', severity: 'error', message: `${from?.name}@${from?.version} needs ${e.name}@${e.spec}, but the lockfile resolves it to ${to.name}@${to.version}`, package: from?.name, name: e.name, spec: e.spec, ...at(from) });
      }
    }
    // Edges the lockfile cannot resolve: an entry lost to a bad merge or a hand edit.
    if (e.to !== null || e.type === 'optional') continue;
    problems.push({ code: 'lockfile-missing-entry', severity: 'error', message: `${from ? `${from.name}@${from.version}` : e.from} depends on ${e.name}@${e.spec}, which has no lockfile entry`, package: from?.name, name: e.name, spec: e.spec, ...at(from) });
  }
  return problems;
}

/**
 * The specs the project's `overrides` can give each name, from a rule at any depth (`$name` read from the
 * root's own specs). Which rule reaches which edge depends on the path to it (and, in npm 11, on every
 * edge into a package); any of them accounts for a locked version the edge's own range refuses.
 */
function overrideValues(root: ProjectManifest | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const own = [root?.dependencies, root?.devDependencies, root?.optionalDependencies, root?.peerDependencies];
  const add = (key: string, value: unknown): void => {
    if (typeof value !== 'string') return;
    const at = key.indexOf('@', 1);
    const name = at === -1 ? key : key.slice(0, at);
    const spec = value.startsWith('$') ? own.find((d) => d?.[value.slice(1)])?.[value.slice(1)] : value;
    if (spec) out.set(name, [...(out.get(name) ?? []), spec]);
  };
  const walk = (rules: unknown): void => {
    if (!rules || typeof rules !== 'object') return;
    for (const [key, value] of Object.entries(rules)) {
      if (key === '.') continue;
      add(key, typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['.'] : value);
      walk(value);
    }
  };
  walk(root?.overrides);
  return out;
}

/** yarn berry records ranges with their protocol (`npm:^1.0.0`); package.json usually omits it. */
function sameSpec(kind: LockfileKind, recorded: string, raw: string): boolean {
  return recorded === raw || (kind === 'yarn-berry' && recorded === `npm:${raw}`);
}

/** `sha512-abc sha1-def` → { sha512: 'abc', sha1: 'def' }. */
function hashes(integrity: string | undefined, shasum?: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (integrity ?? '').split(/\s+/)) {
    const i = part.indexOf('-');
    if (i > 0) m.set(part.slice(0, i), part.slice(i + 1).replace(/\?.*$/, ''));
  }
  if (shasum && !m.has('sha1')) m.set('sha1', Buffer.from(shasum, 'hex').toString('base64'));
  return m;
}

/** Registry checks: locked versions that are gone, and integrity that differs from what the registry serves. */
async function checkRegistry(lock: Lockfile, lookup: PackumentLookup, concurrency: number): Promise<LockfileProblem[]> {
  const problems: LockfileProblem[] = [];
  const byName = new Map<string, LockedPackage[]>();
  for (const p of lock.packages) {
    // Only registry packages: git, file, link, workspace and patch entries have no packument version.
    if (!semver().valid(p.version) || /^(?:file:|git|link:)|@(?:workspace|patch|file|link|portal|git)[:+]/.test(p.resolved ?? '')) continue;
    const name = p.realName ?? p.name;
    byName.set(name, [...(byName.get(name) ?? []), p]);
  }
  const names = [...byName.keys()];
  const worker = async (): Promise<void> => {
    for (let name = names.pop(); name !== undefined; name = names.pop()) {
      let doc: Packument | undefined;
      try {
        doc = await lookup(name);
      } catch {
        continue; // a registry failure is the resolver's problem to report, not drift
      }
      for (const p of byName.get(name)!) {
        const at = { file: lock.file, line: p.line, column: 1, name: p.name, spec: p.version };
        const manifest = doc?.versions[p.version];
        if (!manifest) {
          const why = doc ? `the registry no longer has version ${p.version}` : `the registry has no package ${name}`;
          problems.push({ ...at, code: 'lockfile-unpublished', severity: 'error', message: `${name}@${p.version} is locked but ${why} (unpublished?): ${FROZEN[lock.kind]} will fail to fetch it` });
          continue;
        }
        const locked = hashes(p.integrity);
        const served = hashes(manifest.dist?.integrity, manifest.dist?.shasum);
        const algo = ['sha512', 'sha384', 'sha256', 'sha1'].find((a) => locked.has(a) && served.has(a));
        if (algo && locked.get(algo) !== served.get(algo)) {
          problems.push({
            ...at,
            code: 'lockfile-integrity-mismatch',
            severity: 'error',
            message:
              `SECURITY: the lockfile's ${algo} integrity for ${name}@${p.version} differs from the registry's. The tarball the lockfile pins is not ` +
              `the one the registry serves: the lockfile or the package may have been tampered with. Find out why before installing; do not just regenerate the lockfile.`,
          });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return problems.sort((a, b) => a.line - b.line);
}

/**
 * Every drift problem between `manifests` (the root's package.json, or importer path → package.json for
 * workspaces) and `lock`; with a lookup, also what the registry no longer has or serves differently.
 */
export async function checkDrift(manifests: Manifests, lock: Lockfile, opts: DriftOptions | PackumentLookup = {}): Promise<LockfileProblem[]> {
  const o: DriftOptions = typeof opts === 'function' ? { lookup: opts } : opts;
  const problems = checkLockfile(manifests, lock);
  if (o.lookup) problems.push(...(await checkRegistry(lock, o.lookup, o.concurrency ?? 16)));
  return problems;
}
