// Citadel language server: the LSP layer over the resolution engine. Resolves each open package.json
// (debounced, stale runs aborted), publishes problems as diagnostics, answers hovers on dependency
// entries, and reports progress with citadel/resolutionStatus. Runs over --stdio or node IPC.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getNodeValue } from 'jsonc-parser';
import {
  CodeActionKind,
  createConnection,
  LSPErrorCodes,
  ProposedFeatures,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type Diagnostic,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { AnalyzeCacheRequest, BenchmarkRequest, ClearCacheRequest, ResolutionStatusNotification, ResolveRequest, WhyRequest, type ResolutionSummary } from '../../protocol';
import { DependencyGraph } from './engine/analysis';
import { breathe, setBreatheSlice } from './engine/breathe';
import { loadNpmConfig } from './engine/npmrc';
import { resolveProject, type ProjectResult } from './engine/project';
import { DEFAULT_TTL_MS } from './engine/cache/resultMemo';
import { flushRecordWrites } from './engine/cache/recordFile';
import { loadWasm } from './engine/cache/codec';
import { DiskCache, defaultCacheDir } from './engine/cache/diskCache';
import { inspectCache } from './engine/cache/inspect';
import { MemoryCache } from './engine/cache/memoryCache';

// One memory tier for every workspace folder and every resolution: re-resolving after an edit reads
// no file and repeats no pick.
const memoryCache = new MemoryCache();
import { createRegistryClient } from './engine/registryClient';
import type { EventSink, Packument } from './engine/types';
import { codeActions } from './lsp/codeActions';
import { versionCompletions, versionSlot } from './lsp/completion';
import { clearSnapshots, readSnapshot, snapshotKey, writeSnapshot } from './lsp/diagnosticsSnapshot';
import { dependencyHover } from './lsp/hover';
import { lockedVersion } from './lsp/lockedVersion';
import { resolvedVersionHints } from './lsp/inlayHints';
import { dependencyAt, parseManifest } from './lsp/manifest';
import { installCommand } from './lsp/packageManager';
import { resolveDocument, type DocumentResolution } from './lsp/resolveDocument';
import { ServerMetrics } from './metrics/lspWiring';
import { ResolutionScheduler, Superseded } from './lsp/scheduler';
import { settingsFrom, type Settings } from './lsp/settings';
import { VERSION } from './version';

const connection = createConnection(ProposedFeatures.all);
// An editor's requests wait on the engine's turns: shorter ones here than in the CLI (see breathe.ts).
setBreatheSlice(1);
const documents = new TextDocuments(TextDocument);

/** Last successful result per package.json URI; hovers read it, and watched-file changes re-resolve its keys. */
const results = new Map<string, ProjectResult>();
/** Last engine failure logged per URI, so a failure repeated on every keystroke is logged once. */
const loggedFailures = new Map<string, string>();

let trustProjectConfig = false;
let canReadConfiguration = false;
let canRefreshInlayHints = false;

const isManifest = (uri: string) => uri.startsWith('file:') && uri.endsWith('/package.json');

connection.onInitialize((params) => {
  // The client says whether the workspace is trusted; only then may a project's .npmrc pick the registry.
  const options = params.initializationOptions as { trusted?: unknown } | undefined;
  trustProjectConfig = options?.trusted === true;
  canReadConfiguration = params.capabilities.workspace?.configuration === true;
  canRefreshInlayHints = params.capabilities.workspace?.inlayHint?.refreshSupport === true;
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      hoverProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      completionProvider: { triggerCharacters: ['"'] },
      inlayHintProvider: true,
    },
    serverInfo: { name: 'Citadel', version: VERSION },
  };
});

/** Settings per scope, kept until the client says they changed: otherwise each edit waits for a round trip to the editor. */
const settingsByScope = new Map<string, Promise<Settings>>();

function settingsFor(uri: string | undefined): Promise<Settings> {
  if (!canReadConfiguration) return Promise.resolve({});
  const key = uri ?? '';
  let settings = settingsByScope.get(key);
  if (!settings) {
    settings = connection.workspace.getConfiguration(uri ? { scopeUri: uri, section: 'citadel' } : { section: 'citadel' }).then(settingsFrom);
    settingsByScope.set(key, settings);
    settings.catch(() => settingsByScope.delete(key));
  }
  return settings;
}

/** The open document's text, else the file on disk (a manifest resolved by command need not be open). */
async function documentFor(uri: string): Promise<TextDocument> {
  const open = documents.get(uri);
  if (open) return open;
  return TextDocument.create(uri, 'json', 0, await readFile(fileURLToPath(uri), 'utf8'));
}

function logFailure(uri: string, message: string | undefined): void {
  if (message && loggedFailures.get(uri) !== message) connection.console.error(`Resolution of ${uri} failed: ${message}`);
  if (message) loggedFailures.set(uri, message);
  else loggedFailures.delete(uri);
}

/** Pick records and result memos are written this long after a resolution: edits in a burst write once. */
const RECORD_WRITE_DELAY_MS = 250;

async function resolveUri(uri: string, signal: AbortSignal): Promise<ResolutionSummary> {
  const idle = { uri, packages: 0, durationMs: 0, requests: 0, bytes: 0, problems: 0, errors: 0 };
  const status = (summary: ResolutionSummary) => void connection.sendNotification(ResolutionStatusNotification.method, summary);
  status({ ...idle, state: 'resolving' });
  let document: TextDocument;
  let settings: Settings;
  try {
    [document, settings] = await Promise.all([documentFor(uri), settingsFor(uri)]);
  } catch (error) {
    const summary: ResolutionSummary = { ...idle, state: 'error', message: error instanceof Error ? error.message : String(error) };
    logFailure(uri, summary.message);
    status(summary);
    return summary;
  }
  const run = metrics.begin(uri, settings.concurrency);
  const cache = {
    dir: settings.cacheDirectory ?? defaultCacheDir(),
    memory: memoryCache,
    mode: settings.offline ? ('offline' as const) : ('default' as const),
    deferWritesMs: RECORD_WRITE_DELAY_MS,
    thread: 'large' as const,
    ...(settings.cacheTtlMinutes !== undefined && { ttlMs: settings.cacheTtlMinutes * 60_000 }),
    ...(settings.cacheMaxSizeMB !== undefined && { maxDiskBytes: settings.cacheMaxSizeMB * 1024 * 1024 }),
  };
  // Stale-while-revalidate: a project not checked with the registry within the TTL is answered from the
  // cache whatever its age, then checked (a 304 per document at most) and published again only if the
  // answer changed. Within the TTL one run in the default mode suffices: what the last check touched is
  // still fresh, so it makes no request, and a second full resolution per edit would cost its CPU time.
  const checkedRecently = Date.now() - (checkedAt.get(uri) ?? -Infinity) < (cache.ttlMs ?? DEFAULT_TTL_MS);
  const cached = !settings.offline && !checkedRecently && cacheHasProject(cache.dir, document.uri);
  const resolveWith = (mode: 'offline' | 'default' | 'prefer-offline', onEvent?: EventSink, memo = true, onEarly?: (diagnostics: Diagnostic[]) => void) =>
    resolveDocument(resolveTracked, document, { ...settings, trustProjectConfig, cache: { ...cache, mode, memo, background: true } }, signal, onEvent, onEarly);
  // The cache dir is where the snapshot lives, not one of its inputs.
  const key = snapshotKey(uri, document.getText(), [{ ...settings, cacheDirectory: undefined }, trustProjectConfig]);
  // A server's first resolution of a manifest: the last diagnostics it had, if nothing changed, first;
  // else, on a cold cache, those of the project's own dependencies as soon as they are picked. Later
  // runs publish only complete sets: the last one stays on screen until then.
  let early: ((diagnostics: Diagnostic[]) => void) | undefined;
  if (!results.has(uri)) {
    const snapshot = await readSnapshot(cache.dir, uri, key);
    if (snapshot && !signal.aborted) await connection.sendDiagnostics({ uri, version: document.version, diagnostics: snapshot });
    else if (!snapshot) {
      early = (diagnostics) => {
        // Never after the complete set (publish() records the result before sending it).
        if (!signal.aborted && !results.has(uri)) void connection.sendDiagnostics({ uri, version: document.version, diagnostics });
      };
    }
  }
  const started = Date.now();
  let outcome = await resolveWith(cached ? 'prefer-offline' : cache.mode, run.onEvent, true, early);
  if (signal.aborted) {
    run.finish(undefined);
    return outcome.summary; // a newer run publishes instead
  }
  // The diagnostics first: the resolution's profile is tens of milliseconds of work they need not wait for.
  const result = outcome.result;
  await publish(uri, document, outcome, () => run.finish(result));
  if (cached) {
    // The tree is built even when the last result could be reused: this background run is what loads
    // the project's packuments into memory, so the first edit after opening is a hot resolution (a
    // remembered answer reads none, and the edit then read ~1,000 entries from disk on a cold JIT).
    const fresh = await resolveWith('default', undefined, false);
    if (signal.aborted) return outcome.summary;
    if (JSON.stringify(fresh.diagnostics) !== JSON.stringify(outcome.diagnostics) || fresh.result?.packages.length !== outcome.result?.packages.length) {
      outcome = fresh;
      await publish(uri, document, outcome);
    }
  }
  if (outcome.result && !settings.offline) checkedAt.set(uri, started);
  if (outcome.result) {
    track(snapshotWrites, writeSnapshot(cache.dir, uri, key, outcome.diagnostics));
  }
  return outcome.summary;
}

/** Holds `work` in `set` until it settles. */
function track(set: Set<Promise<void>>, work: Promise<void>): void {
  const done = (): void => void set.delete(work);
  set.add(work);
  void work.then(done, done);
}

/** Snapshots being written: shutdown waits for them (they are the next server's first answer). */
const snapshotWrites = new Set<Promise<void>>();

// Diagnostics are published before the cache's writes are done (ProjectCacheOptions.background);
// what reads or clears the disk, and shutdown, waits for them.
const cacheFlushes = new Set<Promise<void>>();
const resolveTracked: typeof resolveProject = async (opts) => {
  const result = await resolveProject(opts);
  if (result.flushed) track(cacheFlushes, result.flushed);
  return result;
};

/** Project .npmrc files already reported as ignored, so the output channel says it once per file. */
const reportedIgnored = new Set<string>();

/** In an untrusted workspace, the project's .npmrc (when there is one) that resolution did not read. */
function ignoredNpmrc(result: ProjectResult | undefined): string | undefined {
  const source = result?.config.sources.find((s) => s.layer === 'project' && s.status === 'ignored');
  if (!source?.path || !existsSync(source.path)) return undefined;
  if (!reportedIgnored.has(source.path)) {
    reportedIgnored.add(source.path);
    connection.console.warn(
      `This workspace is not trusted, so Citadel ignores ${source.path} (a cloned repository's .npmrc could send requests and credentials to a registry of its choosing) and resolves with your user and global npm config. Trust the workspace to use it.`,
    );
  }
  return source.path;
}

/** `settle` runs after the diagnostics are sent and before the settled status: what is done by then is there for the client. */
async function publish(uri: string, document: TextDocument, { diagnostics, summary, result }: DocumentResolution, settle?: () => void): Promise<void> {
  if (result) results.set(uri, result);
  logFailure(uri, summary.message);
  const ignored = ignoredNpmrc(result);
  if (ignored) summary.ignoredNpmrc = ignored;
  await connection.sendDiagnostics({ uri, version: document.version, diagnostics });
  if (result && canRefreshInlayHints) void connection.languages.inlayHint.refresh().catch(() => undefined);
  if (settle) {
    await breathe();
    settle();
  }
  connection.sendNotification(ResolutionStatusNotification.method, summary);
}

/** When each manifest's resolution last ran in the default cache mode (a registry check of whatever was stale). */
const checkedAt = new Map<string, number>();

/** Whether this project has been resolved into the cache before (its pick record exists). */
const resolvedBefore = new Set<string>();
function cacheHasProject(dir: string, uri: string): boolean {
  const key = `${dir}\0${uri}`;
  if (resolvedBefore.has(key)) return true;
  resolvedBefore.add(key);
  return existsSync(join(dir, 'picks'));
}

const scheduler = new ResolutionScheduler(resolveUri);
const metrics = new ServerMetrics(
  connection,
  async () => (canReadConfiguration ? connection.workspace.getConfiguration('citadel') : undefined),
  (uri) => scheduler.now(uri),
);

// Fires on open as well as on every edit.
documents.onDidChangeContent(({ document }) => isManifest(document.uri) && scheduler.schedule(document.uri));
documents.onDidClose(({ document }) => {
  scheduler.forget(document.uri);
  checkedAt.delete(document.uri);
  settingsByScope.delete(document.uri);
  results.delete(document.uri);
  metrics.forget(document.uri);
  void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
});

/** Manifests whose resolution is kept current: the open ones and those resolved on request. */
const trackedManifests = () => new Set([...results.keys(), ...documents.keys().filter(isManifest)]);

// Lockfiles and .npmrc (watched by the client) change what resolution sees for every manifest at or below them.
connection.onDidChangeWatchedFiles(({ changes }) => {
  const dirs = changes.filter((c) => c.uri.startsWith('file:')).map((c) => dirname(fileURLToPath(c.uri)));
  for (const uri of trackedManifests()) {
    const dir = dirname(fileURLToPath(uri));
    if (dirs.some((d) => dir === d || dir.startsWith(d + sep))) scheduler.schedule(uri);
  }
});

// Settings are read per run, so a change only needs them forgotten and new runs.
connection.onDidChangeConfiguration(() => {
  settingsByScope.clear();
  void metrics.refresh();
  for (const uri of trackedManifests()) scheduler.schedule(uri);
});

connection.onRequest(ResolveRequest.method, async ({ uri }: ResolveRequest.Params): Promise<ResolveRequest.Result> => {
  if (!isManifest(uri)) throw new ResponseError(LSPErrorCodes.RequestFailed, `Not a package.json file URI: ${uri}`);
  try {
    return await scheduler.now(uri);
  } catch (error) {
    if (error instanceof Superseded) throw new ResponseError(LSPErrorCodes.ContentModified, error.message);
    throw error;
  }
});

connection.onHover(({ textDocument, position }) => {
  const document = documents.get(textDocument.uri);
  if (!document || !isManifest(document.uri)) return null;
  const parsed = parseManifest(document.getText());
  if (!parsed.ok) return null;
  const dep = dependencyAt(document.getText(), parsed.tree, document.offsetAt(position));
  if (!dep) return null;
  const result = results.get(document.uri);
  const locked = result && (result.lockfile ? lockedVersion(result.lockfile, dep.name, dep.spec) : null);
  return {
    contents: dependencyHover(dep, result?.packages, result?.direct.find((d) => d.name === dep.name), locked),
    range: { start: document.positionAt(dep.offset), end: document.positionAt(dep.offset + dep.length) },
  };
});

/** An open package.json with its parsed tree, for the requests that read it. */
function openManifest(uri: string) {
  const document = documents.get(uri);
  if (!document || !isManifest(uri)) return undefined;
  const parsed = parseManifest(document.getText());
  return parsed.ok ? { document, tree: parsed.tree } : undefined;
}

connection.onCodeAction(({ textDocument, range, context }) => {
  const open = openManifest(textDocument.uri);
  if (!open) return null;
  const manifest = getNodeValue(open.tree) as { packageManager?: unknown };
  return codeActions({
    ...open,
    range,
    diagnostics: context.diagnostics,
    result: results.get(textDocument.uri),
    installCommand: installCommand(dirname(fileURLToPath(textDocument.uri)), manifest),
  });
});

connection.languages.inlayHint.on(({ textDocument, range }) => {
  const open = openManifest(textDocument.uri);
  const direct = results.get(textDocument.uri)?.direct;
  return open && direct ? resolvedVersionHints(open.document, open.tree, direct, range) : [];
});

connection.onRequest(AnalyzeCacheRequest.method, async (): Promise<AnalyzeCacheRequest.Result> => {
  const dir = (await settingsFor(undefined)).cacheDirectory ?? defaultCacheDir();
  await Promise.all([loadWasm(), ...cacheFlushes]);
  const { entries, corrupt, bytesOnDisk, decodedBytes, compressionRatio, oldest, newest } = inspectCache(new DiskCache(dir));
  return { dir, entries, corrupt, bytesOnDisk, decodedBytes, compressionRatio, oldest, newest, memoryEntries: memoryCache.size };
});

connection.onRequest(ClearCacheRequest.method, async (): Promise<ClearCacheRequest.Result> => {
  const dir = (await settingsFor(undefined)).cacheDirectory ?? defaultCacheDir();
  // A write still on its way would bring back an entry of the cache just cleared.
  await Promise.all(cacheFlushes);
  const disk = new DiskCache(dir);
  const entries = disk.list().length;
  disk.clear();
  await clearSnapshots(dir);
  memoryCache.clear();
  resolvedBefore.clear();
  checkedAt.clear();
  connection.console.info(`Cleared the packument cache in ${dir} (${entries} entries).`);
  return { dir, entries };
});

connection.onRequest(BenchmarkRequest.method, async ({ uri }: BenchmarkRequest.Params): Promise<BenchmarkRequest.Result> => {
  const [document, settings] = await Promise.all([documentFor(uri), settingsFor(uri)]);
  const scratch = await mkdtemp(join(tmpdir(), 'citadel-bench-'));
  const memory = new MemoryCache();
  const runs: BenchmarkRequest.Result = [];
  try {
    for (const mode of ['cold', 'warm', 'hot'] as const) {
      const r = await resolveProject({
        dir: dirname(fileURLToPath(document.uri)),
        manifestText: document.getText(),
        registry: settings.registry,
        concurrency: settings.concurrency,
        http2: settings.http2,
        trustProjectConfig,
        // warm: a fresh memory tier over the disk the cold run filled; hot: the warm run's memory.
        cache: { dir: scratch, memory: mode === 'warm' ? new MemoryCache() : memory },
      });
      runs.push({ mode, durationMs: r.stats.durationMs, requests: r.stats.requests, packages: r.packages.length });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return runs;
});

connection.onRequest(WhyRequest.method, ({ uri, name }: WhyRequest.Params): WhyRequest.Result => {
  const result = results.get(uri);
  if (!result) throw new ResponseError(LSPErrorCodes.RequestFailed, `${uri} has not been resolved yet`);
  return new DependencyGraph(result).why(name);
});

/** Packuments fetched for completion, kept a minute: completion asks again on every keystroke. */
const completionPackuments = new Map<string, { at: number; packument: Promise<Packument> }>();

async function completionPackument(uri: string, name: string): Promise<Packument> {
  const key = `${uri}\0${name}`;
  const cached = completionPackuments.get(key);
  if (cached && Date.now() - cached.at < 60_000) return cached.packument;
  const settings = await settingsFor(uri);
  const config = loadNpmConfig({
    projectDir: dirname(fileURLToPath(uri)),
    trustProjectConfig,
    cli: settings.registry ? { registry: settings.registry } : undefined,
  });
  const client = createRegistryClient(config, { concurrency: 1, http2: settings.http2 });
  const packument = client.packument(name).then((f) => f.packument).finally(() => client.close());
  completionPackuments.set(key, { at: Date.now(), packument });
  packument.catch(() => completionPackuments.delete(key));
  if (completionPackuments.size > 200) completionPackuments.delete(completionPackuments.keys().next().value!);
  return packument;
}

connection.onCompletion(async ({ textDocument, position }) => {
  const open = openManifest(textDocument.uri);
  const slot = open && versionSlot(open.document, open.tree, position);
  if (!open || !slot) return null;
  try {
    return versionCompletions(open.document, slot, await completionPackument(textDocument.uri, slot.name));
  } catch {
    return null; // an unknown package or an unreachable registry: nothing to offer
  }
});

connection.onShutdown(async () => {
  scheduler.dispose();
  metrics.dispose();
  flushRecordWrites();
  await Promise.all([...snapshotWrites, ...cacheFlushes]);
});
// An exit without shutdown (the client gone) still leaves the next server its records.
process.on('exit', flushRecordWrites);

documents.listen(connection);
connection.listen();
