// The status bar item: one switch from the last citadel/resolutionStatus to what the user sees.
import * as vscode from 'vscode';
import type { ResolutionSummary } from '../../protocol';

export function statusText(summary: ResolutionSummary | undefined): string {
  switch (summary?.state) {
    case undefined:
      return '$(package) Citadel';
    case 'resolving':
      return '$(sync~spin) Citadel';
    case 'error':
      return '$(error) Citadel';
    case 'idle':
      return `$(zap) ${summary.packages.toLocaleString('en-US')} pkgs · ${Math.round(summary.durationMs).toLocaleString('en-US')} ms`;
  }
}

function tooltip(summary: ResolutionSummary): string {
  const file = vscode.workspace.asRelativePath(vscode.Uri.parse(summary.uri));
  if (summary.state === 'resolving') return `Resolving ${file}…`;
  if (summary.state === 'error') return `Could not resolve ${file}: ${summary.message ?? 'unknown error'}\nClick to show the output.`;
  const kib = (summary.bytes / 1024).toFixed(0);
  return `${file}: ${summary.packages} packages, ${summary.requests} requests, ${kib} KiB, ${summary.problems} problems (${summary.errors} errors)\nClick to resolve again.`;
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('citadel.status', vscode.StatusBarAlignment.Left, 0);
  private last: ResolutionSummary | undefined;

  constructor() {
    this.item.name = 'Citadel';
    this.update(undefined);
    this.item.show();
  }

  get summary(): ResolutionSummary | undefined {
    return this.last;
  }

  get text(): string {
    return this.item.text;
  }

  update(summary: ResolutionSummary | undefined): void {
    this.last = summary;
    this.item.text = statusText(summary);
    this.item.tooltip = summary ? tooltip(summary) : 'Citadel: no package.json resolved yet';
    this.item.command = summary?.state === 'error' ? 'citadel.showOutput' : 'citadel.resolve';
    const failed = summary?.state === 'error' || (summary?.errors ?? 0) > 0;
    this.item.backgroundColor = failed ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
