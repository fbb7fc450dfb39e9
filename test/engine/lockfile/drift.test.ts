// Drift checks on lockfiles the real tools wrote against the loopback registry, edited the way people break
// them; the npm verdicts are checked against `npm ci --dry-run` itself, which validates the lockfile first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProjectManifest } from '../../../server/src/engine/api';
import { checkDrift, checkLockfile, readLockfile, verdict, type Lockfile, type LockfileProblem, type PackumentLookup } from '../../../server/src/engine/lockfile';
import type { Packument } from '../../../server/src/engine/types';
import type { TestRegistry } from '../../../server/src/testRegistry/server';
import { withGenerated } from '../../helpers/generatedRegistry';
import { npmResolve, startFixtureRegistry } from '../../helpers/npmOracle';
import { generate, run, type Generated, type NpmLockJson } from './tools';

let reg: TestRegistry;
let scratch: string;
let lookup: PackumentLookup;
before(async () => {
  reg = await startFixtureRegistry();
  scratch = mkdtempSync(join(tmpdir(), 'citadel-drift-'));
  lookup = async (name) => {
    const res = await fetch(reg.url + name.replace('/', '%2f'));
    return res.status === 404 ? undefined : ((await res.json()) as Packument);
  };
});
after(async () => {
  await reg.close();
  rmSync(scratch, { recursive: true, force: true });
});

const FIXTURES = resolve(process.cwd(), 'test/fixtures/lockfiles');
const TINY_E2: ProjectManifest = { name: 'tiny-e2', version: '1.0.0', dependencies: { debug: '2.6.9', ms: '1 || 2' } };

function read(dir: string): Lockfile {
  const r = readLockfile(dir);
  assert.ok(r?.lockfile, JSON.stringify(r?.problems));
  return r.lockfile;
}

const codes = (ps: LockfileProblem[]): string[] => ps.map((p) => `${p.code}:${p.severity}:${p.name}`).sort();
const lineOf = (file: string, needle: string): number => readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;

/** Edits the generated lockfile as JSON, then reads it back. */
function editNpm(g: Generated, edit: (lock: NpmLockJson) => void): Lockfile {
  const lock = JSON.parse(readFileSync(g.file, 'utf8')) as NpmLockJson;
  edit(lock);
  writeFileSync(g.file, JSON.stringify(lock, null, 2) + '\n');
  return read(g.dir);
}

/** `npm ci --dry-run` with `manifest` as package.json: npm's own verdict on the lockfile. */
async function npmCi(g: Generated, manifest: ProjectManifest): Promise<{ ok: boolean; stderr: string }> {
  writeFileSync(join(g.dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const r = await run('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--registry', reg.url, '--cache', join(g.env.HOME!, '.npm')], g.dir, g.env);
  return { ok: r.rc === 0, stderr: r.stderr };
}

describe('clean lockfiles have no drift', () => {
  for (const tool of ['npm', 'pnpm', 'bun'] as const) {
    for (const project of ['tiny-e2', 'tiny-e4', 'aliases-optional']) {
      test(`${tool}: ${project}, registry included`, async () => {
        const g = await generate(tool, project, reg.url, scratch);
        const manifest = JSON.parse(readFileSync(join(g.dir, 'package.json'), 'utf8')) as ProjectManifest;
        const problems = await checkDrift(manifest, read(g.dir), lookup);
        assert.deepEqual(problems, []);
        assert.match(verdict(tool, problems), /would succeed$/);
      });
    }
  }
  for (const kind of ['yarn-classic', 'yarn-berry', 'pnpm6']) {
    for (const project of ['tiny-e2', 'tiny-e4', 'aliases-optional']) {
      test(`${kind} (committed): ${project}`, () => {
        const dir = join(FIXTURES, kind, project);
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as ProjectManifest;
        assert.deepEqual(checkLockfile(manifest, read(dir)), []);
      });
    }
  }
});

test('lockfile-drift: a range the locked version no longer satisfies; npm ci agrees', async () => {
  const g = await generate('npm', 'tiny-e2', reg.url, scratch);
  const manifest = { ...TINY_E2, dependencies: { debug: '2.6.9', ms: '^1.0.0' } };
  const problems = checkLockfile(manifest, read(g.dir));
  assert.deepEqual(codes(problems), ['lockfile-drift:error:ms']);
  assert.equal(problems[0].line, lineOf(g.file, '"node_modules/ms": {'));
  assert.equal(problems[0].file, g.file);
  assert.match(problems[0].message, /ms@2\.1\.3, which no longer satisfies "\^1\.0\.0"/);
  assert.equal(verdict('npm', problems), '`npm ci` would fail: 1 problem');
  const ci = await npmCi(g, manifest);
  assert.equal(ci.ok, false);
  assert.match(ci.stderr, /in sync/);
});

test('lockfile-drift: a changed spec still satisfied passes npm ci and bun but fails the frozen installs of pnpm and yarn', async () => {
  const manifest = { ...TINY_E2, dependencies: { debug: '2.6.9', ms: '^2.0.0' } };
  const npm = await generate('npm', 'tiny-e2', reg.url, scratch);
  assert.deepEqual(checkLockfile(manifest, read(npm.dir)), []);
  assert.equal((await npmCi(npm, manifest)).ok, true);
  assert.deepEqual(checkLockfile(manifest, read((await generate('bun', 'tiny-e2', reg.url, scratch)).dir)), []);
  for (const dir of [(await generate('pnpm', 'tiny-e2', reg.url, scratch)).dir, join(FIXTURES, 'yarn-classic', 'tiny-e2'), join(FIXTURES, 'yarn-berry', 'tiny-e2')]) {
    const lock = read(dir);
    const problems = checkLockfile(manifest, lock);
    assert.deepEqual(codes(problems), ['lockfile-drift:error:ms'], `${lock.kind}: ${JSON.stringify(problems)}`);
    assert.match(verdict(lock.kind, problems), /would fail: 1 problem$/);
  }
});

test('lockfile-drift: an edge the lockfile resolves to the wrong version (npm ci fails too)', async () => {
  const g = await generate('npm', 'tiny-e2', reg.url, scratch);
  // Without the nested copy, node's lookup lands debug on the hoisted ms@2.1.3.
  const lock = editNpm(g, (l) => delete l.packages['node_modules/debug/node_modules/ms']);
  const problems = checkLockfile(TINY_E2, lock);
  assert.deepEqual(codes(problems), ['lockfile-drift:error:ms']);
  assert.match(problems[0].message, /debug@2\.6\.9 needs ms@2\.0\.0, but the lockfile resolves it to ms@2\.1\.3/);
  assert.equal((await npmCi(g, TINY_E2)).ok, false);
});

test('lockfile-missing-entry: a dependency added to package.json, and an entry lost from the lockfile', async () => {
  const g = await generate('npm', 'tiny-e2', reg.url, scratch);
  const added = { ...TINY_E2, dependencies: { ...TINY_E2.dependencies, 'humanize-ms': '1.2.1' } };
  const problems = checkLockfile(added, read(g.dir));
  assert.deepEqual(codes(problems), ['lockfile-missing-entry:error:humanize-ms']);
  assert.match(problems[0].message, /humanize-ms@1\.2\.1 is in package\.json but has no lockfile entry/);
  assert.equal(verdict('npm', problems), '`npm ci` would fail: 1 problem');
  assert.equal((await npmCi(g, added)).ok, false);
  assert.deepEqual(codes(checkLockfile(added, read(join(FIXTURES, 'yarn-classic', 'tiny-e2')))), ['lockfile-missing-entry:error:humanize-ms']);

  const p = await generate('pnpm', 'tiny-e2', reg.url, scratch);
  // A bad merge drops a snapshot: debug's edge to ms@2.0.0 now leads nowhere.
  writeFileSync(p.file, readFileSync(p.file, 'utf8').replace(/\n {2}ms@2\.0\.0: \{\}\n/, '\n'));
  const lost = checkLockfile(TINY_E2, read(p.dir));
  assert.deepEqual(codes(lost), ['lockfile-missing-entry:error:ms']);
  assert.match(lost[0].message, /debug@2\.6\.9 depends on ms@2\.0\.0, which has no lockfile entry/);
});

test('lockfile-extraneous: entries nothing depends on any more (a warning for npm ci, an error for pnpm)', async () => {
  const manifest = { ...TINY_E2, dependencies: { debug: '2.6.9' } };
  const g = await generate('npm', 'tiny-e2', reg.url, scratch);
  const problems = checkLockfile(manifest, read(g.dir));
  assert.deepEqual(codes(problems), ['lockfile-extraneous:warning:ms', 'lockfile-extraneous:warning:ms']);
  assert.ok(problems.some((p) => /ms@2\.1\.3 is locked but nothing in package\.json depends on it/.test(p.message) && p.line === lineOf(g.file, '"node_modules/ms": {')));
  assert.equal(verdict('npm', problems), '`npm ci` would succeed');
  assert.equal((await npmCi(g, manifest)).ok, true);

  const p = await generate('pnpm', 'tiny-e2', reg.url, scratch);
  assert.deepEqual(codes(checkLockfile(manifest, read(p.dir))), ['lockfile-extraneous:error:ms', 'lockfile-extraneous:warning:ms']);
  assert.deepEqual(codes(checkLockfile(manifest, read(join(FIXTURES, 'yarn-berry', 'tiny-e2')))), ['lockfile-extraneous:error:ms', 'lockfile-extraneous:error:ms']);
});

test('lockfile-unpublished: a locked version, or a whole package, the registry no longer has', async () => {
  const g = await generate('npm', 'tiny-e2', reg.url, scratch);
  const gone = editNpm(g, (l) => (l.packages['node_modules/ms'].version = '2.1.99'));
  const problems = await checkDrift(TINY_E2, gone, lookup);
  assert.deepEqual(codes(problems), ['lockfile-unpublished:error:ms']);
  assert.match(problems[0].message, /ms@2\.1\.99 is locked but the registry no longer has version 2\.1\.99/);
  assert.equal(problems[0].line, lineOf(g.file, '"node_modules/ms": {'));
  assert.equal(verdict('npm', problems), '`npm ci` would fail: 1 problem');
  // Without a lookup the registry is not consulted.
  assert.deepEqual(await checkDrift(TINY_E2, gone), []);

  const aliased = { ...TINY_E2, dependencies: { debug: '2.6.9', ms: 'npm:citadel-no-such-package@^2.1.0' } };
  const renamed = editNpm(g, (l) => {
    l.packages['node_modules/ms'].version = '2.1.3';
    l.packages['node_modules/ms'].name = 'citadel-no-such-package';
  });
  const missing = await checkDrift(aliased, renamed, lookup);
  assert.deepEqual(codes(missing), ['lockfile-unpublished:error:ms']);
  assert.match(missing[0].message, /the registry has no package citadel-no-such-package/);
});

test('lockfile-integrity-mismatch: a security signal, sha512 and sha1 alike', async () => {
  const g = await generate('npm', 'tiny-e2', reg.url, scratch);
  const forged = 'sha512-' + createHash('sha512').update('not the tarball').digest('base64');
  const served = (await lookup('ms'))!.versions['2.0.0'].dist!;
  const lock = editNpm(g, (l) => {
    l.packages['node_modules/ms'].integrity = forged;
    // Old lockfiles carry sha1 only; it is compared with the registry's shasum.
    l.packages['node_modules/debug/node_modules/ms'].integrity = 'sha1-' + Buffer.from(served.shasum!, 'hex').toString('base64');
  });
  const problems = await checkDrift(TINY_E2, lock, lookup);
  assert.deepEqual(codes(problems), ['lockfile-integrity-mismatch:error:ms']);
  assert.match(problems[0].message, /^SECURITY: .*ms@2\.1\.3 differs from the registry's.*tampered/);
  assert.equal(problems[0].line, lineOf(g.file, '"node_modules/ms": {'));

  const sha1 = editNpm(g, (l) => (l.packages['node_modules/debug/node_modules/ms'].integrity = 'sha1-' + createHash('sha1').update('x').digest('base64')));
  assert.ok(codes(await checkDrift(TINY_E2, sha1, lookup)).length === 2);

  // The yarn 1 fixtures were written against a registry serving other tarballs: every entry is flagged.
  const yarn = read(join(FIXTURES, 'yarn-classic', 'tiny-e2'));
  const flagged = await checkDrift(JSON.parse(readFileSync(join(FIXTURES, 'yarn-classic', 'tiny-e2', 'package.json'), 'utf8')), yarn, { lookup, concurrency: 2 });
  assert.deepEqual(codes(flagged), ['lockfile-integrity-mismatch:error:debug', 'lockfile-integrity-mismatch:error:ms', 'lockfile-integrity-mismatch:error:ms']);
  assert.equal(verdict('yarn-classic', flagged), '`yarn install --frozen-lockfile` would fail: 3 problems');
});

test('verdict names each tool\'s frozen install and counts only errors', () => {
  const err = { code: 'lockfile-drift', severity: 'error' as const };
  const warn = { code: 'lockfile-extraneous', severity: 'warning' as const };
  assert.equal(verdict('npm', [err, warn, { code: 'unknown-package', severity: 'error' }]), '`npm ci` would fail: 1 problem');
  assert.equal(verdict('pnpm', [err, err]), '`pnpm install --frozen-lockfile` would fail: 2 problems');
  assert.equal(verdict('bun', [warn]), '`bun install --frozen-lockfile` would succeed');
  assert.equal(verdict('yarn-berry', [{ code: 'invalid-lockfile', severity: 'error' }]), '`yarn install --immutable` would fail: 1 problem');
  assert.equal(verdict('yarn-classic', []), '`yarn install --frozen-lockfile` would succeed');
});

/** The tool's own frozen install, run in lockfile-only / dry-run mode (no tarballs needed): does it accept the lockfile? */
async function frozenOk(tool: 'npm' | 'pnpm' | 'bun', g: Generated, manifest: ProjectManifest): Promise<boolean> {
  if (tool === 'npm') return (await npmCi(g, manifest)).ok;
  writeFileSync(join(g.dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const [cmd, args] =
    tool === 'pnpm'
      ? [resolve('node_modules/.bin/pnpm'), ['install', '--frozen-lockfile', '--lockfile-only', '--ignore-scripts', '--store-dir', join(g.env.HOME!, '.pnpm-store')]]
      : [resolve('node_modules/.bin/bun'), ['install', '--frozen-lockfile', '--lockfile-only']];
  return (await run(cmd, [...args, '--registry', reg.url], g.dir, g.env)).rc === 0;
}

describe('the verdict agrees with the tool\'s own frozen install', () => {
  const scenarios: [string, ProjectManifest][] = [
    ['unchanged', TINY_E2],
    ['a range the lock no longer satisfies', { ...TINY_E2, dependencies: { debug: '2.6.9', ms: '^1.0.0' } }],
    ['a changed range the lock still satisfies', { ...TINY_E2, dependencies: { debug: '2.6.9', ms: '^2.0.0' } }],
    ['a dependency added', { ...TINY_E2, dependencies: { ...TINY_E2.dependencies, 'humanize-ms': '1.2.1' } }],
    ['a dependency removed', { ...TINY_E2, dependencies: { debug: '2.6.9' } }],
  ];
  for (const tool of ['npm', 'pnpm', 'bun'] as const) {
    test(tool, async () => {
      for (const [label, manifest] of scenarios) {
        const g = await generate(tool, 'tiny-e2', reg.url, scratch);
        const says = verdict(tool, checkLockfile(manifest, read(g.dir)));
        assert.equal(!/would fail/.test(says), await frozenOk(tool, g, manifest), `${tool}, ${label}: ${says}`);
      }
    });
  }
});

describe('workspaces: one manifest per importer path', () => {
  const base = { name: 'mono', version: '1.0.0', private: true, workspaces: ['packages/*'], dependencies: { debug: '2.6.9' } };
  const a = { name: 'a', version: '1.0.0', dependencies: { ms: '2.0.0' } };
  for (const tool of ['npm', 'pnpm', 'bun'] as const) {
    test(tool, async () => {
      // The root depends on the workspace too: npm links it by range, pnpm and bun by the workspace: protocol.
      const root = { ...base, dependencies: { ...base.dependencies, a: tool === 'npm' ? '^1.0.0' : 'workspace:*' } };
      const files = { 'package.json': root, 'packages/a/package.json': a, 'pnpm-workspace.yaml': "packages:\n  - 'packages/*'\n" };
      const g = await generate(tool, files, reg.url, scratch);
      const lock = read(g.dir);
      assert.deepEqual(Object.keys(lock.importers).sort(), ['', 'packages/a']);
      assert.deepEqual(lock.edges.find((e) => e.fromImporter && e.name === 'a'), { from: '', fromImporter: true, name: 'a', spec: root.dependencies.a, type: 'prod', to: 'packages/a', toImporter: true });
      assert.deepEqual(await checkDrift({ '': root, 'packages/a': a }, lock, lookup), []);
      const edited = { ...a, dependencies: { ms: '^1.0.0' } };
      const problems = checkLockfile({ '': root, 'packages/a': edited }, lock);
      assert.deepEqual(codes(problems), ['lockfile-drift:error:ms']);
      assert.equal(problems[0].package, 'packages/a');
      assert.match(problems[0].message, /packages\/a\/package\.json/);
    });
  }
});

// npm itself writes some entries as extraneous: an optional peer it placed that nothing else needs (found in
// create-react-app 5's fresh lockfile: tailwindcss/node_modules/yaml). That is how npm left the file, not drift.
test('an entry npm wrote as extraneous is not reported as lockfile-extraneous', async () => {
  const packages = {
    t: [{ version: '1.0.0', dependencies: { plc: '^6.0.0' } }],
    plc: [{ version: '6.0.0', peerDependencies: { yaml: '^2.0.0' }, peerDependenciesMeta: { yaml: { optional: true } } }],
    yaml: [{ version: '1.10.0' }, { version: '2.0.0' }],
  };
  await withGenerated(packages, { t: '1.0.0', yaml: '^1.0.0' }, async ({ reg, dir }) => {
    const npm = await npmResolve(dir, reg.url);
    assert.equal(npm.rc, 0, npm.stderr);
    const lock = npm.lock as unknown as NpmLockJson;
    assert.equal((lock.packages['node_modules/t/node_modules/yaml'] as { extraneous?: boolean }).extraneous, true);
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
    const read = readLockfile(dir)!;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as ProjectManifest;
    assert.deepEqual(checkLockfile(manifest, read.lockfile!).map((p) => `${p.code} ${p.name}`), []);
  });
});

// An edge an override rule redirects resolves to a version its own range refuses: npm wrote it so, and
// `npm ci` takes it. Found on express with `"overrides": { "qs": "6.13.0" }` and on MUI with a nested
// react-is rule: `citadel check` said npm ci would fail.
test('an edge an override redirects is not lockfile-drift; a locked version no rule allows still is', async () => {
  const packages = {
    a: [{ version: '1.0.0', dependencies: { q: '~6.16.0' } }],
    m: [{ version: '1.0.0', dependencies: { ri: '^19.0.0' } }],
    q: [{ version: '6.13.0' }, { version: '6.16.0' }],
    ri: [{ version: '18.3.1' }, { version: '19.0.0' }],
    react: [{ version: '18.3.1' }],
  };
  await withGenerated(packages, { a: '1.0.0', m: '1.0.0', react: '^18.3.1' }, async ({ reg, dir }) => {
    const npm = await npmResolve(dir, reg.url);
    assert.equal(npm.rc, 0, npm.stderr);
    const lock = npm.lock as unknown as NpmLockJson;
    assert.equal(lock.packages['node_modules/q'].version, '6.13.0');
    assert.equal(lock.packages['node_modules/ri'].version, '18.3.1');
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as ProjectManifest;
    assert.deepEqual(checkLockfile(manifest, readLockfile(dir)!.lockfile!).map((p) => `${p.code} ${p.name}`), []);
    // A version no rule gives (and the range refuses) is drift again.
    lock.packages['node_modules/q'].version = '6.10.0';
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
    assert.deepEqual(checkLockfile(manifest, readLockfile(dir)!.lockfile!).map((p) => `${p.code} ${p.name}`), ['lockfile-drift q']);
  }, { manifest: { overrides: { q: '6.13.0', m: { ri: '$react' } } } });
});
