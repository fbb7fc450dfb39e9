// A peer that meets another copy at the top: npm replaces that copy when every peer group it belongs to
// can give way (be replaced by the new set, or nested deeper below the edge that brings it in), and
// re-places the displaced one deeper (can-place-dep.js, peer-entry-sets.js). Found on gatsby 5, whose
// eslint-config-react-app 6 wants @typescript-eslint 4 as peers while gatsby itself needs 5: npm puts 4
// at the top and nests 5 under gatsby. Generated packages, npm itself as the reference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import { listing, npmListing, withGenerated, type Version } from '../helpers/generatedRegistry';

const packages: Record<string, Version[]> = {
  g: [{ version: '1.0.0', dependencies: { '@t/plugin': '^5.0.0', c: '^6.0.0' } }],
  c: [{ version: '6.0.0', peerDependencies: { '@t/plugin': '^4.0.0' } }],
  '@t/plugin': [{ version: '4.0.0' }, { version: '5.0.0' }],
};

test('a peer replaces the copy at the top when that copy can nest under the package that needs it', async () => {
  await withGenerated(packages, { g: '1.0.0' }, async ({ reg, dir, env }) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    assert.deepEqual(listing(r), ['node_modules/@t/plugin@4.0.0', 'node_modules/c@6.0.0', 'node_modules/g/node_modules/@t/plugin@5.0.0', 'node_modules/g@1.0.0']);
    assert.deepEqual(r.problems.filter((p) => p.code.startsWith('peer-')), []);
    assert.deepEqual(listing(r), await npmListing(dir, reg.url));
  });
});

test('the copy stays when the project itself needs it at the top, and the peer is overridden with a warning', async () => {
  await withGenerated(packages, { g: '1.0.0', '@t/plugin': '^5.0.0' }, async ({ reg, dir, env }) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    const npm = await npmListing(dir, reg.url);
    assert.deepEqual(listing(r), npm);
    assert.ok(npm.includes('node_modules/@t/plugin@5.0.0'), npm.join(' '));
    const peer = r.problems.filter((p) => p.code === 'peer-conflict');
    assert.deepEqual(peer.map((p) => [p.severity, p.package, p.name]), [['warning', 'c', '@t/plugin']]);
    assert.match(peer[0].message, /overriding peer dependency/);
  });
});
