// Finding and reading the lockfile a project's package manager would use. Never throws for a bad file:
// a truncated file, merge-conflict markers or an unknown version come back as problems with a position,
// and the caller resolves from package.json alone.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBun } from './bun';
import type { LockfileKind, LockfileResult } from './model';
import { readNpm } from './npm';
import { readPnpm } from './pnpm';
import { conflictMarkers, invalid, truncatedText } from './text';
import { readYarnBerry, readYarnClassic } from './yarn';

/** Candidate files, in the order they are preferred when package.json names no package manager. */
const CANDIDATES: { file: string; manager: 'npm' | 'yarn' | 'pnpm' | 'bun' }[] = [
  // npm itself prefers a shrinkwrap over package-lock.json when both exist.
  { file: 'npm-shrinkwrap.json', manager: 'npm' },
  { file: 'package-lock.json', manager: 'npm' },
  { file: 'pnpm-lock.yaml', manager: 'pnpm' },
  { file: 'yarn.lock', manager: 'yarn' },
  { file: 'bun.lock', manager: 'bun' },
];

/** yarn.lock is berry's YAML when it has `__metadata`; otherwise the classic format. */
export function yarnKind(text: string): 'yarn-berry' | 'yarn-classic' {
  return /^__metadata:/m.test(text) ? 'yarn-berry' : 'yarn-classic';
}

/** The kind of lockfile a file name (and, for yarn.lock, its text) is. */
export function lockfileKind(fileName: string, text: string): LockfileKind | undefined {
  const base = fileName.replace(/^.*[\\/]/, '');
  if (base === 'package-lock.json' || base === 'npm-shrinkwrap.json') return 'npm';
  if (base === 'pnpm-lock.yaml') return 'pnpm';
  if (base === 'bun.lock') return 'bun';
  if (base === 'yarn.lock') return yarnKind(text);
  return undefined;
}

/** Parse lockfile text of a known kind. `file` is used in problems and kept on the model. */
export function parseLockfile(kind: LockfileKind, text: string, file: string): LockfileResult {
  const conflict = conflictMarkers(text, file);
  if (conflict) return { problems: [conflict] };
  // A file cut short can still parse (YAML especially), so this is checked before the parser, not after.
  const truncated = kind === 'npm' || kind === 'bun' ? undefined : truncatedText(text, file);
  if (truncated) return { problems: [truncated] };
  if (text.trim() === '') return { problems: [invalid(file, 'the lockfile is empty')] };
  switch (kind) {
    case 'npm':
      return readNpm(text, file);
    case 'yarn-classic':
      return readYarnClassic(text, file);
    case 'yarn-berry':
      return readYarnBerry(text, file);
    case 'pnpm':
      return readPnpm(text, file);
    case 'bun':
      return readBun(text, file);
  }
}

function packageManagerOf(dir: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { packageManager?: unknown };
    return typeof pkg.packageManager === 'string' ? pkg.packageManager.split('@')[0] : undefined;
  } catch {
    return undefined; // package.json problems are reported by the manifest reader, not here
  }
}

/**
 * The lockfile in `dir` the package manager would read, parsed; null when there is none. When package.json
 * names a manager (`"packageManager": "pnpm@9.1.0"`, corepack's field) its lockfile wins, otherwise the first
 * of npm-shrinkwrap.json, package-lock.json, pnpm-lock.yaml, yarn.lock, bun.lock that exists.
 */
export function readLockfile(dir: string): LockfileResult | null {
  const manager = packageManagerOf(dir);
  const present = CANDIDATES.filter((c) => existsSync(join(dir, c.file)));
  const chosen = present.find((c) => c.manager === manager) ?? present[0];
  if (!chosen) {
    // bun before 1.2 wrote only the binary bun.lockb, which no text parser can read.
    const lockb = join(dir, 'bun.lockb');
    if (existsSync(lockb)) return { problems: [{ ...invalid(lockb, 'bun.lockb is binary and cannot be read: run `bun install --save-text-lockfile` to write bun.lock'), severity: 'warning' }] };
    return null;
  }
  const file = join(dir, chosen.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { problems: [invalid(file, `cannot read the lockfile (${(e as NodeJS.ErrnoException).code ?? String(e)})`)] };
  }
  return { ...parseLockfile(lockfileKind(chosen.file, text)!, text, file), digest: createHash('sha1').update(text).digest('hex') };
}
