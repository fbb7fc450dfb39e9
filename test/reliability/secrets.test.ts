// Credentials: sent only to the registry they are keyed to (two registries on two loopback ports, also
// across a redirect), and never written anywhere: a run with known secrets in .npmrc through the CLI
// (--json, text, --trace, the cache dir, pick records, perf:report's HTML) and the language server
// (everything it writes, its metrics snapshot, trace export and hovers) is searched for every one of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExportTraceRequest, MetricsSnapshotRequest } from '../../protocol';
import { DiskCache } from '../../server/src/engine/cache/diskCache';
import { decodeEntry } from '../../server/src/engine/cache/entry';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { cleanEnv, cleanScratch, filesUnder, isolatedProject, scratch, type IsolatedProject } from './helpers';
import { TestLspClient } from '../server/lspClient';

const CLI = resolve(process.cwd(), 'dist/cli.js');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const TOKEN_A = 'tokA-5f0c9d2e71aa';
const TOKEN_B = 'tokB-93be07c41d55';
const TOKEN_PATH = 'tokP-only-under-a-path-1f2e';
const TOKEN_LOCALHOST = 'tokL-localhost-is-another-host-77';
const TOKEN_WRONG = 'tokW-rejected-by-the-registry-3c';
const URL_PASSWORD = 'urlpass-in-registry-url-8d1';
const AUTH_PASSWORD = 'authpass-in-underscore-auth-4b';
const PASSWORD = 'password-in-underscore-password-6a';
const LEGACY_AUTH = 'legacy-auth-top-level-2d9';
/** Every secret in every form it could be written in (plain, base64 as in .npmrc and in a Basic header). */
const SECRETS = [TOKEN_A, TOKEN_B, TOKEN_PATH, TOKEN_LOCALHOST, TOKEN_WRONG, URL_PASSWORD, AUTH_PASSWORD, PASSWORD, LEGACY_AUTH];
const NEEDLES = [...SECRETS, ...SECRETS.map(b64), b64(`alice:${AUTH_PASSWORD}`), b64(`bob:${PASSWORD}`)];

let a: TestRegistry;
let b: TestRegistry;
let c: TestRegistry;
let project: IsolatedProject;

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run through scripts/test.mjs, which builds it`);
  a = await startFixtureRegistry({ requireToken: TOKEN_A });
  b = await startFixtureRegistry({ requireToken: TOKEN_B });
  c = await startFixtureRegistry({ requireToken: 'the-right-one' });
  const npmrc = [
    `registry=${a.url}`,
    // Scoped packages come from B, named with userinfo in its URL (never sent, never written).
    `@alloc:registry=http://scopeuser:${URL_PASSWORD}@127.0.0.1:${b.port}/`,
    `@babel:registry=${c.url}`,
    `//127.0.0.1:${a.port}/:_authToken=${TOKEN_A}`,
    `//127.0.0.1:${b.port}/:_authToken=${TOKEN_B}`,
    // Keyed below a path of B, and to another host name for A's port: neither may be sent.
    `//127.0.0.1:${b.port}/only/here/:_authToken=${TOKEN_PATH}`,
    `//localhost:${a.port}/:_authToken=${TOKEN_LOCALHOST}`,
    `//127.0.0.1:${c.port}/:_authToken=${TOKEN_WRONG}`,
    `//unused.invalid/:_auth=${b64(`alice:${AUTH_PASSWORD}`)}`,
    `//unused.invalid/other/:username=bob`,
    `//unused.invalid/other/:_password=${b64(PASSWORD)}`,
    `_auth=${b64(LEGACY_AUTH)}`,
    '',
  ].join('\n');
  project = isolatedProject({ name: 'p', version: '1.0.0', dependencies: { debug: '4.1.1', ms: '2.1.1', '@alloc/quick-lru': '^5.2.0', '@babel/types': '*' } }, { npmrc });
});

after(async () => {
  await Promise.all([a.close(), b.close(), c.close()]);
  cleanScratch();
});

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (x: Buffer) => (stdout += x));
    child.stderr.on('data', (x: Buffer) => (stderr += x));
    child.on('error', fail);
    child.on('close', (code) => ok({ code, stdout, stderr }));
  });
}

function leaks(where: string, text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n)).map((n) => `${where}: ${n}`);
}

/** Every file under dir, raw, plus each cache entry decoded (entries are zstd-compressed). */
function leaksInDir(dir: string): string[] {
  const out: string[] = [];
  for (const f of filesUnder(dir)) {
    const bytes = readFileSync(f);
    out.push(...leaks(f, bytes.toString('latin1')));
  }
  const disk = new DiskCache(dir);
  for (const { key } of disk.list()) {
    const e = decodeEntry(disk.read(key)!);
    out.push(...leaks(`entry ${key} (decoded)`, JSON.stringify(e.header) + JSON.stringify(e.packument)));
  }
  return out;
}

/** Each registry saw only its own token, and only as a Bearer header. */
function assertScoped(): void {
  for (const [reg, own] of [[a, TOKEN_A], [b, TOKEN_B], [c, TOKEN_WRONG]] as const) {
    for (const entry of reg.log) {
      const headers = JSON.stringify(entry.headers);
      const others = NEEDLES.filter((n) => n !== own && headers.includes(n));
      assert.deepEqual(others, [], `${reg.url}${entry.url.slice(1)} got ${others.join()}`);
      assert.equal(entry.headers.authorization, `Bearer ${own}`, `${reg.url}${entry.url.slice(1)}`);
    }
  }
}

test('the CLI: tokens go only where they are keyed, also across a redirect; no secret in any output or file', async () => {
  // A redirects ms to B: the hop to B carries B's token, never A's.
  a.addFault({ match: 'ms', redirectTo: `${b.url}ms`, times: Infinity });
  const cache = join(project.dir, '..', 'cache');
  const trace = join(project.dir, '..', 'trace.json');
  const report = join(project.dir, '..', 'report.html');
  try {
    const json = await run(['resolve', project.dir, '--json', '--trace', trace, '--cache-dir', cache], project.env);
    const text = await run(['resolve', project.dir, '--prefer-online', '--cache-dir', cache], project.env);
    const html = await run(['perf:report', project.dir, '--out', report], project.env);
    assert.equal(html.code, 0, html.stderr);

    const result = JSON.parse(json.stdout) as { packages: { name: string }[]; problems: { code: string; name?: string; message: string }[] };
    const names = result.packages.map((p) => p.name);
    for (const n of ['debug', 'ms', '@alloc/quick-lru']) assert.ok(names.includes(n), `${n} resolved: ${json.stdout.slice(0, 500)}`);
    // C rejects the token it was given: an auth error whose message names no credential.
    const auth = result.problems.filter((p) => p.code === 'auth-error');
    assert.deepEqual(auth.map((p) => p.name), ['@babel/types'], JSON.stringify(result.problems));
    assert.equal(json.code, 1);
    assert.match(text.stdout, /auth-error|refused/);

    assert.ok(a.log.length > 0 && b.log.length > 0 && c.log.length > 0);
    assert.ok(b.log.some((e) => e.url === '/ms'), 'the redirect reached B');
    assert.ok(b.log.some((e) => e.name === '@alloc/quick-lru'));
    assertScoped();

    const found = [
      ...leaks('resolve --json stdout', json.stdout),
      ...leaks('resolve --json stderr', json.stderr),
      ...leaks('resolve stdout', text.stdout),
      ...leaks('resolve stderr', text.stderr),
      ...leaks('perf:report stdout', html.stdout + html.stderr),
      ...leaksInDir(cache),
      ...leaks('trace', readFileSync(trace, 'utf8')),
      ...leaks('report', readFileSync(report, 'utf8')),
    ];
    assert.deepEqual(found, []);
    assert.ok(filesUnder(join(cache, 'picks')).length >= 1, 'pick records were written, and searched');
    assert.ok(new DiskCache(cache).list().length >= 3, 'cache entries were written, and searched');
    assert.doesNotMatch(readFileSync(trace, 'utf8'), /scopeuser/);
  } finally {
    a.clearFaults();
    a.resetLog();
    b.resetLog();
    c.resetLog();
  }
});

test('the language server: no secret in anything it writes, its metrics, traces or hovers', async () => {
  const dir = join(scratch(), 'project');
  cpSync(project.dir, dir, { recursive: true });
  const server = new TestLspClient(cleanEnv(project.env), [], { capture: true });
  try {
    await server.initialize(pathToFileURL(dir).href, true);
    const uri = pathToFileURL(join(dir, 'package.json')).href;
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    await server.open(uri, text);
    const summary = await server.settled(uri);
    assert.equal(summary.state, 'idle', JSON.stringify(summary));
    const diagnostics = await server.waitFor('diagnostics', () => server.diagnostics.get(uri)?.diagnostics);
    assert.ok(diagnostics.some((d) => d.code === 'auth-error'), JSON.stringify(diagnostics));
    // A metrics sample that carries the finished run (sent on the sampling interval).
    await server.waitFor('a metrics sample with the run', () => server.metrics.find((m) => m.run));
    const snapshot = await server.connection.sendRequest(MetricsSnapshotRequest.method, {});
    const trace = await server.connection.sendRequest(ExportTraceRequest.method, { uri });
    const hovers = [];
    for (const name of ['debug', '@alloc/quick-lru', '@babel/types']) {
      const offset = text.indexOf(`"${name}"`) + 2;
      const line = text.slice(0, offset).split('\n').length - 1;
      const character = offset - text.lastIndexOf('\n', offset - 1) - 1;
      hovers.push(await server.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character } }));
    }
    assert.ok(hovers.filter(Boolean).length >= 2, JSON.stringify(hovers));
    assertScoped();
    await server.stop();
    const found = [
      ...leaks('server stdout+stderr', server.output()),
      ...leaks('metrics snapshot', JSON.stringify(snapshot)),
      ...leaks('trace', JSON.stringify(trace)),
      ...leaks('hovers', JSON.stringify(hovers)),
      ...leaks('diagnostics', JSON.stringify(diagnostics)),
    ];
    assert.deepEqual(found, []);
    assert.ok(server.output().includes('citadel/metrics'), 'the metrics stream was captured and searched');
  } finally {
    if (server.child.exitCode === null) server.child.kill();
  }
});
