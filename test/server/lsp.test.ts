// The language server over stdio LSP, without VS Code: diagnostics, hover, the citadel/* messages,
// against the loopback fixture registry.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DidChangeWatchedFilesNotification, FileChangeType, HoverRequest, type MarkupContent } from 'vscode-languageserver/node';
import { ResolveRequest, type ResolutionSummary } from '../../protocol';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { TestLspClient } from './lspClient';

const UNKNOWN = 'citadel-no-such-package';
const BAD = `{\n  "name": "tiny",\n  "dependencies": {\n    "debug": "4.1.1",\n    "${UNKNOWN}": "^1.0.0"\n  }\n}\n`;
const FIXED = `{\n  "name": "tiny",\n  "dependencies": {\n    "debug": "4.1.1"\n  }\n}\n`;
// Missing comma after "4.1.1": the parser stops at the next property name, line 4, column 4.
const MALFORMED = `{\n  "name": "tiny",\n  "dependencies": {\n    "debug": "4.1.1"\n    "ms": "2.1.1"\n  }\n}\n`;

// Locks debug at 4.1.1 under a ^4.1.0 range (the registry's latest 4.x is newer), and nothing for `ms` at the root.
const RANGED = `{\n  "name": "tiny",\n  "dependencies": {\n    "debug": "^4.1.0"\n  }\n}\n`;
const LOCK = {
  name: 'tiny',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'tiny', dependencies: { debug: '^4.1.0' } },
    'node_modules/debug': { version: '4.1.1', dependencies: { ms: '^2.1.1' } },
    'node_modules/ms': { version: '2.1.1' },
  },
};

async function hoverText(line: number, character: number): Promise<string> {
  const hover = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line, character } });
  return (hover?.contents as MarkupContent).value;
}

let scratch: string;
let registry: TestRegistry;
let client: TestLspClient;
let manifestPath: string;
let uri: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-lsp-'));
  registry = await startFixtureRegistry();
  const project = join(scratch, 'project');
  cpSync(fixtureDir('tiny-e1'), project, { recursive: true });
  writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
  manifestPath = join(project, 'package.json');
  uri = pathToFileURL(manifestPath).href;
  const home = join(scratch, 'home');
  mkdirSync(home);
  // No npm_config_* from the runner (npm sets them for `npm test`), and an empty user config.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  client = new TestLspClient({ ...env, HOME: home, npm_config_userconfig: join(home, '.npmrc') });
  await client.initialize(pathToFileURL(project).href);
});

after(async () => {
  await client?.stop();
  await registry?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('initialize names the server and its version (serverInfo)', () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  assert.deepEqual(client.initialized?.serverInfo, { name: 'Citadel', version });
});

test('an unknown package gets unknown-package on its entry', async () => {
  writeFileSync(manifestPath, BAD);
  await client.open(uri, BAD);
  const diagnostics = await client.diagnosticsFor(uri, 1);
  const unknown = diagnostics.filter((d) => d.code === 'unknown-package');
  assert.equal(unknown.length, 1, JSON.stringify(diagnostics));
  assert.deepEqual(unknown[0]!.range, { start: { line: 4, character: 4 }, end: { line: 4, character: 4 + `"${UNKNOWN}": "^1.0.0"`.length } });
  assert.equal(unknown[0]!.source, 'citadel');
  assert.match(unknown[0]!.codeDescription?.href ?? '', /#problem-codes$/);
  const idle = await client.waitFor('an idle status', () => client.statuses.find((s) => s.uri === uri && s.state === 'idle'));
  assert.ok(idle.problems >= 1 && idle.errors >= 1, JSON.stringify(idle));
});

test('hover on a dependency shows its spec and resolved version', async () => {
  const hover = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 3, character: 6 } });
  const value = (hover?.contents as MarkupContent).value;
  assert.match(value, /\*\*debug\*\*/);
  assert.match(value, /Spec: 4\\\.1\\\.1/);
  assert.match(value, /Resolved: 4\\\.1\\\.1/);
  assert.match(value, /Latest: 4\\\.\d/);
  assert.match(value, /Brings in 1 other packages/); // ms
  assert.match(value, /Locked: no lockfile/);
  assert.deepEqual(hover?.range?.start, { line: 3, character: 4 });
});

test('an edit that fixes the problem clears the diagnostic', async () => {
  // Unsaved: the open document's text is what the server resolves.
  await client.change(uri, 2, FIXED);
  assert.deepEqual(await client.diagnosticsFor(uri, 2), []);
});

test('citadel/resolve returns the summary of a fresh resolution', async () => {
  const summary: ResolutionSummary = await client.connection.sendRequest(ResolveRequest.method, { uri } satisfies ResolveRequest.Params);
  assert.equal(summary.state, 'idle');
  assert.equal(summary.uri, uri);
  assert.ok(summary.packages >= 2, JSON.stringify(summary)); // debug and ms
  assert.equal(summary.problems, 0);
});

test('a malformed package.json gives invalid-package-json at the parse error', async () => {
  await client.change(uri, 3, MALFORMED);
  const diagnostics = await client.diagnosticsFor(uri, 3);
  assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
  assert.equal(diagnostics[0]!.code, 'invalid-package-json');
  assert.deepEqual(diagnostics[0]!.range.start, { line: 4, character: 4 });
});

test('with a lockfile, hover names the locked version and the lockfile beside the spec and resolved version', async () => {
  writeFileSync(join(manifestPath, '../package-lock.json'), JSON.stringify(LOCK, null, 2));
  writeFileSync(manifestPath, RANGED);
  await client.connection.sendNotification(DidChangeWatchedFilesNotification.type, {
    changes: [{ uri: pathToFileURL(join(manifestPath, '../package-lock.json')).href, type: FileChangeType.Created }],
  });
  await client.change(uri, 4, RANGED);
  await client.diagnosticsFor(uri, 4);
  const value = await hoverText(3, 6);
  assert.match(value, /Spec: \\\^4\\\.1\\\.0/);
  assert.match(value, /Resolved: 4\\\.1\\\.1/);
  assert.match(value, /Locked: 4\\\.1\\\.1 \(package\\-lock\\\.json\)/);
});
