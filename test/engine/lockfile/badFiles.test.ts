// Bad lockfiles come back as problems with file, line and column, never as exceptions; and readLockfile
// picks the file the package manager would read.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseLockfile, readLockfile, type LockfileKind, type LockfileResult } from '../../../server/src/engine/lockfile';

const FIXTURES = resolve(process.cwd(), 'test/fixtures/lockfiles');
let scratch: string;
before(() => void (scratch = mkdtempSync(join(tmpdir(), 'citadel-badlock-'))));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Hand-written minimal lockfiles of each kind, valid as written (each tool writes these shapes). */
const NPM = `{
  "name": "p",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": { "name": "p", "dependencies": { "ms": "^2.1.3" } },
    "node_modules/ms": {
      "version": "2.1.3",
      "resolved": "http://registry.test/ms/-/ms-2.1.3.tgz",
      "integrity": "sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA=="
    }
  }
}
`;
const BUN = `{
  "lockfileVersion": 1,
  "workspaces": {
    "": { "name": "p", "dependencies": { "ms": "^2.1.3", }, },
  },
  "packages": {
    "ms": ["ms@2.1.3", "", {}, "sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA=="],
  }
}
`;
const text = (kind: string, project = 'tiny-e2'): string =>
  readFileSync(join(FIXTURES, kind, project, kind === 'pnpm6' ? 'pnpm-lock.yaml' : 'yarn.lock'), 'utf8');

function only(r: LockfileResult): LockfileResult['problems'][number] {
  assert.equal(r.lockfile, undefined);
  assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
  assert.equal(r.problems[0].code, 'invalid-lockfile');
  assert.equal(r.problems[0].severity, 'error');
  return r.problems[0];
}

test('the hand-written lockfiles are valid, in npm\'s layout or any other', () => {
  assert.deepEqual(parseLockfile('npm', NPM, 'package-lock.json').lockfile?.packages.map((p) => p.line), [7]);
  // Not npm's two-space layout: lines come from the JSON tree instead of the line scan.
  const minified = JSON.stringify(JSON.parse(NPM)).replace('"node_modules/ms"', '\n"node_modules/ms"');
  assert.deepEqual(parseLockfile('npm', minified, 'package-lock.json').lockfile?.packages.map((p) => p.line), [2]);
  assert.deepEqual(parseLockfile('bun', BUN, 'bun.lock').lockfile?.packages.map((p) => `${p.name}@${p.version}`), ['ms@2.1.3']);
});

test('truncated: JSON that stops before it closes, YAML and yarn files that stop mid-line', () => {
  const cut = NPM.slice(0, NPM.indexOf('"integrity"') + 20);
  const p = only(parseLockfile('npm', cut, 'package-lock.json'));
  assert.match(p.message, /truncated/);
  assert.deepEqual([p.file, p.line], ['package-lock.json', cut.split('\n').length]);
  assert.match(only(parseLockfile('bun', BUN.slice(0, 120), 'bun.lock')).message, /truncated/);
  for (const [kind, src] of [['pnpm', text('pnpm6')], ['yarn-berry', text('yarn-berry')], ['yarn-classic', text('yarn-classic')]] as [LockfileKind, string][]) {
    const half = src.slice(0, Math.floor(src.length / 2));
    const q = only(parseLockfile(kind, half, 'lock'));
    assert.match(q.message, /ends mid-line: it looks truncated/, kind);
    assert.equal(q.line, half.split('\n').length, kind);
    assert.equal(q.column, half.length - half.lastIndexOf('\n'), kind);
  }
});

test('merge-conflict markers are named as such, at the line of the first one', () => {
  const lines = text('yarn-classic').split('\n');
  lines.splice(8, 0, '<<<<<<< HEAD', 'ms@2.0.0:', '=======', 'ms@2.0.1:', '>>>>>>> feature');
  const conflicted = lines.join('\n');
  for (const kind of ['yarn-classic', 'npm', 'pnpm', 'bun'] as LockfileKind[]) {
    const p = only(parseLockfile(kind, conflicted, 'f'));
    assert.match(p.message, /1 unresolved merge conflict \(first at line 9\)/);
    assert.deepEqual([p.line, p.column], [9, 1]);
  }
});

test('unknown versions: npm 4, pnpm 5.4, yarn berry 3, bun 99, a yarn.lock without the v1 header', () => {
  const npm = only(parseLockfile('npm', NPM.replace('"lockfileVersion": 3', '"lockfileVersion": 4'), 'package-lock.json'));
  assert.match(npm.message, /unknown lockfileVersion 4 \(npm writes 1, 2 or 3\)/);
  assert.equal(npm.line, 3);
  assert.match(only(parseLockfile('pnpm', text('pnpm6').replace("lockfileVersion: '6.0'", "lockfileVersion: '5.4'"), 'p')).message, /unknown pnpm lockfileVersion "5.4"/);
  assert.match(only(parseLockfile('yarn-berry', text('yarn-berry').replace('version: 10', 'version: 3'), 'y')).message, /unknown yarn\.lock __metadata\.version 3/);
  const bun = only(parseLockfile('bun', BUN.replace('"lockfileVersion": 1', '"lockfileVersion": 99'), 'bun.lock'));
  assert.match(bun.message, /unknown bun\.lock lockfileVersion 99/);
  assert.equal(bun.line, 2);
  assert.match(only(parseLockfile('yarn-classic', text('yarn-classic').replace('# yarn lockfile v1', '# yarn lockfile v7'), 'y')).message, /unknown yarn\.lock format/);
});

test('syntax errors carry the parser\'s position', () => {
  const npm = only(parseLockfile('npm', NPM.replace('"version": "2.1.3",', '"version": "2.1.3" oops'), 'package-lock.json'));
  assert.match(npm.message, /invalid JSON \(InvalidSymbol\)/);
  assert.equal(npm.line, 8);
  const yaml = only(parseLockfile('pnpm', text('pnpm6').replace('settings:', 'settings: [unclosed'), 'pnpm-lock.yaml'));
  assert.match(yaml.message, /invalid pnpm-lock\.yaml/);
  assert.ok(yaml.line >= 3, String(yaml.line));
  const classic = only(parseLockfile('yarn-classic', text('yarn-classic').replace('  version "2.6.9"', '  version "2.6.9" }'), 'yarn.lock'));
  assert.equal(classic.message, 'invalid yarn.lock (unexpected INVALID)');
  assert.deepEqual([classic.line, classic.column], [6, 19]);
  const later = only(parseLockfile('yarn-classic', text('yarn-classic').replace('ms@2.0.0:', 'ms@2.0.0: :'), 'yarn.lock'));
  assert.deepEqual([later.line, later.column], [17, 12]);
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'p-'));
  for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
  return dir;
}

test('readLockfile: npm-shrinkwrap.json over package-lock.json, packageManager decides between tools, none gives null', () => {
  const shrink = NPM.replace('"version": "2.1.3"', '"version": "2.1.2"');
  const r = readLockfile(project({ 'package.json': '{}', 'package-lock.json': NPM, 'npm-shrinkwrap.json': shrink }));
  assert.match(r!.lockfile!.file, /npm-shrinkwrap\.json$/);
  assert.equal(r!.lockfile!.packages[0].version, '2.1.2');

  const both = { 'package-lock.json': NPM, 'bun.lock': BUN };
  assert.equal(readLockfile(project({ ...both, 'package.json': '{"packageManager":"bun@1.3.0"}' }))!.lockfile!.kind, 'bun');
  assert.equal(readLockfile(project({ ...both, 'package.json': '{}' }))!.lockfile!.kind, 'npm');

  const yarnDir = mkdtempSync(join(scratch, 'y-'));
  copyFileSync(join(FIXTURES, 'yarn-berry', 'tiny-e2', 'yarn.lock'), join(yarnDir, 'yarn.lock'));
  assert.equal(readLockfile(yarnDir)!.lockfile!.kind, 'yarn-berry');

  assert.equal(readLockfile(project({ 'package.json': '{}' })), null);
  const lockb = readLockfile(project({ 'bun.lockb': '\u0000binary' }))!;
  assert.equal(lockb.problems[0].severity, 'warning');
  assert.match(lockb.problems[0].message, /bun install --save-text-lockfile/);

  const dir = join(scratch, 'unreadable');
  mkdirSync(join(dir, 'package-lock.json'), { recursive: true });
  assert.match(readLockfile(dir)!.problems[0].message, /cannot read the lockfile \(EISDIR\)/);
});
