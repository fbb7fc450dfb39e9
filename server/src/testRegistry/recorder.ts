// Records the packument closure of projects into the fixture store. The real resolvers (npm with and
// without legacy peers, pnpm, bun) run against a loopback proxy that fills the store on a miss, so the
// store holds whatever any of them asks for; a name-closure pass then adds what a per-range resolver
// would reach and the tools happened not to (other tool versions, other peer choices).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import type { DepMap, Manifest, Packument } from '../engine/types';
import { startTestRegistry } from './server';
import { FixtureStore, type PackumentStore } from './store';

export const DEFAULT_UPSTREAM = 'https://registry.npmjs.org/';

/** Serves the store, fetching (and keeping) from upstream what it lacks. */
export class RecordingStore implements PackumentStore {
  private readonly inflight = new Map<string, Promise<Packument | undefined>>();

  constructor(
    readonly fixtures: FixtureStore,
    readonly upstream: string,
    private readonly say: (line: string) => void,
  ) {}

  packument(name: string): Promise<Packument | undefined> {
    const stored = this.fixtures.get(name);
    if (stored) return Promise.resolve(stored);
    let p = this.inflight.get(name);
    if (!p) {
      p = this.fetchUpstream(name);
      this.inflight.set(name, p);
    }
    return p;
  }

  private async fetchUpstream(name: string): Promise<Packument | undefined> {
    const url = this.upstream + name.replace('/', '%2f');
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(url, { headers: { accept: 'application/json' } });
        if (res.status === 404) return undefined;
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return this.fixtures.put((await res.json()) as Record<string, unknown>);
      } catch (err) {
        if (attempt >= 3) throw err;
        this.say(`retrying ${name}: ${String(err)}`);
      }
    }
  }

  async tarball(name: string, file: string): Promise<Buffer | undefined> {
    const have = await this.fixtures.tarball(name, file);
    if (have) return have;
    const doc = await this.packument(name);
    const m = Object.values(doc?.versions ?? {}).find((v) => v.dist?.tarball?.endsWith(`/${file}`));
    if (!m?.dist?.tarball) return undefined;
    const res = await fetch(m.dist.tarball);
    if (!res.ok) return undefined;
    const data = Buffer.from(await res.arrayBuffer());
    this.fixtures.putTarball(name, file, data);
    this.say(`tarball ${name}/${file} (${data.length} bytes)`);
    return data;
  }
}

/** `npm:real@range` → real name and range; other non-registry specs → undefined. */
export function registrySpec(name: string, spec: string): { name: string; range: string } | undefined {
  if (spec.startsWith('npm:')) {
    const body = spec.slice(4);
    const at = body.indexOf('@', 1);
    return at < 0 ? { name: body, range: '*' } : { name: body.slice(0, at), range: body.slice(at + 1) };
  }
  if (/^(file|link|workspace|git|git\+\w+|https?|github|portal|patch):|^[^@/]+\/[^/]+$/.test(spec)) return undefined;
  return { name, range: spec };
}

/** The versions a resolver may choose for a spec: npm's default-tag shortcut, and the highest in range. */
export function candidates(doc: Packument, range: string): string[] {
  const tags = doc['dist-tags'];
  const versions = Object.keys(doc.versions);
  const r = range.trim() === '' ? '*' : range.trim();
  if (tags[r]) return [tags[r]];
  const exact = semver.clean(r, true);
  if (exact) return doc.versions[exact] ? [exact] : [];
  if (!semver.validRange(r, true)) return [];
  const out = new Set<string>();
  const latest = tags.latest;
  if (latest && doc.versions[latest] && semver.satisfies(latest, r, { loose: true, includePrerelease: r === '*' })) out.add(latest);
  const highest = semver.maxSatisfying(versions, r, true);
  if (highest) out.add(highest);
  // npm skips deprecated versions when an alternative exists; its choice must be in the store too.
  const fresh = versions.filter((v) => !doc.versions[v].deprecated);
  const highestFresh = semver.maxSatisfying(fresh, r, true);
  if (highestFresh) out.add(highestFresh);
  return [...out];
}

type Edge = { name: string; spec: string; peersOnly: boolean };

type DepFields = Pick<Manifest, 'dependencies' | 'optionalDependencies' | 'peerDependencies' | 'peerDependenciesMeta'>;

function edgesOf(m: DepFields, peersOnly: boolean): Edge[] {
  const out: Edge[] = [];
  if (!peersOnly) {
    for (const [n, s] of Object.entries({ ...m.dependencies, ...m.optionalDependencies })) out.push({ name: n, spec: s, peersOnly: false });
  }
  // A required peer gets installed; an optional one is only fetched (its own peers join the peer set).
  for (const [n, s] of Object.entries(m.peerDependencies ?? {})) {
    out.push({ name: n, spec: s, peersOnly: peersOnly || !!m.peerDependenciesMeta?.[n]?.optional });
  }
  return out;
}

/** Walks the name closure from the given edges, fetching through the store; returns packages visited. */
export async function closure(store: PackumentStore, start: Edge[]): Promise<number> {
  const seen = new Map<string, boolean>(); // name@version → visited with peersOnly
  const queue = [...start];
  let active = 0;
  return new Promise<number>((done, fail) => {
    const pump = (): void => {
      while (queue.length > 0 && active < 16) {
        const e = queue.shift()!;
        const spec = registrySpec(e.name, e.spec);
        if (!spec) continue;
        active++;
        store
          .packument(spec.name)
          .then((doc) => {
            for (const v of doc ? candidates(doc, spec.range) : []) {
              const key = `${spec.name}@${v}`;
              const prev = seen.get(key);
              if (prev === false || (prev === true && e.peersOnly)) continue;
              seen.set(key, e.peersOnly);
              queue.push(...edgesOf(doc!.versions[v], e.peersOnly));
            }
          })
          .then(() => {
            active--;
            if (queue.length === 0 && active === 0) done(seen.size);
            else pump();
          }, fail);
      }
      if (queue.length === 0 && active === 0) done(seen.size);
    };
    pump();
  });
}

export interface ToolRun {
  tool: string;
  rc: number;
  ms: number;
  stderrTail: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ rc: number; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    child.on('error', (err) => ok({ rc: -1, stderr: String(err) }));
    child.on('close', (code) => ok({ rc: code ?? -1, stderr }));
  });
}

/** Fresh home, config and caches per tool run, so nothing on this machine leaks into what is recorded. */
export function isolatedEnv(scratch: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(scratch, 'home-'));
  const userconfig = join(home, '.npmrc');
  writeFileSync(userconfig, '');
  // npm passes its own config to scripts as npm_config_*; under `npm test` those would reach the tools
  // (for example omit-lockfile-registry-resolved from the user's ~/.npmrc) and change what they write.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  return {
    ...inherited,
    HOME: home,
    npm_config_userconfig: userconfig,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_STATE_HOME: join(home, '.local/state'),
    BUN_INSTALL_CACHE_DIR: join(home, '.bun-cache'),
    // Update checks would fetch the npm and pnpm packuments into the fixtures.
    npm_config_update_notifier: 'false',
    pnpm_config_update_notifier: 'false',
  };
}

function bin(repoRoot: string, name: string): string {
  const local = join(repoRoot, 'node_modules/.bin', name);
  return existsSync(local) ? local : name;
}

function rootEdges(project: string, lockfiles: string[]): Edge[] {
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as DepFields & { devDependencies?: DepMap };
  const edges = [...edgesOf(pkg, false), ...Object.entries(pkg.devDependencies ?? {}).map(([n, s]) => ({ name: n, spec: s, peersOnly: false }))];
  // Every package npm placed: its edges too, since npm's reuse picks versions a per-range walk would not.
  for (const f of lockfiles) {
    const lock = JSON.parse(readFileSync(f, 'utf8')) as { packages?: Record<string, DepFields & { inBundle?: boolean }> };
    // Bundled packages come inside their parent's tarball: no resolver fetches them or what they need.
    for (const [k, m] of Object.entries(lock.packages ?? {})) if (k !== '' && !m.inBundle) edges.push(...edgesOf(m, false));
  }
  return edges;
}

export interface RecordOptions {
  storeDir: string;
  upstream?: string;
  repoRoot?: string;
  say?: (line: string) => void;
}

/** Records one project; returns the tool runs so callers can report them. */
export async function recordProject(project: string, opts: RecordOptions): Promise<ToolRun[]> {
  const say = opts.say ?? (() => {});
  const repoRoot = opts.repoRoot ?? process.cwd();
  const store = new RecordingStore(new FixtureStore(opts.storeDir), opts.upstream ?? DEFAULT_UPSTREAM, say);
  const registry = await startTestRegistry({ store });
  const scratch = mkdtempSync(join(tmpdir(), 'citadel-record-'));
  const runs: ToolRun[] = [];
  const lockfiles: string[] = [];
  try {
    const tools: [string, string, string[]][] = [
      ['npm', 'npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'warn']],
      ['npm legacy-peer-deps', 'npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'warn', '--legacy-peer-deps']],
      ['pnpm', bin(repoRoot, 'pnpm'), ['install', '--lockfile-only', '--ignore-scripts']],
      ['bun', bin(repoRoot, 'bun'), ['install', '--lockfile-only']],
    ];
    for (const [tool, cmd, args] of tools) {
      const dir = mkdtempSync(join(scratch, 'project-'));
      cpSync(join(project, 'package.json'), join(dir, 'package.json'));
      const env = isolatedEnv(scratch);
      const extra = cmd === 'npm' ? ['--cache', join(env.HOME!, '.npm')] : tool === 'pnpm' ? ['--store-dir', join(env.HOME!, '.pnpm-store')] : [];
      const t0 = Date.now();
      const r = await run(cmd, [...args, ...extra, '--registry', registry.url], dir, env);
      runs.push({ tool, rc: r.rc, ms: Date.now() - t0, stderrTail: r.stderr.slice(-600) });
      say(`${tool}: rc ${r.rc} in ${Date.now() - t0} ms`);
      const lock = join(dir, 'package-lock.json');
      if (cmd === 'npm' && existsSync(lock)) lockfiles.push(lock);
    }
    const visited = await closure(store, rootEdges(project, lockfiles));
    say(`name closure: ${visited} name@version visited`);
  } finally {
    await registry.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  return runs;
}
