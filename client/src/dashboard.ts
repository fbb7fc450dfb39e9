// The dashboard panel: a webview running dist/webview.js that shows the last resolution's figures.
// Strict CSP: nothing loads or runs but our own nonce-tagged script and style.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { FromWebview, ResolutionSummary, ToWebview } from '../../protocol';

const FIGURES = ['state', 'packages', 'duration', 'requests', 'transferred', 'problems'];

function html(webview: vscode.Webview, script: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  const rows = FIGURES.map(
    (f) => `<vscode-table-row><vscode-table-cell>${f}</vscode-table-cell><vscode-table-cell data-figure="${f}">–</vscode-table-cell></vscode-table-row>`,
  ).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">body { padding: 1em; } vscode-table { max-width: 32em; margin-bottom: 1em; }</style>
</head>
<body>
<vscode-table zebra bordered-rows><vscode-table-body slot="body">${rows}</vscode-table-body></vscode-table>
<vscode-button id="resolve">Resolve again</vscode-button>
<script nonce="${nonce}" src="${webview.asWebviewUri(script).toString()}"></script>
</body>
</html>`;
}

/** One panel at most; revealed again when already open. */
export class Dashboard implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private last: ResolutionSummary | undefined;

  constructor(private readonly extensionUri: vscode.Uri) {}

  show(): void {
    if (this.panel) return this.panel.reveal();
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel('citadel.dashboard', 'Citadel Dashboard', vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [dist],
    });
    panel.webview.html = html(panel.webview, vscode.Uri.joinPath(dist, 'webview.js'));
    panel.webview.onDidReceiveMessage((message: FromWebview) => {
      if (message.type === 'ready' && this.last) this.post({ type: 'status', summary: this.last });
      if (message.type === 'resolve') void vscode.commands.executeCommand('citadel.resolve');
    });
    panel.onDidDispose(() => (this.panel = undefined));
    this.panel = panel;
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
  }
}
