// The editor's Analyze Cache, Clear Cache and Run Benchmark requests, over stdio against the real server.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { AnalyzeCacheRequest, BenchmarkRequest, ClearCacheRequest } from '../../protocol';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

let scratch: string;
let registry: TestRegistry;
let client: TestLspClient;
let uri: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-lsp-cache-'));
  registry = await startFixtureRegistry();
  const project = join(scratch, 'project');
  cpSync(fixtureDir('tiny-e4'), project, { recursive: true });
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
  uri = pathToFileURL(join(project, 'package.json')).href;
  const home = join(scratch, 'home');
  mkdirSync(home);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_|^XDG_/i.test(k)));
  client = new TestLspClient({ ...env, HOME: home, npm_config_userconfig: join(home, '.npmrc') });
  await client.initialize(pathToFileURL(project).href);
  await client.open(uri, readFileSync(join(project, 'package.json'), 'utf8'));
  await client.diagnosticsFor(uri, 1);
});

after(async () => {
  await client?.stop();
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('Analyze Cache reports what the resolution cached; Clear Cache empties it', async () => {
  const info = await client.connection.sendRequest<AnalyzeCacheRequest.Result>(AnalyzeCacheRequest.method, {});
  assert.ok(info.entries >= 5, JSON.stringify(info));
  assert.ok(info.dir.startsWith(join(scratch, 'home')), info.dir);
  assert.ok(info.compressionRatio > 1 && info.memoryEntries >= 5 && info.corrupt === 0, JSON.stringify(info));
  const cleared = await client.connection.sendRequest<ClearCacheRequest.Result>(ClearCacheRequest.method, {});
  assert.equal(cleared.entries, info.entries);
  const after = await client.connection.sendRequest<AnalyzeCacheRequest.Result>(AnalyzeCacheRequest.method, {});
  assert.equal(after.entries, 0);
  assert.equal(after.memoryEntries, 0);
});

test('Run Benchmark resolves cold, warm and hot: only the cold run asks the registry', async () => {
  await registry.idle();
  const from = registry.log.length;
  const runs = await client.connection.sendRequest<BenchmarkRequest.Result>(BenchmarkRequest.method, { uri });
  assert.deepEqual(runs.map((r) => r.mode), ['cold', 'warm', 'hot']);
  assert.ok(runs.every((r) => r.packages === 5), JSON.stringify(runs));
  assert.equal(runs[0].requests, registry.log.length - from);
  assert.ok(runs[0].requests >= 5);
  assert.deepEqual([runs[1].requests, runs[2].requests], [0, 0]);
});
