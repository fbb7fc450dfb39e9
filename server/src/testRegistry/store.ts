// The fixture store: one brotli-compressed lean packument per package, plus the few tarballs npm opens
// even in lockfile-only mode (bundles, shrinkwraps). Loaded lazily, one package at a time, so a test that
// needs five packages does not pay for five thousand.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { toManifest } from '../engine/manifest';
import type { Manifest, Packument } from '../engine/types';

/** What the test registry serves from: the fixture directory, or a recorder that fills it on a miss. */
export interface PackumentStore {
  packument(name: string): Promise<Packument | undefined>;
  tarball(name: string, file: string): Promise<Buffer | undefined>;
}

type Json = Record<string, unknown>;

function leanVersion(v: Json): Manifest {
  // The shared projection, minus empty values: the store is committed, so every byte counts.
  const out = toManifest(v) as unknown as Json;
  for (const [k, val] of Object.entries(out)) {
    if (k === 'dist') continue;
    if (val === null || val === false || (typeof val === 'object' && !Array.isArray(val) && Object.keys(val as object).length === 0)) delete out[k];
  }
  out.dist ??= {};
  return out as unknown as Manifest;
}

/** Reduce a registry document (full or abbreviated) to what the store keeps. */
export function leanPackument(doc: Json): Packument {
  const versions = (doc.versions ?? {}) as Record<string, Json>;
  const time = (doc.time ?? {}) as Record<string, string>;
  const leanTime: Record<string, string> = {};
  for (const v of Object.keys(versions)) if (time[v]) leanTime[v] = time[v];
  // The npm registry reachable here drops created/modified; Last-Modified needs them, so derive them.
  const stamps = Object.values(leanTime).sort();
  const created = time.created ?? stamps[0];
  const modified = time.modified ?? (doc.modified as string | undefined) ?? stamps[stamps.length - 1];
  return {
    name: doc.name as string,
    'dist-tags': (doc['dist-tags'] ?? {}) as Record<string, string>,
    time: { ...(created && { created }), ...(modified && { modified }), ...leanTime },
    versions: Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, leanVersion(v)])),
  };
}

/** `@types/node` → `@types+node`; npm names cannot contain '+', and encoding keeps anything odd safe. */
export function safeName(name: string): string {
  return encodeURIComponent(name.replace('/', '+')).replace(/%40/g, '@').replace(/%2B/gi, '+');
}

export class FixtureStore implements PackumentStore {
  private readonly cache = new Map<string, Packument | undefined>();

  constructor(readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${safeName(name)}.json.br`);
  }

  private tarballFile(name: string, file: string): string {
    return join(this.dir, 'tarballs', safeName(name), safeName(file));
  }

  get(name: string): Packument | undefined {
    if (this.cache.has(name)) return this.cache.get(name);
    const f = this.file(name);
    const doc = existsSync(f) ? (JSON.parse(brotliDecompressSync(readFileSync(f)).toString()) as Packument) : undefined;
    this.cache.set(name, doc);
    return doc;
  }

  async packument(name: string): Promise<Packument | undefined> {
    return this.get(name);
  }

  async tarball(name: string, file: string): Promise<Buffer | undefined> {
    const f = this.tarballFile(name, file);
    return existsSync(f) ? readFileSync(f) : undefined;
  }

  /** Stores a registry document in lean form and returns it. */
  put(doc: Json): Packument {
    const lean = leanPackument(doc);
    mkdirSync(this.dir, { recursive: true });
    const body = Buffer.from(JSON.stringify(lean));
    // Maximum quality with a large window: fixtures are written once and read often, and git size matters.
    const br = brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
    writeFileSync(this.file(lean.name), br);
    this.cache.set(lean.name, lean);
    return lean;
  }

  putTarball(name: string, file: string, data: Buffer): void {
    const f = this.tarballFile(name, file);
    mkdirSync(join(f, '..'), { recursive: true });
    writeFileSync(f, data);
  }
}
