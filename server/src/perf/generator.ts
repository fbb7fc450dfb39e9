// Generated registries for scaling tests: N packages whose shape resembles npm's. Each package is a
// pure function of (seed, index), so a registry of 100,000 packages is produced lazily, one packument
// at a time, and is the same on every machine.
//
// Shape: a backbone where package i depends on i*B+1 .. i*B+B (so every package is reachable and the
// depth grows as log_B N, about 10 at 100,000 for B = 3), plus a heavy-tailed number of extra
// dependencies on shared "utility" packages (the last 5% of indices, leaves, chosen with Zipf weights,
// like `ms` or `debug`), occasional older-major ranges (nested duplicates), and a few peer dependencies
// with wide ranges. Dependencies only point to higher indices: the graph is acyclic.
import type { ProjectManifest } from '../engine/api';
import type { Manifest, Packument } from '../engine/types';

export interface GeneratorOptions {
  packages: number;
  seed?: number;
  /** Backbone fan-out; default 3. */
  branching?: number;
  /** Direct dependencies of the generated project; default min(30, N). */
  direct?: number;
}

/** mulberry32 over (seed, index, salt): a small deterministic PRNG per package. */
function rng(seed: number, index: number, salt = 0): () => number {
  let a = (seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class GeneratedRegistry {
  readonly size: number;
  readonly seed: number;
  readonly branching: number;
  /** First index of the utility pool (leaves many packages share). */
  readonly utilityStart: number;
  private readonly zipfCdf: Float64Array;

  constructor(opts: GeneratorOptions) {
    if (!(Number.isInteger(opts.packages) && opts.packages >= 1)) throw new RangeError('packages must be a positive integer');
    this.size = opts.packages;
    this.seed = opts.seed ?? 1;
    this.branching = opts.branching ?? 3;
    const pool = Math.max(1, Math.min(this.size - 1, Math.ceil(this.size * 0.05))) || 1;
    this.utilityStart = this.size - pool;
    // Zipf(1) over the pool: the first utility package is depended on most.
    this.zipfCdf = new Float64Array(pool);
    let sum = 0;
    for (let k = 0; k < pool; k++) this.zipfCdf[k] = sum += 1 / (k + 1);
    for (let k = 0; k < pool; k++) this.zipfCdf[k] /= sum;
    this.direct = Math.min(opts.direct ?? 30, this.size);
  }

  readonly direct: number;

  /** `pkg-17`, and every tenth package scoped (`@gen/pkg-20`) so scoped URLs are exercised. */
  name(i: number): string {
    return i % 10 === 0 && i > 0 ? `@gen/pkg-${i}` : `pkg-${i}`;
  }

  index(name: string): number | undefined {
    const m = /^(?:@gen\/)?pkg-(\d+)$/.exec(name);
    if (!m) return undefined;
    const i = Number(m[1]);
    return i < this.size && this.name(i) === name ? i : undefined;
  }

  /** Number of majors published (1..3); each major has 1..3 minors. */
  private majors(i: number): number {
    const r = rng(this.seed, i, 1)();
    return r < 0.6 ? 1 : r < 0.9 ? 2 : 3;
  }

  private zipf(r: number): number {
    let lo = 0;
    let hi = this.zipfCdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.zipfCdf[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return this.utilityStart + lo;
  }

  /** The dependency indices of package i (the same for every version; ranges differ by major). */
  dependencies(i: number): { index: number; peer: boolean }[] {
    const out = new Map<number, boolean>();
    const b = this.branching;
    if (i < this.utilityStart) {
      for (let k = 1; k <= b; k++) {
        const c = i * b + k;
        if (c < this.utilityStart) out.set(c, false);
      }
      // Every utility package has at least one dependent, so the closure is the whole registry.
      const pool = this.size - this.utilityStart;
      if (i < pool && this.utilityStart + i > i) out.set(this.utilityStart + i, false);
      const r = rng(this.seed, i, 2);
      // Geometric number of extras, mean ~1.5, with a 2% chance of a fat package with 10-30 deps.
      let extras = 0;
      while (r() < 0.6 && extras < 8) extras++;
      if (r() < 0.02) extras += 10 + Math.floor(r() * 20);
      for (let k = 0; k < extras; k++) {
        const u = this.zipf(r());
        if (u > i && !out.has(u)) out.set(u, r() < 0.02);
      }
    }
    return [...out].map(([index, peer]) => ({ index, peer }));
  }

  packument(i: number): Packument {
    const name = this.name(i);
    const majors = this.majors(i);
    const r = rng(this.seed, i, 3);
    const deps = this.dependencies(i);
    const versions: Record<string, Manifest> = {};
    const time: Record<string, string> = {};
    let latest = '';
    let day = 0;
    for (let major = 1; major <= majors; major++) {
      const minors = 1 + Math.floor(r() * 3);
      for (let minor = 0; minor < minors; minor++) {
        const version = `${major}.${minor}.0`;
        const m: Manifest = {
          name,
          version,
          dist: {
            tarball: `https://registry.invalid/${name}/-/${name.replace(/^@gen\//, '')}-${version}.tgz`,
            integrity: `sha512-${Buffer.from(`${this.seed}:${name}@${version}`).toString('base64')}`,
            unpackedSize: 1000 + Math.floor(r() * 100_000),
          },
          license: 'MIT',
        };
        const dependencies: Record<string, string> = {};
        const peerDependencies: Record<string, string> = {};
        for (const d of deps) {
          const depMajors = this.majors(d.index);
          if (d.peer) peerDependencies[this.name(d.index)] = '>=1.0.0';
          // One range in ten names an older major, as stale dependencies in the wild do.
          else dependencies[this.name(d.index)] = `^${depMajors > 1 && r() < 0.1 ? depMajors - 1 : depMajors}.0.0`;
        }
        if (Object.keys(dependencies).length) m.dependencies = dependencies;
        if (Object.keys(peerDependencies).length) m.peerDependencies = peerDependencies;
        versions[version] = m;
        time[version] = new Date(Date.UTC(2020, 0, 1) + (i % 1000) * 86_400_000 + day++ * 3_600_000).toISOString();
        latest = version;
      }
    }
    const stamps = Object.values(time);
    return { name, 'dist-tags': { latest }, versions, time: { created: stamps[0], modified: stamps[stamps.length - 1], ...time } };
  }

  /** The project that depends on the top of the backbone. */
  project(): ProjectManifest {
    const dependencies: Record<string, string> = {};
    for (let i = 0; i < this.direct; i++) dependencies[this.name(i)] = `^${this.majors(i)}.0.0`;
    return { name: `generated-${this.size}`, version: '1.0.0', private: true, dependencies } as ProjectManifest;
  }
}

/** The generated registry as a store for the loopback test registry (documents made on demand, kept). */
export function generatedStore(reg: GeneratedRegistry): { packument(name: string): Promise<Packument | undefined>; tarball(): Promise<undefined> } {
  return {
    packument: async (name) => {
      const i = reg.index(name);
      return i === undefined ? undefined : reg.packument(i);
    },
    tarball: async () => undefined,
  };
}
