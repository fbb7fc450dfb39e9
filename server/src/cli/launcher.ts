// The `citadel` bin: loads the CLI bundle (cli-main.js) through V8's code cache (see codeCache.ts).
// latin1: the build makes the bundle ASCII, and decoding it as UTF-8 took ~4 ms of a warm run.
import { setFlagsFromString } from 'node:v8';
import { loadCached } from '../codeCache';

// V8 11 (Node 20) has a function optimized by TurboFan once it has run ~66 kB of bytecode. A cold
// resolution gets a few hundred functions that far, in two isolates (the main thread and the cache
// thread), and compiling them took ~0.4 s of CPU on V8's helper threads, taken on a 2-core machine
// from the resolution itself. With a budget 4.5 times larger only the really hot ones are: a cold
// `citadel resolve` of the large fixture took 7% less time (933 against 1,004 ms, 8 alternating runs);
// the small fixture's the same at the benchmark's 20 ms latency (646 against 658). Code left
// unoptimized costs a short run: a warm run took 3 ms more (88 against 85), and small projects ~20 ms
// more against a registry with no latency (monorepo fixture: 358 against 335 ms). 18 times the budget
// gained no more on the large fixture (930 ms) and cost those more (warm 91 ms, monorepo 346).
// Only for the commands that resolve once and exit: a process that resolves again and again (the
// perf commands, like the language server) wants its hot code optimized early (an in-process
// rebuild took 44-48 ms with 18 times the budget against 34-37). V8 12 (Node 22 and later) tiers up
// through Maglev first and has no such flag.
const ONE_SHOT = ['resolve', 'check'];
if (Number.parseInt(process.versions.v8, 10) === 11 && ONE_SHOT.includes(process.argv[2])) setFlagsFromString('--interrupt-budget=300000');

const SHORT_RUN_MS = 1000;
// At exit the functions the run compiled lazily are in the cache too. Not after a long run: by the end
// of a cold resolution V8 has flushed the bytecode of what ran at start, and a cache written then made
// every warm run ~35 ms slower (95-115 against 60-75 ms). The next short run writes it.
const cli = loadCached<{ run(): void }>('cli-main', 'latin1', (save) => process.once('exit', () => performance.now() <= SHORT_RUN_MS && save()));
cli.run();
