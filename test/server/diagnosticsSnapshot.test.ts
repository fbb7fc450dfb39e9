// A new server shows the last diagnostics of an unchanged package.json before its own resolution
// finishes, from the snapshot the previous server left beside the cache; the resolution's publish
// replaces them. Told apart here by taking the registry away: the snapshot still says what the last
// resolution found, the new resolution reports the registry error.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PublishDiagnosticsNotification, type Diagnostic } from 'vscode-languageserver/node';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

const TEXT = `{\n  "name": "snap",\n  "dependencies": {\n    "debug": "4.1.1",\n    "citadel-no-such-package": "^1.0.0"\n  }\n}\n`;

let scratch: string;
let registry: TestRegistry;
let env: NodeJS.ProcessEnv;
let project: string;
let uri: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-snapshot-'));
  registry = await startFixtureRegistry();
  project = join(scratch, 'project');
  const home = join(scratch, 'home');
  mkdirSync(project);
  mkdirSync(home);
  writeFileSync(join(project, 'package.json'), TEXT);
  // No retries: once the registry is gone, its absence is the answer at once.
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\nfetch-retries=0\n`);
  uri = pathToFileURL(join(project, 'package.json')).href;
  env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k))), HOME: home, npm_config_userconfig: join(home, '.npmrc') };
});

after(async () => {
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function server(cacheDir: string): Promise<TestLspClient> {
  const client = new TestLspClient(env);
  client.settings = { cache: { directory: cacheDir } };
  await client.initialize(pathToFileURL(project).href);
  return client;
}

const codes = (diagnostics: Diagnostic[]) => diagnostics.map((d) => d.code).sort();

test('a new server publishes the saved diagnostics first, then those of its own resolution', async () => {
  const first = await server(join(scratch, 'cache'));
  await first.open(uri, TEXT);
  const resolved = await first.diagnosticsFor(uri, 1);
  assert.deepEqual(codes(resolved), ['unknown-package']);
  await first.settled(uri);
  await first.stop();

  // Only the snapshots move to the new cache dir: with the registry gone the packuments are out of reach.
  cpSync(join(scratch, 'cache/editor'), join(scratch, 'cache2/editor'), { recursive: true });
  await registry.close();
  const second = await server(join(scratch, 'cache2'));
  const published: Diagnostic[][] = [];
  second.connection.onNotification(PublishDiagnosticsNotification.type, ({ diagnostics }) => void published.push(diagnostics));
  await second.open(uri, TEXT);
  const summary = await second.settled(uri);
  await second.stop();
  assert.deepEqual(published[0], resolved, 'the snapshot, first');
  assert.ok(published.length >= 2, JSON.stringify(summary));
  assert.ok(codes(published.at(-1)!).includes('registry-error'), JSON.stringify(published.at(-1)));
});
