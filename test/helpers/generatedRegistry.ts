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

/** One published version: its package.json fields. */
export type Version = { version: string } & Record<string, unknown>;

// --- a tar writer (ustar, with GNU and pax long names) -------------------------------------------
function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257, 'latin1');
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** A tar archive of these files; paths over 100 bytes get a GNU `L` or a pax `x` header. */
export function tarOf(files: [string, string][], long: 'gnu' | 'pax' = 'gnu'): Buffer {
  const parts: Buffer[] = [];
  for (const [path, text] of files) {
    const body = Buffer.from(text);
    if (Buffer.byteLength(path) > 100) {
      if (long === 'gnu') {
        const name = Buffer.from(path + '\0');
        parts.push(header('././@LongLink', name.length, 'L'), padded(name));
      } else {
        const record = ` path=${path}\n`;
        let len = record.length;
        while (String(len).length + record.length !== len) len = String(len).length + record.length;
        const pax = Buffer.from(`${len}${record}`);
        parts.push(header('PaxHeader', pax.length, 'x'), padded(pax));
      }
    }
    parts.push(header(path, body.length, '0'), padded(body));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

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
