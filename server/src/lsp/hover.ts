// Hover on a dependency entry: its spec and what the last resolution picked for that name.
// Everything shown comes from package.json or the registry, so it is escaped as untrusted text.
import type { MarkupContent } from 'vscode-languageserver';
import type { ResolvedPackage } from '../engine/api';
import type { DependencyAt } from './manifest';

/** Backslash-escapes every ASCII punctuation character (CommonMark allows all of them) and folds newlines, so no text can become a link, image, HTML or a block. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

export function dependencyHover(dep: DependencyAt, packages: readonly ResolvedPackage[] | undefined): MarkupContent {
  const lines = [`**${escapeMarkdown(dep.name)}** \`${dep.section}\``, '', `Spec: ${escapeMarkdown(dep.spec)}`, ''];
  if (!packages) {
    lines.push('_Not resolved yet._');
  } else {
    const matches = packages.filter((p) => p.name === dep.name);
    const versions = [...new Set(matches.map((p) => p.version))];
    lines.push(versions.length > 0 ? `Resolved: ${versions.map(escapeMarkdown).join(', ')}` : '_Not in the resolved tree._');
    for (const deprecated of new Set(matches.flatMap((p) => (p.deprecated ? [p.deprecated] : [])))) {
      lines.push('', `Deprecated: ${escapeMarkdown(deprecated)}`);
    }
  }
  return { kind: 'markdown', value: lines.join('\n') };
}
