// The fast paths for `^x.y.z`, `~x.y.z` and exact versions must agree with semver everywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import semver from 'semver';
import { satisfies } from '../../server/src/engine/semverCache';
import { parseSpec } from '../../server/src/engine/spec';

const versions: string[] = [];
for (const M of [0, 1, 2, 10]) for (const m of [0, 1, 2, 10]) for (const p of [0, 1, 3, 10]) versions.push(`${M}.${m}.${p}`);

test('satisfies agrees with semver on simple ranges over plain and prerelease versions', () => {
  const mismatches: string[] = [];
  const candidates = [...versions, '1.2.3-beta.1', '0.0.1-rc.0', '2.0.0-0'];
  // The second pass is answered from the memo of the first.
  for (const pass of [1, 2]) {
    for (const op of ['', '^', '~']) {
      for (const r of versions) {
        for (const v of candidates) {
          if (satisfies(v, op + r) !== semver.satisfies(v, op + r, { loose: true })) mismatches.push(`pass ${pass}: ${v} ${op}${r}`);
        }
      }
    }
  }
  assert.deepEqual(mismatches, []);
});

test('satisfies still handles every other range form through semver', () => {
  for (const [v, r] of [['1.5.0', '>=1.2 <2'], ['1.5.0', '1.x || 3'], ['3.0.0', '1.x || 3'], ['1.2.3-beta.2', '^1.2.3-beta.1'], ['2.0.0', '*']] as const) {
    assert.equal(satisfies(v, r), semver.satisfies(v, r, { loose: true }), `${v} ${r}`);
  }
});

test('spec fast paths classify like semver does', () => {
  assert.equal(parseSpec('a', '1.2.3').type, 'version');
  assert.equal(parseSpec('a', '^1.2.3').type, 'range');
  assert.equal(parseSpec('a', '~0.0.1').fetchSpec, '~0.0.1');
  // Leading zeros leave the fast path: semver decides, and a version spec names semver's clean form.
  const odd = parseSpec('a', '01.2.3');
  const clean = semver.valid('01.2.3', { loose: true });
  assert.equal(odd.fetchSpec, clean ?? odd.fetchSpec);
  assert.equal(satisfies('1.2.3', '^01.2.3'), semver.satisfies('1.2.3', '^01.2.3', { loose: true }));
});
