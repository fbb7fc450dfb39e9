// Shared by the reliability tests, the fuzzer and the soak: isolated projects (no npm config of this
// machine leaks in), synthetic packument stores for the test registry, and small measurement helpers.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest, Packument } from '../../server/src/engine/types';
import { FixtureStore, type PackumentStore } from '../../server/src/testRegistry/store';

/** Temp directories made through `scratch()`, removed by `cleanScratch()`. */
const made: string[] = [];

export function scratch(prefix = 'citadel-rel-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanScratch(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface IsolatedProject {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A project directory with its package.json (and .npmrc), and an environment whose user and global
 * npmrc are empty files (or `userNpmrc`), with fast retries so provoked faults do not take npm's 10 s.
 */
export function isolatedProject(pkg: object | string, opts: { npmrc?: string; userNpmrc?: string; root?: string; env?: NodeJS.ProcessEnv } = {}): IsolatedProject {
  const root = opts.root ?? scratch();
  const dir = join(root, 'project');
  const home = join(root, 'home');
  mkdirSync(dir, { recursive: true });
  mkdirSync(home, { recursive: true });
  writeFileSync(join(dir, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg, null, 2));
  if (opts.npmrc !== undefined) writeFileSync(join(dir, '.npmrc'), opts.npmrc);
  const userconfig = join(home, '.npmrc');
  const globalconfig = join(home, 'global.npmrc');
  writeFileSync(userconfig, opts.userNpmrc ?? '');
  writeFileSync(globalconfig, '');
  return {
    dir,
    home,
    env: {
      HOME: home,
      npm_config_userconfig: userconfig,
      npm_config_globalconfig: globalconfig,
      npm_config_fetch_retry_mintimeout: '5',
      npm_config_fetch_retry_maxtimeout: '20',
      ...opts.env,
    },
  };
}

/** The environment of this process without npm config, for child processes (CLI, language server). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k) && !/^(HTTPS?_PROXY|NO_PROXY)$/i.test(k)));
  return { ...env, ...extra };
}

/** A version manifest with a tarball and integrity, as the registry would list it. */
export function manifest(name: string, version: string, extra: Partial<Manifest> = {}): Manifest {
  return { name, version, dist: { tarball: `http://x/${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`, integrity: `sha512-${Buffer.from(`${name}@${version}`).toString('base64')}` }, ...extra };
}

/** A packument with the given versions (the last is `latest`). */
export function packument(name: string, versions: Record<string, Partial<Manifest>>): Packument {
  const list = Object.keys(versions);
  return {
    name,
    'dist-tags': { latest: list[list.length - 1] },
    versions: Object.fromEntries(list.map((v) => [v, manifest(name, v, versions[v])])),
    time: { modified: '2024-01-01T00:00:00.000Z', ...Object.fromEntries(list.map((v) => [v, '2024-01-01T00:00:00.000Z'])) },
  };
}

/** Writes documents into a store directory the test registry serves (`startTestRegistry({ store: dir })`). */
export function writeStore(dir: string, docs: Iterable<Packument>): FixtureStore {
  const store = new FixtureStore(dir);
  for (const d of docs) store.put(d as unknown as Record<string, unknown>);
  return store;
}

/** An in-memory store (for documents too large or too many to compress into files quickly). */
export function memoryStore(docs: Iterable<Packument>): PackumentStore {
  const map = new Map<string, Packument>();
  for (const d of docs) map.set(d.name, d);
  return { packument: async (name) => map.get(name), tarball: async () => undefined };
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Files under `dir` whose bytes contain any of `needles` (raw, not decompressed). */
export function filesContaining(dir: string, needles: string[]): string[] {
  return filesUnder(dir).filter((f) => {
    const bytes = readFileSync(f);
    return needles.some((n) => bytes.includes(n));
  });
}

/** Open file descriptors of this process (Linux), or -1 elsewhere. */
export function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** A small seeded PRNG (mulberry32), so every fuzz and soak case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `--name value` from the command line of a script run by scripts/soak.mjs. */
export function cliArg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : process.argv[i + 1];
}

/** Runs a script's main and exits with its code (2 when it throws). */
export function runScript(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(2);
    },
  );
}
