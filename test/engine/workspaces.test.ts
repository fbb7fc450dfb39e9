// npm workspaces: a monorepo resolves as one graph with each workspace package as a root, and the
// name@version set equals npm's for the same registry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadNpmConfig } from '../../server/src/engine/npmrc';
import { createRegistryClient } from '../../server/src/engine/registryClient';
import { resolve } from '../../server/src/engine/resolver';
import { findWorkspaces } from '../../server/src/engine/workspaces';
import { resolveProject } from '../../server/src/engine/project';
import type { ProjectManifest } from '../../server/src/engine/api';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, npmResolve, startFixtureRegistry } from '../helpers/npmOracle';

let reg: TestRegistry;
before(async () => {
  reg = await startFixtureRegistry();
});
after(() => reg.close());

async function resolveDir(dir: string) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as ProjectManifest;
  const { workspaces, problems } = findWorkspaces(dir, manifest);
  const client = createRegistryClient(loadNpmConfig({ cli: { registry: reg.url }, env: {} }));
  try {
    const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
    const result = await resolve({ manifest, workspaces, source: client, npmVersion });
    return { result, workspaces, problems };
  } finally {
    client.close();
  }
}

test('workspace globs find each package folder with a package.json, excluding negations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-ws-'));
  for (const p of ['packages/a', 'packages/b', 'packages/skip', 'apps/web/x', 'packages/nopkg']) mkdirSync(join(dir, p), { recursive: true });
  for (const [p, name] of [['packages/a', 'a'], ['packages/b', 'b'], ['packages/skip', 'skip'], ['apps/web/x', 'x']]) {
    writeFileSync(join(dir, p, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
  }
  const { workspaces, problems } = findWorkspaces(dir, { workspaces: ['packages/*', '!packages/skip', 'apps/**'] });
  assert.deepEqual(workspaces.map((w) => w.path), ['apps/web/x', 'packages/a', 'packages/b']);
  assert.deepEqual(problems, []);
});

test('two workspaces with one name are a problem, not a crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-ws-'));
  for (const p of ['packages/a', 'packages/b']) {
    mkdirSync(join(dir, p), { recursive: true });
    writeFileSync(join(dir, p, 'package.json'), JSON.stringify({ name: 'same', version: '1.0.0' }));
  }
  const { workspaces, problems } = findWorkspaces(dir, { workspaces: { packages: ['packages/*'] } });
  assert.equal(workspaces.length, 1);
  assert.match(problems[0].message, /both named "same"/);
});

test('npm parity: monorepo with workspaces', async () => {
  const dir = fixtureDir('monorepo');
  const npm = await npmResolve(dir, reg.url);
  assert.equal(npm.rc, 0, npm.stderr);
  reg.resetLog();
  const { result, workspaces } = await resolveDir(dir);
  assert.equal(workspaces.length, 3);
  const set = new Set(result.packages.map((p) => `${p.name}@${p.version}`));
  assert.deepEqual({ onlyNpm: [...npm.set].filter((x) => !set.has(x)), onlyCitadel: [...set].filter((x) => !npm.set.has(x)) }, { onlyNpm: [], onlyCitadel: [] });
  // Workspace packages are roots, linked from node_modules, never fetched from the registry.
  assert.ok(!reg.log.some((e) => e.name?.startsWith('@mono/')));
  // Placement matches npm's too: a conflicting version nests under the workspace folder.
  const locations = result.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}`)).sort();
  const npmLocations = Object.entries(npm.lock?.packages ?? {})
    .filter(([k, v]) => k.includes('node_modules/') && !v.link)
    .map(([k, v]) => `${k}@${v.version}`)
    .sort();
  assert.deepEqual(locations, npmLocations);
});

test('pnpm-workspace.yaml: packages, catalogs and the workspace: protocol resolve without problems', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-pnpm-ws-'));
  writeFileSync(join(dir, 'pnpm-workspace.yaml'), "packages:\n  - 'packages/*'\ncatalog:\n  debug: 2.6.9\ncatalogs:\n  old:\n    ms: 2.0.0\n");
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'root', version: '1.0.0', private: true, devDependencies: { ms: 'catalog:old' } }));
  for (const [name, deps] of [['a', { debug: 'catalog:', b: 'workspace:*' }], ['b', { 'humanize-ms': '1.2.1' }]] as const) {
    mkdirSync(join(dir, 'packages', name), { recursive: true });
    writeFileSync(join(dir, 'packages', name, 'package.json'), JSON.stringify({ name, version: '1.0.0', dependencies: deps }));
  }
  const empty = join(dir, 'empty-npmrc');
  writeFileSync(empty, '');
  const r = await resolveProject({ dir, registry: reg.url, env: { npm_config_userconfig: empty, npm_config_globalconfig: empty } });
  assert.deepEqual(r.problems, []);
  const set = r.packages.map((p) => `${p.name}@${p.version}`).sort();
  assert.ok(set.includes('debug@2.6.9') && set.includes('ms@2.0.0') && set.includes('humanize-ms@1.2.1'), set.join(' '));
  assert.ok(!set.some((p) => p.startsWith('a@') || p.startsWith('b@')), 'workspace packages are linked, not fetched');
});

test('a catalog: entry that does not exist is an invalid-spec problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-pnpm-ws-'));
  writeFileSync(join(dir, 'pnpm-workspace.yaml'), 'packages: []\ncatalog:\n  debug: 2.6.9\n');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'root', version: '1.0.0', dependencies: { ms: 'catalog:' } }));
  const empty = join(dir, 'empty-npmrc');
  writeFileSync(empty, '');
  const r = await resolveProject({ dir, registry: reg.url, env: { npm_config_userconfig: empty, npm_config_globalconfig: empty } });
  assert.equal(r.problems[0]?.code, 'invalid-spec');
  assert.match(r.problems[0].message, /catalog/);
});
