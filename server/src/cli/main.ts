// The `citadel` command line: the engine, headless, for terminals and CI.
import { resolve as resolvePath } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultCacheDir } from '../engine/cache/diskCache';
import type { CacheMode } from '../engine/cache/cachedSource';
import { resolveProject, type ProjectOptions } from '../engine/project';
import { checkReport } from './check';
import type { EngineEvent } from '../engine/types';
import { BENCH_USAGE, benchCommand } from './bench';
import { loadCommand, PERF_SIM_USAGE, simulateCommand, testResolutionCommand } from './perfSimCommands';
import { analyzeCacheCommand, cacheCommand } from './cacheCommand';
import { PERF_USAGE, perfReportCommand, profileMemoryCommand, traceRecorder } from './perfCommands';
import { registryCommand } from './registryCommand';
import { formatSummary, progressLine } from './format';

const USAGE = `Usage: citadel <command> [options]

Commands:
  resolve [dir]         Resolve the dependency tree of the project in dir (default: .)
      --registry URL      registry to use instead of the one .npmrc names
      --concurrency N     requests in flight (default 32, or maxsockets from .npmrc)
      --lockfile use|ignore  start from package-lock.json as npm does (default), or resolve fresh
      --json              print one JSON object: { packages, problems, stats }
      --trace FILE        write a Chrome trace of the resolution (Perfetto, chrome://tracing)
      --cache-dir DIR     packument cache (default: $XDG_CACHE_HOME/citadel, i.e. ~/.cache/citadel)
      --prefer-offline    use cached documents whatever their age; fetch only what is missing
      --prefer-online     revalidate every cached document with the registry
      --offline           no network: cached documents only; a missing one is an offline-miss error
  check [dir] [--format text|json|sarif]
                        Every problem of the resolution and the lockfile, with file, line and column,
                        and whether the frozen install (npm ci, ...) would fail; takes resolve's options
  cache info|verify|clear [--cache-dir DIR]
                        Show, check (drop corrupt entries) or empty the packument cache
  perf:analyze-cache [dir] [--hit-rate-target 0.94] [--eviction-analysis] [--prediction-accuracy]
                        Resolve dir twice through a scratch cache and report hit rates per tier
  registry serve        Serve the recorded fixture packuments on 127.0.0.1 (see --help there)
  registry record DIR   Record a project's packument closure into the fixture store
${BENCH_USAGE}
${PERF_USAGE}
${PERF_SIM_USAGE}

Exit codes: 0 no errors, 1 errors found, 2 bad usage or unreadable input.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'resolve':
      return resolveCommand(rest);
    case 'check':
      return checkCommand(rest);
    case 'registry':
      return registryCommand(rest);
    case 'perf:benchmark':
      return benchCommand(rest);
    case 'cache':
      return cacheCommand(rest);
    case 'perf:analyze-cache':
      return analyzeCacheCommand(rest);
    case 'perf:simulate':
      return simulateCommand(rest);
    case 'perf:test-resolution':
      return testResolutionCommand(rest);
    case 'perf:load':
      return loadCommand(rest);
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

type Values = Record<string, string | boolean | undefined>;

interface ProjectArgs {
  dir: string;
  values: Values;
  options: Omit<ProjectOptions, 'dir'>;
}

/** The options `resolve` and `check` share; a number is the exit code of a usage error. */
function projectArgs(command: string, args: string[], extra: ParseArgsConfig['options']): ProjectArgs | number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        registry: { type: 'string' },
        concurrency: { type: 'string' },
        lockfile: { type: 'string', default: 'use' },
        'cache-dir': { type: 'string' },
        offline: { type: 'boolean', default: false },
        'prefer-offline': { type: 'boolean', default: false },
        'prefer-online': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        ...extra,
      },
    });
  } catch (err) {
    process.stderr.write(`citadel ${command}: ${(err as Error).message}\n`);
    return 2;
  }
  const { positionals } = parsed;
  const values = parsed.values as Values;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const fail = (message: string): number => {
    process.stderr.write(`citadel ${command}: ${message}\n`);
    return 2;
  };
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) return fail('--concurrency must be a positive integer');
  if (values.lockfile !== 'use' && values.lockfile !== 'ignore') return fail('--lockfile must be "use" or "ignore"');
  if (positionals.length > 1) return fail('at most one project directory');
  const modes = (['offline', 'prefer-offline', 'prefer-online'] as const).filter((m) => values[m]);
  if (modes.length > 1) return fail(`--${modes.join(' and --')} exclude each other`);
  const mode: CacheMode = modes[0] ?? 'default';
  const cacheDir = typeof values['cache-dir'] === 'string' ? resolvePath(values['cache-dir']) : defaultCacheDir();
  return {
    dir: resolvePath(positionals[0] ?? '.'),
    values,
    options: {
      registry: values.registry as string | undefined,
      concurrency,
      lockfile: values.lockfile,
      cache: { dir: cacheDir, mode },
    },
  };
}

function reportFailure(err: unknown): number {
  process.stderr.write(`citadel: ${err instanceof Error ? err.message : String(err)}\n`);
  return 2;
}

async function resolveCommand(args: string[]): Promise<number> {
  const parsed = projectArgs('resolve', args, { json: { type: 'boolean', default: false }, trace: { type: 'string' } });
  if (typeof parsed === 'number') return parsed;
  const { dir, values, options } = parsed;
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
    const recorder = typeof values.trace === 'string' ? traceRecorder(resolvePath(values.trace), onEvent) : undefined;
    const result = await resolveProject({ dir, ...options, onEvent: recorder?.onEvent ?? onEvent });
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
    return reportFailure(err);
  }
}

async function checkCommand(args: string[]): Promise<number> {
  const parsed = projectArgs('check', args, { format: { type: 'string', default: 'text' } });
  if (typeof parsed === 'number') return parsed;
  const { dir, values, options } = parsed;
  if (values.format !== 'text' && values.format !== 'json' && values.format !== 'sarif') {
    process.stderr.write('citadel check: --format must be text, json or sarif\n');
    return 2;
  }
  try {
    const result = await resolveProject({ dir, ...options, lockfileChecks: 'registry' });
    const report = checkReport(dir, result);
    const out = values.format === 'json' ? JSON.stringify(report.json, null, 2) : values.format === 'sarif' ? JSON.stringify(report.sarif, null, 2) : report.text;
    process.stdout.write(out + '\n');
    return report.errors ? 1 : 0;
  } catch (err) {
    return reportFailure(err);
  }
}

/** The process entry: dist/cli.js (launcher.ts) calls it; running this bundle directly works too. */
export function run(): void {
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

if (require.main === module) run();
