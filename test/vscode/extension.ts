/// <reference types="vscode" />
// Extension tests, run inside a real VS Code extension host on a multi-root workspace of two small
// projects whose .npmrc points at the loopback fixture registry (set up by scripts/vscode-e2e.mjs):
// folder a, which most tests edit, and folder b, with an unknown package.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { CitadelApi } from '../../client/src/extension';
import type { ResolutionSummary } from '../../protocol';
import type { TestCase } from './runner';

const UNKNOWN = 'citadel-no-such-package';

function manifestUri(folderIndex = 0): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[folderIndex];
  assert.ok(folder, `the test workspace has folder ${folderIndex}`);
  return vscode.Uri.joinPath(folder.uri, 'package.json');
}

async function readJson(uri: vscode.Uri): Promise<Record<string, unknown>> {
  return JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri))) as Record<string, unknown>;
}

async function api(): Promise<CitadelApi> {
  const extension = vscode.extensions.getExtension<CitadelApi>('citadel.citadel');
  assert.ok(extension, 'the extension is installed');
  return extension.activate();
}

/** Resolves with the first value `probe` returns after any of `events` fires (or right away), else rejects (generous: CI machines may be loaded). */
function waitFor<T>(what: string, events: vscode.Event<unknown>[], probe: () => T | undefined, timeoutMs = 45_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const subscriptions: vscode.Disposable[] = [];
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      subscriptions.forEach((s) => s.dispose());
      settle();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${what}`))), timeoutMs);
    const check = () => {
      const value = probe();
      if (value !== undefined) finish(() => resolve(value));
    };
    subscriptions.push(...events.map((e) => e(check)));
    check();
  });
}

/** The language server: the child of this extension host running dist/server.js (Linux /proc). */
function serverPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('dist/server.js')) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

function citadelDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'citadel');
}

const isUnknownPackage = (d: vscode.Diagnostic) => JSON.stringify(d.code).includes('unknown-package');

/** Replaces the whole document and saves it: the engine reads package.json from disk. */
async function setManifest(document: vscode.TextDocument, text: string): Promise<void> {
  const edit = new vscode.WorkspaceEdit();
  edit.replace(document.uri, new vscode.Range(0, 0, document.lineCount, 0), text);
  assert.ok(await vscode.workspace.applyEdit(edit));
  assert.ok(await document.save());
}

export const tests: TestCase[] = [
  {
    name: 'activation is measured and logged (the e2e records it for the editor benchmark)',
    async fn() {
      const { activation } = await api();
      const { loadMs, activateMs } = activation;
      const clientMs = await activation.clientMs;
      assert.ok(loadMs >= 0 && activateMs >= 0 && clientMs >= 0, JSON.stringify({ loadMs, activateMs, clientMs }));
      // Set by scripts/vscode-e2e.mjs, which copies the file to .bench/activation.json.
      const file = process.env.CITADEL_E2E_ACTIVATION;
      if (file) writeFileSync(file, JSON.stringify({ loadMs, activateMs, totalMs: loadMs + activateMs, clientMs, at: new Date().toISOString() }));
    },
  },
  {
    name: 'the status bar opens the dashboard, which draws the metrics and statuses of a resolution',
    async fn() {
      const citadel = await api();
      await vscode.window.showTextDocument(manifestUri());
      await waitFor('an idle status', [citadel.onDidChangeStatus], () => (citadel.status?.state === 'idle' ? true : undefined));
      assert.equal(citadel.statusCommand, 'citadel.showDashboard');
      const drawn: { what: string; state?: string; packages?: number }[] = [];
      const listening = citadel.onDidRenderDashboard((m) => drawn.push(m));
      try {
        await vscode.commands.executeCommand(citadel.statusCommand!);
        await waitFor('the dashboard to draw its snapshot', [citadel.onDidRenderDashboard], () => (drawn.some((m) => m.what === 'snapshot') ? true : undefined));
        const from = drawn.length;
        const resolved = vscode.commands.executeCommand<ResolutionSummary>('citadel.resolve');
        // During the resolution the page draws the 'resolving' status, then the profile, samples and the idle status.
        await waitFor('the dashboard to draw the resolution', [citadel.onDidRenderDashboard], () => {
          const seen = drawn.slice(from);
          const resolving = seen.findIndex((m) => m.what === 'status' && m.state === 'resolving');
          const idle = seen.findIndex((m, i) => i > resolving && m.what === 'status' && m.state === 'idle' && (m.packages ?? 0) >= 2);
          return resolving >= 0 && idle > resolving && seen.some((m) => m.what === 'profile') && seen.some((m) => m.what === 'metrics') ? true : undefined;
        });
        assert.equal((await resolved).state, 'idle');
      } finally {
        listening.dispose();
      }
    },
  },
  {
    name: 'activates on a workspace with a package.json and resolves it when opened',
    async fn() {
      const citadel = await api();
      await vscode.window.showTextDocument(manifestUri());
      const uri = manifestUri().toString();
      const idle = await waitFor('an idle status', [citadel.onDidChangeStatus], () => (citadel.statusOf(uri)?.state === 'idle' ? citadel.statusOf(uri) : undefined));
      assert.ok(idle.packages >= 2, JSON.stringify(idle));
    },
  },
  {
    name: 'a bad dependency gets a diagnostic on its entry, and fixing it clears it',
    async fn() {
      const uri = manifestUri();
      const document = await vscode.workspace.openTextDocument(uri);
      const original = document.getText();
      const manifest = JSON.parse(original) as { dependencies: Record<string, string> };
      manifest.dependencies[UNKNOWN] = '^1.0.0';
      await setManifest(document, JSON.stringify(manifest, null, 2) + '\n');
      const [diagnostic] = await waitFor('an unknown-package diagnostic', [vscode.languages.onDidChangeDiagnostics], () => {
        const found = citadelDiagnostics(uri).filter(isUnknownPackage);
        return found.length > 0 ? found : undefined;
      });
      assert.ok(diagnostic);
      assert.match(document.getText(diagnostic.range), new RegExp(`^"${UNKNOWN}"`));
      assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
      await setManifest(document, original);
      await waitFor('the diagnostic to clear', [vscode.languages.onDidChangeDiagnostics], () =>
        citadelDiagnostics(uri).length === 0 ? true : undefined,
      );
    },
  },
  {
    name: 'hover on a dependency shows the resolved version',
    async fn() {
      const document = await vscode.workspace.openTextDocument(manifestUri());
      const at = document.positionAt(document.getText().indexOf('"debug"') + 2);
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, at);
      const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
      assert.match(text, /Resolved: 4\\\.1\\\.1/);
    },
  },
  {
    name: 'citadel.resolve (the status bar command) resolves and updates the status bar',
    async fn() {
      const citadel = await api();
      const summary = await vscode.commands.executeCommand<ResolutionSummary>('citadel.resolve');
      assert.equal(summary.state, 'idle', JSON.stringify(summary));
      assert.match(citadel.statusText, /^\$\(zap\) [\d,]+ pkgs · [\d,]+ ms · \d{1,3}%$/);
      await vscode.commands.executeCommand('citadel.showOutput');
    },
  },
  {
    name: 'citadel.restartServer restarts the server, which then resolves again',
    async fn() {
      await vscode.commands.executeCommand('citadel.restartServer');
      const summary = await vscode.commands.executeCommand<ResolutionSummary>('citadel.resolve');
      assert.equal(summary.state, 'idle', JSON.stringify(summary));
      assert.ok(summary.packages >= 2);
    },
  },
  {
    name: 'a quick fix replaces an unsatisfiable spec with a published version',
    async fn() {
      const uri = manifestUri();
      const document = await vscode.workspace.openTextDocument(uri);
      const original = document.getText();
      const manifest = JSON.parse(original) as { dependencies: Record<string, string> };
      manifest.dependencies.ms = '^99.0.0';
      await setManifest(document, JSON.stringify(manifest, null, 2) + '\n');
      const isNoMatch = (d: vscode.Diagnostic) => JSON.stringify(d.code).includes('no-matching-version');
      const diagnostic = await waitFor('a no-matching-version diagnostic', [vscode.languages.onDidChangeDiagnostics], () =>
        citadelDiagnostics(uri).find(isNoMatch),
      );
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, diagnostic.range);
      const fix = actions.find((a) => a.isPreferred && a.title.startsWith('Replace "^99.0.0" with'));
      assert.ok(fix?.edit, JSON.stringify(actions.map((a) => a.title)));
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      assert.doesNotMatch(document.getText(), /\^99\.0\.0/);
      assert.ok(await document.save());
      await waitFor('no-matching-version to clear', [vscode.languages.onDidChangeDiagnostics], () =>
        citadelDiagnostics(uri).some(isNoMatch) ? undefined : true,
      );
      await setManifest(document, original);
      await waitFor('the diagnostics to clear', [vscode.languages.onDidChangeDiagnostics], () => (citadelDiagnostics(uri).length === 0 ? true : undefined));
    },
  },
  {
    name: 'version completion is offered inside a dependency value, with dist-tags',
    async fn() {
      const document = await vscode.workspace.openTextDocument(manifestUri());
      const at = document.positionAt(document.getText().indexOf('"4.1.1"') + 2);
      const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', document.uri, at);
      const latest = list.items.find((i) => i.detail === 'dist-tag: latest');
      assert.ok(latest, JSON.stringify(list.items.slice(0, 5).map((i) => i.label)));
      assert.match(String(typeof latest.label === 'string' ? latest.label : latest.label.label), /^4\.\d+\.\d+$/);
    },
  },
  {
    name: 'citadel.whyPackage returns the chains and citadel.runInstall opens a terminal',
    async fn() {
      const why = await vscode.commands.executeCommand<{ version: string; chains: string[][] }[]>('citadel.whyPackage', manifestUri().toString(), 'ms');
      assert.ok(why.some((v) => v.chains.some((c) => c.join('>') === 'ms')), JSON.stringify(why));
      await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      const opened = new Promise<vscode.Terminal>((resolve) => {
        const sub = vscode.window.onDidOpenTerminal((t) => {
          sub.dispose();
          resolve(t);
        });
      });
      const terminal = await vscode.commands.executeCommand<vscode.Terminal | undefined>('citadel.runInstall', manifestUri().toString(), 'npm install');
      assert.ok(terminal);
      assert.equal((await opened).name, 'Citadel: npm install');
      terminal.dispose();
    },
  },
  {
    name: 'the server runs with the launch flag and environment its memory budget was measured with',
    async fn() {
      const pid = serverPid();
      assert.ok(pid, 'the language server is a child of the extension host');
      assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=4'));
      assert.ok(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('MALLOC_ARENA_MAX=1'));
    },
  },
  {
    name: 'a killed server is restarted, with one line in the output channel',
    async fn() {
      const citadel = await api();
      const pid = serverPid();
      assert.ok(pid, 'the language server is a child of the extension host');
      const restarted = new Promise<void>((resolve) => citadel.onDidRestartAfterCrash(() => resolve()));
      process.kill(pid, 'SIGKILL');
      await restarted;
      assert.equal(citadel.crashNotices.length, 1, JSON.stringify(citadel.crashNotices));
      assert.match(citadel.crashNotices[0]!, /stopped unexpectedly; restarting/);
      assert.notEqual(serverPid(), pid);
      const summary = await vscode.commands.executeCommand<ResolutionSummary>('citadel.resolve');
      assert.equal(summary.state, 'idle', JSON.stringify(summary));
    },
  },
  {
    name: 'citadel.profileResolution writes a .cpuprofile of the server that parses',
    async fn() {
      const file = await vscode.commands.executeCommand<vscode.Uri | undefined>('citadel.profileResolution', manifestUri());
      assert.ok(file && file.path.endsWith('.cpuprofile'), String(file));
      const profile = await readJson(file);
      assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, 'profile nodes');
      assert.ok(Array.isArray(profile.samples) && profile.samples.length > 0, 'profile samples');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    },
  },
  {
    name: 'citadel.exportTrace writes the Chrome trace of the last resolution',
    async fn() {
      await vscode.commands.executeCommand('citadel.resolve', manifestUri());
      const target = vscode.Uri.file(join(tmpdir(), 'citadel-trace.json'));
      const file = await vscode.commands.executeCommand<vscode.Uri | undefined>('citadel.exportTrace', target);
      assert.equal(file?.toString(), target.toString());
      const trace = await readJson(target);
      assert.ok(Array.isArray(trace.traceEvents) && trace.traceEvents.length > 0, Object.keys(trace).join());
    },
  },
  {
    name: 'in a multi-root workspace the package.json of each folder gets its diagnostics',
    async fn() {
      assert.equal(vscode.workspace.workspaceFolders?.length, 2);
      const [a, b] = [manifestUri(0), manifestUri(1)];
      const document = await vscode.workspace.openTextDocument(a);
      const original = document.getText();
      const manifest = JSON.parse(original) as { dependencies: Record<string, string> };
      manifest.dependencies[UNKNOWN] = '^1.0.0';
      await setManifest(document, JSON.stringify(manifest, null, 2) + '\n');
      await vscode.window.showTextDocument(b, { preview: false });
      await waitFor('unknown-package in both folders', [vscode.languages.onDidChangeDiagnostics], () =>
        [a, b].every((uri) => citadelDiagnostics(uri).some(isUnknownPackage)) ? true : undefined,
      );
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      await setManifest(document, original);
      await waitFor('folder a to be clean again', [vscode.languages.onDidChangeDiagnostics], () => (citadelDiagnostics(a).length === 0 ? true : undefined));
    },
  },
  {
    name: 'citadel.showDashboard opens the dashboard panel',
    async fn() {
      await vscode.commands.executeCommand('citadel.showDashboard');
      const isDashboard = (tab: vscode.Tab) => tab.input instanceof vscode.TabInputWebview && tab.label === 'Citadel Dashboard';
      await waitFor('the dashboard tab', [vscode.window.tabGroups.onDidChangeTabs], () =>
        vscode.window.tabGroups.all.some((g) => g.tabs.some(isDashboard)) ? true : undefined,
      );
    },
  },
];
