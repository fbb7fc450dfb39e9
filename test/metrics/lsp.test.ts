// The server streams metrics and profiles over LSP and answers citadel/metricsSnapshot and
// citadel/exportTrace, against the loopback fixture registry (stdio, no VS Code).
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ExportTraceRequest, MetricsNotification, MetricsSnapshotRequest, ProfileNotification, type ResolutionProfile } from '../../protocol';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from '../server/lspClient';

let scratch: string;
let registry: TestRegistry;
let client: TestLspClient;
const samples: MetricsNotification.Params[] = [];
const profiles: ResolutionProfile[] = [];
/** Waiters on the notifications above (TestLspClient wakes its own waiters only for its own messages). */
let waiters: (() => boolean)[] = [];
const wake = () => (waiters = waiters.filter((w) => !w()));
function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const check = () => {
      const v = probe();
      if (v === undefined) return false;
      clearTimeout(timer);
      resolve(v);
      return true;
    };
    if (!check()) waiters.push(check);
  });
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-metrics-lsp-'));
  registry = await startFixtureRegistry();
  const project = join(scratch, 'project');
  cpSync(fixtureDir('tiny-e1'), project, { recursive: true });
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
  const home = join(scratch, 'home');
  mkdirSync(home);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  client = new TestLspClient({ ...env, HOME: home, npm_config_userconfig: join(home, '.npmrc') });
  client.connection.onNotification(MetricsNotification.method, (u: MetricsNotification.Params) => {
    samples.push(u);
    wake();
  });
  client.connection.onNotification(ProfileNotification.method, (p: ResolutionProfile) => {
    profiles.push(p);
    wake();
  });
  await client.initialize(pathToFileURL(project).href);
  const uri = pathToFileURL(join(project, 'package.json')).href;
  await client.open(uri, readFileSync(join(project, 'package.json'), 'utf8'));
});

after(async () => {
  await client?.stop();
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('a resolution streams its profile, then samples that carry the finished run', async () => {
  const profile = await waitFor('a profile', () => profiles[0]);
  assert.ok(profile.spans.length >= 2, JSON.stringify(profile.spans.map((s) => s.name)));
  assert.ok(profile.criticalPath.names.length >= 1);
  const withRun = await waitFor('a sample with the run', () => samples.find((s) => s.run));
  assert.equal(withRun.run!.packages, profile.packages);
  assert.ok(withRun.sample.rssMb > 0 && withRun.sample.heapUsedMb > 0);
  assert.ok(withRun.registries.some((r) => r.registry === registry.url.replace(/\/$/, '') && r.requests >= 2), JSON.stringify(withRun.registries));
});

test('metricsSnapshot has the history and the last profile; exportTrace the Chrome trace', async () => {
  await waitFor('a profile', () => profiles[0]);
  const snapshot = await client.connection.sendRequest<MetricsSnapshotRequest.Result>(MetricsSnapshotRequest.method, {});
  assert.ok(snapshot.samples.length >= 1);
  assert.ok(snapshot.runs.length >= 1);
  assert.ok(snapshot.profile && snapshot.profile.spans.length >= 2);
  const trace = await client.connection.sendRequest<ExportTraceRequest.Result>(ExportTraceRequest.method, {});
  assert.ok(trace);
  assert.equal((trace.traceEvents as { cat?: string }[]).filter((e) => e.cat === 'packument').length, snapshot.profile.spanCount);
});
