// `npm run package`: a production build (minified bundles) packaged as citadel-<version>.vsix with
// @vscode/vsce, run on the local Node 24 that scripts/vscodeTools.mjs installs into .tools/.
// The .vsix holds what .vscodeignore allows: the bundles, package.json and the README.
// Usage: node scripts/package.mjs [--out FILE]   (or import { packageExtension } from it)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureVsce, node24, vsce } from './vscodeTools.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../..');

/** Builds and packages; returns the .vsix path. */
export function packageExtension(out) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const file = resolve(root, out ?? `citadel-${version}.vsix`);
  ensureVsce();
  mkdirSync(dirname(file), { recursive: true });
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  // The bundles carry their dependencies, so node_modules stays out; no repository or LICENSE file yet.
  execFileSync(node24, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', file], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return file;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  packageExtension(i === -1 ? undefined : process.argv[i + 1]);
}
