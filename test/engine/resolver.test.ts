import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import type { ResolvedPackage } from '../../server/src/engine/api';
import { ManifestError, resolveProject, type ProjectResult } from '../../server/src/engine/project';
import type { EngineEvent, Problem } from '../../server/src/engine/types';
import { startTestRegistry, type TestRegistry } from '../../server/src/testRegistry/server';
import { FixtureStore } from '../../server/src/testRegistry/store';
import { FIXTURE_STORE, fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { memoryStore, mk } from '../helpers/packuments';

let reg: TestRegistry;
const scratch: string[] = [];

before(async () => {
  reg = await startFixtureRegistry();
});
after(async () => {
  await reg.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

interface ProjectFiles {
  /** package.json as an object, or raw text (for malformed documents). */
  pkg: object | string;
  npmrc?: string;
}

/** A temp project dir plus empty user/global npmrc files, so nothing of this machine's npm config leaks in. */
function project(files: ProjectFiles): { dir: string; env: NodeJS.ProcessEnv } {
  const root = mkdtempSync(join(tmpdir(), 'citadel-resolver-'));
  scratch.push(root);
  const dir = join(root, 'project');
  const home = join(root, 'home');
  mkdirSync(dir);
  mkdirSync(home);
  writeFileSync(join(dir, 'package.json'), typeof files.pkg === 'string' ? files.pkg : JSON.stringify(files.pkg, null, 2));
  if (files.npmrc !== undefined) writeFileSync(join(dir, '.npmrc'), files.npmrc);
  const userconfig = join(home, 'user.npmrc');
  const globalconfig = join(home, 'global.npmrc');
  writeFileSync(userconfig, '');
  writeFileSync(globalconfig, '');
  return {
    dir,
    env: {
      HOME: home,
      npm_config_userconfig: userconfig,
      npm_config_globalconfig: globalconfig,
      // Retries, when a test provokes them, should not take npm's 10 s.
      npm_config_fetch_retry_mintimeout: '10',
      npm_config_fetch_retry_maxtimeout: '50',
    },
  };
}

async function resolveDeps(
  files: ProjectFiles,
  opts: { registry?: TestRegistry; onEvent?: (e: EngineEvent) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<ProjectResult> {
  const { dir, env } = project(files);
  return resolveProject({ dir, registry: (opts.registry ?? reg).url, env: { ...env, ...opts.env }, onEvent: opts.onEvent });
}

const ids = (r: { packages: ResolvedPackage[] }): string[] => r.packages.map((p) => `${p.name}@${p.version}`).sort();
const find = (r: { packages: ResolvedPackage[] }, name: string, version?: string): ResolvedPackage | undefined =>
  r.packages.find((p) => p.name === name && (version === undefined || p.version === version));
const errors = (r: { problems: Problem[] }): Problem[] => r.problems.filter((p) => p.severity === 'error');
const fmt = (r: { problems: Problem[] }): string => JSON.stringify(r.problems, null, 1);

test('a clean project resolves with integrity, locations and no problems', async () => {
  const r = await resolveDeps({ pkg: { name: 'p', version: '1.0.0', dependencies: { debug: '2.6.9' } } });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(ids(r), ['debug@2.6.9', 'ms@2.0.0']);
  const debug = find(r, 'debug')!;
  assert.deepEqual(debug.locations, ['node_modules/debug']);
  assert.match(debug.integrity ?? '', /^sha512-/);
  assert.ok(debug.resolved?.startsWith(reg.url), debug.resolved);
  assert.equal(r.stats.requests, 2);
  assert.ok(r.stats.bytes > 0);
});

test('an unknown package is an unknown-package error; the rest still resolves', async () => {
  const r = await resolveDeps({ pkg: { dependencies: { 'citadel-no-such-package-xyz': '^1.0.0', ms: '2.1.3' } } });
  const errs = errors(r);
  assert.equal(errs.length, 1, fmt(r));
  assert.equal(errs[0].code, 'unknown-package');
  assert.equal(errs[0].name, 'citadel-no-such-package-xyz');
  assert.equal(errs[0].spec, '^1.0.0');
  assert.equal(errs[0].package, '');
  assert.deepEqual(ids(r), ['ms@2.1.3']);
});

test('no matching version: the message names the nearest published versions', async () => {
  const r = await resolveDeps({ pkg: { dependencies: { ms: '^99' } } });
  const errs = errors(r);
  assert.equal(errs.length, 1, fmt(r));
  assert.equal(errs[0].code, 'no-matching-version');
  assert.equal(errs[0].name, 'ms');
  assert.match(errs[0].message, /\^99/);
  const doc = (await new FixtureStore(resolvePath(FIXTURE_STORE)).packument('ms'))!;
  const m = /Nearest published: (.+?) \(latest is ([^)]+)\)/.exec(errs[0].message);
  assert.ok(m, errs[0].message);
  assert.equal(m[2], doc['dist-tags'].latest);
  const listed = m[1].split(', ');
  assert.ok(listed.length > 0 && listed.length <= 4, m[1]);
  for (const v of listed) assert.ok(doc.versions[v], `${v} is not a published version of ms`);
  assert.deepEqual(r.packages, []);
});

test('an invalid dependency name is an invalid-spec error and is never requested', async () => {
  await reg.idle();
  const from = reg.log.length;
  const r = await resolveDeps({ pkg: { dependencies: { '../ms': '^2.0.0', '.bin': '1.0.0', ms: '2.1.3' } } });
  const errs = errors(r);
  assert.deepEqual(errs.map((p) => [p.code, p.name]).sort(), [['invalid-spec', '../ms'], ['invalid-spec', '.bin']], fmt(r));
  assert.deepEqual(ids(r), ['ms@2.1.3']);
  assert.deepEqual(reg.log.slice(from).map((e) => e.url), ['/ms']);
});

test('a nested npm: alias is an invalid-spec error, as npm refuses it', async () => {
  // npm-package-arg throws "nested aliases not supported" for `npm:debug@npm:ms@2.1.3`; npm install fails.
  const r = await resolveDeps({ pkg: { dependencies: { x: 'npm:debug@npm:ms@2.1.3' } } });
  assert.deepEqual(
    errors(r).map((p) => [p.code, p.name]),
    [['invalid-spec', 'x']],
    `problems: ${fmt(r)}\npackages: ${ids(r).join()}`,
  );
  assert.deepEqual(r.packages, []);
});

test('an invalid spec is an invalid-spec error', async () => {
  const r = await resolveDeps({ pkg: { dependencies: { x: 'not a range!', ms: '2.1.3' } } });
  const errs = errors(r);
  assert.equal(errs.length, 1, fmt(r));
  assert.equal(errs[0].code, 'invalid-spec');
  assert.equal(errs[0].name, 'x');
  assert.equal(errs[0].spec, 'not a range!');
  assert.deepEqual(ids(r), ['ms@2.1.3']);
});

test('git, file, link, tarball and workspace specs are unsupported-spec infos, never errors', async () => {
  const odd = {
    g: 'github:user/repo',
    h: 'git+https://github.com/user/repo.git#v1',
    f: 'file:../lib',
    l: 'link:../lib',
    t: 'https://example.invalid/t-1.0.0.tgz',
    w: 'workspace:*',
  };
  const r = await resolveDeps({ pkg: { dependencies: { ...odd, debug: '2.6.9' }, devDependencies: { s: 'user/repo#main' } } });
  assert.deepEqual(errors(r), []);
  const infos = r.problems.filter((p) => p.code === 'unsupported-spec');
  assert.deepEqual(infos.map((p) => p.name).sort(), [...Object.keys(odd), 's'].sort(), fmt(r));
  for (const p of infos) assert.equal(p.severity, 'info');
  assert.deepEqual(ids(r), ['debug@2.6.9', 'ms@2.0.0']);
  // Nothing was requested for the non-registry names.
  for (const name of [...Object.keys(odd), 's']) assert.ok(!reg.log.some((e) => e.name === name), name);
});

test('a missing optional dependency is not an error problem', async () => {
  const r = await resolveDeps({ pkg: { dependencies: { ms: '2.1.3' }, optionalDependencies: { 'citadel-missing-optional-xyz': '^1.0.0' } } });
  assert.deepEqual(errors(r), [], fmt(r));
  assert.deepEqual(ids(r), ['ms@2.1.3']);
  // It was looked up (and is simply absent).
  assert.ok(reg.log.some((e) => e.name === 'citadel-missing-optional-xyz' && e.status === 404));
});

test('react 17 + react-dom 18: one ERESOLVE peer-conflict, resolved as --legacy-peer-deps', async () => {
  const r = await resolveDeps({ pkg: { dependencies: { react: '17.0.2', 'react-dom': '18.2.0' } } });
  const conflicts = r.problems.filter((p) => p.code === 'peer-conflict');
  assert.equal(conflicts.length, 1, fmt(r));
  assert.equal(conflicts[0].severity, 'error');
  assert.match(conflicts[0].message, /ERESOLVE/);
  assert.equal(conflicts[0].name, 'react');
  assert.deepEqual(errors(r), conflicts);
  assert.ok(find(r, 'react', '17.0.2'), ids(r).join());
  assert.ok(find(r, 'react-dom', '18.2.0'), ids(r).join());
  assert.ok(find(r, 'scheduler'), ids(r).join());
  // What `npm install --package-lock-only --legacy-peer-deps` writes for this project (npm 11, same registry).
  assert.deepEqual(ids(r), ['js-tokens@4.0.0', 'loose-envify@1.4.0', 'object-assign@4.1.1', 'react-dom@18.2.0', 'react@17.0.2', 'scheduler@0.23.2']);
});

test('legacy-peer-deps in the project .npmrc: peers are not installed', async () => {
  const pkg = { dependencies: { 'react-dom': '18.2.0' } };
  const legacy = await resolveDeps({ pkg, npmrc: 'legacy-peer-deps=true\n' });
  assert.deepEqual(errors(legacy), [], fmt(legacy));
  assert.ok(find(legacy, 'react-dom', '18.2.0'));
  assert.equal(find(legacy, 'react'), undefined, ids(legacy).join());
  // Control: without it, react comes in as react-dom's peer.
  const normal = await resolveDeps({ pkg });
  assert.deepEqual(errors(normal), [], fmt(normal));
  assert.ok(find(normal, 'react'), ids(normal).join());
});

/** Package names requested per name in a registry's log. */
function requestsByName(log: TestRegistry['log']): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of log) if (e.name) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
  return counts;
}

/**
 * A registry of its own for one resolution: a resolution may return with speculative fetches still
 * in flight (the optional peers a peer-checking pass picked), which would land in the next one's count.
 */
async function ownRegistry<T>(run: (registry: TestRegistry) => Promise<T>): Promise<T> {
  const registry = await startFixtureRegistry();
  try {
    return await run(registry);
  } finally {
    await registry.close();
  }
}

test('single flight: every packument is requested at most once per resolution', async () => {
  for (const pkg of [
    { dependencies: { express: '^4.21.2', debug: '^4', 'humanize-ms': '1.2.1' } },
    // A peer conflict resolves twice; the second pass must reuse the first pass's documents.
    { dependencies: { react: '17.0.2', 'react-dom': '18.2.0', 'react-redux': '8.1.3' } },
  ]) {
    await ownRegistry(async (registry) => {
      const r = await resolveDeps({ pkg }, { registry });
      const counts = requestsByName(registry.log);
      const repeated = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(repeated, [], `requested more than once: ${JSON.stringify(repeated)}`);
      const names = new Set(r.packages.map((p) => p.realName ?? p.name));
      assert.ok(counts.size >= names.size, `${counts.size} names requested for ${names.size} names resolved`);
      for (const p of r.packages) assert.ok(counts.has(p.realName ?? p.name), `${p.name} resolved without a request`);
    });
  }
});

test('the fixture project peer-conflict also requests each packument once', async () => {
  const { env } = project({ pkg: {} });
  await ownRegistry(async (registry) => {
    const r = await resolveProject({ dir: fixtureDir('peer-conflict'), registry: registry.url, env });
    const repeated = [...requestsByName(registry.log)].filter(([, n]) => n > 1);
    assert.deepEqual(repeated, []);
    assert.equal(r.problems.filter((p) => p.code === 'peer-conflict').length, 1, fmt(r));
  });
});

test('500s are retried and the resolution succeeds', async () => {
  await reg.idle();
  const from = reg.log.length;
  reg.addFault({ match: 'ms', status: 500, times: 2 });
  const events: EngineEvent[] = [];
  try {
    const r = await resolveDeps({ pkg: { dependencies: { ms: '2.1.3' } } }, { onEvent: (e) => events.push(e) });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(ids(r), ['ms@2.1.3']);
    const statuses = reg.log.slice(from).filter((e) => e.name === 'ms').map((e) => e.status);
    assert.deepEqual(statuses, [500, 500, 200]);
    assert.equal(events.filter((e) => e.type === 'retry').length, 2);
  } finally {
    reg.clearFaults();
  }
});

test('persistent 500s end as a registry-error problem, not a crash', async () => {
  reg.addFault({ match: 'ms', status: 503, times: Infinity });
  try {
    const r = await resolveDeps({ pkg: { dependencies: { ms: '2.1.3', 'humanize-ms': '1.2.1' } } });
    const errs = errors(r);
    assert.ok(errs.length >= 1, fmt(r));
    assert.ok(errs.every((p) => p.code === 'registry-error'), fmt(r));
    assert.ok(errs.some((p) => p.name === 'ms'), fmt(r));
  } finally {
    reg.clearFaults();
  }
});

test('a registry that answers 401 gives auth-error problems; the token from .npmrc is sent', async () => {
  const locked = await startTestRegistry({ store: resolvePath(FIXTURE_STORE), requireToken: 's3cret' });
  try {
    const r = await resolveDeps({ pkg: { dependencies: { ms: '2.1.3', debug: '2.6.9' } } }, { registry: locked });
    const errs = errors(r);
    assert.equal(errs.length, 2, fmt(r));
    for (const p of errs) assert.equal(p.code, 'auth-error');
    assert.deepEqual(errs.map((p) => p.name).sort(), ['debug', 'ms']);
    assert.deepEqual(r.packages, []);
    // With the credential configured for that registry, the same project resolves.
    const ok = await resolveDeps(
      { pkg: { dependencies: { ms: '2.1.3', debug: '2.6.9' } }, npmrc: `//127.0.0.1:${locked.port}/:_authToken=s3cret\n` },
      { registry: locked },
    );
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(ids(ok), ['debug@2.6.9', 'ms@2.0.0', 'ms@2.1.3']);
  } finally {
    await locked.close();
  }
});

test('a malformed package.json is a ManifestError with line and column', async () => {
  const text = '{\n  "name": "broken",\n  "dependencies": {\n    "ms": "^2"\n    "debug": "^4"\n  }\n}\n';
  const { dir, env } = project({ pkg: text });
  await assert.rejects(resolveProject({ dir, registry: reg.url, env }), (err: unknown) => {
    assert.ok(err instanceof ManifestError, String(err));
    // The missing comma: "debug" on line 5 is where a comma was expected.
    assert.equal(err.line, 5);
    assert.equal(err.column, 5);
    assert.equal(err.file, join(dir, 'package.json'));
    assert.ok(err.message.startsWith(`${join(dir, 'package.json')}:5:5:`), err.message);
    return true;
  });
  const { dir: d2, env: e2 } = project({ pkg: '{\n  "dependencies": ["ms"]\n}' });
  await assert.rejects(resolveProject({ dir: d2, registry: reg.url, env: e2 }), ManifestError);
  // The editor's unsaved text wins over the file on disk.
  await assert.rejects(resolveProject({ dir: d2, registry: reg.url, env: e2, manifestText: '{"a": }' }), (err: unknown) => {
    assert.ok(err instanceof ManifestError);
    assert.equal(err.line, 1);
    assert.equal(err.column, 7);
    return true;
  });
});

test('dev, optional and peer flags', async () => {
  // ms@2.1.3 only through devDependencies; debug's own ms@2.0.0 is nested and prod.
  const dev = await resolveDeps({ pkg: { dependencies: { debug: '2.6.9' }, devDependencies: { ms: '2.1.3' } } });
  assert.deepEqual(dev.problems, []);
  assert.equal(find(dev, 'ms', '2.1.3')?.dev, true);
  assert.deepEqual(find(dev, 'ms', '2.1.3')?.locations, ['node_modules/ms']);
  assert.equal(find(dev, 'debug')?.dev, undefined);
  assert.equal(find(dev, 'ms', '2.0.0')?.dev, undefined);
  assert.deepEqual(find(dev, 'ms', '2.0.0')?.locations, ['node_modules/debug/node_modules/ms']);

  // Optional, transitively.
  const opt = await resolveDeps({ pkg: { optionalDependencies: { 'humanize-ms': '1.2.1' } } });
  assert.deepEqual(opt.problems, []);
  assert.equal(find(opt, 'humanize-ms')?.optional, true);
  assert.equal(find(opt, 'ms')?.optional, true);
  assert.equal(find(opt, 'ms')?.dev, undefined);

  // A dev dependency's dependencies are dev; shared with prod they are not.
  const mixed = await resolveDeps({ pkg: { dependencies: { 'humanize-ms': '1.2.1' }, devDependencies: { debug: '4.3.4' } } });
  assert.deepEqual(mixed.problems, []);
  assert.equal(find(mixed, 'debug')?.dev, true);
  assert.equal(find(mixed, 'humanize-ms')?.dev, undefined);
  // debug (first in npm's queue order) hoists ms@2.1.2, which also satisfies humanize-ms's ^2.0.0:
  // one shared copy, reached from prod, so not dev.
  assert.deepEqual(ids(mixed), ['debug@4.3.4', 'humanize-ms@1.2.1', 'ms@2.1.2']);
  assert.deepEqual(find(mixed, 'ms')?.locations, ['node_modules/ms']);
  assert.equal(find(mixed, 'ms')?.dev, undefined);
  // Only under a dev dependency: dev.
  const devOnly = await resolveDeps({ pkg: { devDependencies: { debug: '4.3.4' } } });
  assert.equal(find(devOnly, 'ms', '2.1.2')?.dev, true);

  // react only as react-dom's peer.
  const peer = await resolveDeps({ pkg: { dependencies: { 'react-dom': '18.2.0' } } });
  assert.deepEqual(errors(peer), [], fmt(peer));
  // npm: react@18.3.1 (the highest ^18.2.0; latest 19 is out of range) with "peer": true.
  assert.equal(find(peer, 'react')?.version, '18.3.1');
  assert.equal(find(peer, 'react')?.peer, true, JSON.stringify(find(peer, 'react')));
  assert.equal(find(peer, 'react-dom')?.peer, undefined);
  assert.equal(find(peer, 'scheduler')?.peer, undefined);
  // A direct dependency is never a peer.
  const both = await resolveDeps({ pkg: { dependencies: { react: '18.2.0', 'react-dom': '18.2.0' } } });
  assert.deepEqual(both.problems, []);
  assert.equal(find(both, 'react')?.peer, undefined);
});

test('a dependency cycle resolves and terminates (es5-ext <-> es6-iterator)', { timeout: 30_000 }, async () => {
  const r = await resolveDeps({ pkg: { dependencies: { 'es5-ext': '0.10.64' } } });
  assert.deepEqual(errors(r), [], fmt(r));
  assert.ok(find(r, 'es5-ext', '0.10.64'));
  assert.ok(find(r, 'es6-iterator'), ids(r).join());
  // One es5-ext: es6-iterator's range is satisfied by the top-level copy.
  assert.equal(r.packages.filter((p) => p.name === 'es5-ext').length, 1, ids(r).join());
});

test('cycles that force nesting terminate with npm placement', { timeout: 30_000 }, async () => {
  // a@2 -> b@^1 -> a@^1 -> b@^1: b@1 hoists, a@1 nests under b, a@1's b resolves to the top copy.
  const own = await startTestRegistry({
    store: memoryStore([mk('a', { '1.0.0': { b: '^1.0.0' }, '2.0.0': { b: '^1.0.0' } }, '2.0.0'), mk('b', { '1.0.0': { a: '^1.0.0' } }, '1.0.0')]),
  });
  try {
    const r = await resolveDeps({ pkg: { dependencies: { a: '2.0.0' } } }, { registry: own });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(
      r.packages.map((p) => [`${p.name}@${p.version}`, p.locations]).sort(),
      [
        ['a@1.0.0', ['node_modules/b/node_modules/a']],
        ['a@2.0.0', ['node_modules/a']],
        ['b@1.0.0', ['node_modules/b']],
      ],
    );
    // A plain two-package cycle: both at the top.
    const plain = await resolveDeps({ pkg: { dependencies: { b: '^1.0.0' } } }, { registry: own });
    assert.deepEqual(plain.problems, []);
    assert.deepEqual(ids(plain), ['a@1.0.0', 'b@1.0.0']);
  } finally {
    await own.close();
  }
});

test('an npm: alias installs under the alias name with realName', async () => {
  await reg.idle();
  const from = reg.log.length;
  const r = await resolveDeps({ pkg: { dependencies: { zdebug: 'npm:debug@2.6.9', ms: '2.1.3' } } });
  assert.deepEqual(r.problems, []);
  const z = find(r, 'zdebug');
  assert.ok(z, ids(r).join());
  assert.equal(z.version, '2.6.9');
  assert.equal(z.realName, 'debug');
  assert.deepEqual(z.locations, ['node_modules/zdebug']);
  assert.equal(find(r, 'debug'), undefined);
  assert.equal(find(r, 'ms', '2.1.3')?.realName, undefined);
  // debug@2.6.9 wants ms@2.0.0, which cannot share the top-level ms@2.1.3.
  assert.deepEqual(find(r, 'ms', '2.0.0')?.locations, ['node_modules/zdebug/node_modules/ms']);
  const names = new Set(reg.log.slice(from).map((e) => e.name));
  assert.ok(names.has('debug'));
  assert.ok(!names.has('zdebug'));
});

test('events: fetchStart/fetchEnd pairs, picks, and one done matching the result', async () => {
  const events: EngineEvent[] = [];
  const r = await resolveDeps({ pkg: { dependencies: { debug: '2.6.9', 'humanize-ms': '1.2.1' } } }, { onEvent: (e) => events.push(e) });
  assert.deepEqual(r.problems, []);
  const starts = events.filter((e) => e.type === 'fetchStart');
  const ends = events.filter((e) => e.type === 'fetchEnd');
  assert.ok(starts.length >= 3, `${starts.length} fetchStart`);
  assert.equal(ends.length, starts.length);
  for (const end of ends) {
    const i = events.indexOf(end);
    assert.ok(
      events.slice(0, i).some((e) => e.type === 'fetchStart' && e.name === end.name),
      `fetchEnd for ${end.name} before its fetchStart`,
    );
    if (end.type === 'fetchEnd') {
      assert.equal(end.status, 200);
      assert.ok(end.bytes > 0);
    }
  }
  assert.deepEqual(new Set(starts.map((e) => e.name)), new Set(['debug', 'humanize-ms', 'ms']));
  const picks = events.filter((e) => e.type === 'pick');
  for (const p of r.packages) {
    assert.ok(
      picks.some((e) => e.type === 'pick' && e.name === (p.realName ?? p.name) && e.version === p.version),
      `no pick event for ${p.name}@${p.version}`,
    );
  }
  const done = events.filter((e) => e.type === 'done');
  assert.equal(done.length, 1);
  const d = done[0];
  assert.ok(d.type === 'done');
  assert.equal(d.packages, r.packages.length);
  assert.equal(d.requests, r.stats.requests);
  assert.equal(d.bytes, r.stats.bytes);
  assert.ok(events.indexOf(d) > events.indexOf(ends[ends.length - 1]));
});
