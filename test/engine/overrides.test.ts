// npm overrides: the same name@version set as npm for each kind of rule (NPM-TREE.md E9-E9d),
// and EOVERRIDE reported as npm would fail with it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { listing, npmListing, withGenerated } from '../helpers/generatedRegistry';
import { npmResolve, startFixtureRegistry } from '../helpers/npmOracle';

let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
before(async () => {
  reg = await startFixtureRegistry();
  const empty = join(mkdtempSync(join(tmpdir(), 'citadel-ovr-')), 'npmrc');
  writeFileSync(empty, '');
  env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
});
after(() => reg.close());

function project(pkg: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-ovr-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'ovr', version: '1.0.0', ...pkg }));
  return dir;
}

async function both(pkg: object) {
  const dir = project(pkg);
  const npm = await npmResolve(dir, reg.url);
  const result = await resolveProject({ dir, registry: reg.url, env, npmVersion });
  const locations = result.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}`)).sort();
  const npmLocations = Object.entries<{ version?: string }>(npm.lock?.packages ?? {})
    .filter(([k]) => k.includes('node_modules/'))
    .map(([k, v]) => `${k}@${v.version}`)
    .sort();
  return { npm, result, locations, npmLocations };
}

const cases: [string, object, string[]][] = [
  ['a global rule replaces every edge of that name', { dependencies: { debug: '4.1.1' }, overrides: { ms: '2.0.0' } }, ['node_modules/debug@4.1.1', 'node_modules/ms@2.0.0']],
  [
    'a nested rule applies only below its parent',
    { dependencies: { debug: '4.1.1', 'humanize-ms': '1.2.1' }, overrides: { 'humanize-ms': { ms: '2.1.1' } } },
    ['node_modules/debug@4.1.1', 'node_modules/humanize-ms/node_modules/ms@2.1.1', 'node_modules/humanize-ms@1.2.1', 'node_modules/ms@2.1.3'],
  ],
  ['a $reference takes the root spec', { dependencies: { debug: '2.6.9', ms: '^2.0.0' }, overrides: { ms: '$ms' } }, ['node_modules/debug@2.6.9', 'node_modules/ms@2.1.3']],
  ['a keyed range applies only where it intersects', { dependencies: { debug: '4.1.1', 'humanize-ms': '1.2.1' }, overrides: { 'ms@^2.1.0': '2.1.1' } }, ['node_modules/debug@4.1.1', 'node_modules/humanize-ms@1.2.1', 'node_modules/ms@2.1.1']],
];

for (const [title, pkg, expected] of cases) {
  test(`overrides: ${title} (as npm)`, async () => {
    const { npm, result, locations, npmLocations } = await both(pkg);
    assert.equal(npm.rc, 0, npm.stderr);
    assert.deepEqual(locations, npmLocations);
    // npm's answer, written down, so a change of both sides is noticed too.
    assert.deepEqual(locations, expected);
    assert.deepEqual(result.problems, []);
  });
}

test('overrides: contradicting a direct dependency is EOVERRIDE in npm and an error problem here', async () => {
  const { npm, result } = await both({ dependencies: { ms: '2.1.3' }, overrides: { ms: '2.0.0' } });
  assert.notEqual(npm.rc, 0);
  assert.match(npm.stderr, /EOVERRIDE/);
  const p = result.problems.find((x) => x.code === 'override-conflict');
  assert.ok(p, JSON.stringify(result.problems));
  assert.equal(p.severity, 'error');
  assert.match(p.message, /EOVERRIDE/);
});

test('yarn resolutions apply as overrides everywhere or below a parent, direct dependencies included', async () => {
  const everywhere = await resolveProject({ dir: project({ dependencies: { debug: '4.1.1', ms: '^2.1.0' }, resolutions: { '**/ms': '2.0.0' } }), registry: reg.url, env, npmVersion });
  assert.deepEqual(everywhere.packages.filter((p) => p.name === 'ms').map((p) => p.version), ['2.0.0']);
  assert.deepEqual(everywhere.problems, []);
  const below = await resolveProject({ dir: project({ dependencies: { debug: '4.1.1', 'humanize-ms': '1.2.1' }, resolutions: { 'humanize-ms/ms': '2.1.1' } }), registry: reg.url, env, npmVersion });
  const ms = below.packages.filter((p) => p.name === 'ms').flatMap((p) => p.locations.map((l) => `${l}@${p.version}`)).sort();
  assert.deepEqual(ms, ['node_modules/humanize-ms/node_modules/ms@2.1.1', 'node_modules/ms@2.1.3']);
});

test('pnpm overrides (package.json pnpm.overrides and parent>child) apply the same way', async () => {
  const r = await resolveProject({ dir: project({ dependencies: { debug: '4.1.1', 'humanize-ms': '1.2.1' }, pnpm: { overrides: { 'humanize-ms>ms': '2.1.1', debug: '4.1.0' } } }), registry: reg.url, env, npmVersion });
  const got = r.packages.map((p) => `${p.name}@${p.version}`).sort();
  assert.ok(got.includes('debug@4.1.0') && got.includes('ms@2.1.1'), got.join(' '));
  assert.deepEqual(r.problems, []);
});

// npm 11 gives a node the most specific override set among the edges reaching it, and its dependencies
// with it (node.js updateOverridesEdgeInAdded). Found on @mui/material's nested react-is rule: e is a
// dependency of the project and a peer of m, so it takes m's rules, and h below it gets ri 18 from the
// top instead of the ri 16 it asks for. Generated packages, npm itself as the reference.
test('a dependency shared with a package that has nested overrides takes that package\'s rules, as npm 11 does', async () => {
  const packages = {
    m: [{ version: '1.0.0', dependencies: { ri: '^18.0.0' }, peerDependencies: { e: '^1.0.0' } }],
    e: [{ version: '1.0.0', dependencies: { h: '^3.0.0' } }],
    h: [{ version: '3.0.0', dependencies: { ri: '^16.0.0' } }],
    ri: [{ version: '16.0.0' }, { version: '18.0.0' }],
  };
  await withGenerated(packages, { m: '1.0.0', e: '1.0.0' }, async ({ reg, dir, env }) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    assert.deepEqual(listing(r), ['node_modules/e@1.0.0', 'node_modules/h@3.0.0', 'node_modules/m@1.0.0', 'node_modules/ri@18.0.0']);
    assert.deepEqual(listing(r), await npmListing(dir, reg.url));
  }, { manifest: { overrides: { m: { ri: '^18.0.0' } } } });
});
