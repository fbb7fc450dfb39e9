// An untrusted workspace over stdio LSP (what the VS Code client sends when the workspace is not
// trusted): the project's .npmrc is not read, and the server says so once in the output channel and in
// every status, while it resolves with the user's npm config.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LogMessageNotification, MessageType, type LogMessageParams } from 'vscode-languageserver/node';
import { ResolveRequest, type ResolutionSummary } from '../../protocol';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

let scratch: string;
let user: TestRegistry;
let project: TestRegistry;
let client: TestLspClient;
let npmrc: string;
const logs: LogMessageParams[] = [];

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-untrusted-'));
  [user, project] = await Promise.all([startFixtureRegistry(), startFixtureRegistry()]);
  const dir = join(scratch, 'project');
  const home = join(scratch, 'home');
  cpSync(fixtureDir('tiny-e1'), dir, { recursive: true });
  mkdirSync(home);
  npmrc = join(dir, '.npmrc');
  writeFileSync(npmrc, `registry=${project.url}\n`);
  writeFileSync(join(home, '.npmrc'), `registry=${user.url}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  client = new TestLspClient({ ...env, HOME: home, npm_config_userconfig: join(home, '.npmrc') });
  client.connection.onNotification(LogMessageNotification.method, (m: LogMessageParams) => void logs.push(m));
  await client.initialize(pathToFileURL(dir).href, false);
});

after(async () => {
  await client?.stop();
  await Promise.all([user?.close(), project?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

test('untrusted: the project .npmrc is ignored, and the server says so once', async () => {
  const uri = pathToFileURL(join(scratch, 'project/package.json')).href;
  const first: ResolutionSummary = await client.connection.sendRequest(ResolveRequest.method, { uri } satisfies ResolveRequest.Params);
  const second: ResolutionSummary = await client.connection.sendRequest(ResolveRequest.method, { uri } satisfies ResolveRequest.Params);
  for (const summary of [first, second]) {
    assert.equal(summary.state, 'idle', JSON.stringify(summary));
    assert.equal(summary.ignoredNpmrc, npmrc);
  }
  assert.equal(project.log.length, 0, 'no request reached the registry the project .npmrc names');
  assert.ok(user.log.length > 0);
  const said = logs.filter((m) => m.message.includes('not trusted'));
  assert.equal(said.length, 1, JSON.stringify(logs));
  assert.equal(said[0]!.type, MessageType.Warning);
  assert.ok(said[0]!.message.includes(npmrc));
});
