// Quick fixes on package.json: replace an unsatisfiable spec with a nearest published version, update a
// dependency to the newest version in its range or to the newest major, show why a package is in the
// tree, and run the package manager's install in a terminal (the last two are client commands).
import { findNodeAtLocation, type Node } from 'jsonc-parser';
import semver from 'semver';
import { CodeActionKind, type CodeAction, type Command, type Diagnostic, type Range } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ResolveResult } from '../engine/api';
import type { DiagnosticData } from './diagnostics';
import { DEPENDENCY_SECTIONS, dependencyAt, type DependencyAt } from './manifest';

/** Client commands the actions invoke; declared in package.json and handled in client/src/commands.ts. */
export const WHY_COMMAND = 'citadel.whyPackage';
export const INSTALL_COMMAND = 'citadel.runInstall';

/** `^1.2.3` → `^`, `~1.2` → `~`, `1.2.3` → ``: the operator a replacement keeps. */
export function rangePrefix(spec: string): string {
  return /^\s*([\^~])/.exec(spec)?.[1] ?? (/^\s*\d/.test(spec) ? '' : '^');
}

/** The range of a dependency's spec string (quotes included) in the first section that lists it. */
function specRange(document: TextDocument, tree: Node, name: string, section?: string): Range | undefined {
  for (const s of section ? [section] : DEPENDENCY_SECTIONS) {
    const value = findNodeAtLocation(tree, [s, name]);
    if (value?.type === 'string') return { start: document.positionAt(value.offset), end: document.positionAt(value.offset + value.length) };
  }
  return undefined;
}

function replaceSpec(document: TextDocument, range: Range, title: string, spec: string, diagnostics: Diagnostic[], preferred = false): CodeAction {
  return {
    title,
    kind: CodeActionKind.QuickFix,
    diagnostics,
    isPreferred: preferred || undefined,
    edit: { changes: { [document.uri]: [{ range, newText: JSON.stringify(spec) }] } },
  };
}

const isCitadel = (d: Diagnostic) => d.source === 'citadel';
const dataOf = (d: Diagnostic) => (d.data ?? {}) as DiagnosticData;

export interface CodeActionInput {
  document: TextDocument;
  tree: Node;
  range: Range;
  diagnostics: Diagnostic[];
  result?: Pick<ResolveResult, 'direct'>;
  /** The install command for this project, e.g. `npm install`. */
  installCommand: string;
}

export function codeActions({ document, tree, range, diagnostics, result, installCommand }: CodeActionInput): (CodeAction | Command)[] {
  const actions: CodeAction[] = [];
  const ours = diagnostics.filter(isCitadel);
  const seen = new Set<string>();
  const add = (a: CodeAction) => {
    if (seen.has(a.title)) return;
    seen.add(a.title);
    actions.push(a);
  };

  // An unsatisfiable spec of the project's own: the nearest published versions, keeping the operator.
  for (const d of ours.filter((x) => x.code === 'no-matching-version')) {
    const { name, spec, package: from, data } = dataOf(d);
    if (!name || spec === undefined || from !== '') continue;
    const at = specRange(document, tree, name);
    if (!at) continue;
    const versions = [...new Set([...(data?.nearest ?? []), ...(data?.latest ? [data.latest] : [])])];
    versions.forEach((v, i) => {
      const next = rangePrefix(spec) + v;
      add(replaceSpec(document, at, `Replace "${spec}" with "${next}"${v === data?.latest ? ' (latest)' : ''}`, next, [d], i === 0));
    });
  }

  // The entry under the cursor: newest in range, newest major, why, install.
  const text = document.getText();
  const dep: DependencyAt | undefined = dependencyAt(text, tree, document.offsetAt(range.start));
  const direct = dep && result?.direct.find((x) => x.name === dep.name);
  if (dep && direct?.version && semver.valid(direct.version)) {
    const at = specRange(document, tree, dep.name, dep.section);
    const onEntry = ours.filter((d) => dataOf(d).name === dep.name);
    const floor = semver.minVersion(semver.validRange(dep.spec) ?? '0.0.0-0');
    const prefix = rangePrefix(dep.spec);
    // Only plain ^/~ ranges are raised: the resolved version is already the newest the range allows.
    if (at && /^[\^~]\d/.test(dep.spec.trim()) && floor && semver.gt(direct.version, floor)) {
      add(replaceSpec(document, at, `Update ${dep.name} to "${prefix}${direct.version}" (newest in range)`, prefix + direct.version, onEntry));
    }
    const latest = direct.distTags?.latest;
    if (at && latest && semver.valid(latest) && semver.gt(latest, direct.version) && !semver.satisfies(latest, dep.spec)) {
      const outdated = onEntry.filter((d) => d.code === 'outdated');
      add(replaceSpec(document, at, `Update ${dep.name} to "${prefix || '^'}${latest}" (newest major)`, (prefix || '^') + latest, outdated, outdated.length > 0));
    }
  }

  // Why: for the entry under the cursor, and for the package a diagnostic is about (deep in the tree).
  const whyNames = new Set<string>();
  if (dep) whyNames.add(dep.name);
  for (const d of ours) {
    const name = dataOf(d).name;
    if (name && ['deprecated', 'duplicate', 'engines-mismatch', 'peer-conflict'].includes(String(d.code))) whyNames.add(name);
  }
  for (const name of whyNames) {
    add({
      title: `Why is ${name} in the tree?`,
      kind: CodeActionKind.QuickFix,
      diagnostics: ours.filter((d) => dataOf(d).name === name),
      command: { title: `Why is ${name} in the tree?`, command: WHY_COMMAND, arguments: [document.uri, name] },
    });
  }
  if (dep || ours.length > 0) {
    add({
      title: `Run ${installCommand} in a terminal`,
      kind: CodeActionKind.QuickFix,
      command: { title: `Run ${installCommand}`, command: INSTALL_COMMAND, arguments: [document.uri, installCommand] },
    });
  }
  return actions;
}
