// Running tools in fresh processes for the benchmarks: an isolated home (no user npm config, private
// caches), GNU time for CPU time and peak RSS of the process tree, and the loopback registry's
// request log for requests and bytes.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestLogEntry, TestRegistry } from '../testRegistry/server';

export interface ProcessSample {
  wallMs: number;
  /** User + system time of the process and every child it waited for. */
  cpuMs: number;
  /** Peak resident set of the largest process of the tree (getrusage RUSAGE_CHILDREN). */
  rssMb: number;
  rc: number;
  stdout: string;
}

export function isolatedEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Two files: npm refuses to load one file as both user and global config.
  const userconfig = join(home, '.npmrc');
  const globalconfig = join(home, '.npmrc-global');
  if (!existsSync(userconfig)) writeFileSync(userconfig, '');
  if (!existsSync(globalconfig)) writeFileSync(globalconfig, '');
  return {
    PATH: process.env.PATH,
    HOME: home,
    npm_config_userconfig: userconfig,
    npm_config_globalconfig: globalconfig,
    npm_config_update_notifier: 'false',
    pnpm_config_update_notifier: 'false',
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_STATE_HOME: join(home, '.local/state'),
    BUN_INSTALL_CACHE_DIR: join(home, '.bun-cache'),
    ...extra,
  };
}

const HAS_GNU_TIME = existsSync('/usr/bin/time');

/** Runs argv under GNU time (when present); resolves when the process tree has exited. */
export function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv, timeFile: string, captureStdout = false): Promise<ProcessSample> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const cmd = HAS_GNU_TIME ? ['/usr/bin/time', '-f', '%U %S %M', '-o', timeFile, ...argv] : argv;
    const child = spawn(cmd[0], cmd.slice(1), { cwd, env, stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', fail);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      let cpuMs = NaN;
      let rssMb = NaN;
      if (HAS_GNU_TIME) {
        const [user, sys, rssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
        cpuMs = (user + sys) * 1000;
        rssMb = rssKb / 1024;
      }
      ok({ wallMs, cpuMs, rssMb, rc: code ?? -1, stdout: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/**
 * Bytes the registry sent for a request log: each 200's representation size as served (abbreviated or
 * full, gzipped or not), measured once per variant with a side request at zero latency; 304s carry
 * no body. The registry's own log has no sizes, and these are stable, so they are memoized.
 */
export class ByteCounter {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly reg: TestRegistry) {}

  async bytes(log: readonly RequestLogEntry[], latencyMs: number): Promise<number> {
    const variants = new Map<string, RequestLogEntry>();
    for (const e of log) if (e.status === 200) variants.set(this.key(e), e);
    const missing = [...variants].filter(([k]) => !this.sizes.has(k));
    if (missing.length) {
      this.reg.setLatency(0);
      try {
        for (let i = 0; i < missing.length; i += 32) {
          await Promise.all(missing.slice(i, i + 32).map(async ([k, e]) => this.sizes.set(k, await this.fetchSize(e))));
        }
      } finally {
        this.reg.setLatency(latencyMs);
      }
    }
    let total = 0;
    for (const e of log) if (e.status === 200) total += this.sizes.get(this.key(e)) ?? 0;
    return total;
  }

  private key(e: RequestLogEntry): string {
    const accept = String(e.headers.accept ?? '').includes('application/vnd.npm.install-v1+json') ? 'a' : 'f';
    const gzip = /\bgzip\b/.test(String(e.headers['accept-encoding'] ?? '')) ? 'z' : '-';
    return `${accept}${gzip} ${e.url}`;
  }

  private fetchSize(e: RequestLogEntry): Promise<number> {
    return new Promise((ok) => {
      const headers: Record<string, string> = {};
      if (e.headers.accept) headers.accept = String(e.headers.accept);
      if (e.headers['accept-encoding']) headers['accept-encoding'] = String(e.headers['accept-encoding']);
      const req = request(new URL(e.url, this.reg.url), { method: 'HEAD', headers }, (res) => {
        res.resume();
        ok(Number(res.headers['content-length'] ?? 0));
      });
      req.on('error', () => ok(0));
      req.end();
    });
  }
}

export interface SweepOptions {
  reg: TestRegistry;
  cli: string;
  fixtureDir: string;
  legacyPeerDeps: boolean;
  /** Concurrency settings: a number is `--concurrency N`; 'adaptive' passes none (the default). */
  settings: readonly (number | 'adaptive')[];
  latencies: readonly number[];
  runs: number;
  say: (line: string) => void;
}

export interface SweepSample {
  setting: string;
  latencyMs: number;
  wallMs: number;
  cpuMs: number;
}

/**
 * Citadel cold (empty cache, no lockfile, fresh process) per concurrency setting and latency. Each
 * round runs every cell once, in a rotated order, so drifting load from other work on the machine
 * spreads over all settings instead of landing on one.
 */
export async function concurrencySweep(o: SweepOptions): Promise<SweepSample[]> {
  const root = mkdtempSync(join(tmpdir(), 'citadel-sweep-'));
  const samples: SweepSample[] = [];
  try {
    const dir = join(root, 'project');
    const home = join(root, 'home');
    cpSync(o.fixtureDir, dir, { recursive: true, filter: (src) => !src.endsWith('/package-lock.json') });
    mkdirSync(home);
    const env = isolatedEnv(home, o.legacyPeerDeps ? { npm_config_legacy_peer_deps: 'true' } : {});
    const cells = o.latencies.flatMap((latencyMs) => o.settings.map((setting) => ({ latencyMs, setting })));
    for (let r = 0; r < o.runs; r++) {
      for (let i = 0; i < cells.length; i++) {
        // Each round starts one latency block and one setting further on, so no cell keeps its slot.
        const { latencyMs, setting } = cells[(i + r * (o.settings.length + 1)) % cells.length];
        const cache = join(home, 'cache');
        rmSync(cache, { recursive: true, force: true });
        const argv = [process.execPath, o.cli, 'resolve', dir, '--registry', o.reg.url, '--json', '--cache-dir', cache, ...(setting === 'adaptive' ? [] : ['--concurrency', String(setting)])];
        o.reg.setLatency(latencyMs);
        const s = await timed(argv, dir, env, join(root, 'time.txt'));
        o.reg.setLatency(0);
        if (s.rc > 1 || s.rc < 0) throw new Error(`citadel resolve exited with ${s.rc} (concurrency ${setting}, latency ${latencyMs})`);
        samples.push({ setting: String(setting), latencyMs, wallMs: s.wallMs, cpuMs: s.cpuMs });
        o.say(`  round ${r + 1}: L=${latencyMs} concurrency ${setting}: ${Math.round(s.wallMs)} ms`);
      }
    }
    return samples;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
