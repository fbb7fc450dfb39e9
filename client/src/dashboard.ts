// The dashboard panel: one instance, restored across reloads by a serializer, running dist/webview.js.
// It gets the metrics history when it opens, then the live samples, profiles and statuses the server
// streams. Its buttons may run a fixed list of palette commands and nothing else.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  DASHBOARD_COMMANDS,
  MetricsNotification,
  MetricsSnapshotRequest,
  ProfileNotification,
  type FromWebview,
  type ResolutionSummary,
  type ToWebview,
} from '../../protocol';
import { dashboardHtml } from '../../webview/src/html';
import type { StatusBar } from './statusBar';

const VIEW_TYPE = 'citadel.dashboard';
export type RenderedMessage = Extract<FromWebview, { type: 'rendered' }>;

export class Dashboard implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private last: ResolutionSummary | undefined;
  private client: LanguageClient | undefined;
  private readonly rendered = new vscode.EventEmitter<RenderedMessage>();
  /** Fires each time the page has drawn a message (what the extension tests wait for). */
  readonly onDidRender = this.rendered.event;

  constructor(private readonly extensionUri: vscode.Uri) {}

  /** Restores the panel after a reload. */
  registerSerializer(): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => this.setup(panel),
    });
  }

  /** Streams the server's metrics to the panel and the alerts to the status bar, once the client is loaded. */
  attach(client: LanguageClient, statusBar: StatusBar): vscode.Disposable[] {
    this.client = client;
    // A panel restored before the client was loaded asked for its snapshot in vain.
    if (this.panel) void this.sendSnapshot();
    return [
      client.onNotification(MetricsNotification.method, (update: MetricsNotification.Params) => {
        statusBar.updateAlerts(update.alerts);
        this.post({ type: 'metrics', update });
      }),
      client.onNotification(ProfileNotification.method, (profile: ProfileNotification.Params) => this.post({ type: 'profile', profile })),
    ];
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  show(): void {
    if (this.panel) return this.panel.reveal();
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Citadel Dashboard', vscode.ViewColumn.Beside, this.options());
    this.setup(panel);
  }

  private options(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist')] };
  }

  private setup(panel: vscode.WebviewPanel): void {
    panel.webview.options = this.options();
    panel.webview.html = dashboardHtml({
      nonce: randomBytes(16).toString('base64'),
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js')).toString(),
    });
    panel.webview.onDidReceiveMessage((message: FromWebview) => {
      switch (message.type) {
        case 'ready':
          void this.sendSnapshot();
          break;
        case 'resolve':
          void vscode.commands.executeCommand('citadel.resolve');
          break;
        case 'command':
          if ((DASHBOARD_COMMANDS as readonly string[]).includes(message.command)) void vscode.commands.executeCommand(message.command);
          break;
        case 'rendered':
          this.rendered.fire(message);
          break;
      }
    });
    panel.onDidDispose(() => (this.panel = undefined));
    this.panel = panel;
  }

  private async sendSnapshot(): Promise<void> {
    try {
      const snapshot = await this.client?.sendRequest<MetricsSnapshotRequest.Result>(MetricsSnapshotRequest.method, {});
      if (snapshot) this.post({ type: 'snapshot', snapshot: { ...snapshot, ...(this.last && { summary: this.last }) } });
      else if (this.last) this.post({ type: 'status', summary: this.last });
    } catch {
      // The server is not running (yet): statuses and samples arrive when it is.
      if (this.last) this.post({ type: 'status', summary: this.last });
    }
  }

  update(summary: ResolutionSummary): void {
    this.last = summary;
    this.post({ type: 'status', summary });
  }

  private post(message: ToWebview): void {
    void this.panel?.webview.postMessage(message);
  }

  dispose(): void {
    this.panel?.dispose();
    this.rendered.dispose();
  }
}
