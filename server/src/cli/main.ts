// The `citadel` command line: the engine, headless, for terminals and CI.
import { resolve as resolvePath } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultCacheDir } from '../engine/cache/cacheDir';
import type { CacheMode } from '../engine/cache/cachedSource';
import { resolveProject, type ProjectOptions } from '../engine/project';
import { HTTP2_MODES, type EngineEvent, type Http2Mode } from '../engine/types';
import { formatSummary, progressLine } from './format';
import { VERSION } from '../version';
import { USAGE } from './usage';

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'resolve':
      return resolveCommand(rest);
    case 'check':
      return checkCommand(rest);
    // The other commands are loaded when run: their modules (an HTTP server, child processes, the
    // inspector) would otherwise be loaded and initialised by every `citadel resolve`.
    case 'registry':
      return (await import('./registryCommand.js')).registryCommand(rest);
    case 'perf:benchmark':
      return (await import('./bench.js')).benchCommand(rest);
    case 'cache':
      return (await import('./cacheCommand.js')).cacheCommand(rest);
    case 'perf:analyze-cache':
      return (await import('./cacheCommand.js')).analyzeCacheCommand(rest);
    case 'perf:simulate':
      return (await import('./perfSimCommands.js')).simulateCommand(rest);
    case 'perf:test-resolution':
      return (await import('./perfSimCommands.js')).testResolutionCommand(rest);
    case 'perf:load':
      return (await import('./perfSimCommands.js')).loadCommand(rest);
    case 'perf:report':
      return (await import('./perfCommands.js')).perfReportCommand(rest);
    case 'perf:profile-memory':
      return (await import('./perfCommands.js')).profileMemoryCommand(rest);
    case '-v':
    case '--version':
      process.stdout.write(VERSION + '\n');
      return 0;
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
        http2: { type: 'string', default: 'auto' },
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
  if (!(HTTP2_MODES as readonly string[]).includes(values.http2 as string)) return fail(`--http2 must be one of ${HTTP2_MODES.join(', ')}`);
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
      http2: values.http2 as Http2Mode,
      lockfile: values.lockfile,
      // The result is printed before the cache's writes finish; the process waits for them to exit.
      cache: { dir: cacheDir, mode, background: true },
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
    const recorder = typeof values.trace === 'string' ? (await import('./perfCommands.js')).traceRecorder(resolvePath(values.trace), onEvent) : undefined;
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
    await result.flushed;
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
    const report = (await import('./check.js')).checkReport(dir, result);
    const out = values.format === 'json' ? JSON.stringify(report.json, null, 2) : values.format === 'sarif' ? JSON.stringify(report.sarif, null, 2) : report.text;
    process.stdout.write(out + '\n');
    await result.flushed;
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
