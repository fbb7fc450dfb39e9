// The command table: each `citadel.*` command declared in package.json maps to one small handler.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { AnalyzeCacheRequest, BenchmarkRequest, ClearCacheRequest, ResolveRequest, WhyRequest } from '../../protocol';
import type { Dashboard } from './dashboard';
import { exportTrace, profileResolution } from './perfCommands';

export interface CommandContext {
  client: LanguageClient;
  outputChannel: vscode.LogOutputChannel;
  dashboard: Dashboard;
  /** Where Profile Resolution writes its .cpuprofile files. */
  logUri: vscode.Uri;
  /** The package.json whose status the status bar shows (a protocol URI), if any. */
  shownManifest(): string | undefined;
}

/**
 * LSPErrorCodes.ContentModified, matched by value: importing vscode-languageclient at run time here
 * would load it during activation (see extension.ts).
 */
const CONTENT_MODIFIED = -32801;
const isContentModified = (error: unknown) => typeof error === 'object' && error !== null && (error as { code?: unknown }).code === CONTENT_MODIFIED;

/**
 * What a command acts on when not given a package.json: the active editor's, else the one on the status
 * bar (a click on it makes the dashboard the active editor, and its Resolve means that project), else
 * the workspace's first one outside node_modules.
 */
async function targetManifest({ client, shownManifest }: CommandContext): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.path.endsWith('/package.json')) return active;
  const shown = shownManifest();
  if (shown) return client.protocol2CodeConverter.asUri(shown);
  const [first] = await vscode.workspace.findFiles('**/package.json', '**/node_modules/**', 1);
  return first;
}

async function resolve(context: CommandContext, uri?: vscode.Uri): Promise<ResolveRequest.Result | undefined> {
  const { client } = context;
  const target = uri ?? (await targetManifest(context));
  if (!target) {
    void vscode.window.showWarningMessage('Citadel: no package.json in this workspace.');
    return undefined;
  }
  const params: ResolveRequest.Params = { uri: client.code2ProtocolConverter.asUri(target) };
  // An edit or a reopened document (after a restart) may supersede the run; the newer one is as good.
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.sendRequest<ResolveRequest.Result>(ResolveRequest.method, params);
    } catch (error) {
      if (!isContentModified(error) || attempt === 3) throw error;
    }
  }
}

/** Shows the chains that bring a package into the tree (quick fix, or the palette with a name typed in). */
async function whyPackage(context: CommandContext, uri?: string, name?: string): Promise<WhyRequest.Result | undefined> {
  const { client } = context;
  const target = uri ?? (await targetManifest(context))?.toString();
  const wanted = name ?? (await vscode.window.showInputBox({ title: 'Citadel: why is this package here?', prompt: 'Package name' }))?.trim();
  if (!target || !wanted) return undefined;
  const params: WhyRequest.Params = { uri: target, name: wanted };
  const result = await client.sendRequest<WhyRequest.Result>(WhyRequest.method, params);
  const items: vscode.QuickPickItem[] = result.flatMap(({ version, chains }) => [
    { label: `${wanted}@${version}`, kind: vscode.QuickPickItemKind.Separator },
    ...chains.map((chain) => ({ label: chain.join(' › '), description: chain.length === 1 ? 'direct dependency' : undefined })),
  ]);
  if (items.length === 0) items.push({ label: `${wanted} is not in the resolved tree` });
  // Not awaited: the list is for reading; the command returns the chains right away.
  void vscode.window.showQuickPick(items, { title: `Why is ${wanted} in the tree?`, placeHolder: `${result.length} version(s) of ${wanted}` });
  return result;
}

/** Only these reach a terminal, whatever the caller passes. */
const INSTALL_COMMANDS = new Set(['npm install', 'pnpm install', 'yarn install', 'bun install']);

/** Runs the project's package manager install in a terminal at the package.json's folder. */
async function runInstall(context: CommandContext, uri?: string, command = 'npm install'): Promise<vscode.Terminal | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Citadel: installing runs package scripts; trust this workspace first.');
    return undefined;
  }
  const target = uri ? vscode.Uri.parse(uri) : await targetManifest(context);
  if (!target || !INSTALL_COMMANDS.has(command)) return undefined;
  const terminal = vscode.window.createTerminal({ name: `Citadel: ${command}`, cwd: vscode.Uri.joinPath(target, '..') });
  terminal.show();
  terminal.sendText(command);
  return terminal;
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function analyzeCache({ client, outputChannel }: CommandContext): Promise<AnalyzeCacheRequest.Result> {
  const info = await client.sendRequest<AnalyzeCacheRequest.Result>(AnalyzeCacheRequest.method);
  const line =
    `Cache ${info.dir}: ${info.entries} documents, ${mb(info.bytesOnDisk)} on disk (${info.compressionRatio.toFixed(1)}x), ` +
    `${info.memoryEntries} in memory${info.corrupt ? `, ${info.corrupt} corrupt` : ''}; fetched ${info.oldest ?? '-'} .. ${info.newest ?? '-'}`;
  outputChannel.info(line);
  void vscode.window.showInformationMessage(`Citadel: ${line}`);
  return info;
}

async function clearCache({ client, outputChannel }: CommandContext): Promise<ClearCacheRequest.Result> {
  const r = await client.sendRequest<ClearCacheRequest.Result>(ClearCacheRequest.method);
  outputChannel.info(`Cleared ${r.entries} cached documents in ${r.dir}`);
  void vscode.window.showInformationMessage(`Citadel: cleared ${r.entries} cached documents.`);
  return r;
}

/** Resolves the manifest cold, warm and hot (see BenchmarkRequest) and reports the three times. */
async function runBenchmark(context: CommandContext, uri?: vscode.Uri): Promise<BenchmarkRequest.Result | undefined> {
  const { client, outputChannel } = context;
  const target = uri ?? (await targetManifest(context));
  if (!target) return undefined;
  const runs = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Citadel: benchmarking resolution…' }, () =>
    client.sendRequest<BenchmarkRequest.Result>(BenchmarkRequest.method, { uri: client.code2ProtocolConverter.asUri(target) }),
  );
  const line = runs.map((r) => `${r.mode} ${Math.round(r.durationMs)} ms (${r.requests} requests)`).join(' · ');
  outputChannel.info(`Benchmark of ${target.fsPath}: ${runs[0]?.packages ?? 0} packages; ${line}`);
  void vscode.window.showInformationMessage(`Citadel: ${line}`);
  return runs;
}

const COMMANDS: Record<string, (ctx: CommandContext, ...args: never[]) => unknown> = {
  'citadel.resolve': resolve,
  'citadel.whyPackage': whyPackage,
  'citadel.runInstall': runInstall,
  'citadel.showOutput': ({ outputChannel }) => outputChannel.show(true),
  'citadel.restartServer': ({ client }) => client.restart(),
  'citadel.showDashboard': ({ dashboard }) => dashboard.show(),
  'citadel.profileResolution': async (context, uri?: vscode.Uri) => profileResolution(context.client, context.logUri, uri ?? (await targetManifest(context))),
  'citadel.exportTrace': ({ client }, target?: vscode.Uri) => exportTrace(client, target),
  'citadel.analyzeCache': analyzeCache,
  'citadel.clearCache': clearCache,
  'citadel.runBenchmark': runBenchmark,
};

/** Registered during activation; each command waits for the language client, which loads just after. */
export function registerCommands({ client, ...ctx }: Omit<CommandContext, 'client'> & { client: Promise<LanguageClient> }): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: never[]) => handler({ ...ctx, client: await client }, ...args)),
  );
}
