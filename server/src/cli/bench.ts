// `citadel perf:benchmark` (`npm run bench`): Citadel side by side with npm, pnpm and bun, lockfile-only,
// on the loopback fixture registry with injected latency. Modes: cold, warm (disk caches, fresh
// process), hot and incremental (in-process, Citadel only: the language server's case), incremental
// in a fresh process, and with the tools' own lockfiles present. Medians and spread over repeated runs,
// CPU time and peak RSS of each process tree (GNU time), requests and bytes from the registry's log,
// ratios against each peer and against the physical floor (depth x latency + parse time), as JSON and
// markdown. The default is a quick subset; --comprehensive runs the whole matrix.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { MemoryCache } from '../engine/cache/memoryCache';
import { loadNpmConfig } from '../engine/npmrc';
import { parseManifest, resolveProject } from '../engine/project';
import { createRegistryClient } from '../engine/registryClient';
import { resolve as resolveTree } from '../engine/resolver';
import { findWorkspaces } from '../engine/workspaces';
import type { Packument } from '../engine/types';
import type { DirectDependency } from '../engine/api';
import { startTestRegistry, type TestRegistry } from '../testRegistry/server';
import { markdownReport, sweepTable, withRatios, type BenchMode, type BenchRow, type FloorInfo } from '../perf/benchReport';
import { ByteCounter, concurrencySweep, isolatedEnv, timed, type ProcessSample } from '../perf/runner';
import { simGraphFrom } from '../perf/recordGraph';
import { graphDepth } from '../perf/simulator';
import { median, spread } from '../perf/stats';
import { BENCH_USAGE } from './usage';

interface ToolSpec {
  name: string;
  /** argv, given the project dir, the registry URL and the tool's private home (its caches live there). */
  argv(dir: string, registry: string, home: string): string[];
  available(): boolean;
  /** The lockfile it writes (deleted for the no-lockfile modes). */
  lockfile?: string;
  /** Talks HTTP/2 to the registry's h2c port (the same documents and latency). */
  h2c?: boolean;
}

const bin = (name: string) => resolve('node_modules/.bin', name);
/** Citadel's --cache-dir in a run's private home. */
const CITADEL_CACHE = '.citadel-cache';
const LOCKFILES = ['package-lock.json', 'pnpm-lock.yaml', 'bun.lock', 'bun.lockb', 'yarn.lock'];

function tools(cli: string): ToolSpec[] {
  return [
    {
      name: 'citadel',
      argv: (dir, registry, home) => [process.execPath, cli, 'resolve', dir, '--registry', registry, '--json', '--cache-dir', join(home, CITADEL_CACHE)],
      available: () => existsSync(cli),
    },
    {
      name: 'citadel-h2',
      argv: (dir, registry, home) => [process.execPath, cli, 'resolve', dir, '--registry', registry, '--http2', 'prior-knowledge', '--json', '--cache-dir', join(home, CITADEL_CACHE)],
      available: () => existsSync(cli),
      h2c: true,
    },
    {
      name: 'npm',
      argv: (_dir, registry, home) => ['npm', 'install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', registry, '--cache', join(home, '.npm')],
      available: () => true,
      lockfile: 'package-lock.json',
    },
    {
      name: 'pnpm',
      argv: (_dir, registry, home) => [bin('pnpm'), 'install', '--lockfile-only', '--ignore-scripts', '--registry', registry, '--store-dir', join(home, '.pnpm-store')],
      available: () => existsSync(bin('pnpm')),
      lockfile: 'pnpm-lock.yaml',
    },
    {
      name: 'bun',
      argv: (_dir, registry) => [bin('bun'), 'install', '--lockfile-only', '--registry', registry],
      available: () => existsSync(bin('bun')),
      lockfile: 'bun.lock',
    },
  ];
}

const FRESH_MODES: BenchMode[] = ['cold', 'cold-history', 'cold-lock', 'warm', 'stale', 'warm-lock', 'incremental'];
const IN_PROCESS_MODES: BenchMode[] = ['hot', 'incremental-inproc', 'incremental-version'];
const ALL_MODES: BenchMode[] = [...FRESH_MODES, ...IN_PROCESS_MODES];

/** One range edited: the first `^x.y.z` dependency becomes `~x.y.z` (still satisfied by most picks). */
export function editOneRange(text: string): string {
  const m = JSON.parse(text) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  for (const deps of [m.dependencies, m.devDependencies]) {
    for (const [name, spec] of Object.entries(deps ?? {})) {
      if (spec.startsWith('^')) {
        deps![name] = `~${spec.slice(1)}`;
        return JSON.stringify(m, null, 2) + '\n';
      }
    }
  }
  return text;
}

/**
 * Pins the first `^x.y.z` dependency that resolved above x.y.z to x.y.z: its version, and so the tree,
 * changes (an edit the last build cannot answer for).
 */
export function editOneVersion(text: string, direct: DirectDependency[]): string | undefined {
  const m = JSON.parse(text) as { dependencies?: Record<string, string> };
  for (const d of direct) {
    const spec = m.dependencies?.[d.name];
    if (spec?.startsWith('^') && d.version && d.version !== spec.slice(1)) {
      m.dependencies![d.name] = spec.slice(1);
      return JSON.stringify(m, null, 2) + '\n';
    }
  }
  return undefined;
}

/** Graph depth by names and the CPU time to decompress and parse every packument of the closure. */
async function physicalFloor(reg: TestRegistry, fixtureDir: string, legacyPeerDeps: boolean): Promise<Omit<FloorInfo, 'fixture' | 'latencyMs' | 'floorMs'>> {
  const manifest = parseManifest(readFileSync(join(fixtureDir, 'package.json'), 'utf8'), 'package.json');
  const { workspaces } = findWorkspaces(fixtureDir, manifest);
  const docs = new Map<string, Packument>();
  const client = createRegistryClient(loadNpmConfig({ cli: { registry: reg.url }, env: {} }));
  const source = {
    packument: async (name: string) => {
      const f = await client.packument(name);
      docs.set(name, f.packument);
      return f;
    },
  };
  const result = await resolveTree({ manifest, workspaces, source, legacyPeerDeps });
  client.close();
  const depth = graphDepth(simGraphFrom(result, docs, manifest, workspaces, legacyPeerDeps));
  // Parse cost: the abbreviated, gzipped documents as the registry sends them, decoded in this process
  // (twice; the second, JIT-warm pass counts).
  const bodies = await Promise.all([...docs.keys()].map((name) => rawGzip(reg.url, name)));
  let parseMs = 0;
  for (let pass = 0; pass < 2; pass++) {
    const t0 = performance.now();
    for (const b of bodies) JSON.parse(gunzipSync(b).toString('utf8'));
    parseMs = performance.now() - t0;
  }
  return { depth, parseMs, packuments: docs.size, packages: result.packages.length };
}

export function rawGzip(registry: string, name: string): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const req = request(new URL(name.replace('/', '%2f'), registry), { headers: { accept: 'application/vnd.npm.install-v1+json', 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok(Buffer.concat(chunks)));
    });
    req.on('error', fail);
    req.end();
  });
}

interface Cell {
  fixture: string;
  fixtureDir: string;
  latency: number;
  legacyPeerDeps: boolean;
  floorMs: number;
}

interface Measured extends Omit<ProcessSample, 'stdout'> {
  requests: number;
  bytes: number;
}

/** A tool's cold runs, and the project its last one left. */
interface ColdRuns {
  samples: Measured[];
  last: { dir: string; home: string };
}

/** Whether the tool runs this mode (Citadel's runs skip cold-lock and warm-lock; cold-history and stale are Citadel's). */
const wants = (tool: ToolSpec, modes: BenchMode[], m: BenchMode): boolean =>
  modes.includes(m) && (tool.name.startsWith('citadel') ? m !== 'cold-lock' && m !== 'warm-lock' : m !== 'cold-history' && m !== 'stale');

class Bench {
  readonly rows: BenchRow[] = [];
  private readonly scratch = mkdtempSync(join(tmpdir(), 'citadel-bench-'));
  private seq = 0;
  readonly bytes: ByteCounter;

  constructor(
    private readonly reg: TestRegistry,
    private readonly say: (line: string) => void,
  ) {
    this.bytes = new ByteCounter(reg);
  }

  /** A fresh copy of the fixture (workspaces included) and an empty home. */
  project(cell: Cell, tool: string): { dir: string; home: string } {
    const root = join(this.scratch, `${tool}-${this.seq++}`);
    const dir = join(root, 'project');
    const home = join(root, 'home');
    cpSync(cell.fixtureDir, dir, { recursive: true, filter: (src) => !LOCKFILES.some((l) => src.endsWith(`/${l}`)) });
    mkdirSync(home, { recursive: true });
    const m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { workspaces?: string[] | { packages?: string[] } };
    // pnpm reads workspaces from its own file only.
    const ws = Array.isArray(m.workspaces) ? m.workspaces : m.workspaces?.packages;
    if (tool === 'pnpm' && ws?.length) writeFileSync(join(dir, 'pnpm-workspace.yaml'), `packages:\n${ws.map((w) => `  - '${w}'`).join('\n')}\n`);
    return { dir, home };
  }

  async run(tool: ToolSpec, cell: Cell, dir: string, home: string, extra: string[] = []): Promise<Measured> {
    this.reg.resetLog();
    const env = isolatedEnv(home, cell.legacyPeerDeps ? { npm_config_legacy_peer_deps: 'true' } : {});
    const s = await timed([...tool.argv(dir, tool.h2c ? this.reg.h2url! : this.reg.url, home), ...extra], dir, env, join(home, '..', 'time.txt'));
    const log = [...this.reg.log];
    return { wallMs: s.wallMs, cpuMs: s.cpuMs, rssMb: s.rssMb, rc: s.rc, requests: log.length, bytes: await this.bytes.bytes(log, cell.latency) };
  }

  record(cell: Cell, mode: BenchMode, tool: string, samples: Measured[]): void {
    if (!samples.length) return;
    const row: BenchRow = {
      fixture: cell.fixture,
      latencyMs: cell.latency,
      mode,
      tool,
      wall: spread(samples.map((s) => s.wallMs)),
      cpuMs: median(samples.map((s) => s.cpuMs)),
      rssMb: median(samples.map((s) => s.rssMb)),
      requests: median(samples.map((s) => s.requests)),
      bytes: median(samples.map((s) => s.bytes)),
      rc: samples.reduce((worst, s) => (Math.abs(s.rc) > Math.abs(worst) ? s.rc : worst), 0),
      floorMs: cell.floorMs,
    };
    this.rows.push(row);
    this.say(`  ${cell.fixture} L=${cell.latency} ${mode} ${tool}: median ${Math.round(row.wall.median)} ms (${samples.map((s) => Math.round(s.wallMs)).join(', ')}), ${row.requests} requests`);
  }

  /**
   * The cold runs of every tool, taken in turns (citadel, npm, pnpm, bun, citadel, ...): run tool after
   * tool, the last one's runs came minutes after the first one's, and a machine that slowed down or sped
   * up meanwhile moved the ratios (bun's median cold run went from 678 to 893 ms, its CPU from 650 to
   * 1,150 ms, between two runs of the benchmark 18 minutes apart). Each tool's last run is kept: its
   * home (caches) and lockfile seed that tool's other modes (freshModes).
   */
  async coldRounds(tools: { tool: ToolSpec; runs: number }[], cell: Cell): Promise<Map<ToolSpec, ColdRuns>> {
    const out = new Map<ToolSpec, ColdRuns>();
    for (let round = 0; tools.some((t) => t.runs > round); round++) {
      for (const { tool, runs } of tools) {
        if (round >= runs) continue;
        const had = out.get(tool);
        if (had) rmSync(join(had.last.dir, '..'), { recursive: true, force: true });
        const last = this.project(cell, tool.name);
        const samples = [...(had?.samples ?? []), await this.run(tool, cell, last.dir, last.home)];
        out.set(tool, { samples, last });
      }
    }
    return out;
  }

  /** The fresh-process modes for one tool after its cold runs, in an order where each reuses what the previous left. */
  async freshModes(tool: ToolSpec, cell: Cell, modes: BenchMode[], runs: number, cold: ColdRuns): Promise<void> {
    const want = (m: BenchMode) => wants(tool, modes, m);
    if (want('cold')) this.record(cell, 'cold', tool.name, cold.samples);
    const { dir, home } = cold.last;
    // The names the cold runs needed, as the usage model recorded them (keyed by this project's path and
    // the registry), set aside before the warm runs add to them.
    const history = join(dir, '..', 'usage');
    if (want('cold-history')) cpSync(join(home, CITADEL_CACHE, 'usage'), history, { recursive: true });
    const lockPath = tool.lockfile ? join(dir, tool.lockfile) : undefined;
    const lock = lockPath && existsSync(lockPath) ? readFileSync(lockPath) : undefined;
    if (want('cold-lock') && lock) {
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        const p = this.project(cell, tool.name);
        writeFileSync(join(p.dir, tool.lockfile!), lock);
        samples.push(await this.run(tool, cell, p.dir, p.home));
        rmSync(join(p.dir, '..'), { recursive: true, force: true });
      }
      this.record(cell, 'cold-lock', tool.name, samples);
    }
    const dropLocks = () => LOCKFILES.forEach((l) => rmSync(join(dir, l), { force: true }));
    if (want('warm')) {
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        dropLocks();
        samples.push(await this.run(tool, cell, dir, home));
      }
      this.record(cell, 'warm', tool.name, samples);
    }
    if (want('stale')) {
      // Every document past its TTL, as on the first run after five minutes: each is revalidated.
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        dropLocks();
        samples.push(await this.run(tool, cell, dir, home, ['--prefer-online']));
      }
      this.record(cell, 'stale', tool.name, samples);
    }
    if ((want('warm-lock') || want('incremental')) && lock) writeFileSync(lockPath!, lock);
    if (want('warm-lock') && lock) {
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) samples.push(await this.run(tool, cell, dir, home));
      this.record(cell, 'warm-lock', tool.name, samples);
    }
    if (want('incremental')) {
      // Each run is one range away from the previous one: edit, then back.
      const original = readFileSync(join(dir, 'package.json'), 'utf8');
      const edited = editOneRange(original);
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        writeFileSync(join(dir, 'package.json'), i % 2 === 0 ? edited : original);
        samples.push(await this.run(tool, cell, dir, home));
      }
      writeFileSync(join(dir, 'package.json'), original);
      this.record(cell, 'incremental', tool.name, samples);
    }
    if (want('cold-history')) {
      // Cold in every other way: no lockfile, no documents, no pick record or result memo, no code cache.
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) {
        dropLocks();
        rmSync(home, { recursive: true, force: true });
        cpSync(history, join(home, CITADEL_CACHE, 'usage'), { recursive: true });
        samples.push(await this.run(tool, cell, dir, home));
      }
      this.record(cell, 'cold-history', tool.name, samples);
    }
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }

  /** Citadel in this process: a memory cache kept across resolutions, as the language server does. */
  async inProcess(cell: Cell, modes: BenchMode[], runs: number): Promise<void> {
    const { dir, home } = this.project(cell, 'citadel-inproc');
    const env = isolatedEnv(home, cell.legacyPeerDeps ? { npm_config_legacy_peer_deps: 'true' } : {});
    const memory = new MemoryCache();
    const original = readFileSync(join(dir, 'package.json'), 'utf8');
    const edited = editOneRange(original);
    const resolveWith = (manifestText?: string) => resolveProject({ dir, registry: this.reg.url, env, manifestText, cache: { memory } });
    const once = async (manifestText?: string): Promise<Measured> => {
      this.reg.resetLog();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await resolveWith(manifestText);
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const log = [...this.reg.log];
      const errors = r.problems.some((p) => p.severity === 'error') ? 1 : 0;
      return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, rssMb: process.memoryUsage().rss / 1024 / 1024, rc: errors, requests: log.length, bytes: await this.bytes.bytes(log, cell.latency) };
    };
    const primed = await resolveWith(); // primes the memory tier
    if (modes.includes('hot')) {
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) samples.push(await once());
      this.record(cell, 'hot', 'citadel', samples);
    }
    if (modes.includes('incremental-inproc')) {
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) samples.push(await once(i % 2 === 0 ? edited : original));
      this.record(cell, 'incremental-inproc', 'citadel', samples);
    }
    const moved = editOneVersion(original, primed.direct);
    if (modes.includes('incremental-version') && moved) {
      const samples: Measured[] = [];
      for (let i = 0; i < runs; i++) samples.push(await once(i % 2 === 0 ? moved : original));
      this.record(cell, 'incremental-version', 'citadel', samples);
    }
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }

  close(): void {
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

async function sweep(cli: string, settings: (number | 'adaptive')[], fixture: string, latencies: number[], runs: number, values: { store: string; projects: string; out: string }): Promise<number> {
  const fixtureDir = resolve(values.projects, fixture);
  if (!existsSync(join(fixtureDir, 'package.json'))) {
    process.stderr.write(`citadel perf:benchmark: no fixture ${fixtureDir}\n`);
    return 2;
  }
  const reg = await startTestRegistry({ store: resolve(values.store), latencyMs: 0 });
  try {
    // One untimed resolution first, so the registry has built every encoding before the timed runs.
    await physicalFloor(reg, fixtureDir, fixture === 'large');
    const say = (line: string) => process.stderr.write(line + '\n');
    const samples = await concurrencySweep({ reg, cli, fixtureDir, legacyPeerDeps: fixture === 'large', settings, latencies, runs, say });
    const md = `Citadel cold on ${fixture}, wall ms, medians of ${runs} runs per cell (${new Date().toISOString().slice(0, 10)}, ${process.version}):\n\n${sweepTable(samples)}`;
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, 'sweep.json'), JSON.stringify({ fixture, runs, samples }, null, 2));
    writeFileSync(join(values.out, 'sweep.md'), md + '\n');
    process.stdout.write(md + '\n');
    return 0;
  } finally {
    await reg.close();
  }
}

export async function benchCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        comprehensive: { type: 'boolean', default: false },
        fixture: { type: 'string' },
        latency: { type: 'string' },
        modes: { type: 'string' },
        runs: { type: 'string' },
        'npm-runs': { type: 'string' },
        tools: { type: 'string', default: 'citadel,npm,pnpm,bun' },
        store: { type: 'string', default: 'test/fixtures/registry' },
        projects: { type: 'string', default: 'test/fixtures/projects' },
        out: { type: 'string', default: '.bench' },
        duration: { type: 'string' },
        'concurrency-sweep': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`citadel perf:benchmark: ${(err as Error).message}\n`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(BENCH_USAGE + '\n');
    return 0;
  }
  const full = values.comprehensive;
  const fixtures = (values.fixture ?? (full ? 'small,medium,large,monorepo' : 'large')).split(',');
  const latencies = (values.latency ?? (full ? '0,20,50' : '20')).split(',').map(Number);
  const modes = (values.modes ?? (full ? ALL_MODES.join(',') : 'cold,warm,hot')).split(',') as BenchMode[];
  const runs = Number(values.runs ?? (full ? 5 : 3));
  const npmRuns = Number(values['npm-runs'] ?? 1);
  const budgetMs = values.duration ? Number(values.duration.replace(/s$/, '')) * 1000 : Infinity;
  const bad = modes.filter((m) => !ALL_MODES.includes(m));
  if (bad.length || latencies.some((l) => !(l >= 0)) || !(runs >= 1) || !(npmRuns >= 1)) {
    process.stderr.write(`citadel perf:benchmark: bad options${bad.length ? ` (unknown modes ${bad.join(', ')})` : ''}\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (!existsSync(values.store)) {
    process.stderr.write(`citadel perf:benchmark: needs the fixture store ${values.store} (run it from the repository)\n`);
    return 2;
  }
  // The bin (launcher.ts), as a user runs it, not this bundle.
  const cli = join(__dirname, 'cli.js');
  if (values['concurrency-sweep'] !== undefined) {
    const settings = values['concurrency-sweep'].split(',').map((s) => (s === 'adaptive' ? s : Number(s)));
    if (settings.some((s) => s !== 'adaptive' && !(Number.isInteger(s) && s > 0))) {
      process.stderr.write('citadel perf:benchmark: --concurrency-sweep takes positive integers and "adaptive"\n');
      return 2;
    }
    return sweep(cli, settings as (number | 'adaptive')[], fixtures[0], (values.latency ?? '0,20,50').split(',').map(Number), runs, values);
  }
  const selected = tools(cli).filter((t) => values.tools.split(',').includes(t.name) && t.available());
  const versions: Record<string, string> = { node: process.version };
  for (const t of selected) if (!t.name.startsWith('citadel')) versions[t.name] = execFileSync(t.argv('', '', '')[0], ['--version'], { encoding: 'utf8' }).trim();
  const say = (line: string) => process.stderr.write(line + '\n');
  const started = Date.now();
  const floors: FloorInfo[] = [];
  const rows: BenchRow[] = [];
  const skipped: string[] = [];
  for (const fixture of fixtures) {
    const fixtureDir = resolve(values.projects, fixture);
    if (!existsSync(join(fixtureDir, 'package.json'))) {
      process.stderr.write(`citadel perf:benchmark: no fixture ${fixtureDir}\n`);
      return 2;
    }
    // pnpm's own benchmark runs this fixture with legacy peer deps, on which npm otherwise fails.
    const legacyPeerDeps = fixture === 'large';
    const reg = await startTestRegistry({ store: resolve(values.store), latencyMs: 0, http2: selected.some((t) => t.h2c) });
    const bench = new Bench(reg, say);
    try {
      // Also warms the registry's encodings, so no tool pays for gzipping the fixture.
      const floor = await physicalFloor(reg, fixtureDir, legacyPeerDeps);
      for (const latency of latencies) {
        if (Date.now() - started > budgetMs) {
          skipped.push(`${fixture} L=${latency}`);
          continue;
        }
        const floorMs = floor.depth * latency + floor.parseMs;
        floors.push({ fixture, latencyMs: latency, floorMs, ...floor });
        say(`${fixture}, latency ${latency} ms: ${floor.packages} packages, ${floor.packuments} packuments, depth ${floor.depth}, parse ${Math.round(floor.parseMs)} ms, floor ${Math.round(floorMs)} ms`);
        reg.setLatency(latency);
        const cell: Cell = { fixture, fixtureDir, latency, legacyPeerDeps, floorMs };
        const fresh = modes.filter((m) => FRESH_MODES.includes(m));
        if (fresh.length) {
          const runsOf = (tool: ToolSpec) => (tool.name === 'npm' ? npmRuns : runs);
          // Without the cold mode, one unrecorded cold run still seeds the others.
          const cold = await bench.coldRounds(selected.map((tool) => ({ tool, runs: wants(tool, fresh, 'cold') ? runsOf(tool) : 1 })), cell);
          for (const tool of selected) await bench.freshModes(tool, cell, fresh, runsOf(tool), cold.get(tool)!);
        }
        const inproc = modes.filter((m) => IN_PROCESS_MODES.includes(m));
        if (inproc.length && selected.some((t) => t.name === 'citadel')) await bench.inProcess(cell, inproc, runs);
      }
    } finally {
      rows.push(...bench.rows);
      bench.close();
      await reg.close();
    }
  }
  const result = withRatios(rows);
  const md = markdownReport(result, floors, { runs, npmRuns, versions, date: new Date().toISOString().slice(0, 10) }) + (skipped.length ? `\n\nSkipped (over --duration): ${skipped.join(', ')}.` : '');
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'results.json'), JSON.stringify({ versions, runs, npmRuns, floors, rows: result }, null, 2));
  writeFileSync(join(values.out, 'results.md'), md + '\n');
  process.stdout.write(md + '\n');
  return 0;
}
