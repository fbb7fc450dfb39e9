// The `citadel` bin: loads the CLI bundle (cli-main.js, ~1.3 MB) through V8's code cache. Node 20 has
// no compile cache of its own (module.enableCompileCache came in 22), and compiling the bundle was a
// third of a warm `citadel resolve`. The cache sits in Citadel's cache dir, keyed by the bundle's size
// and mtime and the Node version; V8 checks it too and rejects a stale or damaged one, which is then
// rewritten. Any failure here costs only speed: the bundle still runs.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { defaultCacheDir } from '../engine/cache/cacheDir';

const bundle = join(__dirname, 'cli-main.js');
// latin1: the build makes the bundle ASCII, and decoding 700 kB as UTF-8 took ~4 ms of a warm run.
const source = readFileSync(bundle, 'latin1');
const { size, mtimeMs } = statSync(bundle);
const dir = join(defaultCacheDir(), 'v8');
const cacheFile = join(dir, `cli-${process.version}-${size}-${Math.round(mtimeMs)}.bin`);
const SHORT_RUN_MS = 1000;
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  /* first run */
}
const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
if (!cachedData || script.cachedDataRejected) {
  // At exit the functions the run compiled lazily are in the cache too. Not after a long run: by the end
  // of a cold resolution V8 has flushed the bytecode of what ran at start (functions unused over several
  // collections), and a cache written then made every warm run ~35 ms slower (95-115 against 60-75 ms).
  // The next short run writes it.
  process.once('exit', () => {
    if (performance.now() > SHORT_RUN_MS) return;
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
const mod = { exports: {} as { run(): void } };
(script.runInThisContext() as (...args: unknown[]) => void).call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, __dirname);
mod.exports.run();
