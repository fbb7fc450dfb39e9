// The server's editing features over stdio LSP against the loopback fixture registry: analysis
// diagnostics, quick fixes, version completion, inlay hints, citadel/why, and the diagnostics settings.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  CodeActionRequest,
  CompletionRequest,
  DiagnosticSeverity,
  DidChangeConfigurationNotification,
  InlayHintRequest,
  type CodeAction,
  type CompletionItem,
  type CompletionList,
  type Diagnostic,
  type Range,
  type TextEdit,
} from 'vscode-languageserver/node';
import { WhyRequest } from '../../protocol';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

// debug ^3 resolves to 3.2.7 (latest is 4.x: outdated) and needs ms ^2.1.1 while the project pins
// ms 2.0.0 (a duplicate); no bytes 99 exists (no-matching-version).
const TEXT = `{
  "name": "features",
  "dependencies": {
    "debug": "^3.1.0",
    "ms": "2.0.0",
    "bytes": "^99.0.0"
  }
}
`;
const LINE = { debug: 3, ms: 4, bytes: 5 };

let scratch: string;
let registry: TestRegistry;
let client: TestLspClient;
let uri: string;
let diagnostics: Diagnostic[];

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-lsp-features-'));
  registry = await startFixtureRegistry();
  const project = join(scratch, 'project');
  const home = join(scratch, 'home');
  mkdirSync(project);
  mkdirSync(home);
  writeFileSync(join(project, 'package.json'), TEXT);
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
  writeFileSync(join(project, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
  uri = pathToFileURL(join(project, 'package.json')).href;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  client = new TestLspClient({ ...env, HOME: home, npm_config_userconfig: join(home, '.npmrc') });
  await client.initialize(pathToFileURL(project).href);
  await client.open(uri, TEXT);
  diagnostics = await client.diagnosticsFor(uri, 1);
});

after(async () => {
  await client?.stop();
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const entry = (line: number): Range => ({ start: { line, character: 6 }, end: { line, character: 6 } });
const on = (line: number) => diagnostics.filter((d) => d.range.start.line === line);

async function actionsAt(line: number): Promise<CodeAction[]> {
  const actions = await client.connection.sendRequest(CodeActionRequest.type, {
    textDocument: { uri },
    range: entry(line),
    context: { diagnostics: on(line) },
  });
  return (actions ?? []) as CodeAction[];
}

const editOf = (action: CodeAction): TextEdit => action.edit!.changes![uri]![0]!;

test('analysis problems arrive as diagnostics: outdated as a hint, duplicate as information', () => {
  const outdated = diagnostics.find((d) => d.code === 'outdated');
  assert.ok(outdated, JSON.stringify(diagnostics, null, 1));
  assert.equal(outdated.range.start.line, LINE.debug);
  assert.equal(outdated.severity, DiagnosticSeverity.Hint);
  const duplicate = diagnostics.find((d) => d.code === 'duplicate');
  assert.ok(duplicate);
  assert.equal(duplicate.range.start.line, LINE.ms);
  assert.equal(duplicate.severity, DiagnosticSeverity.Information);
  assert.match(String(duplicate.message), /^2 versions of ms in the tree: 2\.0\.0 \(the project\); 2\.1\.3 \(debug@3\.2\.7\)/);
});

test('an unsatisfiable spec offers the nearest published versions, keeping the operator', async () => {
  assert.ok(on(LINE.bytes).some((d) => d.code === 'no-matching-version'));
  const actions = await actionsAt(LINE.bytes);
  const replace = actions.filter((a) => a.title.startsWith('Replace "^99.0.0" with'));
  assert.ok(replace.length >= 1, JSON.stringify(actions.map((a) => a.title)));
  assert.equal(replace[0]!.isPreferred, true);
  const edit = editOf(replace[0]!);
  assert.match(edit.newText, /^"\^\d+\.\d+\.\d+"$/);
  assert.deepEqual(edit.range, { start: { line: LINE.bytes, character: 13 }, end: { line: LINE.bytes, character: 22 } });
  assert.equal(replace[0]!.diagnostics?.[0]?.code, 'no-matching-version');
});

test('a dependency offers the newest version in range, the newest major, why, and install', async () => {
  const actions = await actionsAt(LINE.debug);
  const titles = actions.map((a) => a.title);
  const inRange = actions.find((a) => a.title === 'Update debug to "^3.2.7" (newest in range)');
  assert.ok(inRange, JSON.stringify(titles));
  assert.deepEqual(editOf(inRange).newText, '"^3.2.7"');
  const major = actions.find((a) => /^Update debug to "\^4\.\d+\.\d+" \(newest major\)$/.test(a.title));
  assert.ok(major, JSON.stringify(titles));
  assert.equal(major.isPreferred, true); // it fixes the outdated hint
  assert.equal(major.diagnostics?.[0]?.code, 'outdated');
  const why = actions.find((a) => a.title === 'Why is debug in the tree?');
  assert.deepEqual(why?.command?.arguments, [uri, 'debug']);
  const install = actions.find((a) => a.command?.command === 'citadel.runInstall');
  assert.equal(install?.title, 'Run pnpm install in a terminal'); // from the lockfile beside package.json
});

test('citadel/why lists every version with its chains', async () => {
  const why: WhyRequest.Result = await client.connection.sendRequest(WhyRequest.method, { uri, name: 'ms' } satisfies WhyRequest.Params);
  assert.deepEqual(why, [
    { version: '2.0.0', chains: [['ms']] },
    { version: '2.1.3', chains: [['debug', 'ms']] },
  ]);
});

test('version completion inside a dependency value: dist-tags first, operator kept', async () => {
  // Inside "^3.1.0", after the caret.
  const reply = await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line: LINE.debug, character: 15 } });
  const items = (Array.isArray(reply) ? reply : (reply as CompletionList | null)?.items ?? []) as CompletionItem[];
  assert.ok(items.length > 5, JSON.stringify(items.slice(0, 3)));
  assert.match(items[0]!.label, /^\^4\.\d+\.\d+$/);
  assert.equal(items[0]!.detail, 'dist-tag: latest');
  assert.ok(items.some((i) => i.label === '^3.2.7'));
  assert.ok(items.some((i) => i.label === 'latest'));
  const edit = items[0]!.textEdit as TextEdit;
  assert.deepEqual(edit.range, { start: { line: LINE.debug, character: 14 }, end: { line: LINE.debug, character: 20 } });
  // On a property name: nothing.
  const none = await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line: LINE.debug, character: 6 } });
  assert.equal(none, null);
});

test('inlay hints show the resolved version after each range, not after an exact pin', async () => {
  const hints = await client.connection.sendRequest(InlayHintRequest.type, {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: 9, character: 0 } },
  });
  assert.deepEqual(
    hints?.map((h) => [h.position, h.label]),
    [[{ line: LINE.debug, character: 21 }, '→ 3.2.7']],
  );
});

test('diagnostics settings: a severity per code and disabled codes', async () => {
  client.settings = { diagnostics: { severity: { outdated: 'warning' }, disabled: ['duplicate'] } };
  await client.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: {} });
  const republished = await client.waitFor('diagnostics without duplicate', () => {
    const now = client.diagnostics.get(uri)?.diagnostics ?? [];
    return now.some((d) => d.code === 'outdated' && d.severity === DiagnosticSeverity.Warning) ? now : undefined;
  });
  assert.equal(republished.filter((d) => d.code === 'duplicate').length, 0);
  assert.ok(republished.some((d) => d.code === 'no-matching-version'));
  client.settings = { diagnostics: { severity: { 'no-matching-version': 'off' } } };
  await client.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: {} });
  const off = await client.waitFor('no-matching-version turned off', () => {
    const now = client.diagnostics.get(uri)?.diagnostics ?? [];
    return now.some((d) => d.code === 'duplicate') && !now.some((d) => d.code === 'no-matching-version') ? now : undefined;
  });
  assert.ok(off.some((d) => d.code === 'outdated' && d.severity === DiagnosticSeverity.Hint));
});
