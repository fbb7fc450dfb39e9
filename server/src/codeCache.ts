// Loading a bundle through V8's code cache, for the `citadel` bin and the language server. Node 20 has
// no compile cache of its own (module.enableCompileCache came in 22), and compiling a bundle is a good
// part of a short run: a third of a warm `citadel resolve`, ~35 ms of a language server's start (150
// against 115 ms to its answer to `initialize`). The cache sits in Citadel's cache dir, keyed by the
// bundle's size and mtime and the Node version; V8 checks it too and rejects a stale or damaged one,
// which is then rewritten. Any failure here costs only speed: the bundle still runs.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { defaultCacheDir } from './engine/cache/cacheDir';

/**
 * Runs `bundle` (a CommonJS file beside this one) and returns its exports. Without a usable cache,
 * `whenToSave` is handed the function that writes one: the functions compiled by the time it runs are
 * in it, so it should run once the bundle has done what it does at every start, and before V8 flushes
 * the bytecode of what ran first (functions unused over several collections).
 */
export function loadCached<T>(name: string, encoding: 'latin1' | 'utf8', whenToSave: (save: () => void) => void): T {
  const bundle = join(__dirname, `${name}.js`);
  const source = readFileSync(bundle, encoding);
  const { size, mtimeMs } = statSync(bundle);
  const dir = join(defaultCacheDir(), 'v8');
  const cacheFile = join(dir, `${name}-${process.version}-${size}-${Math.round(mtimeMs)}.bin`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    /* first run */
  }
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    whenToSave(() => {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, cacheFile);
      } catch {
        /* read-only cache dir: run without */
      }
    });
  }
  const mod = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void).call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, __dirname);
  return mod.exports;
}
