// The status bar item: one switch from the last citadel/resolutionStatus to what the user sees.
import * as vscode from 'vscode';
import type { Alert, ResolutionSummary } from '../../protocol';

export function statusText(summary: ResolutionSummary | undefined): string {
  switch (summary?.state) {
    case undefined:
      return '$(package) Citadel';
    case 'resolving':
      return '$(sync~spin) Citadel';
    case 'error':
      return '$(error) Citadel';
    case 'idle':
      return `$(zap) ${summary.packages.toLocaleString('en-US')} pkgs · ${Math.round(summary.durationMs).toLocaleString('en-US')} ms${summary.cacheHitRate === undefined ? '' : ` · ${Math.round(summary.cacheHitRate * 100)}%`}`;
  }
}

function tooltip(summary: ResolutionSummary): string {
  const file = vscode.workspace.asRelativePath(vscode.Uri.parse(summary.uri));
  if (summary.state === 'resolving') return `Resolving ${file}…`;
  if (summary.state === 'error') return `Could not resolve ${file}: ${summary.message ?? 'unknown error'}\nClick to show the output.`;
  const kib = (summary.bytes / 1024).toFixed(0);
  const untrusted = summary.ignoredNpmrc
    ? `\n\n$(shield) Untrusted workspace: ${vscode.workspace.asRelativePath(summary.ignoredNpmrc)} is ignored; your user and global npm config choose the registry.`
    : '';
  const cache = summary.cacheHitRate === undefined ? '' : `, ${Math.round(summary.cacheHitRate * 100)}% from the cache`;
  return `${file}: ${summary.packages} packages, ${summary.requests} requests, ${kib} KiB${cache}, ${summary.problems} problems (${summary.errors} errors)${untrusted}\nClick to open the dashboard.`;
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('citadel.status', vscode.StatusBarAlignment.Left, 0);
  /** The last status of each manifest, oldest first. */
  private readonly byUri = new Map<string, ResolutionSummary>();
  private last: ResolutionSummary | undefined;
  private alerts: Alert[] = [];

  constructor() {
    this.item.name = 'Citadel';
    this.render();
    this.item.show();
  }

  get summary(): ResolutionSummary | undefined {
    return this.last;
  }

  get text(): string {
    return this.item.text;
  }

  /** The colour says the worst of: resolution errors, then the metrics alerts in force. */
  get background(): 'error' | 'warning' | undefined {
    const failed = this.last?.state === 'error' || (this.last?.errors ?? 0) > 0;
    if (failed || this.alerts.some((a) => a.severity === 'error')) return 'error';
    return this.alerts.length ? 'warning' : undefined;
  }

  /** A manifest resolving shows first (the newest such), else the newest result. */
  update(summary: ResolutionSummary): void {
    this.byUri.delete(summary.uri);
    this.byUri.set(summary.uri, summary);
    this.choose();
  }

  /** A document closed while it resolves has its run cancelled, which sends no last status: its 'resolving' must not stay on screen. */
  forget(uri: string): void {
    if (this.byUri.delete(uri)) this.choose();
  }

  statusOf(uri: string): ResolutionSummary | undefined {
    return this.byUri.get(uri);
  }

  private choose(): void {
    const all = [...this.byUri.values()];
    this.last = all.findLast((s) => s.state === 'resolving') ?? all.at(-1);
    this.render();
  }

  /** Metrics alerts: shown here and on the dashboard, never as pop-ups. */
  updateAlerts(alerts: Alert[]): void {
    const same = alerts.length === this.alerts.length && alerts.every((a, i) => a.id === this.alerts[i]!.id && a.message === this.alerts[i]!.message);
    if (same) return;
    this.alerts = alerts;
    this.render();
  }

  private render(): void {
    const summary = this.last;
    this.item.text = statusText(summary);
    const alerts = this.alerts.map((a) => `$(warning) ${a.message} ${a.hint}`).join('\n\n');
    const base = summary ? tooltip(summary) : 'Citadel: no package.json resolved yet';
    this.item.tooltip = new vscode.MarkdownString(alerts ? `${base}\n\n${alerts}` : base, true);
    // Idle: the dashboard (figures, alerts, resolve button); failed: the output with the cause.
    this.item.command = summary?.state === 'error' ? 'citadel.showOutput' : summary ? 'citadel.showDashboard' : 'citadel.resolve';
    const bg = this.background;
    this.item.backgroundColor = bg ? new vscode.ThemeColor(bg === 'error' ? 'statusBarItem.errorBackground' : 'statusBarItem.warningBackground') : undefined;
  }

  get command(): string | undefined {
    return typeof this.item.command === 'string' ? this.item.command : this.item.command?.command;
  }

  dispose(): void {
    this.item.dispose();
  }
}
