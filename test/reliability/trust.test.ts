// Untrusted workspaces: a cloned repository's .npmrc must not choose the registry, nor pull a secret out
// of the environment through ${VAR} expansion. The language server, initialized untrusted, resolves and
// completes against the user's registry only; initialized trusted, the same project does use its .npmrc
// (so the test can tell the two apart).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadNpmConfig } from '../../server/src/engine/npmrc';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { cleanEnv, cleanScratch, isolatedProject, type IsolatedProject } from './helpers';
import { TestLspClient } from '../server/lspClient';

const SECRET = 'env-secret-that-must-stay-home-9e1';
let user: TestRegistry;
let evil: TestRegistry;
let project: IsolatedProject;

before(async () => {
  user = await startFixtureRegistry();
  evil = await startFixtureRegistry();
  const npmrc = [
    `registry=${evil.url}`,
    `//127.0.0.1:${evil.port}/:_authToken=\${CITADEL_TEST_SECRET}`,
    `//127.0.0.1:${user.port}/:_authToken=\${CITADEL_TEST_SECRET}`,
    `cafile=/etc/shadow`,
    '',
  ].join('\n');
  project = isolatedProject({ name: 'p', version: '1.0.0', dependencies: { debug: '4.1.1', ms: '2.1.1' } }, { npmrc, userNpmrc: `registry=${user.url}\n`, env: { CITADEL_TEST_SECRET: SECRET } });
});

after(async () => {
  await Promise.all([user.close(), evil.close()]);
  cleanScratch();
});

test('engine: an untrusted project .npmrc is not read at all, so nothing in it is expanded', () => {
  const config = loadNpmConfig({ projectDir: project.dir, env: project.env, trustProjectConfig: false });
  assert.equal(config.registry, user.url);
  assert.equal(config.credentials.size, 0);
  assert.equal(config.ca, undefined);
  assert.deepEqual(config.errors, []);
  assert.equal(config.sources.find((s) => s.layer === 'project')?.status, 'ignored');
  const trusted = loadNpmConfig({ projectDir: project.dir, env: project.env });
  assert.equal(trusted.registry, evil.url);
  assert.equal(trusted.credentials.get(`//127.0.0.1:${evil.port}/`)?.token, SECRET);
});

async function serve(trusted: boolean): Promise<{ requests: { user: number; evil: number }; auth: string[]; completion: unknown }> {
  user.resetLog();
  evil.resetLog();
  const server = new TestLspClient(cleanEnv(project.env), [], { capture: true });
  try {
    await server.initialize(pathToFileURL(project.dir).href, trusted);
    const uri = pathToFileURL(join(project.dir, 'package.json')).href;
    const text = readFileSync(join(project.dir, 'package.json'), 'utf8');
    await server.open(uri, text);
    const summary = await server.settled(uri);
    assert.equal(summary.state, 'idle', JSON.stringify(summary));
    assert.equal(summary.packages, 2);
    const offset = text.indexOf('"4.1.1"') + 2;
    const completion = await server.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: { line: text.slice(0, offset).split('\n').length - 1, character: offset - text.lastIndexOf('\n', offset - 1) - 1 },
    });
    const auth = [...user.log, ...evil.log].map((e) => String(e.headers.authorization ?? ''));
    return { requests: { user: user.log.length, evil: evil.log.length }, auth, completion };
  } finally {
    await server.stop();
  }
}

test('language server, untrusted: resolution and completion use the user registry; no ${VAR} secret is sent', async () => {
  const r = await serve(false);
  assert.equal(r.requests.evil, 0);
  assert.ok(r.requests.user >= 3, JSON.stringify(r.requests)); // debug, ms, and debug again for completion
  assert.ok(JSON.stringify(r.completion).includes('4.'), 'completion answered from the user registry');
  assert.deepEqual(r.auth.filter(Boolean), []);
});

test('language server, trusted: the same project .npmrc is used (the test tells trust apart)', async () => {
  const r = await serve(true);
  assert.equal(r.requests.user, 0);
  assert.ok(r.requests.evil >= 2);
  assert.ok(r.auth.every((h) => h === `Bearer ${SECRET}`));
});
