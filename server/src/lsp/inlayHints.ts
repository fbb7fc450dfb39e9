// An inlay hint after each dependency spec with the version it resolved to, when the spec does not say
// it already (an exact pin).
import type { Node } from 'jsonc-parser';
import { InlayHintKind, type InlayHint, type Range } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DirectDependency } from '../engine/api';
import { DEPENDENCY_SECTIONS } from './manifest';

export function resolvedVersionHints(document: TextDocument, tree: Node, direct: readonly DirectDependency[], range?: Range): InlayHint[] {
  const byName = new Map(direct.map((d) => [d.name, d]));
  const from = range ? document.offsetAt(range.start) : 0;
  const to = range ? document.offsetAt(range.end) : Infinity;
  const hints: InlayHint[] = [];
  for (const property of tree.children ?? []) {
    const [key, section] = property.children ?? [];
    if (!key || !section || section.type !== 'object' || !DEPENDENCY_SECTIONS.some((s) => s === key.value)) continue;
    for (const entry of section.children ?? []) {
      const [name, value] = entry.children ?? [];
      const version = byName.get(String(name?.value))?.version;
      if (!value || value.type !== 'string' || !version || value.value === version) continue;
      const end = value.offset + value.length;
      if (end < from || end > to) continue;
      hints.push({ position: document.positionAt(end), label: `→ ${version}`, kind: InlayHintKind.Type, paddingLeft: true, tooltip: `Resolved to ${version}` });
    }
  }
  return hints;
}
