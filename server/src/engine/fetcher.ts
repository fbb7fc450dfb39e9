// Packument and pick memoization with speculative prefetch. Every manifest that gets picked has its
// dependencies' packuments requested at once (and picked as they land), so the network runs ahead of
// npm's strictly ordered placement: wall time approaches graph depth x round-trip instead of
// requests x round-trip.
import { breathe } from './breathe';
import { bundledNames } from './manifest';
import { pickManifest, type PickOptions } from './pick';
import { isRegistrySpec, parseSpec, type Spec } from './spec';
import type { ProjectManifest } from './api';
import { RegistryError, type EventSink, type Manifest, type Packument, type PackumentSource, type ProblemCode, type ProblemData, type TarballContents } from './types';

export type PickOutcome = { manifest: Manifest } | { failure: { code: ProblemCode; message: string; data?: ProblemData } };

/**
 * What a resolution picked, to answer the same specs next time without reading packuments: the
 * picks (spec key -> name@version), the picked manifests, each document's dist-tags and when it was
 * fetched (a pick is as fresh as the document it came from).
 */
export interface PickRecord {
  picks: Record<string, string>;
  manifests: Record<string, Manifest>;
  distTags: Record<string, Record<string, string>>;
  fetchedAt: Record<string, number>;
}

export class Fetcher {
  private packuments = new Map<string, Promise<Packument>>();
  private readonly picks = new Map<string, Promise<PickOutcome>>();
  /** Names the project provides itself (workspace packages): never fetched speculatively. */
  readonly local = new Set<string>();
  /** Picks whose dependencies have been speculated on. */
  private readonly followed = new Set<string>();
  /** Picks not followed (optional peers) whose peers have been speculated on. */
  private readonly peersFollowed = new Set<string>();
  /** Requests made and body bytes received, shared with the fetcher that takes over (inherit). */
  private counts = { requests: 0, bytes: 0 };
  get requests(): number {
    return this.counts.requests;
  }
  get bytes(): number {
    return this.counts.bytes;
  }
  /** Picks answered from a previous run's record instead of a packument. */
  private seeded?: PickRecord;
  private fetchedAt = new Map<string, number>();
  private distTagsOf = new Map<string, Record<string, string>>();
  private readonly picked = new Map<string, Manifest>();
  private docs = new Map<string, Packument>();
  /** What each name@version's tarball holds (tarball.ts), asked once. */
  private tarballs = new Map<string, Promise<TarballContents>>();
  /** Set on a fetcher another one took over from: its in-flight picks start nothing new. */
  private stopped = false;

  constructor(
    private readonly source: PackumentSource,
    private readonly pickOptions: PickOptions,
    private readonly withPeers: boolean,
    private readonly onEvent?: EventSink,
    private readonly signal?: AbortSignal,
  ) {}

  /**
   * Takes over another run's documents (and counts), e.g. when re-resolving without peers. The maps
   * are shared, not copied, and the other one stops speculating: a fetch it still had in flight lands
   * here, and no document is requested twice.
   */
  inherit(other: Fetcher): void {
    other.stopped = true;
    this.packuments = other.packuments;
    this.fetchedAt = other.fetchedAt;
    this.distTagsOf = other.distTagsOf;
    this.docs = other.docs;
    this.tarballs = other.tarballs;
    // Picks do not depend on peers, and the record must hold both passes' picks for the next run.
    for (const [k, v] of other.picks) this.picks.set(k, v);
    for (const [k, v] of other.picked) this.picked.set(k, v);
    this.seeded = other.seeded;
    this.counts = other.counts;
  }

  /** Answers picks from a record of an earlier resolution whose documents are still fresh. */
  seed(record: PickRecord): void {
    this.seeded = record;
  }

  /** Everything this run picked, with what is needed to trust it later. */
  record(): PickRecord {
    const r: PickRecord = { picks: {}, manifests: {}, distTags: {}, fetchedAt: {} };
    for (const [key, m] of this.picked) {
      const id = `${m.name}@${m.version}`;
      r.picks[key] = id;
      r.manifests[id] = m;
      const name = m.name;
      const at = this.fetchedAt.get(name) ?? this.seeded?.fetchedAt[name];
      if (at !== undefined) r.fetchedAt[name] = at;
      const tags = this.distTagsOf.get(name) ?? this.seeded?.distTags[name];
      if (tags) r.distTags[name] = tags;
    }
    return r;
  }

  /** True when every pick came from the seed record (nothing new to remember). */
  get onlySeeded(): boolean {
    return this.packuments.size === 0;
  }

  /** A package's dist-tags, from the seed record when it has them. */
  async distTags(name: string, fetch = true): Promise<Record<string, string> | undefined> {
    const seeded = this.seeded?.distTags[name];
    if (seeded && !this.packuments.has(name)) return seeded;
    if (!fetch && !this.packuments.has(name)) return undefined;
    return (await this.packument(name).catch(() => undefined))?.['dist-tags'];
  }

  /** A document already fetched in this run, without fetching it. */
  loaded(name: string): Packument | undefined {
    return this.docs.get(name);
  }

  /** Whether npm would open this version's tarball for a lockfile, and the source can (see tarball.ts). */
  opens(m: Manifest): boolean {
    return this.source.tarball !== undefined && !!m.dist?.tarball && (m._hasShrinkwrap === true || bundledNames(m).length > 0);
  }

  /** What a version's tarball holds (once per run). */
  tarball(m: Manifest): Promise<TarballContents> {
    const id = `${m.name}@${m.version}`;
    let p = this.tarballs.get(id);
    if (!p) {
      p = this.source.tarball!(m, this.signal);
      p.catch(() => undefined); // reported where the walk opens the package
      this.tarballs.set(id, p);
    }
    return p;
  }

  packument(name: string): Promise<Packument> {
    let p = this.packuments.get(name);
    if (!p) {
      p = this.source.packument(name, this.signal).then((f) => {
        if (!f.fromCache) {
          this.counts.requests++;
          this.counts.bytes += f.bytes;
        }
        this.fetchedAt.set(name, f.fetchedAt ?? Date.now());
        this.distTagsOf.set(name, f.packument['dist-tags']);
        this.docs.set(name, f.packument);
        return f.packument;
      });
      // Failures are reported where the packument is needed; a speculative miss is not a problem.
      p.catch(() => undefined);
      this.packuments.set(name, p);
    }
    return p;
  }

  pick(spec: Spec, follow = true): Promise<PickOutcome> {
    const key = spec.key!;
    let p = this.picks.get(key);
    const seeded = !p && this.seeded?.picks[key];
    if (seeded && this.seeded!.manifests[seeded]) {
      // Answered from the record: nothing to fetch, so nothing to speculate on either.
      const manifest = this.seeded!.manifests[seeded];
      this.picked.set(key, manifest);
      p = Promise.resolve({ manifest });
      this.picks.set(key, p);
      this.followed.add(key);
    }
    if (!p) {
      p = this.packument(spec.fetchName).then(
        async (packument) => {
          // Picking from a document of thousands of versions is a long synchronous stretch.
          await breathe();
          const r = pickManifest(packument, spec, this.pickOptions);
          if ('manifest' in r) {
            this.picked.set(key, r.manifest);
            this.onEvent?.({ type: 'pick', name: spec.fetchName, spec: spec.raw, version: r.manifest.version, at: Date.now() });
            return r;
          }
          const wanted = `${spec.fetchName}@${spec.fetchSpec}`;
          const message =
            r.error === 'ENOVERSIONS'
              ? `No versions of ${spec.fetchName} are published.`
              : `No version of ${spec.fetchName} matches "${spec.raw}".` +
                (r.nearest.length ? ` Nearest published: ${r.nearest.join(', ')}` : '') +
                (r.latest ? ` (latest is ${r.latest}).` : '.');
          return { failure: { code: 'no-matching-version' as const, message: message || wanted, data: { nearest: r.nearest, ...(r.latest && { latest: r.latest }) } } };
        },
        (err: unknown) => ({ failure: describeFetchError(spec.fetchName, err) }),
      );
      this.picks.set(key, p);
    }
    if (follow && !this.followed.has(key)) {
      this.followed.add(key);
      void p.then((r) => 'manifest' in r && this.speculate(r.manifest));
    } else if (!follow && this.withPeers && !this.followed.has(key) && !this.peersFollowed.has(key)) {
      // An optional peer is placed only if something else brings it in, but npm loads its peer set all
      // the same (for conflicts), so the walk will ask for its peers: ask now, not when it gets there.
      this.peersFollowed.add(key);
      void p.then((r) => 'manifest' in r && this.speculate(r.manifest, false, true));
    }
    return p;
  }

  /**
   * Starts fetching and picking everything a manifest depends on, without waiting. Optional peers
   * are only picked (npm reads their ranges for conflict checks) and not followed: they are
   * installed only when something else brings them in. `peersOnly`: the manifest of such a peer, whose
   * own peers are picked the same way (its peer set), and nothing else.
   */
  speculate(m: Manifest | ProjectManifest, withDev = false, peersOnly = false): void {
    if (this.stopped) return;
    const meta = m.peerDependenciesMeta ?? {};
    // A tarball the walk will open: start it now. What it bundles is never fetched, and a shrinkwrap
    // decides the package's dependencies, so those are left to the walk. (withDev: the project itself.)
    const opened = !peersOnly && !withDev && this.opens(m as Manifest);
    if (opened) {
      void this.tarball(m as Manifest);
      if ((m as Manifest)._hasShrinkwrap) return;
    }
    const bundled = opened ? bundledNames(m as Manifest) : [];
    const maps = peersOnly ? [m.peerDependencies] : [m.dependencies, m.optionalDependencies, this.withPeers ? m.peerDependencies : undefined, withDev ? (m as ProjectManifest).devDependencies : undefined];
    for (const deps of maps) {
      if (!deps || typeof deps !== 'object') continue;
      for (const [name, raw] of Object.entries(deps)) {
        if (typeof raw !== 'string' || this.local.has(name) || bundled.includes(name)) continue;
        const follow = !peersOnly && !(deps === m.peerDependencies && meta[name]?.optional);
        const spec = parseSpec(name, raw);
        if (isRegistrySpec(spec) && !(follow ? this.followed.has(spec.key!) : this.picks.has(spec.key!))) void this.pick(spec, follow);
      }
    }
  }
}

export function describeFetchError(name: string, err: unknown): { code: ProblemCode; message: string } {
  if (err instanceof RegistryError) {
    if (err.code === 'E404') return { code: 'unknown-package', message: `Package ${name} does not exist in the registry (404).` };
    if (err.code === 'EOFFLINE') return { code: 'offline-miss', message: err.message };
    if (err.code === 'EAUTH') return { code: 'auth-error', message: `The registry refused access to ${name}: ${err.message}` };
    return { code: 'registry-error', message: `Could not fetch ${name}: ${err.message}` };
  }
  return { code: 'registry-error', message: `Could not fetch ${name}: ${err instanceof Error ? err.message : String(err)}` };
}
