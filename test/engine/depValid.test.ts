// npm's dep-valid compares versions only: the package at a name meets an edge of that name whatever
// package it really is. Found on Docusaurus 3, which installs `react-loadable` as an alias of
// @docusaurus/react-loadable 6 while a plugin asks for the peer react-loadable@*: npm takes it, and
// Citadel reported a peer conflict (an ERESOLVE when the alias is the project's own dependency).
// Generated packages, npm itself as the reference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveProject } from '../../server/src/engine/project';
import { listing, npmListing, withGenerated } from '../helpers/generatedRegistry';

test('a package installed under an alias meets the peers and ranges of its install name, as in npm', async () => {
  const packages = {
    '@d/rl': [{ version: '6.0.0' }],
    rl: [{ version: '5.5.0' }],
    addon: [{ version: '1.0.0', peerDependencies: { rl: '*' } }],
    addon2: [{ version: '1.0.0', dependencies: { rl: '^6.0.0' } }],
  };
  await withGenerated(packages, { rl: 'npm:@d/rl@6.0.0', addon: '1.0.0', addon2: '1.0.0' }, async ({ reg, dir, env }) => {
    const r = await resolveProject({ dir, registry: reg.url, env, lockfile: 'ignore' });
    assert.deepEqual(r.problems.filter((p) => p.code.startsWith('peer-')), []);
    assert.deepEqual(listing(r), ['node_modules/addon2@1.0.0', 'node_modules/addon@1.0.0', 'node_modules/rl@6.0.0']);
    assert.deepEqual(listing(r), await npmListing(dir, reg.url));
  });
});
