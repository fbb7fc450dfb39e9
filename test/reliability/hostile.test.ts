// Hostile and damaged input the fuzzer found, pinned as plain cases: each once threw out of a reader (or
// hung it), and must now come back as a problem with file and position.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLockfile, type LockfileKind } from '../../server/src/engine/lockfile';
import { loadNpmConfig } from '../../server/src/engine/npmrc';
import { resolve } from '../../server/src/engine/resolver';
import { RegistryError, type Packument, type PackumentSource } from '../../server/src/engine/types';
import { cleanScratch, packument, scratch } from './helpers';

after(cleanScratch);

function problemsOf(kind: LockfileKind, text: string): { message: string; line: number; column: number }[] {
  const r = parseLockfile(kind, text, 'lock');
  for (const p of r.problems) assert.equal(p.file, 'lock');
  return r.problems.map((p) => ({ message: p.message, line: p.line, column: p.column }));
}

test('npm lockfile: entries that are not objects, versions that are not strings, maps that are not maps', () => {
  const v3 = JSON.stringify({
    lockfileVersion: 3,
    packages: { '': { dependencies: 'x' }, 'node_modules/a': null, 'node_modules/b': { version: ['1'] }, 'node_modules/c': { version: '1.0.0', dependencies: { d: 5, e: '^1' } } },
  }, null, 2) + '\n';
  const r = parseLockfile('npm', v3, 'lock');
  assert.deepEqual(r.problems.map((p) => [p.line, /node_modules\/(a|b)/.exec(p.message)?.[1]]), [[7, 'a'], [8, 'b']]);
  assert.deepEqual(r.lockfile!.packages.map((p) => [p.name, p.dependencies]), [['c', { e: '^1' }]]);
  const v1 = JSON.stringify({ lockfileVersion: 1, dependencies: { a: { version: 7 }, b: { version: 'npm:' }, c: 'x', d: { version: '1.0.0', requires: [1], dependencies: 'y' } } }) + '\n';
  const r1 = parseLockfile('npm', v1, 'lock');
  assert.equal(r1.problems.length, 2, JSON.stringify(r1.problems));
  assert.deepEqual(r1.lockfile!.packages.map((p) => `${p.name}@${p.version}`), ['b@npm:', 'd@1.0.0']);
});

test('yarn classic: a string left open is reported at once (yarn 1\'s tokenizer would take seconds and ~1 GB)', () => {
  const text = '# yarn lockfile v1\n\n\nms@^2.1.1:\n  version "2.1.3"\n  resolved "http://registry.test/ms/-/ms-2.1.3.tgz\n';
  const t0 = performance.now();
  assert.deepEqual(problemsOf('yarn-classic', text), [{ message: 'invalid yarn.lock (a string is not closed on its line)', line: 6, column: 12 }]);
  assert.ok(performance.now() - t0 < 200);
  // `#` inside a string, and a comment with a quote in it, are not open strings.
  const ok = '# yarn lockfile v1\n# "quoted\n\nms@^2.1.1:\n  version "2.1.3"\n  resolved "http://r/ms-2.1.3.tgz#abc"\n';
  assert.deepEqual(problemsOf('yarn-classic', ok), []);
});

test('yarn berry and pnpm: null entries and keys with escapes YAML allows and JSON does not', () => {
  const berry = '__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"ms@npm:^2.1.1":\n\n"a\\x41@npm:1":\n  version: 1.0.0\n  resolution: "aA@npm:1.0.0"\n';
  const b = parseLockfile('yarn-berry', berry, 'lock');
  assert.deepEqual(b.problems.map((p) => p.line), [5]);
  assert.equal(b.lockfile!.packages.length, 1);
  const pnpm = "lockfileVersion: '9.0'\n\nimporters:\n  .:\n    dependencies:\n      ms: ~\n      a: { specifier: 1 }\n\npackages:\n  ms@2.1.3: ~\n\nsnapshots:\n  ms@2.1.3: ~\n";
  const p = parseLockfile('pnpm', pnpm, 'lock');
  assert.deepEqual(p.problems, []);
  assert.deepEqual(p.lockfile!.packages.map((x) => `${x.name}@${x.version}`), ['ms@2.1.3']);
});

test('.npmrc: a registry that is not an http(s) URL is a problem that does not echo the value (it may hold a ${VAR})', () => {
  const dir = scratch();
  writeFileSync(join(dir, '.npmrc'), 'registry=x:opaque\n@s:registry=${TOKEN}:/\n@t:registry=${TOKEN}\nstrict-ssl=${TOKEN}\nfetch-retries=${TOKEN}\n');
  const config = loadNpmConfig({ projectDir: dir, home: dir, env: { TOKEN: 'sekrit-value', npm_config_userconfig: join(dir, 'no'), npm_config_globalconfig: join(dir, 'no') } });
  assert.equal(config.registry, 'https://registry.npmjs.org/');
  assert.deepEqual(config.scopes, {});
  assert.equal(config.errors.length, 5);
  assert.ok(config.errors.every((e) => !e.message.includes('sekrit')), JSON.stringify(config.errors));
});

/** Any name: a tiny document; `evil` depends on ms with a spec holding a lone surrogate (valid JSON: "\ud800"). */
const source: PackumentSource = {
  async packument(name) {
    if (name === 'evil') return { packument: packument('evil', { '1.0.0': { dependencies: { ms: 'next\uD800' } } }), bytes: 1 };
    if (!/^[a-z]+$/.test(name)) throw new RegistryError('E404', `${name} is not in the registry`, 404);
    return { packument: packument(name, { '1.0.0': {} }) as Packument, bytes: 1 };
  },
};

// Found by the fuzzer, fixed in engine/spec.ts: parseSpec's tag test called encodeURIComponent(spec), which
// throws URIError for a lone surrogate, and the throw escaped resolve(): one such spec, in package.json or in
// any registry document in the tree, failed the whole resolution instead of giving one invalid-spec problem.
test('a spec with a lone surrogate is an invalid-spec problem, not a failed resolution', async () => {
  const direct = await resolve({ manifest: { dependencies: { ms: 'next\uD800', debug: '^1.0.0' } }, source });
  assert.deepEqual(direct.problems.map((p) => p.code), ['invalid-spec']);
  assert.deepEqual(direct.packages.map((p) => p.name), ['debug']);
  const transitive = await resolve({ manifest: { dependencies: { evil: '^1.0.0' } }, source });
  assert.ok(transitive.packages.some((p) => p.name === 'evil'));
  assert.deepEqual(transitive.problems.map((p) => p.code), ['invalid-spec']);
});
