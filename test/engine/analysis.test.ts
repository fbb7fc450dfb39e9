// Analysis of a finished resolution: deprecated (direct and with chains), duplicate, outdated and
// engines-mismatch, on hand-built results, then once on a fixture project resolved against the loopback registry.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyze, DependencyGraph } from '../../server/src/engine/analysis';
import type { DirectDependency, ResolvedPackage } from '../../server/src/engine/api';
import { resolveProject } from '../../server/src/engine/project';
import type { Problem } from '../../server/src/engine/types';
import { startFixtureRegistry } from '../helpers/npmOracle';

const pkg = (id: string, extra: Partial<ResolvedPackage> = {}): ResolvedPackage => {
  const at = id.lastIndexOf('@');
  return { name: id.slice(0, at), version: id.slice(at + 1), locations: [], ...extra };
};
const dep = (name: string, version: string, extra: Partial<DirectDependency> = {}): DirectDependency => ({
  name,
  spec: `^${version}`,
  type: 'prod',
  version,
  ...extra,
});
const byCode = (problems: Problem[], code: string) => problems.filter((p) => p.code === code);

// project -> a@1.0.0 -> b@2.0.0 -> c@1.0.0 (deprecated); project -> d@1.0.0 -> c@2.0.0; project -> c? no.
const TREE = {
  direct: [dep('a', '1.0.0'), dep('d', '1.0.0')],
  packages: [
    pkg('a@1.0.0', { dependencies: { b: '2.0.0' } }),
    pkg('b@2.0.0', { dependencies: { c: '1.0.0' } }),
    pkg('c@1.0.0', { deprecated: 'use c@2' }),
    pkg('d@1.0.0', { dependencies: { c: '2.0.0', b: '2.0.0' } }),
    pkg('c@2.0.0'),
  ],
};

test('a transitive deprecated package carries its shortest chain', () => {
  const [p, ...rest] = byCode(analyze({ result: TREE, manifest: {} }), 'deprecated');
  assert.equal(rest.length, 0);
  assert.equal(p!.name, 'c');
  assert.equal(p!.severity, 'info');
  // Both a > b > c and d > b > c are three long; breadth first keeps the first direct dependency's.
  assert.deepEqual(p!.path, ['a', 'b']);
  assert.equal(p!.package, 'b');
  assert.match(p!.message, /^c@1\.0\.0 is deprecated: use c@2$/);
  assert.deepEqual(p!.data, { version: '1.0.0' });
});

test('a direct deprecated dependency is a warning on its own entry, without a chain', () => {
  const result = { direct: [dep('x', '1.0.0')], packages: [pkg('x@1.0.0', { deprecated: 'gone' })] };
  const [p] = byCode(analyze({ result, manifest: {} }), 'deprecated');
  assert.equal(p!.severity, 'warning');
  assert.equal(p!.name, 'x');
  assert.equal(p!.path, undefined);
});

test('the chain is the shortest one even when a longer one is found by an earlier direct dependency', () => {
  const result = {
    direct: [dep('a', '1.0.0'), dep('z', '1.0.0')],
    packages: [pkg('a@1.0.0', { dependencies: { b: '1.0.0' } }), pkg('b@1.0.0', { dependencies: { old: '1.0.0' } }), pkg('z@1.0.0', { dependencies: { old: '1.0.0' } }), pkg('old@1.0.0', { deprecated: 'x' })],
  };
  const [p] = byCode(analyze({ result, manifest: {} }), 'deprecated');
  assert.deepEqual(p!.path, ['z']);
});

test('two versions of a package are one duplicate problem naming who needs which', () => {
  const [p, ...rest] = byCode(analyze({ result: TREE, manifest: {} }), 'duplicate');
  assert.equal(rest.length, 0);
  assert.equal(p!.name, 'c');
  assert.deepEqual(p!.data?.dependents, { '1.0.0': ['b@2.0.0'], '2.0.0': ['d@1.0.0'] });
  assert.equal(p!.message, '2 versions of c in the tree: 1.0.0 (b@2.0.0); 2.0.0 (d@1.0.0)');
  // Placed on the chain to the lowest version.
  assert.deepEqual(p!.path, ['a', 'b']);
});

test('a duplicate of a direct dependency is placed on that entry', () => {
  const result = {
    direct: [dep('c', '2.0.0'), dep('b', '2.0.0')],
    packages: [pkg('c@2.0.0'), pkg('b@2.0.0', { dependencies: { c: '1.0.0' } }), pkg('c@1.0.0')],
  };
  const [p] = byCode(analyze({ result, manifest: {} }), 'duplicate');
  assert.equal(p!.name, 'c');
  assert.equal(p!.path, undefined);
  assert.match(p!.message, /2\.0\.0 \(the project\)/);
});

test('outdated: a newer major (or 0.x minor) in latest, never a newer version in range', () => {
  const result = {
    direct: [
      dep('old', '4.21.2', { distTags: { latest: '5.1.0' } }),
      dep('fine', '4.21.2', { distTags: { latest: '4.22.0' } }),
      dep('zero', '0.3.1', { distTags: { latest: '0.4.0' } }),
      dep('ahead', '5.0.0-beta.1', { distTags: { latest: '4.0.0' } }),
      dep('unresolved', '1.0.0', { version: undefined, distTags: { latest: '2.0.0' } }),
    ],
    packages: [pkg('old@4.21.2'), pkg('fine@4.21.2'), pkg('zero@0.3.1'), pkg('ahead@5.0.0-beta.1')],
  };
  const problems = byCode(analyze({ result, manifest: {} }), 'outdated');
  assert.deepEqual(problems.map((p) => p.name), ['old', 'zero']);
  assert.equal(problems[0]!.severity, 'hint');
  assert.deepEqual(problems[0]!.data, { version: '4.21.2', latest: '5.1.0' });
  assert.equal(problems[0]!.spec, '^4.21.2');
});

test("engines-mismatch against the project's engines.node: the lowest version it allows, and no overlap", () => {
  const result = {
    direct: [dep('a', '1.0.0'), dep('b', '1.0.0'), dep('c', '1.0.0'), dep('d', '1.0.0'), dep('e', '1.0.0')],
    packages: [
      pkg('a@1.0.0', { engines: { node: '>=20' } }),
      pkg('b@1.0.0', { engines: { node: '>=16' } }),
      pkg('c@1.0.0', { engines: { node: '<16' } }),
      // Holes inside the project's range are not reported (conservative).
      pkg('d@1.0.0', { engines: { node: '^18 || >=20' } }),
      pkg('e@1.0.0', { engines: { node: 'not a range!' } }),
    ],
  };
  const problems = byCode(analyze({ result, manifest: { engines: { node: '>=18' } }, nodeVersion: '12.0.0' }), 'engines-mismatch');
  assert.deepEqual(problems.map((p) => p.name), ['a', 'c']);
  assert.match(problems[0]!.message, /requires Node ">=20", but the project's engines\.node ">=18" allows Node 18\.0\.0/);
  assert.match(problems[1]!.message, /no Node version meets both/);
});

test('engines-mismatch without project engines: the Node that runs the check', () => {
  const result = { direct: [dep('a', '1.0.0'), dep('b', '1.0.0')], packages: [pkg('a@1.0.0', { engines: { node: '>=22' } }), pkg('b@1.0.0', { engines: { node: '>=18' } })] };
  const problems = byCode(analyze({ result, manifest: {}, nodeVersion: 'v20.1.0' }), 'engines-mismatch');
  assert.deepEqual(problems.map((p) => p.name), ['a']);
  assert.match(problems[0]!.message, /this is Node 20\.1\.0/);
});

test('why: every chain to every version, shortest first, bounded', () => {
  const why = new DependencyGraph(TREE).why('c');
  assert.deepEqual(why, [
    { version: '1.0.0', chains: [['a', 'b', 'c'], ['d', 'b', 'c']] },
    { version: '2.0.0', chains: [['d', 'c']] },
  ]);
  assert.deepEqual(new DependencyGraph(TREE).why('c', 1)[0]!.chains, [['a', 'b', 'c']]);
  assert.deepEqual(new DependencyGraph(TREE).why('nope'), []);
});

test('cycles do not loop', () => {
  const result = {
    direct: [dep('a', '1.0.0')],
    packages: [pkg('a@1.0.0', { dependencies: { b: '1.0.0' } }), pkg('b@1.0.0', { dependencies: { a: '1.0.0' }, deprecated: 'x' })],
  };
  assert.deepEqual(byCode(analyze({ result, manifest: {} }), 'deprecated')[0]!.path, ['a']);
  assert.deepEqual(new DependencyGraph(result).why('b'), [{ version: '1.0.0', chains: [['a', 'b']] }]);
});

test('on a fixture project resolved against the loopback registry', async () => {
  const registry = await startFixtureRegistry();
  const scratch = mkdtempSync(join(tmpdir(), 'citadel-analysis-'));
  try {
    const dir = join(scratch, 'project');
    const home = join(scratch, 'home');
    mkdirSync(dir);
    mkdirSync(home);
    // express 4 brings two versions of debug (2.6.9, and 4.x through a direct dependency).
    const manifest = { name: 'p', version: '1.0.0', engines: { node: '>=0.10' }, dependencies: { express: '4.21.2', debug: '^4' } };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
    writeFileSync(join(home, 'user.npmrc'), '');
    const env = { HOME: home, npm_config_userconfig: join(home, 'user.npmrc'), npm_config_globalconfig: join(home, 'user.npmrc') };
    const result = await resolveProject({ dir, registry: registry.url, env });
    const problems = analyze({ result, manifest });
    const duplicate = byCode(problems, 'duplicate').find((p) => p.name === 'debug');
    assert.ok(duplicate, JSON.stringify(problems, null, 1));
    assert.equal(duplicate.path, undefined); // on the direct entry
    const versions = Object.keys(duplicate.data!.dependents!);
    assert.ok(versions.includes('2.6.9'), versions.join());
    assert.ok(duplicate.data!.dependents!['2.6.9']!.some((k) => k.startsWith('express@') || k.startsWith('body-parser@')));
    // express 4 is a major behind the recorded latest (5.x).
    const outdated = byCode(problems, 'outdated').find((p) => p.name === 'express');
    assert.ok(outdated, JSON.stringify(result.direct));
    assert.match(outdated.data!.latest!, /^5\./);
    // express requires node >= 0.10: consistent with the project's range, so no engines-mismatch for it.
    assert.equal(byCode(problems, 'engines-mismatch').find((p) => p.name === 'express'), undefined);
    const chains = new DependencyGraph(result).why('ms');
    assert.ok(chains.every((v) => v.chains.length > 0 && v.chains.every((c) => c.at(-1) === 'ms')), JSON.stringify(chains));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await registry.close();
  }
});
