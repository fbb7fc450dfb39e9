// `citadel perf:benchmark`: Citadel side by side with npm, pnpm and bun, lockfile-only and cold, on
// the loopback fixture registry with injected latency, reported as medians and ratios, with the
// physical floor (graph depth x latency + parse time) computed from the fixture itself.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { loadNpmConfig } from '../engine/npmrc';
import { parseManifest } from '../engine/project';
import { createRegistryClient } from '../engine/registryClient';
import { resolve as resolveTree } from '../engine/resolver';
import type { Manifest, Packument } from '../engine/types';
import { startTestRegistry, type TestRegistry } from '../testRegistry/server';

interface Sample {
  wallMs: number;
  cpuMs: number;
  rssMb: number;
  requests: number;
  rc: number;
}

interface ToolSpec {
  name: string;
  /** argv, given the project dir, the registry URL and a private home dir. */
  argv(dir: string, registry: string, home: string): string[];
  available(): boolean;
}

const bin = (name: string) => resolve('node_modules/.bin', name);

function tools(cli: string, legacyPeerDeps: boolean): ToolSpec[] {
  return [
    {
      name: 'citadel',
      argv: (dir, registry) => [process.execPath, cli, 'resolve', dir, '--registry', registry, '--json'],
      available: () => existsSync(cli),
    },
    {
      name: 'npm',
      argv: (_dir, registry, home) => [
        'npm', 'install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', registry, '--cache', join(home, '.npm'),
        ...(legacyPeerDeps ? ['--legacy-peer-deps'] : []),
      ],
      available: () => true,
    },
    {
      name: 'pnpm',
      argv: (_dir, registry, home) => [bin('pnpm'), 'install', '--lockfile-only', '--ignore-scripts', '--registry', registry, '--store-dir', join(home, '.pnpm-store')],
      available: () => existsSync(bin('pnpm')),
    },
    {
      name: 'bun',
      argv: (_dir, registry) => [bin('bun'), 'install', '--lockfile-only', '--registry', registry],
      available: () => existsSync(bin('bun')),
    },
  ];
}

function isolatedEnv(home: string, legacyPeerDeps: boolean): NodeJS.ProcessEnv {
  const userconfig = join(home, '.npmrc');
  writeFileSync(userconfig, '');
  return {
    PATH: process.env.PATH,
    HOME: home,
    npm_config_userconfig: userconfig,
    npm_config_globalconfig: userconfig,
    npm_config_update_notifier: 'false',
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_STATE_HOME: join(home, '.local/state'),
    BUN_INSTALL_CACHE_DIR: join(home, '.bun-cache'),
    ...(legacyPeerDeps ? { npm_config_legacy_peer_deps: 'true' } : {}),
  };
}

/** Runs one command under GNU time for CPU time and peak RSS of its process tree. */
function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Omit<Sample, 'requests'>> {
  const out = join(cwd, '..', 'time.txt');
  return new Promise((ok) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', out, ...argv], { cwd, env, stdio: 'ignore' });
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const [user, sys, rssKb] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      ok({ wallMs, cpuMs: (user + sys) * 1000, rssMb: rssKb / 1024, rc: code ?? -1 });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Graph depth by names and the CPU time to decompress and parse every packument of the closure. */
async function physicalFloor(reg: TestRegistry, manifestText: string, legacyPeerDeps: boolean) {
  const manifest = parseManifest(manifestText, 'package.json');
  const docs = new Map<string, Packument>();
  const client = createRegistryClient(loadNpmConfig({ cli: { registry: reg.url }, env: {} }));
  const source = {
    packument: async (name: string) => {
      const f = await client.packument(name);
      docs.set(name, f.packument);
      return f;
    },
  };
  const result = await resolveTree({ manifest, source, legacyPeerDeps });
  client.close();
  const byName = new Map<string, Manifest[]>();
  for (const p of result.packages) {
    const m = docs.get(p.realName ?? p.name)?.versions[p.version];
    if (m) byName.set(p.name, [...(byName.get(p.name) ?? []), m]);
  }
  const depsOf = (m: { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }) =>
    Object.keys({ ...m.dependencies, ...m.optionalDependencies, ...(legacyPeerDeps ? {} : m.peerDependencies) });
  let level = depsOf({ ...manifest, dependencies: { ...manifest.dependencies, ...manifest.devDependencies } }).filter((n) => byName.has(n));
  const seen = new Set(level);
  let depth = 0;
  while (level.length) {
    depth++;
    const next: string[] = [];
    for (const name of level) {
      for (const m of byName.get(name)!) {
        for (const d of depsOf(m)) {
          if (byName.has(d) && !seen.has(d)) {
            seen.add(d);
            next.push(d);
          }
        }
      }
    }
    level = next;
  }
  // Parse cost: the abbreviated, gzipped documents as the registry sends them, decoded in this process.
  const bodies = await Promise.all([...docs.keys()].map((name) => rawGzip(reg.url, name)));
  const t0 = performance.now();
  for (const b of bodies) JSON.parse(gunzipSync(b).toString('utf8'));
  return { depth, parseMs: performance.now() - t0, packuments: docs.size, packages: result.packages.length };
}

function rawGzip(registry: string, name: string): Promise<Buffer> {
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

export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      fixture: { type: 'string', default: 'large' },
      latency: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      'npm-runs': { type: 'string', default: '1' },
      tools: { type: 'string', default: 'citadel,npm,pnpm,bun' },
      store: { type: 'string', default: 'test/fixtures/registry' },
      projects: { type: 'string', default: 'test/fixtures/projects' },
      out: { type: 'string', default: '.bench' },
    },
  });
  const fixtureDir = resolve(values.projects, values.fixture);
  const manifestPath = join(fixtureDir, 'package.json');
  if (!existsSync(manifestPath) || !existsSync(values.store)) {
    process.stderr.write(`citadel perf:benchmark: needs ${manifestPath} and the fixture store ${values.store} (run it from the repository)\n`);
    return 2;
  }
  const manifestText = readFileSync(manifestPath, 'utf8');
  // pnpm's own benchmark runs this fixture with legacy peer deps, on which npm otherwise fails.
  const legacyPeerDeps = values.fixture === 'large';
  const cli = resolve(__filename);
  const selected = tools(cli, legacyPeerDeps).filter((t) => values.tools.split(',').includes(t.name) && t.available());
  const versions = Object.fromEntries(
    selected.filter((t) => t.name !== 'citadel').map((t) => [t.name, execFileSync(t.argv('', '', '')[0], ['--version'], { encoding: 'utf8' }).trim()]),
  );
  const report: Record<string, unknown>[] = [];
  const lines = [
    `Fixture \`${values.fixture}\`, lockfile-only, no lockfile, every cache cold; medians of ${values.runs} runs (npm: ${values['npm-runs']}).`,
    `Versions: node ${process.version}, ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    '| latency | tool | wall ms (min-max) | CPU ms | peak RSS MB | requests | citadel / tool | tool / floor |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const latency of values.latency.split(',').map(Number)) {
    const reg = await startTestRegistry({ store: resolve(values.store), latencyMs: 0 });
    try {
      const floor = await physicalFloor(reg, manifestText, legacyPeerDeps);
      const floorMs = floor.depth * latency + floor.parseMs;
      reg.setLatency(latency);
      process.stderr.write(`latency ${latency} ms: ${floor.packages} packages, depth ${floor.depth}, parse ${Math.round(floor.parseMs)} ms, floor ${Math.round(floorMs)} ms\n`);
      const medians = new Map<string, Sample & { min: number; max: number }>();
      for (const tool of selected) {
        const samples: Sample[] = [];
        const runs = Number(tool.name === 'npm' ? values['npm-runs'] : values.runs);
        for (let i = 0; i < runs; i++) {
          const scratch = mkdtempSync(join(tmpdir(), `citadel-bench-${tool.name}-`));
          const dir = join(scratch, 'project');
          const home = join(scratch, 'home');
          mkdirSync(dir);
          mkdirSync(home);
          copyFileSync(manifestPath, join(dir, 'package.json'));
          reg.resetLog();
          const s = await timed(tool.argv(dir, reg.url, home), dir, isolatedEnv(home, legacyPeerDeps));
          samples.push({ ...s, requests: reg.log.length });
          rmSync(scratch, { recursive: true, force: true });
          process.stderr.write(`  ${tool.name} run ${i + 1}: ${Math.round(s.wallMs)} ms (rc ${s.rc})\n`);
        }
        const walls = samples.map((s) => s.wallMs);
        medians.set(tool.name, {
          wallMs: median(walls),
          min: Math.min(...walls),
          max: Math.max(...walls),
          cpuMs: median(samples.map((s) => s.cpuMs)),
          rssMb: median(samples.map((s) => s.rssMb)),
          requests: median(samples.map((s) => s.requests)),
          rc: Math.max(...samples.map((s) => s.rc)),
        });
      }
      const citadel = medians.get('citadel');
      for (const [name, m] of medians) {
        const ratio = citadel && name !== 'citadel' ? (citadel.wallMs / m.wallMs).toFixed(2) : '';
        lines.push(
          `| ${latency} | ${name}${m.rc ? ` (rc ${m.rc})` : ''} | ${Math.round(m.wallMs)} (${Math.round(m.min)}-${Math.round(m.max)}) | ${Math.round(m.cpuMs)} | ${Math.round(m.rssMb)} | ${m.requests} | ${ratio} | ${(m.wallMs / floorMs).toFixed(2)} |`,
        );
        report.push({ fixture: values.fixture, latency, tool: name, ...m, floorMs, depth: floor.depth, parseMs: floor.parseMs });
      }
      lines.push(`| ${latency} | floor | ${Math.round(floorMs)} (depth ${floor.depth} x ${latency} + parse ${Math.round(floor.parseMs)}) | | | ${floor.packuments} | | 1.00 |`);
    } finally {
      await reg.close();
    }
  }
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'results.json'), JSON.stringify(report, null, 2));
  writeFileSync(join(values.out, 'results.md'), lines.join('\n') + '\n');
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
