// The server's pure parts: where problems land in package.json, and hover text that cannot inject markdown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { applyDiagnosticSettings, problemDiagnostic } from '../../server/src/lsp/diagnostics';
import { ResolutionScheduler, Superseded } from '../../server/src/lsp/scheduler';
import { dependencyHover, escapeMarkdown } from '../../server/src/lsp/hover';
import { dependencyAt, parseManifest } from '../../server/src/lsp/manifest';
import { settingsFrom } from '../../server/src/lsp/settings';

const TEXT = '{\n  "dependencies": { "a": "^1.0.0" },\n  "devDependencies": { "b": "2" }\n}\n';
const document = TextDocument.create('file:///p/package.json', 'json', 1, TEXT);
const parsed = parseManifest(TEXT);
assert.ok(parsed.ok);
const tree = parsed.tree;

test('a problem lands on its entry, a transitive one on the direct dependency, others on the top', () => {
  const at = (name: string, path?: string[]) =>
    problemDiagnostic(document, tree, { code: 'unknown-package', severity: 'error', message: 'm', name, ...(path ? { path } : {}) });
  assert.equal(document.getText(at('b').range), '"b": "2"');
  const deep = at('zz', ['a', 'x']);
  assert.equal(document.getText(deep.range), '"a": "^1.0.0"');
  assert.equal(deep.message, 'm (via a > x > zz)');
  assert.deepEqual(at('nowhere').range.start, { line: 0, character: 0 });
});

test('parse errors and non-object manifests are reported with a position', () => {
  const bad = parseManifest('{ "a": 1,, }');
  assert.ok(!bad.ok && bad.error.offset === 9);
  assert.ok(!parseManifest('[]').ok);
  assert.ok(!parseManifest('{ // comment\n}').ok, 'package.json allows no comments');
});

test('dependencyAt finds the entry under the cursor, on the name or the spec', () => {
  assert.equal(dependencyAt(TEXT, tree, TEXT.indexOf('"a"') + 1)?.spec, '^1.0.0');
  assert.equal(dependencyAt(TEXT, tree, TEXT.indexOf('"2"') + 1)?.name, 'b');
  assert.equal(dependencyAt(TEXT, tree, 1), undefined);
});

test('hover escapes registry text: no link, image, HTML or block can be injected', () => {
  const evil = '[click](https://evil.example) ![x](y) <img src=x onerror=alert(1)>\n# heading\n`code`';
  const escaped = escapeMarkdown(evil);
  assert.doesNotMatch(escaped, /(^|[^\\])[[\]()<>`#!]/);
  assert.doesNotMatch(escaped, /\n/);
  const hover = dependencyHover({ section: 'dependencies', name: 'a', spec: '^1', offset: 0, length: 0 }, [
    { name: 'a', version: '1.2.0', locations: ['node_modules/a'], deprecated: evil },
  ]);
  assert.ok(hover.value.includes(`Deprecated: ${escaped}`));
  assert.ok(hover.value.includes('Resolved: 1\\.2\\.0'));
});

test('settings keep only well-formed values', () => {
  assert.deepEqual(settingsFrom({ registry: ' http://127.0.0.1:1/ ', concurrency: 8 }), { registry: 'http://127.0.0.1:1/', concurrency: 8 });
  assert.deepEqual(settingsFrom({ registry: 'file:///etc', concurrency: 0 }), {});
  assert.deepEqual(settingsFrom({ http2: 'auto' }), { http2: 'auto' });
  assert.deepEqual(settingsFrom({ http2: 'h3' }), {});
  assert.deepEqual(settingsFrom({ registry: '', concurrency: null }), {});
  assert.deepEqual(settingsFrom(undefined), {});
  assert.deepEqual(
    settingsFrom({ diagnostics: { severity: { outdated: 'warning', duplicate: 'loud', 'Bad Code': 'off' }, disabled: ['deprecated', 3, 'x y'] } }),
    { severity: { outdated: 'warning' }, disabled: ['deprecated'] },
  );
});

test('diagnostics settings drop disabled codes and "off", and override severities', () => {
  const problems = [
    { code: 'outdated', severity: 'hint', message: 'a' },
    { code: 'duplicate', severity: 'info', message: 'b' },
    { code: 'deprecated', severity: 'warning', message: 'c' },
  ] as const;
  const kept = applyDiagnosticSettings(problems, { severity: { outdated: 'error', duplicate: 'off' }, disabled: ['deprecated'] });
  assert.deepEqual(kept, [{ code: 'outdated', severity: 'error', message: 'a' }]);
});

test('a newer run aborts the stale one, which rejects as superseded; an edit after a pause runs at once, a burst is debounced', async (t) => {
  const signals: AbortSignal[] = [];
  let release!: () => void;
  const gate = new Promise<void>((ok) => (release = ok));
  const scheduler = new ResolutionScheduler(async (_uri, signal) => {
    signals.push(signal);
    await gate;
    return signals.length;
  }, 20);
  const stale = scheduler.now('u');
  const fresh = scheduler.now('u');
  release();
  await assert.rejects(stale, Superseded);
  assert.equal(await fresh, 2);
  assert.deepEqual(signals.map((s) => s.aborted), [true, false]);
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  scheduler.schedule('u');
  t.mock.timers.tick(0); // the run starts synchronously when its timer fires
  assert.equal(signals.length, 3, 'an edit after a pause resolves on the next turn');
  t.mock.timers.tick(10);
  scheduler.schedule('u');
  t.mock.timers.tick(10);
  scheduler.schedule('u');
  t.mock.timers.tick(19);
  assert.equal(signals.length, 3, 'edits 10 ms apart wait for a 20 ms pause');
  t.mock.timers.tick(1);
  assert.equal(signals.length, 4, 'and make one run');
});
