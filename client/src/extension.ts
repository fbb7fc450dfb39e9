// Extension entry: wires the output channel, the language client, the status bar and the commands.
import * as vscode from 'vscode';
import { State, type LanguageClient } from 'vscode-languageclient/node';
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
  /** Lines written to the output channel when the server crashed (one per crash). */
  readonly crashNotices: readonly string[];
  /** Fires when the server runs again after a crash. */
  readonly onDidRestartAfterCrash: vscode.Event<void>;
  /** The status bar item's command, and whether its colour shows an error or a warning. */
  readonly statusCommand: string | undefined;
  readonly statusBackground: 'error' | 'warning' | undefined;
  /** Fires each time the dashboard page has drawn a message. */
  readonly onDidRenderDashboard: Dashboard['onDidRender'];
}

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<CitadelApi> {
  // A log channel: vscode-languageclient 11 calls outputChannel.error(), which a plain channel lacks.
  const outputChannel = vscode.window.createOutputChannel('Citadel', { log: true });
  const statusBar = new StatusBar();
  const statusChanged = new vscode.EventEmitter<ResolutionSummary>();
  const dashboard = new Dashboard(context.extensionUri);
  const crashNotices: string[] = [];
  const restarted = new vscode.EventEmitter<void>();
  let crashed = false;
  client = createLanguageClient(context, outputChannel, (line) => {
    crashNotices.push(line);
    crashed = true;
  });
  context.subscriptions.push(
    outputChannel,
    statusBar,
    statusChanged,
    restarted,
    dashboard,
    client.onDidChangeState(({ newState }) => {
      if (newState !== State.Running || !crashed) return;
      crashed = false;
      restarted.fire();
    }),
    client.onNotification(ResolutionStatusNotification.method, (summary: ResolutionStatusNotification.Params) => {
      statusBar.update(summary);
      dashboard.update(summary);
      statusChanged.fire(summary);
    }),
    ...registerCommands({ client, outputChannel, dashboard, logUri: context.logUri }),
    ...dashboard.attach(client, statusBar),
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
    crashNotices,
    onDidRestartAfterCrash: restarted.event,
    get statusCommand() {
      return statusBar.command;
    },
    get statusBackground() {
      return statusBar.background;
    },
    onDidRenderDashboard: dashboard.onDidRender,
  };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
