// An edit of a dependency's spec may reuse the last build (resolver's `previous`): the result must be
// exactly what a fresh build of the edited manifest gives, for every edit, reused or not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildReads, ProjectManifest, ResolveResult } from '../../server/src/engine/api';
import { loadNpmConfig } from '../../server/src/engine/npmrc';
import { parseManifest } from '../../server/src/engine/project';
import { createRegistryClient } from '../../server/src/engine/registryClient';
import { resolve } from '../../server/src/engine/resolver';
import type { FetchedPackument, PackumentSource } from '../../server/src/engine/types';
import { startTestRegistry, type TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { memoryStore, mk } from '../helpers/packuments';

let reg: TestRegistry;
let source: PackumentSource;

/** Each document fetched once: the tests are about the tree, and run hundreds of builds. */
function sourceFor(registry: TestRegistry): PackumentSource {
  const client = createRegistryClient(loadNpmConfig({ cli: { registry: registry.url }, env: {} }));
  const docs = new Map<string, Promise<FetchedPackument>>();
  return {
    packument: (name) => {
      let p = docs.get(name);
      if (!p) docs.set(name, (p = client.packument(name)));
      return p;
    },
  };
}

before(async () => {
  reg = await startFixtureRegistry();
  source = sourceFor(reg);
});
after(() => reg.close());

type Edit = (spec: string, version: string | undefined) => string | undefined;

const EDITS: Record<string, Edit> = {
  caretToTilde: (s) => (s.startsWith('^') ? `~${s.slice(1)}` : undefined),
  pinResolved: (_, v) => v,
  atLeastResolved: (_, v) => v && `>=${v}`,
  caretResolved: (_, v) => v && `^${v}`,
  tildeResolved: (_, v) => v && `~${v}`,
  any: () => '*',
  latestTag: () => 'latest',
  belowResolved: (_, v) => v && `<${v}`,
  majorBelow: (_, v) => v && `^${Math.max(0, Number(v.split('.')[0]) - 1)}.0.0`,
  invalid: () => '^^1',
};

async function build(manifest: ProjectManifest, legacyPeerDeps: boolean, previous?: BuildReads, from = source): Promise<{ result: ResolveResult; build: BuildReads }> {
  let last: BuildReads | undefined;
  const result = await resolve({ manifest, source: from, legacyPeerDeps, previous, onBuild: (b) => (last = b) });
  return { result, build: last! };
}

const comparable = (r: ResolveResult) => ({ packages: r.packages, direct: r.direct, problems: r.problems });

// Edits per dependency, taken in turn through the list (the small fixtures get every one).
for (const [fixture, legacy, perDep] of [
  ['medium', false, 2],
  ['nextjs', false, 4],
  ['peer-conflict', false, 10],
  ['aliases-optional', false, 10],
  ['large', true, 0.5],
] as const) {
  test(`an edited spec reuses the last build only when a fresh build is the same: ${fixture}`, async () => {
    const original = parseManifest(readFileSync(join(fixtureDir(fixture), 'package.json'), 'utf8'), 'package.json');
    const base = await build(original, legacy);
    const resolved = new Map(base.result.direct.map((d) => [d.name, d.version]));
    let reused = 0;
    let rebuilt = 0;
    let i = 0;
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies'] as const) {
      for (const [name, spec] of Object.entries(original[field] ?? {})) {
        const all = Object.entries(EDITS);
        // Under one edit per dependency (the large fixture): every other one, so the test stays short.
        const kinds = perDep >= 1 ? Array.from({ length: perDep }, () => all[i++ % all.length]) : i++ % 2 ? [] : [all[(i >> 1) % all.length]];
        for (const [kind, edit] of kinds) {
          const next = edit(spec, resolved.get(name));
          if (next === undefined || next === spec) continue;
          const edited = { ...original, [field]: { ...original[field], [name]: next } };
          const fresh = await build(edited, legacy);
          const fast = await build(edited, legacy, base.build);
          assert.deepEqual(comparable(fast.result), comparable(fresh.result), `${fixture}: ${name} "${spec}" -> "${next}" (${kind})`);
          if (fast.build.specs === base.build.specs) reused++;
          else rebuilt++;
        }
      }
    }
    // Both ways were taken: the comparison covered reuse and the edits that must rebuild.
    assert.ok(reused > 0 && rebuilt > 0, `${fixture}: ${reused} reused, ${rebuilt} rebuilt`);
    console.log(`${fixture}: ${reused} reused, ${rebuilt} rebuilt`);
  });
}

test('a reused build answers a spec whose version stays, and not one that moves it', async () => {
  const manifest: ProjectManifest = { name: 'p', version: '1.0.0', dependencies: { 'animate.less': '^2.2.0', 'babel-core': '^6.4.0' } };
  const base = await build(manifest, true);
  const version = base.result.direct.find((d) => d.name === 'babel-core')!.version!;
  const same = await build({ ...manifest, dependencies: { ...manifest.dependencies, 'animate.less': '~2.2.0' } }, true, base.build);
  assert.equal(same.build.specs, base.build.specs, 'the same version: reused');
  assert.equal(same.result.direct.find((d) => d.name === 'animate.less')!.spec, '~2.2.0');
  const moved = await build({ ...manifest, dependencies: { ...manifest.dependencies, 'babel-core': `<${version}` } }, true, base.build);
  assert.notEqual(moved.build.specs, base.build.specs, 'another version: rebuilt');
  assert.notEqual(moved.result.direct.find((d) => d.name === 'babel-core')!.version, version);
  const added = await build({ ...manifest, dependencies: { ...manifest.dependencies, 'left-pad': '^1.0.0' } }, true, base.build);
  assert.notEqual(added.build.specs, base.build.specs, 'a dependency added: rebuilt');
});

test('the same pick is not enough: a spec that refuses a version the build replaced with rebuilds', async () => {
  // a@1.5.0 is `latest`, so the root's ^1.0.0 picks it; b wants ^1.6.0, and npm replaces the root's
  // copy with 1.9.0 because ^1.0.0 accepts that too. ~1.5.0 picks 1.5.0 as well but refuses 1.9.0:
  // a@1.9.0 then nests under b.
  const own = await startTestRegistry({
    store: memoryStore([mk('a', { '1.5.0': {}, '1.9.0': {} }, '1.5.0'), mk('b', { '1.0.0': { a: '^1.6.0' } }, '1.0.0')]),
  });
  try {
    const from = sourceFor(own);
    const manifest: ProjectManifest = { name: 'p', version: '1.0.0', dependencies: { a: '^1.0.0', b: '^1.0.0' } };
    const base = await build(manifest, false, undefined, from);
    assert.deepEqual(base.result.packages.map((p) => `${p.name}@${p.version} ${p.locations}`), ['a@1.9.0 node_modules/a', 'b@1.0.0 node_modules/b']);
    const edited = { ...manifest, dependencies: { a: '~1.5.0', b: '^1.0.0' } };
    const fresh = await build(edited, false, undefined, from);
    const fast = await build(edited, false, base.build, from);
    assert.deepEqual(fresh.result.packages.map((p) => `${p.name}@${p.version} ${p.locations}`), ['a@1.5.0 node_modules/a', 'b@1.0.0 node_modules/b', 'a@1.9.0 node_modules/b/node_modules/a']);
    assert.deepEqual(comparable(fast.result), comparable(fresh.result));
    assert.notEqual(fast.build.specs, base.build.specs);
  } finally {
    await own.close();
  }
});
