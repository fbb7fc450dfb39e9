// Bundles the extension client, the language server, the CLI and the webview with esbuild.
// Usage: node scripts/build.mjs [--watch] [--tests [--out DIR]]   (--tests also transpiles the sources and test/ to DIR, default out/, for node:test)
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');
// Where transpiled tests go; test runs use their own folder so that parallel runs do not collide.
const outArg = process.argv.indexOf('--out');
const testOut = outArg === -1 ? 'out' : process.argv[outArg + 1];
const production = process.env.NODE_ENV === 'production';
// `citadel --version` and the language server's serverInfo (server/src/version.ts).
const define = { CITADEL_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) };

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // jsonc-parser's UMD entry hides its requires from the bundler; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
  define,
};

const builds = [
  { ...node, entryPoints: { client: 'client/src/extension.ts' }, outdir: 'dist', external: ['vscode'] },
  // The server and the bin are small launchers that load their bundles (server-main.js, cli-main.js)
  // through V8's code cache (see server/src/codeCache.ts).
  { ...node, entryPoints: { server: 'server/src/serverLauncher.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { 'server-main': 'server/src/server.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'server/src/cli/launcher.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  // Without whitespace and comments (names kept, for readable stack traces): a warm run reads and
  // hashes half the text. It must stay ASCII: the launcher reads it as latin1 (see below).
  { ...node, entryPoints: { 'cli-main': 'server/src/cli/main.ts' }, outdir: 'dist', minifyWhitespace: true, minifySyntax: true },
  // The cache's writer thread, loaded by path from beside the CLI and server bundles.
  { ...node, entryPoints: { cacheWorker: 'server/src/engine/cache/cacheWorker.ts' }, outdir: 'dist' },
  {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: { webview: 'webview/src/main.ts' },
    outdir: 'dist',
    // uPlot's stylesheet comes in as text and is adopted at run time: one script, no stylesheet to load.
    loader: { '.css': 'text' },
  },
];

function tsFiles(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'node_modules' || f === 'fixtures' ? [] : tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

if (tests) {
  rmSync(testOut, { recursive: true, force: true });
  // Tests run on the transpiled sources (not the bundles) so each file is loaded as written.
  builds.push({
    entryPoints: [...tsFiles('server/src'), ...tsFiles('protocol'), ...tsFiles('webview/src'), ...tsFiles('test')],
    outdir: testOut,
    outbase: '.',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    logLevel: 'warning',
    define,
  });
}

// libzstd as WASM, for a Node without native zstd (see codec.ts): beside the bundles, and in the .vsix.
mkdirSync('dist', { recursive: true });
copyFileSync(join(dirname(createRequire(import.meta.url).resolve('@bokuweb/zstd-wasm')), 'zstd.wasm'), 'dist/zstd.wasm');

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  // esbuild escapes non-ASCII characters in code; a comment could still carry some.
  if (/[^\x00-\x7f]/.test(readFileSync('dist/cli-main.js', 'latin1'))) throw new Error('dist/cli-main.js is not ASCII: the launcher reads it as latin1');
}
