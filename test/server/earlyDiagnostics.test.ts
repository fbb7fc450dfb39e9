// On a cold cache, a server's first resolution of a manifest publishes the diagnostics of the project's
// own dependencies once they are picked, then the complete set; an edit publishes only complete sets.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PublishDiagnosticsNotification, type Diagnostic } from 'vscode-languageserver/node';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

let scratch: string;
let registry: TestRegistry;
let client: TestLspClient;
let uri: string;
let text: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-early-'));
  // Latency gives the walk below the direct dependencies its depth in round trips.
  registry = await startFixtureRegistry({ latencyMs: 30 });
  const project = join(scratch, 'project');
  const home = join(scratch, 'home');
  mkdirSync(project);
  mkdirSync(home);
  const manifest = JSON.parse(readFileSync(join(fixtureDir('small'), 'package.json'), 'utf8'));
  manifest.dependencies['citadel-no-such-package'] = '^1.0.0';
  text = JSON.stringify(manifest, null, 2);
  writeFileSync(join(project, 'package.json'), text);
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
  uri = pathToFileURL(join(project, 'package.json')).href;
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k))), HOME: home, npm_config_userconfig: join(home, '.npmrc') };
  client = new TestLspClient(env);
  client.settings = { cache: { directory: join(scratch, 'cache') } };
  await client.initialize(pathToFileURL(project).href);
});

after(async () => {
  await client?.stop();
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const key = (d: Diagnostic) => `${d.code} ${d.range.start.line}:${d.range.start.character} ${d.message}`;

test('a cold first resolution publishes the direct dependencies\' diagnostics first, then all of them', async () => {
  const published: Diagnostic[][] = [];
  // Replaces the client's own handler: its waits on diagnostics are not used below.
  client.connection.onNotification(PublishDiagnosticsNotification.type, ({ diagnostics }) => void published.push(diagnostics));
  await client.open(uri, text);
  await client.settled(uri);
  assert.equal(published.length, 2, published.map((p) => p.map(key).join('\n')).join('\n---\n'));
  const [early, complete] = published.map((p) => new Set(p.map(key)));
  const codes = (s: Set<string>) => new Set([...s].map((k) => k.split(' ')[0]));
  // The early set: what the project's own lines say (an unknown package, majors behind), nothing
  // that needs the tree below them (duplicates).
  assert.ok(codes(early).has('unknown-package') && codes(early).has('outdated'), [...early].join('\n'));
  assert.ok(!codes(early).has('duplicate'), [...early].join('\n'));
  assert.ok(codes(complete).has('duplicate'), [...complete].join('\n'));
  for (const k of early) assert.ok(complete.has(k), `early diagnostic missing from the complete set: ${k}`);

  // An edit: one complete set, no early one (the last set stays on screen until then).
  const before = published.length;
  const from = client.statuses.length;
  await client.change(uri, 2, text.replace('"citadel-no-such-package": "^1.0.0"', '"citadel-no-such-package": "^2.0.0"'));
  await client.settled(uri, from);
  // The status follows the publish on the same stream: by now every publish of the edit has arrived.
  assert.equal(published.length - before, 1);
});
