// npm parity: for every recorded fixture, npm 11 itself resolves against the loopback registry
// (`npm install --package-lock-only`) and Citadel must produce the same set of name@version.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, npmResolve, startFixtureRegistry } from '../helpers/npmOracle';

let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();

before(async () => {
  reg = await startFixtureRegistry();
  const empty = join(mkdtempSync(join(tmpdir(), 'citadel-parity-')), 'npmrc');
  writeFileSync(empty, '');
  env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
});
after(() => reg.close());

async function citadelSet(name: string, legacyPeerDeps: boolean) {
  const r = await resolveProject({
    dir: fixtureDir(name),
    registry: reg.url,
    env: legacyPeerDeps ? { ...env, npm_config_legacy_peer_deps: 'true' } : env,
    npmVersion,
  });
  return { result: r, set: new Set(r.packages.map((p) => `${p.name}@${p.version}`)) };
}

function diff(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

// Fixtures where npm succeeds as configured. `large` is pnpm's benchmark fixture, on which npm fails
// with ERESOLVE by default; like pnpm's own benchmark it runs with legacy-peer-deps.
const fixtures: [string, boolean][] = [
  ['tiny-e1', false],
  ['tiny-e2', false],
  ['tiny-e3', false],
  ['tiny-e3b', false],
  ['tiny-e4', false],
  ['tiny-e10', false],
  ['tiny-e11', false],
  ['tiny-e12', false],
  ['tiny-e14', false],
  ['tiny-e15', false],
  // fsevents 1 bundles node-pre-gyp and its closure: npm reads them from the tarball (see engine/tarball.ts).
  ['tiny-e16b', false],
  ['aliases-optional', false],
  ['small', false],
  ['medium', false],
  ['nextjs', false],
  ['peer-conflict', true],
  ['large', true],
];

for (const [name, legacy] of fixtures) {
  test(`npm parity: ${name}${legacy ? ' (legacy-peer-deps)' : ''}`, async () => {
    const npm = await npmResolve(fixtureDir(name), reg.url, { legacyPeerDeps: legacy });
    assert.equal(npm.rc, 0, `npm failed: ${npm.stderr}`);
    const { result, set } = await citadelSet(name, legacy);
    assert.deepEqual(
      { onlyNpm: diff(npm.set, set), onlyCitadel: diff(set, npm.set) },
      { onlyNpm: [], onlyCitadel: [] },
    );
    assert.deepEqual(result.problems.filter((p) => p.severity === 'error'), []);
    // Not only the set: every package sits where npm's lockfile puts it.
    const locations = result.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}`)).sort();
    const npmLocations = Object.entries(npm.lock?.packages ?? {})
      .filter(([k, v]) => k.includes('node_modules/') && !v.link && v.version)
      .map(([k, v]) => `${k}@${v.version}`)
      .sort();
    assert.deepEqual(
      { onlyNpm: npmLocations.filter((x) => !locations.includes(x)), onlyCitadel: locations.filter((x) => !npmLocations.includes(x)) },
      { onlyNpm: [], onlyCitadel: [] },
    );
  });
}

test('npm parity: peer-conflict fails in npm with ERESOLVE, and Citadel says so and resolves as legacy', async () => {
  const npm = await npmResolve(fixtureDir('peer-conflict'), reg.url);
  assert.notEqual(npm.rc, 0);
  assert.match(npm.stderr, /ERESOLVE/);
  const { result, set } = await citadelSet('peer-conflict', false);
  const conflicts = result.problems.filter((p) => p.code === 'peer-conflict');
  assert.equal(conflicts.length, 1);
  assert.match(conflicts[0].message, /ERESOLVE/);
  assert.equal(conflicts[0].name, 'react');
  const legacy = await npmResolve(fixtureDir('peer-conflict'), reg.url, { legacyPeerDeps: true });
  assert.deepEqual([...set].sort(), [...legacy.set].sort());
});
