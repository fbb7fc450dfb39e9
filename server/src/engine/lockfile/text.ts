// Checks every lockfile format shares before its parser runs, and problem construction with a position.
import type { Node, ParseError } from 'jsonc-parser';
import { jsonc as jsoncParser } from '../lazy';
import { lineColumn } from '../project';
import type { DepMap } from '../types';
import type { LockfileProblem } from './model';

/** The value when it is a plain object, else an empty one: a damaged or hostile file puts anything anywhere. */
export function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A dependency map's `name: spec` entries whose spec is a string; anything else is dropped. */
export function depMap(v: unknown): DepMap {
  return Object.fromEntries(Object.entries(record(v)).filter(([, spec]) => typeof spec === 'string')) as DepMap;
}

export function invalid(file: string, message: string, line = 1, column = 1): LockfileProblem {
  return { code: 'invalid-lockfile', severity: 'error', message, file, line, column };
}

/**
 * Git leaves `<<<<<<<` / `=======` / `>>>>>>>` in a lockfile merged without regenerating it; no parser
 * gives a useful error for that, so it is found first and named for what it is.
 */
export function conflictMarkers(text: string, file: string): LockfileProblem | undefined {
  const m = /^<<<<<<< ?.*$/m.exec(text);
  if (!m) return undefined;
  const { line } = lineColumn(text, m.index);
  const count = text.match(/^<<<<<<< ?.*$/gm)?.length ?? 1;
  return invalid(file, `${count} unresolved merge conflict${count > 1 ? 's' : ''} (first at line ${line}): regenerate the lockfile with your package manager instead of merging it by hand`, line, 1);
}

/** Package managers always end a lockfile with a newline; one that does not was cut short (a partial write or copy). */
export function truncatedText(text: string, file: string): LockfileProblem | undefined {
  if (text.length === 0 || text.endsWith('\n')) return undefined;
  const { line, column } = lineColumn(text, text.length);
  return invalid(file, 'the lockfile ends mid-line: it looks truncated', line, column);
}

export interface JsonDoc {
  /** The document as plain objects. */
  value: unknown;
  /** For the object at `path`: each key's 1-based line (one pass, so large lockfiles stay linear). */
  keyLines(path: string[]): Map<string, number>;
}

/**
 * JSON (npm) or JSONC with trailing commas (bun.lock). Strict JSON goes through JSON.parse (native, ~30x
 * faster than a JS parser on a large lockfile); the position-keeping tree is built only when lines are asked
 * for or the text does not parse.
 */
export function parseJson(text: string, file: string, jsonc: boolean): JsonDoc | LockfileProblem {
  let fast: unknown;
  if (!jsonc) {
    try {
      fast = JSON.parse(text);
    } catch {
      // reported below, with the position jsonc-parser finds
    }
  }
  let tree: Node | undefined;
  const errors: ParseError[] = [];
  const getTree = (): Node | undefined => (tree ??= jsoncParser().parseTree(text, errors, { allowTrailingComma: jsonc, disallowComments: !jsonc }));
  if (fast === undefined) {
    const root = getTree();
    if (errors.length || !root) {
      // The parser recovers and reports on: an error reaching the very end (or a string, comment or number
      // left open) means the document stopped before it closed, which is a cut file rather than a typo.
      const end = text.trimEnd().length;
      const open = new Set(['UnexpectedEndOfString', 'UnexpectedEndOfComment', 'UnexpectedEndOfNumber']);
      if (errors.some((e) => open.has(jsoncParser().printParseErrorCode(e.error)) || e.offset + e.length >= end)) {
        const { line, column } = lineColumn(text, end);
        return invalid(file, 'the lockfile is truncated (the JSON ends before it closes)', line, column);
      }
      const e = errors[0];
      const { line, column } = lineColumn(text, e?.offset ?? 0);
      return invalid(file, `invalid JSON (${e ? jsoncParser().printParseErrorCode(e.error) : 'empty'})`, line, column);
    }
    // jsonc-parser's objects have no prototype; the model hands out plain ones.
    fast = JSON.parse(JSON.stringify(jsoncParser().getNodeValue(root)));
  }
  if (!fast || typeof fast !== 'object' || Array.isArray(fast)) return invalid(file, 'the lockfile must hold a JSON object');
  return {
    value: fast,
    keyLines: (path) => {
      const lines = new Map<string, number>();
      const root = getTree();
      const node = root && jsoncParser().findNodeAtLocation(root, path);
      if (node?.type !== 'object') return lines;
      // Offsets grow through the file, so one forward scan counts the newlines for every key.
      let line = 1;
      let at = 0;
      for (const prop of node.children ?? []) {
        for (; at < prop.offset; at++) if (text.charCodeAt(at) === 10) line++;
        lines.set(String(prop.children?.[0]?.value), line);
      }
      return lines;
    },
  };
}
