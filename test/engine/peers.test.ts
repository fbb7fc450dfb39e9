// Peers the final tree does not meet: peer-missing under legacy-peer-deps, and no repeat of the ERESOLVE
// conflict that made the resolution fall back.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';

let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
before(async () => {
  reg = await startFixtureRegistry();
  const empty = join(mkdtempSync(join(tmpdir(), 'citadel-peers-')), 'npmrc');
  writeFileSync(empty, '');
  env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
});
after(() => reg.close());

function project(deps: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-peers-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: deps }));
  return dir;
}

test('legacy-peer-deps: a required peer nobody installs is peer-missing, with what npm would do', async () => {
  const r = await resolveProject({ dir: project({ 'react-dom': '18.2.0' }), registry: reg.url, env: { ...env, npm_config_legacy_peer_deps: 'true' } });
  const missing = r.problems.filter((p) => p.code === 'peer-missing');
  assert.equal(missing.length, 1, JSON.stringify(r.problems));
  assert.equal(missing[0].severity, 'warning');
  assert.deepEqual([missing[0].package, missing[0].name, missing[0].spec], ['react-dom', 'react', '^18.2.0']);
  assert.match(missing[0].message, /legacy-peer-deps.*does not fail/);
});

test('without legacy-peer-deps the same project installs the peer: no peer problem', async () => {
  const r = await resolveProject({ dir: project({ 'react-dom': '18.2.0' }), registry: reg.url, env });
  assert.deepEqual(r.problems.filter((p) => p.code.startsWith('peer-')), []);
});

test('after an ERESOLVE fallback the conflict is reported once, as the error', async () => {
  const r = await resolveProject({ dir: project({ react: '17.0.2', 'react-dom': '18.2.0' }), registry: reg.url, env });
  const peer = r.problems.filter((p) => p.code.startsWith('peer-'));
  assert.deepEqual(peer.map((p) => [p.code, p.severity, p.package, p.name]), [['peer-conflict', 'error', 'react-dom', 'react']]);
});
