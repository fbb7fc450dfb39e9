import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authFor, expandEnv, loadNpmConfig, parseIni, proxyFor, redact, registryFor } from '../../server/src/engine/npmrc';

/** A sandbox with its own home, global prefix and project; nothing reads the real ~/.npmrc. */
function sandbox(files: { global?: string; user?: string; project?: string } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'citadel-npmrc-'));
  const home = join(root, 'home');
  const prefix = join(root, 'prefix');
  const project = join(root, 'project');
  const cwd = join(project, 'src', 'deep');
  mkdirSync(home, { recursive: true });
  mkdirSync(join(prefix, 'etc'), { recursive: true });
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(project, 'package.json'), '{}');
  if (files.global !== undefined) writeFileSync(join(prefix, 'etc', 'npmrc'), files.global);
  if (files.user !== undefined) writeFileSync(join(home, '.npmrc'), files.user);
  if (files.project !== undefined) writeFileSync(join(project, '.npmrc'), files.project);
  const env: NodeJS.ProcessEnv = { npm_config_prefix: prefix };
  return { root, home, prefix, project, cwd, env, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('ini: comments, quotes, escapes, arrays, booleans', () => {
  const { values } = parseIni(
    [
      '; comment',
      '# comment',
      'a = 1 ; trailing comment',
      'b="quoted ; not a comment"',
      "c='single'",
      'd=semi\\;colon',
      'e=true',
      'f=false',
      'g',
      'list[]=x',
      'list[]=y',
      'h=null',
    ].join('\r\n'),
  );
  assert.deepEqual({ ...values }, {
    a: '1',
    b: 'quoted ; not a comment',
    c: 'single',
    d: 'semi;colon',
    e: true,
    f: false,
    g: true,
    list: ['x', 'y'],
    h: null,
  });
});

test('ini: sections are reported, never thrown', () => {
  const { values, errors } = parseIni('a=1\n[sec]\nb=2\n');
  assert.deepEqual({ ...values }, { a: '1' });
  assert.equal(errors.length, 1);
});

test('${VAR} expansion follows npm', () => {
  const env = { TOKEN: 'abc' };
  assert.equal(expandEnv('x-${TOKEN}-y', env), 'x-abc-y');
  assert.equal(expandEnv('${MISSING}', env), '${MISSING}');
  assert.equal(expandEnv('${MISSING?}', env), '');
  assert.equal(expandEnv('\\${TOKEN}', env), '${TOKEN}');
  assert.equal(expandEnv('\\\\${TOKEN}', env), '\\abc');
});

test('cascade: builtin < global < user < project < env < cli', () => {
  const s = sandbox({
    global: 'tag=g\nfetch-retries=1\nlegacy-peer-deps=true\n',
    user: 'tag=u\nfetch-retry-factor=3\n',
    project: 'tag=p\nstrict-peer-deps=true\nmaxsockets=7\n',
  });
  try {
    const base = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home });
    assert.equal(base.tag, 'p');
    assert.equal(base.fetchRetries, 1);
    assert.equal(base.fetchRetryFactor, 3);
    assert.equal(base.maxsockets, 7);
    assert.equal(base.legacyPeerDeps, true);
    assert.equal(base.strictPeerDeps, true);
    assert.equal(base.registry, 'https://registry.npmjs.org/');
    assert.equal(base.cache, join(s.home, process.platform === 'win32' ? 'npm-cache' : '.npm'));
    assert.deepEqual(
      base.sources.filter((x) => x.status === 'loaded' && x.path).map((x) => x.layer),
      ['global', 'user', 'project'],
    );
    assert.deepEqual(base.errors, []);

    const env = { ...s.env, NPM_CONFIG_TAG: 'e', npm_config_Legacy_Peer_Deps: 'false' };
    const withEnv = loadNpmConfig({ cwd: s.cwd, env, home: s.home });
    assert.equal(withEnv.tag, 'e');
    assert.equal(withEnv.legacyPeerDeps, false);
    assert.equal(loadNpmConfig({ cwd: s.cwd, env, home: s.home, cli: { tag: 'c' } }).tag, 'c');
  } finally {
    s.cleanup();
  }
});

test('globalconfig and userconfig locations come from env', () => {
  const s = sandbox();
  try {
    writeFileSync(join(s.root, 'g.ini'), 'tag=from-g\n');
    writeFileSync(join(s.root, 'u.ini'), 'fetch-retries=5\n');
    const c = loadNpmConfig({
      cwd: s.cwd,
      home: s.home,
      env: { ...s.env, npm_config_globalconfig: join(s.root, 'g.ini'), npm_config_userconfig: join(s.root, 'u.ini') },
    });
    assert.equal(c.tag, 'from-g');
    assert.equal(c.fetchRetries, 5);
  } finally {
    s.cleanup();
  }
});

test('untrusted workspace: project .npmrc is not read', () => {
  const s = sandbox({ project: 'registry=http://evil.example/\n//evil.example/:_authToken=x\n' });
  try {
    const c = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home, trustProjectConfig: false });
    assert.equal(c.registry, 'https://registry.npmjs.org/');
    assert.equal(c.credentials.size, 0);
    assert.equal(c.sources.find((x) => x.layer === 'project')?.status, 'ignored');
  } finally {
    s.cleanup();
  }
});

test('env expansion in files, scoped registries, normalized trailing slash', () => {
  const s = sandbox({
    user: 'registry=http://127.0.0.1:1/base\n@corp:registry=http://127.0.0.1:2/\n//127.0.0.1:2/:_authToken=${CORP_TOKEN}\nemail=${NOPE?}\n',
  });
  try {
    const c = loadNpmConfig({ cwd: s.cwd, env: { ...s.env, CORP_TOKEN: 'sekret' }, home: s.home });
    assert.equal(c.registry, 'http://127.0.0.1:1/base/');
    assert.equal(registryFor(c, '@corp/x'), 'http://127.0.0.1:2/');
    assert.equal(registryFor(c, '@other/x'), 'http://127.0.0.1:1/base/');
    assert.equal(registryFor(c, 'lodash'), 'http://127.0.0.1:1/base/');
    assert.equal(authFor(c, 'http://127.0.0.1:2/@corp%2fx'), 'Bearer sekret');
    assert.equal(JSON.stringify(c).includes('sekret'), false, 'config serializes without secrets');
  } finally {
    s.cleanup();
  }
});

test('bad content and unreadable files are errors, not exceptions', () => {
  const s = sandbox({ user: 'fetch-retries=lots\nregistry=not a url\nstrict-ssl=maybe\ncafile=/nonexistent/ca.pem\n' });
  try {
    mkdirSync(join(s.project, '.npmrc')); // a directory: unreadable as a file
    const c = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home });
    assert.equal(c.fetchRetries, 2);
    assert.equal(c.registry, 'https://registry.npmjs.org/');
    assert.equal(c.strictSsl, true);
    assert.equal(c.sources.find((x) => x.layer === 'project')?.status, 'error');
    assert.equal(c.errors.length, 5, JSON.stringify(c.errors));
  } finally {
    s.cleanup();
  }
});

test('cafile is read and split into certificates', () => {
  const s = sandbox();
  try {
    const pem = (n: number) => `-----BEGIN CERTIFICATE-----\nAAAA${n}\n-----END CERTIFICATE-----`;
    writeFileSync(join(s.root, 'ca.pem'), `${pem(1)}\n${pem(2)}\n`);
    writeFileSync(join(s.home, '.npmrc'), `cafile=${join(s.root, 'ca.pem')}\nstrict-ssl=false\n`);
    const c = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home });
    assert.deepEqual(c.ca, [pem(1), pem(2)]);
    assert.equal(c.strictSsl, false);
  } finally {
    s.cleanup();
  }
});

test('credentials: nerf-dart scoping by host, port and path', () => {
  const s = sandbox({
    user: [
      'registry=http://127.0.0.1:4001/',
      '//127.0.0.1:4001/:_authToken=tok-a',
      '//127.0.0.1:4002/npm/:username=bob',
      `//127.0.0.1:4002/npm/:_password=${Buffer.from('pw').toString('base64')}`,
      '//127.0.0.1:4003/:_auth=YmFzaWM=',
    ].join('\n'),
  });
  try {
    const c = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home });
    assert.equal(authFor(c, 'http://127.0.0.1:4001/lodash'), 'Bearer tok-a');
    assert.equal(authFor(c, 'https://127.0.0.1:4001/@s%2fx'), 'Bearer tok-a');
    assert.equal(authFor(c, 'http://127.0.0.1:4002/npm/lodash'), `Basic ${Buffer.from('bob:pw').toString('base64')}`);
    assert.equal(authFor(c, 'http://127.0.0.1:4003/x'), 'Basic YmFzaWM=');
    // Another port, another path, another host: nothing.
    assert.equal(authFor(c, 'http://127.0.0.1:4005/lodash'), undefined);
    assert.equal(authFor(c, 'http://127.0.0.1:4002/other/lodash'), undefined);
    assert.equal(authFor(c, 'http://127.0.0.1:4002/npmx/lodash'), undefined);
    assert.equal(authFor(c, 'http://localhost:4001/lodash'), undefined);
  } finally {
    s.cleanup();
  }
});

test('legacy top-level credentials apply to the default registry only', () => {
  const s = sandbox({ user: 'registry=http://127.0.0.1:4001/\n_authToken=legacy\n@corp:registry=http://127.0.0.1:4002/\n' });
  try {
    const c = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home });
    assert.equal(authFor(c, 'http://127.0.0.1:4001/x'), 'Bearer legacy');
    assert.equal(authFor(c, 'http://127.0.0.1:4002/@corp%2fx'), undefined);
  } finally {
    s.cleanup();
  }
});

test('proxy settings: config, environment fallbacks, noproxy', () => {
  const s = sandbox();
  try {
    const fromEnv = loadNpmConfig({
      cwd: s.cwd,
      home: s.home,
      env: { ...s.env, HTTPS_PROXY: 'http://127.0.0.1:8080', http_proxy: 'http://127.0.0.1:8081', NO_PROXY: 'internal.example, .corp' },
    });
    assert.equal(proxyFor(fromEnv, 'https://registry.npmjs.org/x'), 'http://127.0.0.1:8080');
    assert.equal(proxyFor(fromEnv, 'http://registry.npmjs.org/x'), 'http://127.0.0.1:8080');
    assert.equal(proxyFor(fromEnv, 'https://a.internal.example/x'), undefined);
    assert.equal(proxyFor(fromEnv, 'https://npm.corp/x'), undefined);
    assert.equal(proxyFor(fromEnv, 'https://example/x'), 'http://127.0.0.1:8080');

    writeFileSync(join(s.home, '.npmrc'), 'proxy=127.0.0.1:3128\nnoproxy[]=a.example\nnoproxy[]=b.example\n');
    const fromFile = loadNpmConfig({ cwd: s.cwd, home: s.home, env: { ...s.env, NO_PROXY: 'ignored.example' } });
    assert.equal(proxyFor(fromFile, 'http://x.example/'), 'http://127.0.0.1:3128');
    assert.equal(proxyFor(fromFile, 'https://x.example/'), 'http://127.0.0.1:3128');
    assert.deepEqual(fromFile.noproxy, ['a.example', 'b.example']);
    assert.equal(proxyFor(fromFile, 'https://b.example/'), undefined);
  } finally {
    s.cleanup();
  }
});

test('redact strips userinfo, auth headers, npmrc secrets and known tokens', () => {
  const token = 'npm_' + 'a'.repeat(36);
  const text = [
    'GET https://bob:hunter2@registry.example/x',
    'Authorization: Bearer abc.def',
    '//registry.example/:_authToken=s3cr3t',
    `token ${token}`,
    'proxy http://u:p@127.0.0.1:3128/',
  ].join('\n');
  const out = redact(text);
  for (const secret of ['hunter2', 'abc.def', 's3cr3t', token, 'u:p@']) assert.equal(out.includes(secret), false, secret);
  assert.ok(out.includes('registry.example/x'));

  const s = sandbox({ user: '//127.0.0.1:1/:_authToken=plain-token-value\n' });
  try {
    const c = loadNpmConfig({ cwd: s.cwd, env: s.env, home: s.home });
    assert.equal(redact('failed with plain-token-value in body', c), 'failed with *** in body');
  } finally {
    s.cleanup();
  }
});
