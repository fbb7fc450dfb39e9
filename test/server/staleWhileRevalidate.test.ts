// Stale-while-revalidate in the editor (issue #4): a new server whose cache holds the project answers
// from the cache at once, without a request, then checks with the registry in the background and
// publishes again only when the answer changed. The status carries the cache hit rate the status bar shows. Here the registry changes its answer between two
// servers (the package disappears: 404), and the TTL is 0 so every cached document is stale.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver/node';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

const TEXT = `{\n  "name": "swr",\n  "dependencies": {\n    "debug": "2.6.9"\n  }\n}\n`;

let registry: TestRegistry;
let scratch: string;
before(async () => {
  registry = await startFixtureRegistry();
  scratch = mkdtempSync(join(tmpdir(), 'citadel-swr-'));
});
after(() => registry.close());

async function server(project: string, cacheDir: string): Promise<TestLspClient> {
  const home = join(scratch, 'home');
  mkdirSync(home, { recursive: true });
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  const client = new TestLspClient({ ...env, HOME: home, npm_config_userconfig: join(home, '.npmrc') });
  client.settings = { cache: { directory: cacheDir, ttlMinutes: 0 } };
  await client.initialize(pathToFileURL(project).href);
  return client;
}

const codes = (d: Diagnostic[]) => d.map((x) => String(x.code)).sort();

test('a new server publishes from the stale cache at once, then the registry check, only because it changed', async () => {
  const project = join(scratch, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), TEXT);
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
  const uri = pathToFileURL(join(project, 'package.json')).href;
  const cacheDir = join(scratch, 'cache');

  const first = await server(project, cacheDir);
  await first.open(uri, TEXT);
  const cold = await first.settled(uri);
  assert.equal(cold.cacheHitRate, 0, 'a cold run fetched every document');
  const before = codes(first.diagnostics.get(uri)!.diagnostics);
  assert.ok(!before.includes('unknown-package'));
  await first.stop();

  // The registry now answers 404 for debug: only a check with the registry can see it.
  registry.addFault({ match: 'debug', status: 404, times: Infinity });
  // A request logs when it is answered: with 300 ms of latency none started after the publish can be
  // in the log by the time the publish reaches this process.
  registry.setLatency(300);
  try {
    const second = await server(project, cacheDir);
    await registry.idle();
    const from = registry.log.length;
    await second.open(uri, TEXT);
    const atOnce = await second.diagnosticsFor(uri, 1);
    assert.deepEqual(codes(atOnce), before, 'the first answer is the cached one');
    assert.equal(registry.log.length, from, 'published before any request');
    assert.equal((await second.settled(uri)).cacheHitRate, 1, 'the status bar says it came from the cache');
    const checked = await second.waitFor('the revalidated diagnostics', () => {
      const d = codes(second.diagnostics.get(uri)!.diagnostics);
      return d.includes('unknown-package') ? d : undefined;
    });
    assert.ok(checked.includes('unknown-package'));
    assert.ok(registry.log.slice(from).some((l) => l.name === 'debug' && l.status === 404), 'the registry was asked');
    await second.stop();
  } finally {
    registry.clearFaults();
    registry.setLatency(0);
  }
});
