// `citadel check`: problems of the resolution and the lockfile placed at file:line:column, the
// frozen-install verdict, JSON and SARIF 2.1.0 output, exit codes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestRegistry } from '../server/src/testRegistry/server';
import { fixtureDir, npmResolve, startFixtureRegistry } from './helpers/npmOracle';

const CLI = resolve('dist/cli.js');
let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
before(async () => {
  reg = await startFixtureRegistry();
  const home = mkdtempSync(join(tmpdir(), 'citadel-check-home-'));
  writeFileSync(join(home, '.npmrc'), '');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  env = { ...clean, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), npm_config_userconfig: join(home, '.npmrc'), npm_config_globalconfig: join(home, '.npmrc') };
});
after(() => reg.close());

function check(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, 'check', ...args, '--registry', reg.url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
  });
}

/** tiny-e3 with its npm lockfile, then package.json edited so the lock drifts and one dependency is unknown. */
async function driftedProject(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-check-'));
  cpSync(fixtureDir('tiny-e3'), dir, { recursive: true });
  const npm = await npmResolve(dir, reg.url);
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(npm.lock, null, 2));
  writeFileSync(
    join(dir, 'package.json'),
    '{\n  "name": "tiny-e3",\n  "version": "1.0.0",\n  "dependencies": {\n    "debug": "^3.0.0",\n    "humanize-ms": "1.2.1",\n    "citadel-no-such-pkg": "1.0.0"\n  }\n}\n',
  );
  return dir;
}

test('text: problems grouped by file with line and column, and the npm ci verdict', async () => {
  const dir = await driftedProject();
  const run = await check([dir]);
  assert.equal(run.code, 1, run.stderr);
  const lines = run.stdout.split('\n');
  assert.equal(lines[0], 'package.json');
  assert.ok(lines.some((l) => /^ {2}5:5 {2}error {3}lockfile-drift/.test(l)), run.stdout);
  assert.ok(lines.some((l) => /^ {2}7:5 {2}error {3}unknown-package/.test(l)), run.stdout);
  assert.match(run.stdout, /`npm ci` would fail: \d+ problems?/);
});

test('json and sarif carry the same problems; sarif is 2.1.0 with rules and regions', async () => {
  const dir = await driftedProject();
  const json = JSON.parse((await check([dir, '--format', 'json'])).stdout);
  const sarif = JSON.parse((await check([dir, '--format', 'sarif'])).stdout);
  assert.equal(sarif.version, '2.1.0');
  const results = sarif.runs[0].results;
  assert.equal(results.length, json.problems.length);
  const drift = results.find((r: { ruleId: string }) => r.ruleId === 'lockfile-drift');
  assert.deepEqual(drift.locations[0].physicalLocation, { artifactLocation: { uri: 'package.json' }, region: { startLine: 5, startColumn: 5 } });
  assert.equal(drift.level, 'error');
  assert.ok(sarif.runs[0].tool.driver.rules.some((r: { id: string }) => r.id === 'unknown-package'));
  assert.match(json.verdict, /npm ci/);
});

test('a clean locked project passes: exit 0, npm ci would succeed, no request needed for picking', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-check-'));
  cpSync(fixtureDir('tiny-e1'), dir, { recursive: true });
  const npm = await npmResolve(dir, reg.url);
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(npm.lock, null, 2));
  const run = await check([dir]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /`npm ci` would succeed/);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')), npm.lock);
});

test('usage errors exit 2', async () => {
  assert.equal((await check(['--format', 'xml'])).code, 2);
});
