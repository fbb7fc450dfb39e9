// npm itself as the oracle: what set of install-name@version npm 11 writes into package-lock.json for a
// fixture project, resolved against the loopback test registry.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isolatedEnv } from '../../server/src/testRegistry/recorder';
import { startTestRegistry, type TestRegistry, type TestRegistryOptions } from '../../server/src/testRegistry/server';

export const FIXTURE_STORE = 'test/fixtures/registry';

/** A fixture project's directory (resolved from the repo root, which is where tests run). */
export function fixtureDir(name: string): string {
  return resolve(process.cwd(), 'test/fixtures/projects', name);
}

export function startFixtureRegistry(opts: Omit<TestRegistryOptions, 'store'> = {}): Promise<TestRegistry> {
  return startTestRegistry({ ...opts, store: resolve(process.cwd(), FIXTURE_STORE) });
}

/** The parts of package-lock.json the tests read. */
export interface NpmLock {
  lockfileVersion: number;
  packages: Record<string, { version?: string; link?: boolean; resolved?: string; integrity?: string; dev?: boolean; optional?: boolean; peer?: boolean; name?: string }>;
}

export interface NpmResult {
  rc: number;
  stderr: string;
  lock?: NpmLock;
  set: Set<string>;
}

/** `node_modules/a/node_modules/@s/b` → `@s/b`: the name the package is installed under (the alias for aliases). */
function installName(key: string): string {
  return key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

export async function npmResolve(projectDir: string, registryUrl: string, opts: { legacyPeerDeps?: boolean; keepLockfile?: boolean } = {}): Promise<NpmResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'citadel-npm-'));
  try {
    const dir = join(scratch, 'project');
    cpSync(projectDir, dir, { recursive: true, filter: (src) => !/node_modules/.test(src) && (opts.keepLockfile || !/package-lock\.json$/.test(src)) });
    const env = isolatedEnv(scratch);
    const args = ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'warn'];
    args.push('--registry', registryUrl, '--cache', join(env.HOME!, '.npm'));
    if (opts.legacyPeerDeps) args.push('--legacy-peer-deps');
    const { rc, stderr } = await new Promise<{ rc: number; stderr: string }>((ok) => {
      const child = spawn('npm', args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', (e) => ok({ rc: -1, stderr: String(e) }));
      child.on('close', (code) => ok({ rc: code ?? -1, stderr: err }));
    });
    const lockPath = join(dir, 'package-lock.json');
    const lock = existsSync(lockPath) ? JSON.parse(readFileSync(lockPath, 'utf8')) : undefined;
    const set = new Set<string>();
    for (const [key, entry] of Object.entries<{ version?: string; link?: boolean }>(lock?.packages ?? {})) {
      // The root and workspace folders are the project itself, not installed packages.
      if (!key.includes('node_modules/') || entry.link || !entry.version) continue;
      set.add(`${installName(key)}@${entry.version}`);
    }
    return { rc, stderr, lock, set };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
