// Shared engine types. The engine imports neither `vscode` nor the LSP library: it is a library that
// the language server, the CLI, the benchmarks and the tests all drive the same way.

export type DepMap = Record<string, string>;

/** One version of a package, as far as resolution, hovers and diagnostics need it. */
export interface Manifest {
  name: string;
  version: string;
  dependencies?: DepMap;
  optionalDependencies?: DepMap;
  peerDependencies?: DepMap;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bundleDependencies?: string[] | boolean;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  deprecated?: string;
  license?: string;
  bin?: Record<string, string> | string;
  hasInstallScript?: boolean;
  /** Set by the registry when the tarball holds an npm-shrinkwrap.json. */
  _hasShrinkwrap?: boolean;
  dist?: { integrity?: string; shasum?: string; tarball?: string; unpackedSize?: number };
}

/** A package document from the registry, abbreviated or full (the engine reads only these fields). */
export interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, Manifest>;
  time?: Record<string, string>;
  modified?: string;
}

/** What a registry fetch returns besides the document; the cache keeps etag/lastModified. */
export interface FetchedPackument {
  packument: Packument;
  /** Body bytes as received on the wire (compressed size when the transfer was compressed). */
  bytes: number;
  etag?: string;
  lastModified?: string;
  /** Served from a cache without a request. */
  fromCache?: boolean;
  /** The document's projection (cache/entry.ts), when it was parsed off the main thread: what a cache writes. */
  projection?: Uint8Array;
  /** When the document was last fetched or revalidated (ms since epoch); absent means now. */
  fetchedAt?: number;
}

/** Anything that can produce packuments: the HTTP registry client, a cache in front of it, a test double is not allowed. */
export interface PackumentSource {
  packument(name: string, signal?: AbortSignal): Promise<FetchedPackument>;
  /** What npm reads in a version's tarball (engine/tarball.ts); a source without tarballs leaves it out. */
  tarball?(m: Manifest, signal?: AbortSignal): Promise<TarballContents>;
}

/** The parts of a tarball that shape the tree: the node_modules it ships, and its npm-shrinkwrap.json. */
export interface TarballContents {
  bundled: BundledPackage[];
  shrinkwrap?: string;
}

/** A package shipped inside another one's tarball (its bundleDependencies). */
export interface BundledPackage {
  /** Its folder relative to the bundling package, as a lockfile keys it: `node_modules/a/node_modules/b`. */
  path: string;
  manifest: Manifest;
}

export type ProblemCode =
  | 'unknown-package'
  | 'no-matching-version'
  | 'invalid-spec'
  | 'unsupported-spec'
  | 'peer-conflict'
  | 'peer-missing'
  | 'registry-error'
  | 'auth-error'
  | 'invalid-package-json'
  | 'invalid-npmrc'
  | 'override-conflict'
  | 'offline-miss'
  | 'stale-cache'
  | 'deprecated'
  | 'duplicate'
  | 'outdated'
  | 'engines-mismatch'
  // Lockfiles (engine/lockfile): a lockfile that cannot be read, and drift between it, package.json and the registry.
  | 'invalid-lockfile'
  | 'lockfile-drift'
  | 'lockfile-missing-entry'
  | 'lockfile-extraneous'
  | 'lockfile-unpublished'
  | 'lockfile-integrity-mismatch';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

/** Problems are values: a stable code, a message a user understands, and where it came from. */
export interface Problem {
  code: ProblemCode;
  severity: Severity;
  message: string;
  /** The package whose edge has the problem ("" for the root project). */
  package?: string;
  /** The dependency name and spec the problem is about. */
  name?: string;
  spec?: string;
  /** Dependency chain from the root, e.g. ["express", "body-parser"]. */
  path?: string[];
  /** Structured facts behind the message, for quick fixes and views (all optional). */
  data?: ProblemData;
}

export interface ProblemData {
  /** no-matching-version: the nearest published versions, and the `latest` tag. */
  nearest?: string[];
  latest?: string;
  /** The version the problem is about (deprecated, outdated, engines-mismatch). */
  version?: string;
  /** duplicate: each version in the tree and who depends on it (`name@version`, or "" for the project). */
  dependents?: Record<string, string[]>;
}

/** Error codes thrown by the registry client; the resolver maps them onto problem codes. */
export type RegistryErrorCode = 'E404' | 'EAUTH' | 'EREGISTRY' | 'ETIMEDOUT' | 'EINVALIDJSON' | 'ENETWORK' | 'EABORTED' | 'EOFFLINE';

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Typed events the engine emits; metrics, profiler, CLI progress and traces are views of them. */
export type EngineEvent =
  | { type: 'fetchStart'; name: string; url: string; at: number }
  | {
      type: 'fetchEnd';
      name: string;
      url: string;
      at: number;
      status: number;
      /** Body bytes on the wire (compressed size when the transfer was compressed). */
      bytes: number;
      /** Body bytes after gzip/br decoding (equal to `bytes` when uncompressed; 0 without a body). */
      decodedBytes: number;
      /** Milliseconds spent waiting for a free connection slot. */
      queuedMs: number;
      /** Opening a new socket (TCP, TLS), summed over redirect hops; 0 when a keep-alive socket was reused. */
      connectMs: number;
      /** Time to first byte, from sending the request on a connected socket (connect excluded). */
      ttfbMs: number;
      /** Decoding the gzip/br body. */
      decompressMs: number;
      totalMs: number;
      attempt: number;
      error?: string;
    }
  | { type: 'retry'; name: string; attempt: number; delayMs: number; reason: string; at: number }
  | { type: 'parse'; name: string; ms: number; at: number }
  | { type: 'pick'; name: string; spec: string; version: string; at: number }
  | { type: 'conflict'; problem: Problem; at: number }
  | { type: 'done'; at: number; durationMs: number; packages: number; requests: number; bytes: number }
  | {
      type: 'cache';
      /** hit: served without the network; revalidate: a conditional request (304 or 200); stale: served stale after a registry error. */
      action: 'hit' | 'miss' | 'revalidate' | 'evict' | 'corrupt' | 'stale';
      name: string;
      tier?: 'memory' | 'disk';
      /** For revalidate: 304 (unchanged) or 200 (replaced). */
      status?: number;
      at: number;
    };

export type EventSink = (event: EngineEvent) => void;

/**
 * The registry client's use of HTTP/2. `off`: HTTP/1.1 keep-alive pools only. `auto`: one HTTP/2 session
 * per https origin that offers h2 in its TLS handshake (ALPN), HTTP/1.1 elsewhere. `prior-knowledge`:
 * also cleartext http origins, which must then speak HTTP/2 (h2c), as curl's --http2-prior-knowledge.
 * Never through a proxy. Here, not in registryClient.ts: the CLI checks its flag before it loads the
 * network modules.
 */
export type Http2Mode = 'off' | 'auto' | 'prior-knowledge';
export const HTTP2_MODES: readonly Http2Mode[] = ['off', 'auto', 'prior-knowledge'];
