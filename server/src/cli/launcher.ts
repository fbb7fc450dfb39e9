// The `citadel` bin: loads the CLI bundle (cli-main.js) through V8's code cache (see codeCache.ts).
// latin1: the build makes the bundle ASCII, and decoding it as UTF-8 took ~4 ms of a warm run.
import { loadCached } from '../codeCache';

const SHORT_RUN_MS = 1000;
// At exit the functions the run compiled lazily are in the cache too. Not after a long run: by the end
// of a cold resolution V8 has flushed the bytecode of what ran at start, and a cache written then made
// every warm run ~35 ms slower (95-115 against 60-75 ms). The next short run writes it.
const cli = loadCached<{ run(): void }>('cli-main', 'latin1', (save) => process.once('exit', () => performance.now() <= SHORT_RUN_MS && save()));
cli.run();
