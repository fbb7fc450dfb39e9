// The `citadel` command line: the engine, headless, for terminals and CI.
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultCacheDir } from '../engine/cache/diskCache';
import type { CacheMode } from '../engine/cache/cachedSource';
import { ManifestError, resolveProject } from '../engine/project';
import type { EngineEvent } from '../engine/types';
import { benchCommand } from './bench';
import { analyzeCacheCommand, cacheCommand } from './cacheCommand';
import { PERF_USAGE, perfReportCommand, profileMemoryCommand, traceRecorder } from './perfCommands';
import { registryCommand } from './registryCommand';
import { formatSummary, progressLine } from './format';

const USAGE = `Usage: citadel <command> [options]

Commands:
  resolve [dir]         Resolve the dependency tree of the project in dir (default: .)
      --registry URL      registry to use instead of the one .npmrc names
      --concurrency N     requests in flight (default 32, or maxsockets from .npmrc)
      --lockfile use|ignore  start from the lockfile (lockfile support is still to come: both resolve fresh)
      --json              print one JSON object: { packages, problems, stats }
      --trace FILE        write a Chrome trace of the resolution (Perfetto, chrome://tracing)
      --cache-dir DIR     packument cache (default: $XDG_CACHE_HOME/citadel, i.e. ~/.cache/citadel)
      --prefer-offline    use cached documents whatever their age; fetch only what is missing
      --prefer-online     revalidate every cached document with the registry
      --offline           no network: cached documents only; a missing one is an offline-miss error
  cache info|verify|clear [--cache-dir DIR]
                        Show, check (drop corrupt entries) or empty the packument cache
  perf:analyze-cache [dir] [--hit-rate-target 0.94] [--eviction-analysis] [--prediction-accuracy]
                        Resolve dir twice through a scratch cache and report hit rates per tier
  registry serve        Serve the recorded fixture packuments on 127.0.0.1 (see --help there)
  registry record DIR   Record a project's packument closure into the fixture store
  perf:benchmark        Citadel beside npm, pnpm and bun on the loopback registry (from the repository)
      --fixture NAME --latency 0,20,50 --runs N --npm-runs N --tools citadel,npm,pnpm,bun
${PERF_USAGE}

Exit codes: 0 no errors, 1 errors found, 2 bad usage or unreadable input.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'resolve':
      return resolveCommand(rest);
    case 'registry':
      return registryCommand(rest);
    case 'perf:benchmark':
      return benchCommand(rest);
    case 'cache':
      return cacheCommand(rest);
    case 'perf:analyze-cache':
      return analyzeCacheCommand(rest);
    case 'perf:report':
      return perfReportCommand(rest);
    case 'perf:profile-memory':
      return profileMemoryCommand(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`citadel: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

async function resolveCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        registry: { type: 'string' },
        concurrency: { type: 'string' },
        lockfile: { type: 'string', default: 'use' },
        json: { type: 'boolean', default: false },
        trace: { type: 'string' },
        'cache-dir': { type: 'string' },
        offline: { type: 'boolean', default: false },
        'prefer-offline': { type: 'boolean', default: false },
        'prefer-online': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`citadel resolve: ${(err as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    process.stderr.write('citadel resolve: --concurrency must be a positive integer\n');
    return 2;
  }
  if (values.lockfile !== 'use' && values.lockfile !== 'ignore') {
    process.stderr.write('citadel resolve: --lockfile must be "use" or "ignore"\n');
    return 2;
  }
  if (positionals.length > 1) {
    process.stderr.write('citadel resolve: at most one project directory\n');
    return 2;
  }
  const modes = (['offline', 'prefer-offline', 'prefer-online'] as const).filter((m) => values[m]);
  if (modes.length > 1) {
    process.stderr.write(`citadel resolve: --${modes.join(' and --')} exclude each other\n`);
    return 2;
  }
  const mode: CacheMode = modes[0] ?? 'default';
  const cacheDir = values['cache-dir'] !== undefined ? resolvePath(values['cache-dir']) : defaultCacheDir();
  const dir = resolvePath(positionals[0] ?? '.');
  const tty = !values.json && process.stderr.isTTY;
  let fetched = 0;
  let picked = 0;
  let lastDraw = 0;
  const onEvent = tty
    ? (e: EngineEvent) => {
        if (e.type === 'fetchEnd') fetched++;
        else if (e.type === 'pick') picked++;
        else return;
        const now = Date.now();
        if (now - lastDraw > 80) {
          lastDraw = now;
          process.stderr.write(`\r\x1b[K${progressLine(fetched, picked)}`);
        }
      }
    : undefined;
  try {
    const recorder = values.trace ? traceRecorder(resolvePath(values.trace), onEvent) : undefined;
    const result = await resolveProject({ dir, registry: values.registry, concurrency, onEvent: recorder?.onEvent ?? onEvent, cache: { dir: cacheDir, mode } });
    await recorder?.write(result);
    if (tty) process.stderr.write('\r\x1b[K');
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    if (values.json) {
      const { packages, problems, stats } = result;
      process.stdout.write(JSON.stringify({ packages, problems, stats }) + '\n');
    } else {
      process.stdout.write(formatSummary(result) + '\n');
    }
    return errors ? 1 : 0;
  } catch (err) {
    if (tty) process.stderr.write('\r\x1b[K');
    if (err instanceof ManifestError) {
      process.stderr.write(`citadel: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`citadel: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`citadel: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
