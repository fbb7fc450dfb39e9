// Shape properties of generated registries: deterministic, acyclic, every package reachable, fan-out
// and depth in npm's range, ranges that the published versions satisfy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as semver from 'semver';
import { GeneratedRegistry, generatedStore } from '../../server/src/perf/generator';
import { graphDepth } from '../../server/src/perf/simulator';

function shape(n: number) {
  const gen = new GeneratedRegistry({ packages: n });
  const deps = new Map<string, string[]>();
  let edges = 0;
  let maxFanOut = 0;
  for (let i = 0; i < n; i++) {
    const p = gen.packument(i);
    const latest = p.versions[p['dist-tags'].latest];
    const names = Object.keys({ ...latest.dependencies, ...latest.peerDependencies });
    deps.set(p.name, names);
    edges += names.length;
    maxFanOut = Math.max(maxFanOut, names.length);
  }
  const roots = Object.keys(gen.project().dependencies ?? {});
  return { gen, deps, roots, meanFanOut: edges / n, maxFanOut };
}

test('the same seed gives the same registry; another seed another', () => {
  const a = new GeneratedRegistry({ packages: 500, seed: 7 });
  const b = new GeneratedRegistry({ packages: 500, seed: 7 });
  const c = new GeneratedRegistry({ packages: 500, seed: 8 });
  assert.deepEqual(a.packument(42), b.packument(42));
  assert.notDeepEqual(
    Array.from({ length: 50 }, (_, i) => a.dependencies(i)),
    Array.from({ length: 50 }, (_, i) => c.dependencies(i)),
  );
});

test('names round-trip, scoped every tenth, unknown names are not found', async () => {
  const gen = new GeneratedRegistry({ packages: 100 });
  assert.equal(gen.name(20), '@gen/pkg-20');
  assert.equal(gen.index('@gen/pkg-20'), 20);
  assert.equal(gen.index('pkg-20'), undefined);
  assert.equal(gen.index('pkg-100'), undefined);
  assert.equal((await generatedStore(gen).packument('pkg-7'))?.name, 'pkg-7');
  assert.equal(await generatedStore(gen).packument('left-pad'), undefined);
});

for (const n of [100, 1000, 10_000]) {
  test(`N=${n}: acyclic, all reachable from the project, realistic fan-out and logarithmic depth`, () => {
    const { gen, deps, roots, meanFanOut, maxFanOut } = shape(n);
    for (const [name, ds] of deps) for (const d of ds) assert.ok(gen.index(d)! > gen.index(name)!, `${name} -> ${d} points backwards`);
    const seen = new Set(roots);
    const stack = [...roots];
    while (stack.length) {
      for (const d of deps.get(stack.pop()!) ?? []) {
        if (seen.has(d)) continue;
        seen.add(d);
        stack.push(d);
      }
    }
    assert.equal(seen.size, n);
    assert.ok(meanFanOut > 1.5 && meanFanOut < 6, `mean fan-out ${meanFanOut}`);
    if (n >= 1000) assert.ok(maxFanOut >= 8, `max fan-out ${maxFanOut}`);
    const depth = graphDepth({ roots, deps });
    assert.ok(depth >= Math.log(n) / Math.log(4) - 1 && depth <= Math.log(n) / Math.log(2) + 3, `depth ${depth}`);
  });
}

test('utility packages are shared: the most depended-on has many dependents', () => {
  const { gen, deps } = shape(2000);
  const dependents = new Map<string, number>();
  for (const ds of deps.values()) for (const d of ds) dependents.set(d, (dependents.get(d) ?? 0) + 1);
  const top = Math.max(...dependents.values());
  assert.ok(top >= 50, `top in-degree ${top}`);
  assert.equal(gen.index([...dependents].find(([, c]) => c === top)![0])! >= gen.utilityStart, true);
});

test('every range is satisfied by a published version of its target', () => {
  const gen = new GeneratedRegistry({ packages: 1000 });
  for (let i = 0; i < 1000; i++) {
    for (const m of Object.values(gen.packument(i).versions)) {
      for (const [name, range] of Object.entries({ ...m.dependencies, ...m.peerDependencies })) {
        const versions = Object.keys(gen.packument(gen.index(name)!).versions);
        assert.ok(semver.maxSatisfying(versions, range), `${m.name}@${m.version} -> ${name}@${range}`);
      }
    }
  }
});
