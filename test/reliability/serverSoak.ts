// The soak through the real language server (`npm run test:soak`): `dist/server.js --stdio` resolves one
// package.json 1,000 times (citadel/resolve, and every tenth time an edit), then 1,000 more with the
// cache cleared every 25 runs and random registry faults injected. The server runs with --expose-gc and
// collects before answering a metrics snapshot, so the heap read every 50 runs is what it retains;
// RSS and open descriptors (/proc/PID/fd) too. The verdict is on the heap slope after warm-up and on
// descriptors left open.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ClearCacheRequest, MetricsSnapshotRequest, ResolveRequest, type ResolutionSummary } from '../../protocol';
import type { Fault } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from '../server/lspClient';
import { cleanEnv, cleanScratch, cliArg, rng, runScript, scratch, slope } from './helpers';

const PKG = (spec: string) => JSON.stringify({ name: 'soak', version: '1.0.0', dependencies: { 'react-dom': spec, debug: '2.6.9' } }, null, 2);

interface Sample {
  run: number;
  heapMb: number;
  rssMb: number;
  fds: number;
}

async function phase(name: string, runs: number, faults: boolean, seed: number) {
  const reg = await startFixtureRegistry();
  const dir = scratch('citadel-server-soak-');
  const project = join(dir, 'project');
  const home = join(dir, 'home');
  for (const d of [project, home]) mkdirSync(d, { recursive: true });
  // Short retries and timeouts: faults should cost milliseconds, not npm's default seconds.
  writeFileSync(join(project, '.npmrc'), `registry=${reg.url}\nfetch-retries=2\nfetch-retry-mintimeout=5\nfetch-retry-maxtimeout=20\nfetch-timeout=2000\n`);
  writeFileSync(join(project, 'package.json'), PKG('18.2.0'));
  const uri = pathToFileURL(join(project, 'package.json')).href;
  const client = new TestLspClient(cleanEnv({ HOME: home, npm_config_userconfig: join(home, '.npmrc'), XDG_CACHE_HOME: join(home, '.cache') }), ['--expose-gc']);
  const pid = (client as unknown as { child: { pid: number } }).child.pid;
  await client.initialize(pathToFileURL(project).href);
  await client.open(uri, PKG('18.2.0'));
  await client.diagnosticsFor(uri, 1);
  const random = rng(seed);
  const samples: Sample[] = [];
  let version = 1;
  let errors = 0;
  const sample = async (run: number) => {
    const snap = await client.connection.sendRequest<MetricsSnapshotRequest.Result>(MetricsSnapshotRequest.method, {});
    // With --expose-gc the server collects before answering, so its latest sample is the retained heap.
    const recent = snap.samples.slice(-1);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    samples.push({
      run,
      heapMb: Math.min(...recent.map((s) => s.heapUsedMb)),
      rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
      fds: readdirSync(`/proc/${pid}/fd`).length,
    });
  };
  const t0 = performance.now();
  await sample(0);
  for (let i = 1; i <= runs; i++) {
    if (faults) {
      if (i % 25 === 0) await client.connection.sendRequest(ClearCacheRequest.method, {});
      if (random() < 0.3) {
        const kinds: Fault[] = [{ status: 500 }, { reset: 'mid-body' }, { invalidJson: true }, { status: 503, times: 3 }, { truncate: true }];
        reg.addFault({ ...kinds[Math.floor(random() * kinds.length)], match: random() < 0.5 ? 'react-dom' : 'debug' });
      }
    }
    if (i % 10 === 0) {
      version++;
      await client.change(uri, version, PKG(version % 2 ? '18.2.0' : '^18.2.0'));
      const diagnostics = await client.diagnosticsFor(uri, version);
      if (diagnostics.some((d) => d.code === 'registry-error')) errors++;
    } else {
      const summary = await client.connection.sendRequest<ResolutionSummary>(ResolveRequest.method, { uri });
      if (summary.errors) errors++;
    }
    reg.clearFaults();
    reg.resetLog();
    if (i % 50 === 0) await sample(i);
  }
  const ms = performance.now() - t0;
  await client.stop();
  await reg.close();
  const warm = samples.filter((s) => s.run >= runs / 5);
  return {
    name,
    runs,
    ms,
    errors,
    heapSlopeKbPerRun: Math.round(slope(warm.map((s) => s.run), warm.map((s) => s.heapMb)) * 1000 * 100) / 100,
    heapMb: [samples[1].heapMb, samples[samples.length - 1].heapMb],
    rssMb: [samples[1].rssMb, samples[samples.length - 1].rssMb],
    fds: [samples[1].fds, samples[samples.length - 1].fds, Math.max(...samples.map((s) => s.fds))],
  };
}

export async function serverSoak(opts: { runs: number; seed: number; out?: string; maxSlopeKb?: number }): Promise<number> {
  const phases = [];
  try {
    phases.push(await phase('server, clean', opts.runs, false, opts.seed));
    phases.push(await phase('server, faults', opts.runs, true, opts.seed + 1));
  } finally {
    cleanScratch();
  }
  let bad = 0;
  for (const p of phases) {
    const verdicts: string[] = [];
    if (p.heapSlopeKbPerRun > (opts.maxSlopeKb ?? 5)) verdicts.push(`heap grows ${p.heapSlopeKbPerRun} KB per run`);
    if (p.fds[1] > p.fds[0] + 2) verdicts.push(`${p.fds[1] - p.fds[0]} descriptors left open`);
    bad += verdicts.length;
    console.log(
      `${p.name}: ${p.runs} resolutions in ${(p.ms / 1000).toFixed(1)} s (${(p.ms / p.runs).toFixed(1)} ms each), ${p.errors} with registry errors; ` +
        `heap ${p.heapMb[0].toFixed(1)} -> ${p.heapMb[1].toFixed(1)} MB (slope ${p.heapSlopeKbPerRun} KB/run after warm-up), ` +
        `rss ${p.rssMb[0].toFixed(0)} -> ${p.rssMb[1].toFixed(0)} MB, fds ${p.fds[0]} -> ${p.fds[1]} (max ${p.fds[2]})` +
        (verdicts.length ? ` -- FAIL: ${verdicts.join('; ')}` : ' -- stable'),
    );
  }
  if (opts.out) writeFileSync(opts.out, JSON.stringify(phases, null, 2));
  return bad ? 1 : 0;
}

if (require.main === module) runScript(() => serverSoak({ runs: Number(cliArg('runs', '1000')), seed: Number(cliArg('seed', '1')), out: join(cliArg('out-dir', 'out'), 'server-soak.json') }));
