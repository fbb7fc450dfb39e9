// Engine problems as LSP diagnostics on package.json: each on the dependency entry it is about, the
// others on the first line. Pure, so the placement rules are testable without a server.
import type { Node } from 'jsonc-parser';
import { DiagnosticSeverity, type Diagnostic, type Range } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Problem, Severity } from '../engine/types';
import { dependencySpan, type Span } from './manifest';
import type { Settings } from './settings';

export const PROBLEM_CODES_HREF = 'https://github.com/citadel/citadel#problem-codes';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** What a diagnostic carries back to the server in code action requests: the problem's own fields. */
export type DiagnosticData = Pick<Problem, 'name' | 'spec' | 'package' | 'path' | 'data'>;

/** `citadel.diagnostics.disabled` and `.severity`: drops the codes turned off, sets the severities chosen. */
export function applyDiagnosticSettings(problems: readonly Problem[], settings: Settings): Problem[] {
  const out: Problem[] = [];
  for (const p of problems) {
    const chosen = settings.severity?.[p.code];
    if (settings.disabled?.includes(p.code) || chosen === 'off') continue;
    out.push(chosen ? { ...p, severity: chosen } : p);
  }
  return out;
}

function range(document: TextDocument, span: Span): Range {
  return { start: document.positionAt(span.offset), end: document.positionAt(span.offset + span.length) };
}

const TOP: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };

export function diagnostic(problem: Pick<Problem, 'code' | 'severity' | 'message'> & DiagnosticData, at: Range): Diagnostic {
  const { name, spec, package: from, path, data } = problem;
  // Not copied: JSON-RPC serializes it as it is sent (dropping the undefined fields), and a deep copy of
  // every problem's fields cost ~4 ms per resolution of the large fixture, on each edit.
  const carried: DiagnosticData = { name, spec, package: from, path, data };
  return {
    range: at,
    severity: SEVERITY[problem.severity],
    code: problem.code,
    codeDescription: { href: PROBLEM_CODES_HREF },
    source: 'citadel',
    message: problem.message,
    ...(name !== undefined && { data: carried }),
  };
}

/**
 * A problem deep in the tree is placed on the direct dependency that pulls it in (`path[0]`), since
 * that is the entry the user can edit; the chain is then added to the message.
 */
export function problemDiagnostic(document: TextDocument, tree: Node, problem: Problem): Diagnostic {
  const chain = problem.path ?? [];
  for (const name of [chain[0], problem.name]) {
    if (!name) continue;
    const span = dependencySpan(tree, name);
    if (!span) continue;
    // The chain may or may not end with the problem's own name; show each name once.
    const names = [...new Set([...chain, problem.name ?? ''])].filter((n) => n);
    const via = name === problem.name ? '' : ` (via ${names.join(' > ')})`;
    return diagnostic({ ...problem, message: problem.message + via }, range(document, span));
  }
  return diagnostic(problem, TOP);
}

export function invalidManifestDiagnostic(document: TextDocument, error: Span & { message: string }): Diagnostic {
  const at = range(document, { offset: error.offset, length: Math.max(error.length, 1) });
  return diagnostic({ code: 'invalid-package-json', severity: 'error', message: error.message }, at);
}
