// The command table: each `citadel.*` command declared in package.json maps to one small handler.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ResolveRequest } from '../../protocol';
import type { Dashboard } from './dashboard';

export interface CommandContext {
  client: LanguageClient;
  outputChannel: vscode.LogOutputChannel;
  dashboard: Dashboard;
}

/** The active editor's package.json, else the workspace's first one outside node_modules. */
async function targetManifest(): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.path.endsWith('/package.json')) return active;
  const [first] = await vscode.workspace.findFiles('**/package.json', '**/node_modules/**', 1);
  return first;
}

async function resolve({ client }: CommandContext, uri?: vscode.Uri): Promise<ResolveRequest.Result | undefined> {
  const target = uri ?? (await targetManifest());
  if (!target) {
    void vscode.window.showWarningMessage('Citadel: no package.json in this workspace.');
    return undefined;
  }
  const params: ResolveRequest.Params = { uri: client.code2ProtocolConverter.asUri(target) };
  return client.sendRequest<ResolveRequest.Result>(ResolveRequest.method, params);
}

const COMMANDS: Record<string, (ctx: CommandContext, ...args: never[]) => unknown> = {
  'citadel.resolve': resolve,
  'citadel.showOutput': ({ outputChannel }) => outputChannel.show(true),
  'citadel.restartServer': ({ client }) => client.restart(),
  'citadel.showDashboard': ({ dashboard }) => dashboard.show(),
};

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, handler]) =>
    vscode.commands.registerCommand(id, (...args: never[]) => handler(ctx, ...args)),
  );
}
