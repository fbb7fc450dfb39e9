import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRegistrySpec, isValidName, parseSpec, type Spec } from '../../server/src/engine/spec';

/** The fields that decide how an edge is resolved. */
function shape(s: Spec): Pick<Spec, 'type' | 'name' | 'fetchName' | 'registryType' | 'fetchSpec'> {
  return { type: s.type, name: s.name, fetchName: s.fetchName, registryType: s.registryType, fetchSpec: s.fetchSpec };
}

test('ranges keep their text; empty means any', () => {
  for (const raw of ['^1.2.3', '~1.2', '1 || 2', '*', 'x', '>=1 <2', '1.x', '1.2.3 - 2.0.0', 'v1']) {
    assert.deepEqual(shape(parseSpec('a', raw)), { type: 'range', name: 'a', fetchName: 'a', registryType: 'range', fetchSpec: raw }, raw);
  }
  assert.deepEqual(shape(parseSpec('a', '')), { type: 'range', name: 'a', fetchName: 'a', registryType: 'range', fetchSpec: '*' });
  // Surrounding whitespace is not part of the range.
  assert.equal(parseSpec('a', ' ^1.0.0 ').fetchSpec, '^1.0.0');
  assert.equal(parseSpec('a', ' ^1.0.0 ').raw, ' ^1.0.0 ');
});

test('exact versions are normalised, loose forms included', () => {
  assert.deepEqual(shape(parseSpec('a', '1.2.3')), { type: 'version', name: 'a', fetchName: 'a', registryType: 'version', fetchSpec: '1.2.3' });
  assert.equal(parseSpec('a', 'v1.2.3').type, 'version');
  assert.equal(parseSpec('a', 'v1.2.3').fetchSpec, '1.2.3');
  assert.equal(parseSpec('a', '=1.2.3').fetchSpec, '1.2.3');
  assert.deepEqual(shape(parseSpec('a', '2.0.0-beta.1')), {
    type: 'version',
    name: 'a',
    fetchName: 'a',
    registryType: 'version',
    fetchSpec: '2.0.0-beta.1',
  });
});

test('dist-tags', () => {
  for (const raw of ['latest', 'next', 'beta', 'canary-2024']) {
    assert.deepEqual(shape(parseSpec('a', raw)), { type: 'tag', name: 'a', fetchName: 'a', registryType: 'tag', fetchSpec: raw }, raw);
  }
});

test('npm: aliases install under the alias and fetch the real package', () => {
  assert.deepEqual(shape(parseSpec('zdebug', 'npm:debug@^2.6.0')), {
    type: 'alias',
    name: 'zdebug',
    fetchName: 'debug',
    registryType: 'range',
    fetchSpec: '^2.6.0',
  });
  assert.deepEqual(shape(parseSpec('myx', 'npm:@s/x@^1')), { type: 'alias', name: 'myx', fetchName: '@s/x', registryType: 'range', fetchSpec: '^1' });
  // No range: any version.
  assert.deepEqual(shape(parseSpec('myx', 'npm:@s/x')), { type: 'alias', name: 'myx', fetchName: '@s/x', registryType: 'range', fetchSpec: '*' });
  assert.deepEqual(shape(parseSpec('d', 'npm:debug')), { type: 'alias', name: 'd', fetchName: 'debug', registryType: 'range', fetchSpec: '*' });
  // Exact versions and tags through an alias.
  assert.deepEqual(shape(parseSpec('d', 'npm:debug@v2.6.9')), { type: 'alias', name: 'd', fetchName: 'debug', registryType: 'version', fetchSpec: '2.6.9' });
  assert.deepEqual(shape(parseSpec('d', 'npm:debug@next')), { type: 'alias', name: 'd', fetchName: 'debug', registryType: 'tag', fetchSpec: 'next' });
  assert.ok(isRegistrySpec(parseSpec('d', 'npm:debug@^2')));
});

test('npm: aliases of non-registry specs or bad names are invalid', () => {
  for (const raw of ['npm:github:user/repo', 'npm:../x', 'npm:', 'npm:debug@not a range!', 'npm:.hidden@1']) {
    const s = parseSpec('a', raw);
    assert.equal(s.type, 'invalid', raw);
    assert.ok(s.reason, raw);
    assert.ok(!isRegistrySpec(s), raw);
  }
});

test('nested npm: aliases are invalid (npm-package-arg: "nested aliases not supported")', () => {
  // `npm:a@npm:b@1` would fetch b, not a; npm refuses it, so it must not become a registry edge on "a".
  const s = parseSpec('x', 'npm:a@npm:b@1');
  assert.equal(s.type, 'invalid', `parsed as ${JSON.stringify(shape(s))}`);
  assert.ok(!isRegistrySpec(s));
});

test('workspace:, file:, link: and relative paths are not registry specs', () => {
  const cases: [string, Spec['type']][] = [
    ['workspace:*', 'workspace'],
    ['workspace:^1.0.0', 'workspace'],
    ['file:../lib', 'directory'],
    ['file:vendor/x.tgz', 'file'],
    ['file:../x-1.0.0.tar.gz', 'file'],
    ['link:../lib', 'directory'],
    ['./lib', 'directory'],
    ['../lib', 'directory'],
    ['.', 'directory'],
    ['..', 'directory'],
    ['/abs/lib', 'directory'],
    ['~/lib', 'directory'],
    ['./x-1.0.0.tgz', 'file'],
  ];
  for (const [raw, type] of cases) {
    const s = parseSpec('a', raw);
    assert.equal(s.type, type, raw);
    assert.equal(s.registryType, undefined, raw);
    assert.ok(!isRegistrySpec(s), raw);
    assert.equal(s.fetchName, 'a', raw);
  }
});

test('git forms and remote tarballs', () => {
  const git = [
    'git+https://github.com/user/repo.git',
    'git+ssh://git@github.com/user/repo.git#v1.0.0',
    'git://github.com/user/repo.git',
    'github:user/repo',
    'gitlab:user/repo#main',
    'bitbucket:user/repo',
    'user/repo',
    'user/repo#v1.2.3',
    'user/repo#semver:^1.0.0',
    'https://github.com/user/repo.git',
  ];
  for (const raw of git) {
    const s = parseSpec('a', raw);
    assert.equal(s.type, 'git', raw);
    assert.ok(!isRegistrySpec(s), raw);
  }
  for (const raw of ['https://example.com/pkg/-/pkg-1.0.0.tgz', 'http://127.0.0.1:9/x.tgz']) {
    const s = parseSpec('a', raw);
    assert.equal(s.type, 'remote', raw);
    assert.ok(!isRegistrySpec(s), raw);
  }
});

test('invalid specs carry a reason', () => {
  for (const raw of ['not a range!', '>=>=1', 'a b', '{}', 'latest tag']) {
    const s = parseSpec('a', raw);
    assert.equal(s.type, 'invalid', raw);
    assert.match(s.reason ?? '', /not a valid version, range or tag/, raw);
    assert.equal(s.registryType, undefined, raw);
  }
});

test('invalid package names make the spec invalid whatever it says', () => {
  const bad = ['has space', '../x', 'a/b', '.hidden', '_private', '', 'x'.repeat(215), '@scope/', '@/x', 'a:b'];
  for (const name of bad) {
    assert.equal(isValidName(name), false, name);
    const s = parseSpec(name, '^1.0.0');
    assert.equal(s.type, 'invalid', name);
    assert.match(s.reason ?? '', /not a valid package name/, name);
    assert.ok(!isRegistrySpec(s), name);
  }
  for (const name of ['a', 'x'.repeat(214), '@scope/pkg', 'lodash.merge', 'a-b_c', 'JSONStream', '@types/node']) {
    assert.equal(isValidName(name), true, name);
    assert.equal(parseSpec(name, '^1.0.0').type, 'range', name);
  }
});
