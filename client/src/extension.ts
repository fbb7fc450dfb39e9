// Extension entry: wires the output channel, the language client, the status bar and the commands.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ResolutionStatusNotification, type ResolutionSummary } from '../../protocol';
import { registerCommands } from './commands';
import { Dashboard } from './dashboard';
import { createLanguageClient } from './languageClient';
import { StatusBar } from './statusBar';

/** What activate() returns: read by the extension tests, which cannot see the status bar otherwise. */
export interface CitadelApi {
  readonly status: ResolutionSummary | undefined;
  readonly statusText: string;
  readonly onDidChangeStatus: vscode.Event<ResolutionSummary>;
}

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<CitadelApi> {
  // A log channel: vscode-languageclient 11 calls outputChannel.error(), which a plain channel lacks.
  const outputChannel = vscode.window.createOutputChannel('Citadel', { log: true });
  const statusBar = new StatusBar();
  const statusChanged = new vscode.EventEmitter<ResolutionSummary>();
  const dashboard = new Dashboard(context.extensionUri);
  client = createLanguageClient(context, outputChannel);
  context.subscriptions.push(
    outputChannel,
    statusBar,
    statusChanged,
    dashboard,
    client.onNotification(ResolutionStatusNotification.method, (summary: ResolutionStatusNotification.Params) => {
      statusBar.update(summary);
      dashboard.update(summary);
      statusChanged.fire(summary);
    }),
    ...registerCommands({ client, outputChannel, dashboard }),
    // Trust decides whether the project's .npmrc is read, and the server learns it at start.
    vscode.workspace.onDidGrantWorkspaceTrust(() => client?.restart()),
  );
  await client.start();
  return {
    get status() {
      return statusBar.summary;
    },
    get statusText() {
      return statusBar.text;
    },
    onDidChangeStatus: statusChanged.event,
  };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
