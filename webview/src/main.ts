// Dashboard webview script (browser IIFE): shows the figures of the last citadel/resolutionStatus that
// the extension forwards, and asks it to resolve again. All text is set with textContent, never as HTML.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import type { FromWebview, ResolutionSummary, ToWebview } from '../../protocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const vscode = acquireVsCodeApi();

function render(summary: ResolutionSummary): void {
  const figures: Record<string, string> = {
    state: summary.state,
    packages: summary.packages.toLocaleString('en-US'),
    duration: `${Math.round(summary.durationMs).toLocaleString('en-US')} ms`,
    requests: summary.requests.toLocaleString('en-US'),
    transferred: `${(summary.bytes / 1024).toFixed(1)} KiB`,
    problems: `${summary.problems} (${summary.errors} errors)`,
  };
  for (const [key, value] of Object.entries(figures)) {
    const cell = document.querySelector(`[data-figure="${key}"]`);
    if (cell) cell.textContent = value;
  }
  document.body.dataset.state = summary.state;
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  if (event.data.type === 'status') render(event.data.summary);
});
document.getElementById('resolve')?.addEventListener('click', () => vscode.postMessage({ type: 'resolve' }));
vscode.postMessage({ type: 'ready' });
