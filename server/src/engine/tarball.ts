// What npm reads inside a package's tarball when it writes a lockfile without installing
// (`--package-lock-only`): arborist "cracks open" every package with bundleDependencies or an
// npm-shrinkwrap.json. It loads the node_modules folder a package ships (loadActual), so the bundled
// packages are part of the tree and the lock, and the shrinkwrap's tree (loadVirtual), which decides
// that package's dependencies instead of the registry. Only those files are read from the archive.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { toManifest } from './manifest';
import type { TarballContents } from './types';

/** More than any published tarball unpacks to (npm's own is ~10 MB): a bomb is not read to the end. */
const MAX_UNPACKED = 256 * 1024 * 1024;
const BLOCK = 512;
const unzip = promisify(gunzip);

export class TarballError extends Error {}

// node_modules/(@scope/)name, repeated: a bundled package's own package.json, not one deeper in its files.
const BUNDLED_MANIFEST = /^((?:node_modules\/(?:@[^/]+\/)?[^/@][^/]*\/)+)package\.json$/;

/** The bundled packages (shallowest first) and shrinkwrap of a gzipped npm tarball. Throws TarballError on a damaged archive. */
export async function tarballContents(tgz: Uint8Array): Promise<TarballContents> {
  let tar: Buffer;
  try {
    tar = await unzip(tgz, { maxOutputLength: MAX_UNPACKED });
  } catch (e) {
    throw new TarballError(`the tarball is not valid gzip (${(e as Error).message})`);
  }
  const out: TarballContents = { bundled: [] };
  for (const { path, body } of entries(tar)) {
    // Archives put everything under one top folder (`package/` from npm pack); npm strips it.
    const inner = path.slice(path.indexOf('/') + 1);
    if (inner === 'npm-shrinkwrap.json') {
      out.shrinkwrap = body.toString('utf8');
      continue;
    }
    const m = BUNDLED_MANIFEST.exec(inner);
    if (!m) continue;
    let pkg: unknown;
    try {
      pkg = JSON.parse(body.toString('utf8'));
    } catch {
      continue; // npm keeps such a folder as a broken node; it has no version to list
    }
    if (!pkg || typeof pkg !== 'object') continue;
    const manifest = toManifest(pkg as Record<string, unknown>);
    if (typeof manifest.version !== 'string') continue;
    out.bundled.push({ path: m[1].slice(0, -1), manifest });
  }
  out.bundled.sort((a, b) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

const depth = (path: string): number => path.split('node_modules/').length;

/** Regular files of a ustar/pax/GNU archive, with long names resolved. */
function* entries(tar: Buffer): Generator<{ path: string; body: Buffer }> {
  let longName: string | undefined;
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return;
    if (!validChecksum(h)) throw new TarballError(`damaged tar header at byte ${at}`);
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const start = at + BLOCK;
    if (start + size > tar.length) throw new TarballError('the tar archive is truncated');
    const body = tar.subarray(start, start + size);
    at = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = cString(body, 0, body.length);
    } else if (type === 'x') {
      longName = paxPath(body) ?? longName;
    } else if (type === '0' || type === '7') {
      const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? cString(h, 345, 155) : '';
      const name = cString(h, 0, 100);
      yield { path: longName ?? (prefix ? `${prefix}/${name}` : name), body };
      longName = undefined;
    } else if (type !== 'g') {
      longName = undefined; // directories, links: nothing to read
    }
  }
}

function validChecksum(h: Buffer): boolean {
  let sum = 8 * 32; // the checksum field counts as spaces
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i];
  return sum === octal(h, 148, 8);
}

function octal(h: Buffer, off: number, len: number): number {
  // GNU base-256 for sizes over 8 GB: no package.json is that large, and no tarball we read holds one.
  if (h[off] & 0x80) throw new TarballError('a tar entry larger than 8 GB');
  const s = cString(h, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function cString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** The `path` record of a pax extended header (`<len> path=<value>\n`). */
function paxPath(body: Buffer): string | undefined {
  let path: string | undefined;
  for (let at = 0; at < body.length; ) {
    const space = body.indexOf(32, at);
    const len = parseInt(body.toString('latin1', at, space), 10);
    if (space < 0 || !(len > 0)) break;
    const record = body.toString('utf8', space + 1, at + len - 1);
    if (record.startsWith('path=')) path = record.slice(5);
    at += len;
  }
  return path;
}
