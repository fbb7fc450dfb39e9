// Which package manager a project uses, for "run install": the `packageManager` field, else the lockfile
// beside package.json, else npm.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const BY_LOCKFILE: [file: string, command: string][] = [
  ['pnpm-lock.yaml', 'pnpm install'],
  ['yarn.lock', 'yarn install'],
  ['bun.lock', 'bun install'],
  ['bun.lockb', 'bun install'],
  ['package-lock.json', 'npm install'],
  ['npm-shrinkwrap.json', 'npm install'],
];

/** Always one of a fixed set of commands: nothing from package.json reaches the terminal verbatim. */
export function installCommand(dir: string, manifest: { packageManager?: unknown }): string {
  const declared = typeof manifest.packageManager === 'string' ? /^(npm|pnpm|yarn|bun)@/.exec(manifest.packageManager)?.[1] : undefined;
  if (declared) return `${declared} install`;
  return BY_LOCKFILE.find(([file]) => existsSync(join(dir, file)))?.[1] ?? 'npm install';
}
