import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ResolvedPackage } from '../server/src/engine/api';
import type { Problem } from '../server/src/engine/types';
import { FixtureStore } from '../server/src/testRegistry/store';
import type { TestRegistry } from '../server/src/testRegistry/server';
import { FIXTURE_STORE, startFixtureRegistry } from './helpers/npmOracle';
import { grouped } from '../server/src/cli/format';

const CLI = resolve(process.cwd(), 'dist/cli.js');
let reg: TestRegistry;
let root: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run through scripts/test.mjs, which builds it`);
  reg = await startFixtureRegistry();
  root = mkdtempSync(join(tmpdir(), 'citadel-cli-'));
  const home = join(root, 'home');
  mkdirSync(home);
  const userconfig = join(home, '.npmrc');
  const globalconfig = join(home, 'global.npmrc');
  writeFileSync(userconfig, '');
  writeFileSync(globalconfig, '');
  // The child sees none of this process's npm config (npm test sets npm_config_* for its scripts).
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  env = { ...clean, HOME: home, USERPROFILE: home, npm_config_userconfig: userconfig, npm_config_globalconfig: globalconfig };
});

after(async () => {
  await reg.close();
  rmSync(root, { recursive: true, force: true });
});

let projects = 0;
function project(pkg: object | string): string {
  const dir = join(root, `p${projects++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg, null, 2));
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously: the registry answers from this process's event loop. */
function cli(args: string[]): Promise<Run> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => ok({ code, stdout, stderr }));
  });
}

interface JsonOut {
  packages: ResolvedPackage[];
  problems: Problem[];
  stats: { durationMs: number; requests: number; bytes: number };
}

function parseJson(run: Run): JsonOut {
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line of JSON, got:\n${run.stdout}`);
  return JSON.parse(lines[0]) as JsonOut;
}

test('counts are grouped as Intl.NumberFormat(\'en\') groups them, without loading it', () => {
  const intl = new Intl.NumberFormat('en');
  for (const n of [0, 7, 42, 999, 1000, 1239, 12_345, 999_999, 1_000_000, 36_227_481, 2 ** 31]) assert.equal(grouped(n), intl.format(n), String(n));
});

test('resolve --json: one object with packages, problems and stats; exit 0 when clean', async () => {
  const dir = project({ name: 'p', version: '1.0.0', dependencies: { debug: '2.6.9' } });
  const from = reg.log.length;
  const run = await cli(['resolve', dir, '--registry', reg.url, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const out = parseJson(run);
  assert.deepEqual(Object.keys(out).sort(), ['packages', 'problems', 'stats']);
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.packages.map((p) => `${p.name}@${p.version}`).sort(), ['debug@2.6.9', 'ms@2.0.0']);
  const store = new FixtureStore(resolve(FIXTURE_STORE));
  for (const p of out.packages) {
    const doc = await store.packument(p.name);
    assert.equal(p.integrity, doc!.versions[p.version].dist?.integrity, `${p.name}@${p.version} integrity`);
  }
  assert.equal(typeof out.stats.durationMs, 'number');
  assert.ok(out.stats.durationMs >= 0);
  // Two packuments, each once, as the registry saw them.
  const served = reg.log.slice(from).filter((e) => e.status === 200);
  assert.equal(out.stats.requests, 2);
  assert.equal(served.length, 2);
  assert.ok(out.stats.bytes > 0);
});

test('exit 1 with an error problem, still printing the result', async () => {
  const dir = project({ dependencies: { ms: '^99', debug: '2.6.9' } });
  const run = await cli(['resolve', dir, '--registry', reg.url, '--json']);
  assert.equal(run.code, 1, run.stderr);
  const out = parseJson(run);
  assert.deepEqual(
    out.problems.filter((p) => p.severity === 'error').map((p) => [p.code, p.name]),
    [['no-matching-version', 'ms']],
  );
  assert.ok(out.packages.some((p) => p.name === 'debug'));
});

test('info problems alone keep exit 0', async () => {
  const dir = project({ dependencies: { ms: '2.1.3', lib: 'file:../lib' } });
  const run = await cli(['resolve', dir, '--registry', reg.url, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const out = parseJson(run);
  assert.deepEqual(
    out.problems.map((p) => [p.code, p.severity]),
    [['unsupported-spec', 'info']],
  );
});

test('exit 2 for a malformed package.json, with file:LINE:COL on stderr', async () => {
  const dir = project('{\n  "name": "broken",\n  "dependencies": {\n    "ms": "^2",\n  }\n}\n');
  const run = await cli(['resolve', dir, '--registry', reg.url, '--json']);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
  // After the trailing comma a property name is expected; the closing brace on line 5, column 3, is not one.
  assert.ok(run.stderr.includes(`${join(dir, 'package.json')}:5:3:`), run.stderr);
});

test('exit 2 for a missing package.json', async () => {
  const dir = join(root, 'empty');
  mkdirSync(dir);
  const run = await cli(['resolve', dir, '--registry', reg.url]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /package\.json/);
});

test('exit 2 for bad usage', async () => {
  const dir = project({ dependencies: {} });
  const cases: [string[], RegExp][] = [
    [['resolve', dir, '--bogus'], /bogus/],
    [['resolve', dir, '--concurrency', '0'], /--concurrency/],
    [['resolve', dir, '--concurrency', 'abc'], /--concurrency/],
    [['resolve', dir, '--concurrency', '1.5'], /--concurrency/],
    [['resolve', dir, '--http2', 'yes'], /--http2 must be one of off, auto, prior-knowledge/],
    [['resolve', dir, '--lockfile', 'maybe'], /--lockfile/],
    [['resolve', dir, dir], /at most one/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [[], /Usage/],
  ];
  const from = reg.log.length;
  for (const [args, why] of cases) {
    const run = await cli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr + run.stdout, why, args.join(' '));
  }
  // Usage errors stop before any registry traffic.
  assert.equal(reg.log.length, from);
});

test('registry --help prints its usage and exits 0 (no server started)', async () => {
  const run = await cli(['registry', 'serve', '--help']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^usage: citadel registry serve \[--port N\] \[--latency MS\] \[--store DIR\] \[--h2 yes\]/);
});

test('--help exits 0', async () => {
  const run = await cli(['--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /Usage: citadel/);
});

test('--version and -v print the version of package.json and exit 0', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const run = await cli([flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${version}\n`);
  }
});

test('text mode prints the summary line and the problems', async () => {
  const dir = project({ dependencies: { debug: '2.6.9', 'citadel-no-such-package-xyz': '1.0.0' } });
  // Its own empty cache, so both packages are requested from the registry.
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-cli-cache-'));
  const run = await cli(['resolve', dir, '--registry', reg.url, '--concurrency', '4', '--cache-dir', cacheDir]);
  assert.equal(run.code, 1, run.stderr);
  const [summary, ...rest] = run.stdout.trimEnd().split('\n');
  assert.match(summary, /^Resolved 2 packages \(\d+ edges\) in \d+ ms · 2 requests · \d+(\.\d)? (B|kB|MB) · 1 problem$/);
  assert.equal(rest.length, 1, run.stdout);
  assert.match(rest[0], /error\s+unknown-package: .*citadel-no-such-package-xyz/);
});

test('--http2 prior-knowledge: the bundled CLI resolves over HTTP/2 (h2c) the tree it resolves over HTTP/1.1', async () => {
  const h2 = await startFixtureRegistry({ http2: true });
  try {
    const dir = project({ dependencies: { debug: '2.6.9', express: '^4.18.0' } });
    const over = async (registry: string, mode: string) => {
      const run = await cli(['resolve', dir, '--registry', registry, '--http2', mode, '--json', '--cache-dir', mkdtempSync(join(tmpdir(), 'citadel-cli-cache-'))]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout) as { packages: ResolvedPackage[] }).packages.map((p) => `${p.name}@${p.version}`);
    };
    const viaH2 = await over(h2.h2url!, 'prior-knowledge');
    assert.ok(h2.log.length > 10 && h2.log.every((l) => l.httpVersion === '2.0'), `${h2.log.length} requests`);
    h2.resetLog();
    assert.deepEqual(await over(h2.url, 'auto'), viaH2);
    assert.ok(h2.log.every((l) => l.httpVersion === '1.1'));
  } finally {
    await h2.close();
  }
});
