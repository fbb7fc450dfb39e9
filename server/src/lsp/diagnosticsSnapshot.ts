// The last diagnostics published for each package.json, kept on disk beside the packument cache, so a
// new server (a reloaded window) shows them at once while it resolves: the resolution takes hundreds of
// milliseconds even from a warm disk cache, and its own publish replaces them. A snapshot applies only
// to the same manifest text, settings, trust and lockfile and .npmrc files (by size and mtime).
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver';

/** Files beside package.json that change its resolution. */
const INPUTS = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lock', '.npmrc'];

const folder = (cacheDir: string) => join(cacheDir, 'editor');
const fileFor = (cacheDir: string, uri: string) => join(folder(cacheDir), `${createHash('sha256').update(uri).digest('hex').slice(0, 32)}.json`);

/** What the diagnostics of `uri` depend on, as one hash. */
export function snapshotKey(uri: string, text: string, context: unknown): string {
  const dir = dirname(fileURLToPath(uri));
  const files = INPUTS.map((name) => {
    const s = statSync(join(dir, name), { throwIfNoEntry: false });
    return s ? `${name}:${s.size}:${s.mtimeMs}` : '';
  });
  return createHash('sha256').update(JSON.stringify([text, context, files])).digest('hex');
}

export async function readSnapshot(cacheDir: string, uri: string, key: string): Promise<Diagnostic[] | undefined> {
  try {
    const saved = JSON.parse(await readFile(fileFor(cacheDir, uri), 'utf8')) as { key?: unknown; diagnostics?: unknown };
    return saved.key === key && Array.isArray(saved.diagnostics) ? (saved.diagnostics as Diagnostic[]) : undefined;
  } catch {
    return undefined; // none yet, or unreadable: the resolution publishes anyway
  }
}

/** Best effort, written whole (a temporary file renamed) so a reader never sees half of one. */
export async function writeSnapshot(cacheDir: string, uri: string, key: string, diagnostics: Diagnostic[]): Promise<void> {
  const file = fileFor(cacheDir, uri);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(folder(cacheDir), { recursive: true, mode: 0o700 });
    await writeFile(tmp, JSON.stringify({ key, diagnostics }), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true });
  }
}

export function clearSnapshots(cacheDir: string): Promise<void> {
  return rm(folder(cacheDir), { recursive: true, force: true });
}
