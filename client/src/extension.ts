// Extension entry: wires the output channel, the status bar, the dashboard and the commands, then the
// language client on the next turn of the event loop.
import { bundleEvaluationStarted } from './loadClock';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { ResolutionSummary } from '../../protocol';
import { registerCommands } from './commands';
import { Dashboard } from './dashboard';
import { StatusBar } from './statusBar';

/** What activate() returns: read by the extension tests, which cannot see the status bar otherwise. */
export interface CitadelApi {
  readonly status: ResolutionSummary | undefined;
  readonly statusText: string;
  readonly onDidChangeStatus: vscode.Event<ResolutionSummary>;
  /** The last status of one manifest (by its URI string), until its document is closed. */
  statusOf(uri: string): ResolutionSummary | undefined;
  /** Lines written to the output channel when the server crashed (one per crash). */
  readonly crashNotices: readonly string[];
  /** Fires when the server runs again after a crash. */
  readonly onDidRestartAfterCrash: vscode.Event<void>;
  /** The status bar item's command, and whether its colour shows an error or a warning. */
  readonly statusCommand: string | undefined;
  readonly statusBackground: 'error' | 'warning' | undefined;
  /** Fires each time the dashboard page has drawn a message. */
  readonly onDidRenderDashboard: Dashboard['onDidRender'];
  /**
   * How long activation took (also logged to the output channel): evaluating the bundle up to
   * activate(), and activate() itself; then, after activation, loading and starting the language client.
   */
  readonly activation: { loadMs: number; activateMs: number; clientMs: Promise<number> };
}

let client: Promise<LanguageClient> | undefined;

export function activate(context: vscode.ExtensionContext): CitadelApi {
  const activateStarted = performance.now();
  // A log channel: vscode-languageclient 11 calls outputChannel.error(), which a plain channel lacks.
  const outputChannel = vscode.window.createOutputChannel('Citadel', { log: true });
  const statusBar = new StatusBar();
  const statusChanged = new vscode.EventEmitter<ResolutionSummary>();
  const dashboard = new Dashboard(context.extensionUri);
  const crashNotices: string[] = [];
  const restarted = new vscode.EventEmitter<void>();
  // vscode-languageclient is most of the bundle (about 100 ms to evaluate): it is loaded on the next
  // turn, so activation (which VS Code's startup waits for) does not include it. Commands and the
  // dashboard wait for the client.
  const loaded = new Promise<void>((ready) => setTimeout(ready, 0)).then(async () => {
    const started = performance.now();
    const { startLanguageClient } = await import('./languageClient.js');
    const languageClient = startLanguageClient(context, outputChannel, {
      onCrash: (line) => crashNotices.push(line),
      onRestartAfterCrash: () => restarted.fire(),
      onStatus: (summary) => {
        statusBar.update(summary);
        dashboard.update(summary);
        statusChanged.fire(summary);
      },
    });
    context.subscriptions.push(
      ...dashboard.attach(languageClient, statusBar),
      // Trust decides whether the project's .npmrc is read, and the server learns it at start.
      vscode.workspace.onDidGrantWorkspaceTrust(() => languageClient.restart()),
    );
    const ms = performance.now() - started;
    outputChannel.info(`Language client loaded and started in ${ms.toFixed(1)} ms, after activation.`);
    return { languageClient, ms };
  });
  client = loaded.then(({ languageClient }) => languageClient);
  context.subscriptions.push(
    outputChannel,
    statusBar,
    // The server cancels a closed document's resolution, which then sends no last status.
    vscode.workspace.onDidCloseTextDocument((document) => statusBar.forget(document.uri.toString())),
    statusChanged,
    restarted,
    dashboard,
    // Registered during activation: VS Code restores a dashboard left open only through a serializer known by then.
    dashboard.registerSerializer(),
    ...registerCommands({ client, outputChannel, dashboard, logUri: context.logUri, shownManifest: () => statusBar.summary?.uri }),
  );
  const activation = { loadMs: activateStarted - bundleEvaluationStarted, activateMs: performance.now() - activateStarted };
  outputChannel.info(`Activated in ${(activation.loadMs + activation.activateMs).toFixed(1)} ms (bundle ${activation.loadMs.toFixed(1)} ms, activate() ${activation.activateMs.toFixed(1)} ms).`);
  return {
    activation: { ...activation, clientMs: loaded.then(({ ms }) => ms) },
    get status() {
      return statusBar.summary;
    },
    get statusText() {
      return statusBar.text;
    },
    onDidChangeStatus: statusChanged.event,
    statusOf: (uri) => statusBar.statusOf(uri),
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
  await (await client)?.stop();
}
