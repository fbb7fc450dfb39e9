// Hover on a dependency entry: its spec, what the last resolution picked for that name, and what the
// lockfile has locked.
// Everything shown comes from package.json or the registry, so it is escaped as untrusted text.
import type { MarkupContent } from 'vscode-languageserver';
import type { DirectDependency, ResolvedPackage } from '../engine/api';
import type { Locked } from './lockedVersion';
import type { DependencyAt } from './manifest';

/** Backslash-escapes every ASCII punctuation character (CommonMark allows all of them) and folds newlines, so no text can become a link, image, HTML or a block. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[!-/:-@[-`{-~]/g, '\\$&');
}

/** Distinct packages reachable from name@version (itself excluded), over the resolved edges. */
function transitiveCount(packages: readonly ResolvedPackage[], name: string, version: string): number {
  const byKey = new Map(packages.map((p) => [`${p.name}@${p.version}`, p]));
  const seen = new Set([`${name}@${version}`]);
  const stack = [...seen];
  while (stack.length) {
    for (const [n, v] of Object.entries(byKey.get(stack.pop()!)?.dependencies ?? {})) {
      const key = `${n}@${v}`;
      if (seen.has(key) || !byKey.has(key)) continue;
      seen.add(key);
      stack.push(key);
    }
  }
  return seen.size - 1;
}

const kB = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString('en-US')} kB`;

/** The lockfile's answer, or that there is none (`null`: the project has no readable lockfile). */
function lockedLine(locked: Locked | null): string {
  if (!locked) return 'Locked: no lockfile';
  const file = escapeMarkdown(locked.file);
  return locked.version ? `Locked: ${escapeMarkdown(locked.version)} (${file})` : `Locked: not in ${file}`;
}

export function dependencyHover(
  dep: DependencyAt,
  packages: readonly ResolvedPackage[] | undefined,
  direct?: DirectDependency,
  locked?: Locked | null,
): MarkupContent {
  const lines = [`**${escapeMarkdown(dep.name)}** \`${dep.section}\``, '', `Spec: ${escapeMarkdown(dep.spec)}`, ''];
  if (!packages) {
    lines.push('_Not resolved yet._');
  } else {
    const matches = packages.filter((p) => p.name === dep.name);
    const versions = [...new Set(matches.map((p) => p.version))];
    lines.push(versions.length > 0 ? `Resolved: ${versions.map(escapeMarkdown).join(', ')}` : '_Not in the resolved tree._');
    if (locked !== undefined) lines.push('', lockedLine(locked));
    const top = direct?.version ? matches.find((p) => p.version === direct.version) : undefined;
    const latest = direct?.distTags?.latest;
    if (latest) lines.push('', `Latest: ${escapeMarkdown(latest)}`);
    if (direct?.publishedAt) lines.push('', `Published: ${escapeMarkdown(direct.publishedAt.slice(0, 10))}`);
    if (top?.license) lines.push('', `License: ${escapeMarkdown(top.license)}`);
    if (top) lines.push('', `Brings in ${transitiveCount(packages, top.name, top.version)} other packages`);
    if (top?.unpackedSize) lines.push('', `Unpacked size: ${kB(top.unpackedSize)}`);
    for (const deprecated of new Set(matches.flatMap((p) => (p.deprecated ? [p.deprecated] : [])))) {
      lines.push('', `Deprecated: ${escapeMarkdown(deprecated)}`);
    }
  }
  return { kind: 'markdown', value: lines.join('\n') };
}
