// The per-project pick record: a warm resolution answers every unchanged spec from it with no request
// and the same result; an edit fetches only what is new; an expired, prefer-online or damaged record
// is not used.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveProject, type ProjectCacheOptions } from '../../../server/src/engine/project';
import type { TestRegistry } from '../../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../../helpers/npmOracle';

let reg: TestRegistry;
let env: NodeJS.ProcessEnv;
before(async () => {
  reg = await startFixtureRegistry();
  const empty = join(mkdtempSync(join(tmpdir(), 'citadel-picks-')), 'npmrc');
  writeFileSync(empty, '');
  env = { npm_config_userconfig: empty, npm_config_globalconfig: empty };
});
after(() => reg.close());

function project(deps: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'citadel-picks-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: deps }));
  return dir;
}

async function run(dir: string, cache: ProjectCacheOptions) {
  await reg.idle();
  const from = reg.log.length;
  // The result memo would answer an unchanged project before the picks are consulted.
  const r = await resolveProject({ dir, registry: reg.url, env, cache: { memo: false, ...cache } });
  return { r, requests: reg.log.slice(from), set: r.packages.map((p) => `${p.name}@${p.version}`).sort() };
}

test('a warm run answers from the pick record: same packages, no request, no packument read', async () => {
  const dir = project({ express: '^4.21.2', debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-picks-cache-'));
  const cold = await run(dir, { dir: cacheDir });
  assert.ok(cold.requests.length > 30);
  assert.equal(readdirSync(join(cacheDir, 'picks')).length, 1);
  const hits: string[] = [];
  await reg.idle();
  const from = reg.log.length;
  const warm = await resolveProject({ dir, registry: reg.url, env, cache: { dir: cacheDir, memo: false }, onEvent: (e) => e.type === 'cache' && hits.push(e.name) });
  assert.equal(reg.log.length - from, 0);
  assert.deepEqual(warm.packages.map((p) => `${p.name}@${p.version}`).sort(), cold.set);
  assert.equal(warm.stats.requests, 0);
  // Only the direct dependencies' documents might be consulted (for dist-tags); none were needed.
  assert.deepEqual(hits, []);
});

test('after an edit only the new spec is fetched', async () => {
  const dir = project({ debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-picks-cache-'));
  await run(dir, { dir: cacheDir });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { debug: '2.6.9', 'humanize-ms': '1.2.1' } }));
  const edited = await run(dir, { dir: cacheDir, mode: 'prefer-offline' });
  assert.deepEqual(edited.requests.map((e) => e.name), ['humanize-ms']);
  assert.ok(edited.set.includes('humanize-ms@1.2.1'));
});

test('an expired record is not used; prefer-online ignores it; a damaged one is ignored', async () => {
  const dir = project({ debug: '2.6.9' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-picks-cache-'));
  let now = Date.now();
  await run(dir, { dir: cacheDir, now: () => now });
  now += 10 * 60 * 1000; // past the 5-minute TTL: documents are revalidated (304s), not trusted blindly
  const expired = await run(dir, { dir: cacheDir, now: () => now });
  assert.ok(expired.requests.length > 0);
  const online = await run(dir, { dir: cacheDir, mode: 'prefer-online' });
  assert.ok(online.requests.length > 0);
  const file = join(cacheDir, 'picks', readdirSync(join(cacheDir, 'picks'))[0]);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('"debug@2.6.9"', '"debug@9.9.9"'));
  const damaged = await run(dir, { dir: cacheDir, mode: 'prefer-offline' });
  assert.ok(damaged.set.includes('debug@2.6.9'));
});
