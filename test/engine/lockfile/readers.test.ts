// Each lockfile reader against lockfiles the real tool wrote for fixture projects on the loopback registry,
// compared with what that tool reports about its own lockfile (`npm ls`, `pnpm list`, `bun pm ls`,
// `yarn list`, `yarn info`): the same name@version set and the same edges.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseLockfile, readLockfile, type Lockfile } from '../../../server/src/engine/lockfile';
import type { TestRegistry } from '../../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../../helpers/npmOracle';
import { generate, modelView, pnpmView, readJson, toolView, yarnBerryView, yarnClassicView, type NpmLockJson, type Tool } from './tools';

let reg: TestRegistry;
let scratch: string;
before(async () => {
  reg = await startFixtureRegistry();
  scratch = mkdtempSync(join(tmpdir(), 'citadel-lockfile-'));
});
after(async () => {
  await reg.close();
  rmSync(scratch, { recursive: true, force: true });
});

const PROJECTS = ['tiny-e2', 'tiny-e4', 'aliases-optional'];
const FIXTURES = resolve(process.cwd(), 'test/fixtures/lockfiles');

function read(dir: string): Lockfile {
  const r = readLockfile(dir);
  assert.ok(r, `no lockfile in ${dir}`);
  assert.deepEqual(r.problems, []);
  return r.lockfile!;
}

/** The 1-based line of the first line of `text` that contains `needle`. */
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('readers equal the tool that wrote the lockfile', () => {
  const cases: [Tool, string, 'install' | 'real' | 'key', string[]][] = [
    ['npm', 'npm v3', 'install', []],
    ['npm', 'npm v2', 'install', ['--lockfile-version', '2']],
    ['pnpm', 'pnpm v9', 'real', []],
    ['bun', 'bun.lock', 'key', []],
  ];
  for (const [tool, label, naming, extra] of cases) {
    for (const project of PROJECTS) {
      test(`${label}: ${project}`, async () => {
        const g = await generate(tool, project, reg.url, scratch, extra);
        const lock = read(g.dir);
        assert.equal(lock.kind, tool);
        if (label === 'npm v2') assert.equal(lock.version, 2);
        assert.deepEqual(modelView(lock, naming), await toolView(tool, g));
      });
    }
  }

  for (const project of PROJECTS) {
    test(`yarn classic (committed, regenerate.mjs): ${project}`, () => {
      const lock = read(join(FIXTURES, 'yarn-classic', project));
      assert.equal(lock.kind, 'yarn-classic');
      // Every edge must also land on an entry: yarn resolves by exact descriptor.
      assert.deepEqual(lock.edges.filter((e) => e.to === null), []);
      assert.deepEqual(modelView(lock, 'install-spec'), yarnClassicView(readJson(join(FIXTURES, 'yarn-classic', project, 'report.json'))));
    });
    test(`yarn berry (committed, regenerate.mjs): ${project}`, () => {
      const lock = read(join(FIXTURES, 'yarn-berry', project));
      assert.equal(lock.kind, 'yarn-berry');
      assert.deepEqual(modelView(lock, 'real'), yarnBerryView(readJson(join(FIXTURES, 'yarn-berry', project, 'report.json'))));
    });
    test(`pnpm v6 (pnpm 8, committed): ${project} equals pnpm 12's listing of the same project`, () => {
      const lock = read(join(FIXTURES, 'pnpm6', project));
      assert.equal(String(lock.version), '6.0');
      assert.deepEqual(modelView(lock, 'real'), pnpmView(readJson(join(FIXTURES, 'pnpm6', project, 'report.json'))));
    });
  }
});

/**
 * npm 11 cannot write lockfileVersion 1, so v1 is npm's own v3 output converted the way npm 6 laid it out:
 * entries nested by location under `dependencies`, `requires` holding dependencies and optional ones (npm 6
 * did not install peers), aliases as `npm:name@version`. It must read as the same tree minus peer edges.
 */
interface V1Entry {
  version: string;
  resolved?: string;
  integrity?: string;
  dev?: true;
  optional?: true;
  requires?: Record<string, string>;
  dependencies?: Record<string, V1Entry>;
}

function toV1(v3: NpmLockJson): object {
  const root: Record<string, V1Entry> = {};
  for (const [location, e] of Object.entries(v3.packages)) {
    if (location === '') continue;
    const names = location.split('node_modules/').slice(1).map((s) => s.replace(/\/$/, ''));
    let parent = root;
    for (const n of names.slice(0, -1)) parent = parent[n].dependencies ??= {};
    const name = names[names.length - 1];
    const requires = { ...e.dependencies, ...e.optionalDependencies };
    parent[name] = {
      version: e.name && e.name !== name ? `npm:${e.name}@${e.version}` : e.version,
      resolved: e.resolved,
      integrity: e.integrity,
      ...(e.dev && { dev: true }),
      ...(e.optional && { optional: true }),
      ...(Object.keys(requires).length && { requires }),
    };
  }
  return { name: v3.name, version: v3.version, lockfileVersion: 1, requires: true, dependencies: root };
}

for (const project of PROJECTS) {
  test(`npm v1 (converted from npm's v3): ${project}`, async () => {
    const g = await generate('npm', project, reg.url, scratch);
    const v3 = read(g.dir);
    writeFileSync(g.file, JSON.stringify(toV1(readJson(g.file) as NpmLockJson), null, 2) + '\n');
    const v1 = read(g.dir);
    assert.equal(v1.version, 1);
    const withoutPeers = { ...v3, edges: v3.edges.filter((e) => e.type !== 'peer') };
    assert.deepEqual(modelView(v1, 'install'), modelView(withoutPeers, 'install'));
    const alias = v1.packages.find((p) => p.name === 'zdebug');
    if (project === 'aliases-optional') assert.deepEqual([alias?.realName, alias?.version], ['debug', '2.6.9']);
  });
}

test('npm: locations, aliases, flags, integrity, importers and lines as recorded', async () => {
  const g = await generate('npm', 'aliases-optional', reg.url, scratch);
  const lock = read(g.dir);
  const text = readFileSync(g.file, 'utf8');
  const zdebug = lock.packages.find((p) => p.key === 'node_modules/zdebug')!;
  assert.equal(zdebug.name, 'zdebug');
  assert.equal(zdebug.realName, 'debug');
  assert.equal(zdebug.location, 'node_modules/zdebug');
  assert.match(zdebug.integrity ?? '', /^sha512-/);
  assert.ok(zdebug.resolved?.startsWith(reg.url));
  assert.deepEqual(zdebug.dependencies, { ms: '2.0.0' });
  assert.equal(zdebug.line, lineOf(text, '"node_modules/zdebug": {'));
  const linux = lock.packages.find((p) => p.key === 'node_modules/@esbuild/linux-x64')!;
  assert.equal(linux.optional, true);
  assert.deepEqual(lock.importers[''].optionalDependencies, { '@swc/core': '^1.7.26' });
  assert.equal(lock.importers[''].dependencies.zdebug, 'npm:debug@2.6.9');
  const rootEdge = lock.edges.find((e) => e.fromImporter && e.name === 'zdebug');
  assert.deepEqual(rootEdge, { from: '', fromImporter: true, name: 'zdebug', spec: 'npm:debug@2.6.9', type: 'prod', to: 'node_modules/zdebug' });
});

test('pnpm v9 and v6: peer-suffixed keys, alias edges, importer specifiers and lines', async () => {
  const g = await generate('pnpm', 'tiny-e4', reg.url, scratch);
  for (const [lock, text] of [
    [read(g.dir), readFileSync(g.file, 'utf8')],
    [read(join(FIXTURES, 'pnpm6', 'tiny-e4')), readFileSync(join(FIXTURES, 'pnpm6', 'tiny-e4', 'pnpm-lock.yaml'), 'utf8')],
  ] as const) {
    const dom = lock.packages.find((p) => p.name === 'react-dom')!;
    assert.equal(dom.key, 'react-dom@18.2.0(react@18.3.1)');
    assert.deepEqual(dom.peerDependencies, { react: '^18.2.0' });
    assert.match(dom.integrity ?? '', /^sha512-/);
    assert.equal(dom.line, lineOf(text, 'react-dom@18.2.0(react@18.3.1):'));
    assert.deepEqual(lock.importers[''].dependencies, { 'react-dom': '18.2.0' });
    assert.deepEqual(
      lock.edges.filter((e) => e.from === dom.key).map((e) => e.to),
      ['loose-envify@1.4.0', 'react@18.3.1', 'scheduler@0.23.2'],
    );
  }
  const a = await generate('pnpm', 'aliases-optional', reg.url, scratch);
  const edge = read(a.dir).edges.find((e) => e.fromImporter && e.name === 'zdebug');
  assert.deepEqual([edge?.spec, edge?.to], ['npm:debug@2.6.9', 'debug@2.6.9']);
});

test('bun: nested install paths resolve the way node does, aliases keep their real name', async () => {
  const g = await generate('bun', 'aliases-optional', reg.url, scratch);
  const lock = read(g.dir);
  const zdebug = lock.packages.find((p) => p.key === 'zdebug')!;
  assert.deepEqual([zdebug.name, zdebug.realName, zdebug.version], ['zdebug', 'debug', '2.6.9']);
  const ms = lock.edges.find((e) => e.from === 'zdebug' && e.name === 'ms')!;
  assert.equal(lock.packages.find((p) => p.key === ms.to)?.version, '2.0.0');
  assert.equal(zdebug.line, lineOf(readFileSync(g.file, 'utf8'), '"zdebug": ['));
});

test('yarn: descriptors, aliases, optional dependencies and workspace importers', () => {
  const classic = read(join(FIXTURES, 'yarn-classic', 'aliases-optional'));
  const z = classic.packages.find((p) => p.name === 'zdebug')!;
  assert.deepEqual([z.realName, z.version, z.descriptors], ['debug', '2.6.9', ['zdebug@npm:debug@2.6.9']]);
  const berry = read(join(FIXTURES, 'yarn-berry', 'aliases-optional'));
  assert.equal(berry.importers[''].optionalDependencies['@swc/core'], 'npm:^1.7.26');
  assert.equal(berry.importers[''].dependencies.zdebug, 'npm:debug@2.6.9');
  const esbuild = berry.packages.find((p) => p.name === 'esbuild')!;
  assert.equal(esbuild.optionalDependencies['@esbuild/linux-x64'], 'npm:0.20.2');
  const text = readFileSync(join(FIXTURES, 'yarn-berry', 'aliases-optional', 'yarn.lock'), 'utf8');
  assert.equal(esbuild.line, lineOf(text, '"esbuild@npm:0.20.2":'));
});

test('parseLockfile reads text without touching the disk', () => {
  const text = readFileSync(join(FIXTURES, 'yarn-classic', 'tiny-e2', 'yarn.lock'), 'utf8');
  const r = parseLockfile('yarn-classic', text, 'mem/yarn.lock');
  assert.deepEqual(r.lockfile?.packages.map((p) => `${p.name}@${p.version}`).sort(), ['debug@2.6.9', 'ms@2.0.0', 'ms@2.1.3']);
});
