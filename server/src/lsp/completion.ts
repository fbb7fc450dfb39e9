// Version completion inside a dependency's value: the package's dist-tags first (each as the version it
// points at, and as the tag itself), then its newest releases, keeping the operator already typed.
import { getLocation, type Node } from 'jsonc-parser';
import semver from 'semver';
import { CompletionItemKind, type CompletionItem, type Position } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Packument } from '../engine/types';
import { rangePrefix } from './codeActions';
import { DEPENDENCY_SECTIONS } from './manifest';

export interface VersionSlot {
  name: string;
  /** The value typed so far (without quotes). */
  value: string;
  /** Offsets of the string's content, inside the quotes. */
  start: number;
  end: number;
}

/** The dependency value string the cursor is in, if any. */
export function versionSlot(document: TextDocument, _tree: Node, position: Position): VersionSlot | undefined {
  const text = document.getText();
  const offset = document.offsetAt(position);
  const { path, isAtPropertyKey, previousNode } = getLocation(text, offset);
  const [section, name] = path;
  if (isAtPropertyKey || path.length !== 2 || typeof name !== 'string' || !DEPENDENCY_SECTIONS.some((s) => s === section)) return undefined;
  if (previousNode?.type !== 'string' || offset <= previousNode.offset || offset >= previousNode.offset + previousNode.length) return undefined;
  return { name, value: String(previousNode.value), start: previousNode.offset + 1, end: previousNode.offset + previousNode.length - 1 };
}

const RELEASES = 30;

export function versionCompletions(document: TextDocument, slot: VersionSlot, packument: Pick<Packument, 'dist-tags' | 'versions'>): CompletionItem[] {
  const range = { start: document.positionAt(slot.start), end: document.positionAt(slot.end) };
  const prefix = slot.value.trim() === '' ? '^' : rangePrefix(slot.value);
  const tagsOf = new Map<string, string[]>();
  for (const [tag, version] of Object.entries(packument['dist-tags'] ?? {})) tagsOf.set(version, [...(tagsOf.get(version) ?? []), tag]);
  const releases = Object.keys(packument.versions ?? {})
    .filter((v) => semver.valid(v) && (!semver.prerelease(v) || tagsOf.has(v)))
    .sort((a, b) => semver.rcompare(a, b));
  // Tagged versions first (latest before the others), then the newest releases.
  const tagged = releases.filter((v) => tagsOf.has(v)).sort((a, b) => Number(!tagsOf.get(a)!.includes('latest')) - Number(!tagsOf.get(b)!.includes('latest')));
  const ordered = [...tagged, ...releases.filter((v) => !tagsOf.has(v)).slice(0, RELEASES)];
  const items: CompletionItem[] = ordered.map((version, i) => {
    const label = prefix + version;
    const tags = tagsOf.get(version);
    return {
      label,
      kind: CompletionItemKind.Value,
      detail: tags ? `dist-tag: ${tags.join(', ')}` : undefined,
      sortText: String(i).padStart(4, '0'),
      filterText: label,
      textEdit: { range, newText: label },
      preselect: i === 0 || undefined,
    };
  });
  for (const [tag, version] of Object.entries(packument['dist-tags'] ?? {})) {
    items.push({
      label: tag,
      kind: CompletionItemKind.Keyword,
      detail: `dist-tag → ${version}`,
      sortText: `1${tag}`,
      filterText: tag,
      textEdit: { range, newText: tag },
    });
  }
  return items;
}
