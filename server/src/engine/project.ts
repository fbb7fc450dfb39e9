// Resolving a project directory: read package.json (or the editor's unsaved text), npm's config
// cascade for that directory, and a registry client; then the resolver. The CLI and the language
// server both come through here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParseError } from 'jsonc-parser';
import { jsonc } from './lazy';
import type { BuildReads, ProjectManifest, ResolveOptions, ResolveResult } from './api';
import type { CacheMode, CacheStats, CachedSource } from './cache/cachedSource';
import type { MemoryCache } from './cache/memoryCache';
import type { PredictionStats } from './cache/usageModel';
import { loadNpmConfig, registryFor, type NpmConfig } from './npmrc';
import { findWorkspaces, normalizeSpecs } from './workspaces';
import { overridesFromPnpm, overridesFromYarn } from './overrides';
import { checkDrift, readLockfile, type Lockfile } from './lockfile';
import { loadSnapshot, saveSnapshot, snapshotFile } from './cache/pickSnapshot';
import { DEFAULT_TTL_MS, fingerprint, freshFor, memoizable, oldestFetch, ResultMemo } from './cache/resultMemo';
import { breathe } from './breathe';
import { VERSION } from '../version';
import type { PickRecord } from './fetcher';
import type { RegistryClientOptions } from './registryClient';
import type { EventSink, Http2Mode, PackumentSource, Problem } from './types';

export interface ProjectOptions {
  dir: string;
  /** Overrides the registry from .npmrc (the CLI's --registry, the `citadel.registry` setting). */
  registry?: string;
  concurrency?: number;
  /** HTTP/2 use by the registry client (see Http2Mode); default `auto`. */
  http2?: Http2Mode;
  /** False in an untrusted workspace: the project's .npmrc is ignored. */
  trustProjectConfig?: boolean;
  /** The editor's current text of package.json, when it differs from disk. */
  manifestText?: string;
  env?: NodeJS.ProcessEnv;
  npmVersion?: string;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** A packument source to use instead of a fresh registry client (the server keeps one). */
  source?: PackumentSource;
  /** The packument cache in front of the registry client (not used with `source`). Absent: no cache. */
  cache?: ProjectCacheOptions;
  /** `use` (default): start from the project's lockfile as its package manager would; `ignore`: resolve fresh. */
  lockfile?: 'use' | 'ignore';
  /**
   * Lockfile checks: `structure` (drift, missing and extraneous entries; no requests) or `registry`
   * (also unpublished versions and integrity, which reads every locked package's document).
   */
  lockfileChecks?: 'structure' | 'registry';
  /** See ResolveOptions.directDistTags. */
  directDistTags?: boolean;
  /** See ResolveOptions.onDirect (not called when a remembered or reused result answers at once). */
  onDirect?: ResolveOptions['onDirect'];
}

export interface ProjectCacheOptions {
  /** Disk tier directory (`defaultCacheDir()` for the OS default); absent: memory only. */
  dir?: string;
  mode?: CacheMode;
  ttlMs?: number;
  maxDiskBytes?: number;
  /** A memory tier kept across resolutions (the language server's). */
  memory?: MemoryCache;
  /** Load what this project's last resolutions needed before the walk asks (default true with a dir). */
  predict?: boolean;
  /** Answer an unchanged project with its last result (see cache/resultMemo). Default true. */
  memo?: boolean;
  /**
   * Write the pick record and the result memo within this many ms instead of before returning (the
   * language server: ~1 MB per edit of a large project, ~10 ms, off the path to the diagnostics).
   */
  deferWritesMs?: number;
  /**
   * Return once the result is known and let the cache's entry writes, access log and cap finish after
   * (ProjectResult.flushed): creating a file per fetched document ran 0.4-0.9 s past the end of a cold
   * resolution of the large fixture, and the diagnostics or the printed result need none of it.
   */
  background?: boolean;
  /**
   * What the cache thread (cache/cacheWorker.ts) does. 'all' (default): it parses every response body
   * and writes every entry, which the CLI's wall time needs (large fixture, cold: 1.35 s against 1.75).
   * 'large': it parses only bodies of THREAD_BODY_MIN bytes and more, and every body once the
   * resolution has received THREAD_VOLUME_MIN; entries are written from this thread once the
   * resolution is done. The language server's: its diagnostics came as soon without the thread's work
   * (the writes are after them), and the thread's isolate and buffers were 34-35 MB of its peak RSS
   * (bench-editor, Node 20 and 22).
   */
  thread?: 'all' | 'large';
  now?: () => number;
}

/**
 * The wire size from which the language server still parses a body on the cache thread: the largest
 * abbreviated documents of the fixtures (next, typescript: ~400 kB of gzip, ~4 MB of JSON) take ~25 ms
 * to read here; full documents, which some registries send whatever is asked, are far larger.
 */
const THREAD_BODY_MIN = 512 * 1024;

/**
 * And every body once a resolution has received this much: a registry that sends full documents (this
 * machine's path to registry.npmjs.org, 77 MB of uncompressed JSON for the large fixture) gave the main
 * thread too much to read, and diagnostics came ~10% later than with the thread (2,051-2,227 against
 * 1,930-1,961 ms). The loopback fixtures' abbreviated documents are ~5 MB of gzip in all.
 */
const THREAD_VOLUME_MIN = 16 * 1024 * 1024;

export interface ProjectResult extends ResolveResult {
  manifestText: string;
  config: NpmConfig;
  /** The lockfile resolution started from, when there is one and it could be read. */
  lockfile?: Lockfile;
  /** Present when the resolution went through the cache. */
  cache?: { stats: CacheStats; prediction: PredictionStats };
  /** The project was unchanged and its last result was still fresh: no tree was built (resultMemo). */
  memoized?: boolean;
  /** The remembered result stood after every document behind it was revalidated unchanged (past the TTL). */
  revalidated?: boolean;
  /** Only dependency specs changed, and the last build answered for them: no tree was built. */
  reused?: boolean;
  /** With `cache.background`: settles when the cache's writes are done (never rejects). */
  flushed?: Promise<void>;
}

/** A package.json that cannot be read or parsed: where, and why. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly line = 1,
    readonly column = 1,
  ) {
    super(`${file}:${line}:${column}: ${message}`);
  }
}

/** JSON.parse, and jsonc-parser only for what it rejects: the error's position. */
function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const errors: ParseError[] = [];
    const value: unknown = jsonc().parse(text, errors, { allowTrailingComma: false, disallowComments: true });
    if (errors.length) {
      const { line, column } = lineColumn(text, errors[0].offset);
      throw new ManifestError(file, `invalid JSON (${jsonc().printParseErrorCode(errors[0].error)})`, line, column);
    }
    return value;
  }
}

export function parseManifest(text: string, file: string): ProjectManifest {
  const value = parseJson(text, file);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ManifestError(file, 'package.json must hold a JSON object');
  const m = value as Record<string, unknown>;
  for (const key of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const) {
    const deps = m[key];
    if (deps !== undefined && (typeof deps !== 'object' || deps === null || Array.isArray(deps))) {
      throw new ManifestError(file, `"${key}" must be an object of name: spec`);
    }
  }
  return m as ProjectManifest;
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * The fields of a manifest that resolution reads: a result stands for any manifest with the same ones
 * (an edit to `scripts` changes nothing). `withoutSpecs` blanks the specs of the dependencies, which an
 * earlier build can answer for (resolver's `previous`).
 */
function resolutionInputs(m: ProjectManifest, withoutSpecs = false): ProjectManifest {
  const blank = (deps?: Record<string, string>) => (deps && withoutSpecs ? Object.fromEntries(Object.keys(deps).map((k) => [k, ''])) : deps);
  return {
    name: m.name,
    version: m.version,
    dependencies: blank(m.dependencies),
    devDependencies: blank(m.devDependencies),
    optionalDependencies: blank(m.optionalDependencies),
    peerDependencies: m.peerDependencies,
    peerDependenciesMeta: m.peerDependenciesMeta,
    overrides: m.overrides,
  };
}

export async function resolveProject(opts: ProjectOptions): Promise<ProjectResult> {
  const file = join(opts.dir, 'package.json');
  let text = opts.manifestText;
  if (text === undefined) {
    try {
      // Sync: a package.json is small, and fs/promises alone took ~1.5 ms to load in a warm CLI run.
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ManifestError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const declared = parseManifest(text, file);
  const { workspaces, problems: workspaceProblems, catalogs, pnpmOverrides } = findWorkspaces(opts.dir, declared);
  const normalized = normalizeSpecs(declared, catalogs, new Set(workspaces.map((w) => w.manifest.name ?? '')), workspaceProblems);
  // npm's overrides, else yarn's resolutions or pnpm's overrides, translated into npm's rule shape.
  const foreign: ['yarn' | 'pnpm', Record<string, unknown>][] = [
    ['yarn', overridesFromYarn(declared.resolutions)],
    ['pnpm', overridesFromPnpm(declared.pnpm?.overrides ?? pnpmOverrides)],
  ];
  const [overridesFrom, translated] = declared.overrides ? ['npm' as const, undefined] : (foreign.find(([, rules]) => Object.keys(rules).length) ?? ['npm' as const, undefined]);
  const manifest = translated ? { ...normalized, overrides: translated } : normalized;
  const config = loadNpmConfig({
    projectDir: opts.dir,
    env: opts.env,
    trustProjectConfig: opts.trustProjectConfig,
    cli: opts.registry ? { registry: opts.registry } : undefined,
  });
  const configProblems: Problem[] = [
    ...config.errors.map((e): Problem => ({ code: 'invalid-npmrc', severity: 'warning', message: e.message })),
    ...workspaceProblems,
  ];
  const lock = opts.lockfile === 'ignore' ? null : readLockfile(opts.dir);
  const lockfile = lock?.lockfile;
  // Picks and results are this version's: another Citadel may pick, place or report differently.
  const pickKey = `${VERSION}\0${config.tag}\0${process.version}\0${opts.npmVersion ?? ''}`;
  const freshness = { mode: opts.cache?.mode, ttlMs: opts.cache?.ttlMs ?? DEFAULT_TTL_MS, now: (opts.cache?.now ?? Date.now)() };
  const picksFile = !opts.source && opts.cache?.dir !== undefined ? snapshotFile(opts.cache.dir, opts.dir, config.registry, pickKey) : undefined;
  const slot = `${opts.dir}\0${config.registry}\0${pickKey}`;
  const memo = !opts.source && opts.cache && opts.cache.memo !== false ? new ResultMemo(slot, opts.cache.memory, picksFile?.replace(/\.json$/, '.result'), opts.cache.deferWritesMs) : undefined;
  const others = [workspaces.map((w) => [w.path, resolutionInputs(w.manifest)]), lock?.digest, overridesFrom, config.registry, config.scopes, config.legacyPeerDeps, config.strictPeerDeps, opts.directDistTags ?? true];
  const inputs = memo && fingerprint([resolutionInputs(manifest), ...others]);
  /** `source` reads documents for the registry checks; without it only the structure is checked. */
  const lockProblems = async (source?: PackumentSource): Promise<Problem[]> => {
    // A broken lockfile is reported where it is broken, and resolution went on from package.json alone.
    const out: Problem[] = [...(lock?.problems ?? [])];
    if (lockfile) {
      const manifests = Object.fromEntries([['', manifest], ...workspaces.map((w) => [w.path, w.manifest] as const)]);
      const lookup = source && (async (name: string) => (await source.packument(name, opts.signal).catch(() => undefined))?.packument);
      out.push(...(await checkDrift(manifests, lockfile, lookup && opts.lockfileChecks === 'registry' ? { lookup } : {})));
    }
    return out;
  };
  const remembered = inputs ? memo!.get(inputs, (oldest) => freshFor(oldest, freshness)) : undefined;
  if (remembered && opts.lockfileChecks !== 'registry') {
    const started = performance.now();
    const problems = [...configProblems, ...(await lockProblems()), ...remembered.problems];
    const stats = { ...remembered.stats, durationMs: performance.now() - started, requests: 0, bytes: 0 };
    opts.onEvent?.({ type: 'done', at: Date.now(), durationMs: stats.durationMs, packages: remembered.packages.length, requests: 0, bytes: 0 });
    return { ...remembered, stats, problems, manifestText: text, config, lockfile, memoized: true };
  }
  // Loaded here, not at the top: a remembered result (a warm `citadel resolve`) needs none of the
  // network, cache-writing or resolver modules, and loading them was a good part of its time.
  const [{ createRegistryClient }, { createCachedSource }, { CacheWriter }, { UsageModel }, { resolve }, { SpecReads }] = await Promise.all([
    import('./registryClient.js'),
    import('./cache/cachedSource.js'),
    import('./cache/cacheWriter.js'),
    import('./cache/usageModel.js'),
    import('./resolver.js'),
    import('./tree.js'),
  ]);
  // Response bodies are decoded and parsed on the cache thread: gunzip and JSON.parse of ~20 MB of
  // documents (and the garbage they leave) were a third of the main thread's time in a cold resolution,
  // in stretches that held the loop. See ProjectCacheOptions.thread for the language server's choice.
  const allOnThread = (opts.cache?.thread ?? 'all') === 'all';
  let received = 0;
  const parse: RegistryClientOptions['parse'] = async (...args) => {
    received += args[0].length;
    return allOnThread || args[0].length >= THREAD_BODY_MIN || received > THREAD_VOLUME_MIN ? CacheWriter.shared()?.parse(...args) : undefined;
  };
  // The thread takes ~50 ms to start: it starts with the first request, not before, as a run that asks
  // nothing of the registry (an edit answered from the last build, see resolver.ts reuse()) needs none of it.
  const onEvent: EventSink | undefined = allOnThread
    ? (e) => {
        if (e.type === 'fetchStart') CacheWriter.shared();
        opts.onEvent?.(e);
      }
    : opts.onEvent;
  const client = opts.source ? undefined : createRegistryClient(config, { concurrency: opts.concurrency, http2: opts.http2, onEvent, parse });
  let cached: CachedSource | undefined;
  const usage = opts.cache?.dir !== undefined && opts.cache.predict !== false ? new UsageModel(opts.cache.dir) : undefined;
  const usageKey = `${opts.dir}\0${config.registry}`;
  if (client && opts.cache) {
    cached = createCachedSource(client, {
      dir: opts.cache.dir,
      mode: opts.cache.mode,
      ttlMs: opts.cache.ttlMs,
      maxDiskBytes: opts.cache.maxDiskBytes,
      memory: opts.cache.memory,
      now: opts.cache.now,
      registryFor: (name) => registryFor(config, name),
      onEvent: opts.onEvent,
      threadWrites: allOnThread,
    });
  }
  try {
    // Past the TTL (or with --prefer-online) the last result still stands if no document behind its picks
    // has changed: each is revalidated, all in one wave (a 304 has no body, and no entry is decoded), and
    // a tree is built only when one did. Not for a shared memory tier: the language server serves its
    // cached answer first and revalidates behind it (server.ts).
    const lapsed = cached && inputs && picksFile && !opts.cache?.memory && opts.lockfileChecks !== 'registry' ? memo!.get(inputs, () => true) : undefined;
    // The pick record at any age (prefer-offline's rule): it names the documents behind the result.
    const lapsedPicks = lapsed && loadSnapshot(picksFile!, { mode: 'prefer-offline', ttlMs: 0, now: 0 });
    const started = performance.now();
    if (lapsed && lapsedPicks && (await cached!.unchanged(Object.keys(lapsedPicks.fetchedAt), opts.signal))) {
      // Remembered as fresh only when the registry vouched for every document (no stale copy served).
      if (cached!.stats().staleServed === 0) {
        const at = (opts.cache?.now ?? Date.now)();
        for (const name of Object.keys(lapsedPicks.fetchedAt)) lapsedPicks.fetchedAt[name] = at;
        try {
          saveSnapshot(picksFile!, lapsedPicks);
        } catch {
          /* best effort, like every cache write */
        }
        memo!.set({ fingerprint: inputs!, oldest: at, result: lapsed });
      }
      const problems = [...configProblems, ...(await lockProblems()), ...cached!.takeProblems(), ...lapsed.problems];
      await cached!.flush();
      const { requests, bytes } = client!.stats();
      const stats = { ...lapsed.stats, durationMs: performance.now() - started, requests, bytes };
      opts.onEvent?.({ type: 'done', at: Date.now(), durationMs: stats.durationMs, packages: lapsed.packages.length, requests, bytes });
      return { ...lapsed, stats, problems, manifestText: text, config, lockfile, memoized: true, revalidated: true, cache: { stats: cached!.stats(), prediction: cached!.prediction() } };
    }
    // The memory tier's picks first (the language server's, no file to read), then the disk's.
    const held = cached && opts.cache?.memory?.project(slot);
    const seed = (held?.picks && freshFor(oldestFetch(held.picks), freshness) ? held.picks : undefined) ?? (picksFile ? loadSnapshot(picksFile, freshness) : undefined);
    /** The memo's build as resolve() takes it; a damaged record reads as none. */
    const savedBuild = (m: ReturnType<ResultMemo['built']>): BuildReads | undefined => {
      if (!m) return undefined;
      try {
        return { manifest: m.build.specs, specs: new Map(Object.entries(m.build.reads).map(([name, r]) => [name, SpecReads.fromJSON(r)])), result: m.result };
      } catch {
        return undefined;
      }
    };
    // The last build of this project, if only dependency specs changed since: an edit may reuse it. The
    // language server keeps it in memory; a new process finds it in the result memo, with its reads.
    const shape = memo && fingerprint([resolutionInputs(manifest, true), ...others]);
    let seedPrint: string | undefined;
    /** A pick record's fingerprint; the seed's is taken once (a reused run needs it twice). */
    const printOf = (r: PickRecord): string => (r === seed ? (seedPrint ??= fingerprint(seed.picks)) : fingerprint(r.picks));
    const previous = held ? (held.build && seed === held.picks && held.build.shape === shape ? held.build.last : undefined) : seed && savedBuild(memo?.built(shape!, printOf(seed)));
    // Without fresh picks, fetch (or revalidate) what this project needed last time in one wave.
    if (cached && usage && !seed) cached.prefetch(usage.predict(usageKey));
    const source = cached ?? opts.source ?? client!;
    let reused = false;
    let built: BuildReads | undefined;
    let picked: PickRecord | undefined;
    let pickedAnew = false;
    const result = await resolve({
      manifest,
      workspaces,
      lockfile,
      overridesFrom,
      directDistTags: opts.directDistTags,
      seed,
      onPicks: (record, unchanged) => {
        picked = record;
        pickedAnew = !unchanged;
        if (held) held.picks = record;
      },
      source,
      previous,
      onDirect: opts.onDirect,
      // Not a build with a registry error in it: an edit should retry, not carry the error forward.
      onBuild: (last) => {
        reused = last.specs === previous?.specs;
        built = memoizable(last.result) ? last : undefined;
        if (held) held.build = built && { shape: shape!, last: built };
      },
      legacyPeerDeps: config.legacyPeerDeps,
      strictPeerDeps: config.strictPeerDeps,
      defaultTag: config.tag,
      npmVersion: opts.npmVersion,
      onEvent: opts.onEvent,
      signal: opts.signal,
    });
    // The writes after a resolution serialize large records: each gets its own turn of the event loop.
    if (picksFile && picked && pickedAnew) {
      await breathe();
      // Best effort, like every cache write: a failed save only costs the next run its head start.
      try {
        saveSnapshot(picksFile, picked, opts.cache?.deferWritesMs);
      } catch {
        /* read-only or full cache dir */
      }
    }
    // A reused build stands on the picks it was seeded with.
    const basis = picked ?? (reused ? seed : undefined);
    if (memo && basis && memoizable(result)) {
      await breathe();
      // The pick record on disk after this run: the one just saved, else the one it started from. Not
      // for the language server, whose next edit reuses the build it holds in memory (held.build).
      const onDisk = pickedAnew ? picked : seed;
      const { peerDependencies, dependencies, optionalDependencies, devDependencies } = built?.manifest ?? {};
      const build = !held &&
        built &&
        onDisk && {
          shape: shape!,
          picks: printOf(onDisk),
          specs: { peerDependencies, dependencies, optionalDependencies, devDependencies },
          reads: Object.fromEntries([...built.specs].map(([name, r]) => [name, r.toJSON()])),
        };
      memo.set({ fingerprint: inputs!, oldest: oldestFetch(basis), result, ...(build && { build }) });
    }
    configProblems.push(...(await lockProblems(source)));
    if (!cached) return { ...result, problems: [...configProblems, ...result.problems], manifestText: text, config, lockfile };
    await breathe();
    // Best effort like every cache write: a failed flush costs the next run, never this one.
    const flushed = cached.flush().catch(() => undefined);
    if (!opts.cache?.background) await flushed;
    // What the tree needed, not only what was asked of the cache: picks answered from a record ask for
    // nothing, and remembering that would empty the prediction for the run after the TTL. A reused
    // build needed what the last one did.
    if (!reused) usage?.record(usageKey, [...new Set([...cached.requested(), ...result.packages.map((p) => p.realName ?? p.name)])]);
    const cache = { stats: cached.stats(), prediction: cached.prediction() };
    return {
      ...result,
      problems: [...configProblems, ...cached.takeProblems(), ...result.problems],
      manifestText: text,
      config,
      cache,
      lockfile,
      ...(opts.cache?.background && { flushed }),
      ...(reused ? { reused: true } : {}),
    };
  } finally {
    client?.close();
  }
}
