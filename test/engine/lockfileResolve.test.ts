// Resolving from package-lock.json as npm does: locked versions that still satisfy their specs stay and
// are not fetched; after a range is edited the result equals what `npm install --package-lock-only`
// then writes. A broken lockfile is a problem with file and line, and resolution goes on without it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, npmResolve, startFixtureRegistry, type NpmLock } from '../helpers/npmOracle';

let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
before(async () => {
  reg = await startFixtureRegistry();
  const empty = join(mkdtempSync(join(tmpdir(), 'citadel-lock-')), 'npmrc');
  writeFileSync(empty, '');
  env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
});
after(() => reg.close());

function locationsOf(lock: NpmLock | undefined): string[] {
  return Object.entries(lock?.packages ?? {})
    .filter(([k, v]) => k.includes('node_modules/') && !v.link && v.version)
    .map(([k, v]) => `${k}@${v.version}`)
    .sort();
}

/** A copy of a fixture with the lockfile npm writes for it. */
async function lockedCopy(name: string, legacyPeerDeps: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `citadel-lock-${name}-`));
  cpSync(fixtureDir(name), dir, { recursive: true });
  const npm = await npmResolve(dir, reg.url, { legacyPeerDeps });
  assert.equal(npm.rc, 0, npm.stderr);
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(npm.lock, null, 2));
  return dir;
}

function edit(dir: string, change: (pkg: { dependencies: Record<string, string>; devDependencies?: Record<string, string> }) => void): void {
  const file = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  change(pkg);
  writeFileSync(file, JSON.stringify(pkg, null, 2));
}

const cases: [string, boolean, (pkg: { dependencies: Record<string, string> }) => void, string][] = [
  ['small', false, (p) => (p.dependencies.dotenv = '^15.0.0'), 'lockfile-drift'],
  ['small', false, (p) => (p.dependencies['humanize-ms'] = '^1.2.1'), 'lockfile-missing-entry'],
  ['large', true, (p) => (p.dependencies.lodash = '~4.16.0'), 'lockfile-drift'],
];

for (const [name, legacy, change, code] of cases) {
  test(`lockfile + one edited range = what npm then writes (${name}: ${change.toString().replace(/^.*=> /, '')})`, async () => {
    const dir = await lockedCopy(name, legacy);
    const lockedBefore = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as NpmLock;
    // Unchanged: the locked tree is the answer, and nothing is fetched.
    await reg.idle();
    const from = reg.log.length;
    const same = await resolveProject({ dir, registry: reg.url, env: legacy ? { ...env, npm_config_legacy_peer_deps: 'true' } : env, npmVersion, directDistTags: false });
    assert.equal(reg.log.length - from, 0, 'an unchanged project needs no request');
    assert.deepEqual(same.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}`)).sort(), locationsOf(lockedBefore));
    edit(dir, change);
    const npm = await npmResolve(dir, reg.url, { legacyPeerDeps: legacy, keepLockfile: true });
    assert.equal(npm.rc, 0, npm.stderr);
    await reg.idle();
    const mark = reg.log.length;
    const r = await resolveProject({ dir, registry: reg.url, env: legacy ? { ...env, npm_config_legacy_peer_deps: 'true' } : env, npmVersion, directDistTags: false });
    const mine = r.packages.flatMap((p) => p.locations.map((l) => `${l}@${p.version}`)).sort();
    const theirs = locationsOf(npm.lock);
    assert.deepEqual({ onlyNpm: theirs.filter((x) => !mine.includes(x)), onlyCitadel: mine.filter((x) => !theirs.includes(x)) }, { onlyNpm: [], onlyCitadel: [] });
    // Only the edited dependency's closure was fetched, not the locked tree.
    assert.ok(reg.log.length - mark < 20, `${reg.log.length - mark} requests`);
    // The lockfile no longer matches package.json: npm ci would fail on the edited entry.
    assert.ok(r.problems.some((p) => p.code === code), JSON.stringify(r.problems.map((p) => p.code)));
  });
}

test('a lockfile with merge-conflict markers is a problem with its line, and resolution goes on from package.json', async () => {
  const dir = await lockedCopy('tiny-e3', false);
  const file = join(dir, 'package-lock.json');
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.splice(5, 0, '<<<<<<< HEAD', '=======', '>>>>>>> branch');
  writeFileSync(file, lines.join('\n'));
  const r = await resolveProject({ dir, registry: reg.url, env, npmVersion });
  const bad = r.problems.find((p) => p.message.includes('conflict'));
  assert.ok(bad, JSON.stringify(r.problems));
  assert.equal((bad as { line?: number }).line, 6);
  assert.deepEqual(r.packages.map((p) => `${p.name}@${p.version}`).sort(), ['debug@2.6.9', 'humanize-ms@1.2.1', 'ms@2.0.0']);
});

test('--lockfile ignore resolves fresh', async () => {
  const dir = await lockedCopy('tiny-e1', false);
  await reg.idle();
  const from = reg.log.length;
  await resolveProject({ dir, registry: reg.url, env, npmVersion, lockfile: 'ignore' });
  assert.ok(reg.log.length - from >= 2);
});
