// Generated packages on the loopback registry (a real HTTP server on 127.0.0.1), with npm itself
// resolving the same project as the reference: the smallest cases of what real projects showed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Packument } from '../../server/src/engine/types';
import { startTestRegistry, type TestRegistry } from '../../server/src/testRegistry/server';
import { npmResolve } from './npmOracle';
import { tarOf } from './tar';

/** One published version: its package.json fields. */
export type Version = { version: string } & Record<string, unknown>;

export const pkg = (name: string, version: string, extra: object = {}): string => JSON.stringify({ name, version, ...extra });

const sha512 = (b: Buffer): string => `sha512-${createHash('sha512').update(b).digest('base64')}`;

export interface Generated {
  reg: TestRegistry;
  /** A project folder whose package.json has `deps` as its dependencies. */
  dir: string;
  /** An environment with empty npm config files and quick retries. */
  env: NodeJS.ProcessEnv;
}

/**
 * Serves `packages` (name -> versions, the last one `latest`) and their tarballs: the given ones (by
 * name@version), else a package.json alone. `integrity` overrides what the documents say of the given tarballs;
 * `manifest`: more fields of the project's package.json.
 */
export async function withGenerated(
  packages: Record<string, Version[]>,
  deps: Record<string, string>,
  fn: (g: Generated) => Promise<void>,
  opts: { tarballs?: Record<string, Buffer>; integrity?: string; requireToken?: string; manifest?: Record<string, unknown> } = {},
): Promise<void> {
  const tarballs = opts.tarballs ?? {};
  const tgz = (name: string, version: string) => tarballs[`${name}@${version}`] ?? gzipSync(tarOf([['package/package.json', pkg(name, version)]]));
  const docs: Record<string, Packument> = {};
  for (const [name, versions] of Object.entries(packages)) {
    const entries = versions.map((v) => {
      const integrity = tarballs[`${name}@${v.version}`] && opts.integrity ? opts.integrity : sha512(tgz(name, v.version));
      return [v.version, { name, ...v, dist: { tarball: `x/${name}-${v.version}.tgz`, integrity } }];
    });
    docs[name] = { name, 'dist-tags': { latest: versions[versions.length - 1].version }, versions: Object.fromEntries(entries) } as Packument;
  }
  const reg = await startTestRegistry({
    store: {
      packument: async (name) => docs[name],
      tarball: async (name, file) => {
        const version = file.slice(name.split('/').pop()!.length + 1, -'.tgz'.length);
        return docs[name]?.versions[version] ? tgz(name, version) : undefined;
      },
    },
    requireToken: opts.requireToken,
  });
  const dir = mkdtempSync(join(tmpdir(), 'citadel-generated-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: deps, ...opts.manifest }));
  const npmrc = join(dir, 'userconfig');
  writeFileSync(npmrc, opts.requireToken ? `//127.0.0.1:${reg.port}/:_authToken=${opts.requireToken}\n` : '');
  try {
    await fn({ reg, dir, env: { npm_config_userconfig: npmrc, npm_config_globalconfig: npmrc, npm_config_fetch_retries: '1', npm_config_fetch_retry_mintimeout: '1', npm_config_fetch_retry_maxtimeout: '5' } });
  } finally {
    await reg.close();
  }
}

/** Every package at every location, `location@version`, sorted; bundled and shrinkwrapped ones marked. */
export function listing(r: { packages: { version: string; locations: string[]; inBundle?: boolean; inShrinkwrap?: boolean }[] }): string[] {
  return r.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}${p.inBundle ? ' (bundled)' : ''}${p.inShrinkwrap ? ' (shrinkwrap)' : ''}`)).sort();
}

export const unmarked = (l: string[]): string[] => l.map((x) => x.replace(/ \(.*\)$/, ''));

/** npm's lockfile for the same project and registry, in listing()'s form (without the marks). */
export async function npmListing(dir: string, url: string): Promise<string[]> {
  const npm = await npmResolve(dir, url);
  assert.equal(npm.rc, 0, npm.stderr);
  return Object.entries(npm.lock!.packages)
    .filter(([k, v]) => k.includes('node_modules/') && v.version)
    .map(([k, v]) => `${k}@${v.version}`)
    .sort();
}
