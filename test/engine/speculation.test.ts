// What the fetcher asks for ahead of the walk (fetcher.ts speculate()), seen from an in-memory source.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolve } from '../../server/src/engine/resolver';
import type { FetchedPackument, Manifest, Packument } from '../../server/src/engine/types';

function doc(name: string, m: Omit<Manifest, 'name' | 'version'> = {}): Packument {
  return {
    name,
    'dist-tags': { latest: '1.0.0' },
    versions: { '1.0.0': { name, version: '1.0.0', ...m, dist: { tarball: `x/${name}-1.0.0.tgz`, integrity: 'sha512-x' } } },
  };
}

test("an optional peer's own peers are requested before the walk reaches it", async () => {
  // m depends on a; a has the optional peer b, and b has the peer c. npm loads b into a's peer set
  // (for conflicts) whether or not b is installed, and with it c: the walk will ask for c. k's document
  // is held back, so the walk (at the root's k) cannot be what asks for c while it is held.
  const docs = new Map<string, Packument>([
    ['k', doc('k')],
    ['m', doc('m', { dependencies: { a: '^1.0.0' } })],
    ['a', doc('a', { peerDependencies: { b: '^1.0.0' }, peerDependenciesMeta: { b: { optional: true } } })],
    ['b', doc('b', { peerDependencies: { c: '^1.0.0' } })],
    ['c', doc('c')],
  ]);
  const requested: string[] = [];
  let releaseK!: () => void;
  const kHeld = new Promise<void>((ok) => (releaseK = ok));
  let cAsked!: () => void;
  const cRequested = new Promise<void>((ok) => (cAsked = ok));
  const source = {
    async packument(name: string): Promise<FetchedPackument> {
      requested.push(name);
      if (name === 'c') cAsked();
      if (name === 'k') await kHeld;
      return { packument: docs.get(name)!, bytes: 0 };
    },
  };
  const result = resolve({ manifest: { name: 'root', version: '1.0.0', dependencies: { k: '1.0.0', m: '1.0.0' } }, source });
  const first = await Promise.race([cRequested.then(() => 'c'), new Promise((ok) => setTimeout(() => ok('timeout'), 2000))]);
  releaseK();
  const r = await result;
  assert.equal(first, 'c', `c was not requested while the walk waited for k (requested: ${requested.join(', ')})`);
  // Optional peers are not installed unless something else brings them in, nor their peers.
  assert.deepEqual(r.packages.map((p) => p.name).sort(), ['a', 'k', 'm']);
  assert.deepEqual(r.problems, []);
});
