// One resolution of one package.json, from its text to diagnostics and a summary. The engine call is
// passed in, so this layer holds no I/O of its own.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver';
import { DiagnosticSeverity } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ResolutionSummary } from '../../../protocol';
import type { ProjectManifest } from '../engine/api';
import type { EventSink } from '../engine/types';
import type { ProjectCacheOptions, ProjectResult, resolveProject } from '../engine/project';
import { getNodeValue } from 'jsonc-parser';
import { analysisPasses } from '../engine/analysis';
import { breathe } from '../engine/breathe';
import { applyDiagnosticSettings, invalidManifestDiagnostic, problemDiagnostic } from './diagnostics';
import { parseManifest } from './manifest';
import type { Settings } from './settings';

export type ResolveProject = typeof resolveProject;

export interface DocumentResolution {
  diagnostics: Diagnostic[];
  summary: ResolutionSummary;
  /** Undefined when the manifest could not be parsed or the engine failed. */
  result?: ProjectResult;
}

export async function resolveDocument(
  engine: ResolveProject,
  document: TextDocument,
  settings: Settings & { trustProjectConfig: boolean; cache?: ProjectCacheOptions },
  signal: AbortSignal,
  /** Receives the engine's events (the metrics collector and profiler). */
  onEvent?: EventSink,
  /** Receives the diagnostics of the project's own dependencies while theirs are still resolving. */
  onEarly?: (diagnostics: Diagnostic[]) => void,
): Promise<DocumentResolution> {
  const started = Date.now();
  const summary = (diagnostics: Diagnostic[], extra: Partial<ResolutionSummary> = {}): ResolutionSummary => ({
    uri: document.uri,
    state: 'idle',
    packages: 0,
    durationMs: Date.now() - started,
    requests: 0,
    bytes: 0,
    problems: diagnostics.length,
    errors: diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).length,
    ...extra,
  });

  const parsed = parseManifest(document.getText());
  if (!parsed.ok) {
    // The engine would fail on the same text; the parse error position is the useful answer.
    const diagnostics = [invalidManifestDiagnostic(document, parsed.error)];
    return { diagnostics, summary: summary(diagnostics) };
  }

  const manifest = getNodeValue(parsed.tree) as ProjectManifest;
  // The engine's problems, then those read off the (finished or early) tree; settings pick codes and
  // severities. The finished tree's passes take a turn of the loop each at most. The early look's do
  // not wait: it covers the project's own dependencies only, and each wait queued it behind the
  // resolution's own units in breathe(), which put first diagnostics ~0.4 s later (bench-editor).
  const diagnose = async (result: Pick<ProjectResult, 'packages' | 'direct' | 'problems'>, early: boolean): Promise<Diagnostic[]> => {
    const problems = [...result.problems];
    for (const pass of analysisPasses({ result, manifest })) {
      if (!early) await breathe();
      problems.push(...pass);
    }
    if (!early) await breathe();
    return applyDiagnosticSettings(problems, settings).map((p) => problemDiagnostic(document, parsed.tree, p));
  };
  try {
    const result = await engine({
      dir: dirname(fileURLToPath(document.uri)),
      manifestText: document.getText(),
      registry: settings.registry,
      concurrency: settings.concurrency,
      http2: settings.http2,
      trustProjectConfig: settings.trustProjectConfig,
      cache: settings.cache,
      signal,
      onEvent,
      // The engine catches what this rejects with: an early look is best effort.
      onDirect: onEarly && ((early) => diagnose(early, true).then(onEarly)),
    });
    const diagnostics = await diagnose(result, false);
    const { durationMs, requests, bytes } = result.stats;
    return { diagnostics, result, summary: summary(diagnostics, { packages: result.packages.length, durationMs, requests, bytes, ...hitRate(result) }) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { diagnostics: [], summary: summary([], { state: 'error', message }) };
  }
}

function hitRate(result: ProjectResult): Pick<ResolutionSummary, 'cacheHitRate'> {
  if (result.memoized) return { cacheHitRate: 1 };
  const c = result.cache?.stats;
  if (!c) return {};
  const hits = c.memoryHits + c.diskHits + c.revalidated;
  const lookups = hits + c.replaced + c.misses + c.offlineMisses;
  // A run answered from its pick record looks nothing up: everything it used came from the cache.
  return { cacheHitRate: lookups ? hits / lookups : 1 };
}
