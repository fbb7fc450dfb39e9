// The soak (`npm run test:soak`, scripts/soak.mjs): 1,000 consecutive resolutions in one process, called
// the way the language server calls the engine (a fresh resolveProject per run with the editor's text
// and a signal, every tenth one superseded mid-way), then 1,000 more under randomly injected registry
// faults. Heap (after a full GC) and open file descriptors (/proc/self/fd) are sampled every 50 runs;
// the verdict is on the heap slope after warm-up and on the descriptors left open.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { resolveProject } from '../../server/src/engine/project';
import type { Fault } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { cleanScratch, cliArg, isolatedProject, openFds, rng, runScript, slope } from './helpers';

const PROJECTS = ['tiny-e1', 'tiny-e2', 'tiny-e4', 'peer-conflict', 'tiny-e3b'];

export interface SoakPhase {
  name: string;
  runs: number;
  superseded: number;
  failedRuns: number;
  problemRuns: number;
  ms: number;
  heapMb: number[];
  fds: number[];
  /** KB of heap per resolution, least squares over the samples after warm-up. */
  heapSlopeKbPerRun: number;
  fdStart: number;
  fdEnd: number;
  fdMax: number;
  rssMb: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc');
  g();
  g();
}

async function phase(name: string, runs: number, faults: boolean, seed: number): Promise<SoakPhase> {
  const reg = await startFixtureRegistry();
  const r = rng(seed);
  const projects = PROJECTS.map((p) => {
    const text = readFileSync(resolvePath('test/fixtures/projects', p, 'package.json'), 'utf8');
    const proj = isolatedProject(text, { npmrc: faults ? 'fetch-retries=2\nfetch-timeout=150\n' : '' });
    return { ...proj, text };
  });
  const heapMb: number[] = [];
  const fds: number[] = [];
  const at: number[] = [];
  let superseded = 0;
  let failedRuns = 0;
  let problemRuns = 0;
  const t0 = performance.now();
  const sample = (i: number) => {
    gc();
    at.push(i);
    heapMb.push(process.memoryUsage().heapUsed / 1e6);
    fds.push(openFds());
  };
  sample(0);
  for (let i = 1; i <= runs; i++) {
    const p = projects[i % projects.length];
    reg.clearFaults();
    // The test registry logs every request with its headers (~3.5 kB per resolution here): cleared so the
    // heap measured is the engine's, not the harness's.
    reg.resetLog();
    if (faults) {
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
      const kinds: Fault[] = [
        { status: pick([500, 502, 503]), times: 1 + Math.floor(r() * 4) },
        { status: 429, retryAfter: 0, times: 1 + Math.floor(r() * 3) },
        { reset: 'before-headers' },
        { reset: 'mid-body' },
        { truncate: true },
        { invalidJson: true },
        { slowBodyMs: 400 },
        { redirectTo: `${reg.url}ms` },
      ];
      for (let k = Math.floor(r() * 3); k > 0; k--) reg.addFault({ ...pick(kinds), match: r() < 0.5 ? undefined : pick(['ms', 'debug', 'react', 'loose-envify', 'scheduler', 'react-dom']) });
    }
    const controller = new AbortController();
    let events = 0;
    const supersede = i % 10 === 0 ? 1 + Math.floor(r() * 6) : 0;
    try {
      const result = await resolveProject({
        dir: p.dir,
        manifestText: p.text,
        registry: reg.url,
        env: p.env,
        trustProjectConfig: true,
        signal: controller.signal,
        onEvent: () => {
          if (supersede && ++events === supersede) controller.abort();
        },
      });
      // A superseded run may end either way (a result with aborted fetches, or a rejection); the server drops it.
      if (controller.signal.aborted) superseded++;
      else if (result.problems.some((x) => x.severity === 'error' && x.code !== 'peer-conflict')) problemRuns++;
    } catch (e) {
      if (controller.signal.aborted) superseded++;
      else {
        failedRuns++;
        console.error(`run ${i}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    if (i % 50 === 0) sample(i);
  }
  const ms = performance.now() - t0;
  await reg.close();
  // Closed sockets leave the descriptor table asynchronously; one more turn of the loop settles it.
  await new Promise((ok) => setImmediate(ok));
  sample(runs);
  const warm = at.map((x, k) => [x, heapMb[k]] as const).filter(([x]) => x >= runs / 5);
  return {
    name,
    runs,
    superseded,
    failedRuns,
    problemRuns,
    ms,
    heapMb: heapMb.map((h) => Math.round(h * 10) / 10),
    fds,
    heapSlopeKbPerRun: Math.round(slope(warm.map(([x]) => x), warm.map(([, h]) => h)) * 1000 * 100) / 100,
    fdStart: fds[1],
    fdEnd: fds[fds.length - 1],
    fdMax: Math.max(...fds),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
  };
}

/** Runs both phases; returns the exit code (0 when heap and descriptors are stable, no run failed). */
export async function soak(opts: { runs: number; seed: number; out?: string; maxSlopeKb?: number }): Promise<number> {
  const phases: SoakPhase[] = [];
  try {
    phases.push(await phase('clean', opts.runs, false, opts.seed));
    phases.push(await phase('faults', opts.runs, true, opts.seed + 1));
  } finally {
    cleanScratch();
  }
  let bad = 0;
  for (const p of phases) {
    const verdicts: string[] = [];
    if (p.failedRuns) verdicts.push(`${p.failedRuns} runs threw`);
    if (p.heapSlopeKbPerRun > (opts.maxSlopeKb ?? 2)) verdicts.push(`heap grows ${p.heapSlopeKbPerRun} KB per run`);
    if (p.fdEnd > p.fdStart + 2) verdicts.push(`${p.fdEnd - p.fdStart} descriptors left open`);
    bad += verdicts.length;
    console.log(
      `${p.name}: ${p.runs} resolutions in ${(p.ms / 1000).toFixed(1)} s (${(p.ms / p.runs).toFixed(1)} ms each), ${p.superseded} superseded, ` +
        `${p.problemRuns} with registry problems, ${p.failedRuns} threw; heap ${p.heapMb[1]} -> ${p.heapMb[p.heapMb.length - 1]} MB ` +
        `(slope ${p.heapSlopeKbPerRun} KB/run after warm-up), fds ${p.fdStart} -> ${p.fdEnd} (max ${p.fdMax}), rss ${p.rssMb} MB` +
        (verdicts.length ? ` -- FAIL: ${verdicts.join('; ')}` : ' -- stable'),
    );
  }
  if (opts.out) writeFileSync(opts.out, JSON.stringify(phases, null, 2));
  return bad ? 1 : 0;
}

if (require.main === module) runScript(() => soak({ runs: Number(cliArg('runs', '1000')), seed: Number(cliArg('seed', '1')), out: join(cliArg('out-dir', 'out'), 'soak.json') }));
