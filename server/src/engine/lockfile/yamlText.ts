// YAML lockfiles (pnpm-lock.yaml, yarn berry's yarn.lock). Values come from yarn's own parser (@yarnpkg/parsers,
// js-yaml underneath: an order of magnitude faster than `yaml` on a 1,000-package lockfile); it gives no
// positions, so entry lines come from one scan of the text, and `yaml` is only asked where a broken file breaks.
import { yaml, yarnParsers } from '../lazy';
import type { LockfileProblem } from './model';
import { invalid } from './text';

/**
 * The parsed document, every scalar a string (yarn's parser uses YAML's failsafe schema: `true` is 'true'),
 * or the problem with the position `yaml` finds.
 */
export function parseYaml(text: string, file: string, what: string): { value: Record<string, unknown> } | { problem: LockfileProblem } {
  try {
    const value: unknown = yarnParsers().parseSyml(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return { value: value as Record<string, unknown> };
    return { problem: invalid(file, `invalid ${what} (not a mapping)`) };
  } catch (e) {
    const doc = yaml().parseDocument(text);
    const err = doc.errors[0];
    const message = err ? err.message.split('\n')[0] : e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { problem: invalid(file, `invalid ${what} (${message})`, err?.linePos?.[0].line ?? 1, err?.linePos?.[0].col ?? 1) };
  }
}

/** `'@s/a@1.0.0'`, `"a@npm:1"` or a plain key → the key; quoted keys are what lets them hold ': '. */
function keyOf(rest: string): string | undefined {
  if (rest.startsWith("'")) {
    const m = /^'((?:[^']|'')*)':(?: |$)/.exec(rest);
    return m?.[1].replace(/''/g, "'");
  }
  if (rest.startsWith('"')) {
    const m = /^("(?:[^"\\]|\\.)*"):(?: |$)/.exec(rest);
    if (!m) return undefined;
    try {
      return JSON.parse(m[1]) as string;
    } catch {
      return m[1].slice(1, -1); // YAML escapes JSON does not know (or a damaged key): the raw text
    }
  }
  const m = /^([^\s#][^:]*(?::[^ ][^:]*)*):(?: |$)/.exec(rest);
  return m?.[1];
}

/**
 * Lines of map keys at the top level ('' section) and one level in (by section), 1-based: the layout both
 * pnpm and yarn write (two-space indentation).
 */
export function yamlKeyLines(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>([['', new Map()]]);
  let section = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0 || line[0] === '#') continue;
    if (line[0] !== ' ') {
      const key = keyOf(line);
      if (key === undefined) continue;
      out.get('')!.set(key, i + 1);
      section = key;
      if (!out.has(section)) out.set(section, new Map());
    } else if (line.startsWith('  ') && line[2] !== ' ') {
      const key = keyOf(line.slice(2));
      if (key !== undefined && !out.get(section)!.has(key)) out.get(section)!.set(key, i + 1);
    }
  }
  return out;
}
