// Citadel: Profile Resolution and Citadel: Export Trace.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { ExportTraceRequest, ProfileRequest } from '../../protocol';

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

/**
 * Resolves now while the server records a CPU profile; the profile goes to the extension's log folder
 * as a `.cpuprofile` and opens in VS Code's profile viewer. The resolution's own profile shows on the dashboard.
 */
export async function profileResolution(client: LanguageClient, logUri: vscode.Uri, target: vscode.Uri | undefined): Promise<vscode.Uri | undefined> {
  if (!target) {
    void vscode.window.showWarningMessage('Citadel: no package.json in this workspace.');
    return undefined;
  }
  void vscode.commands.executeCommand('citadel.showDashboard');
  const params: ProfileRequest.Params = { uri: client.code2ProtocolConverter.asUri(target), cpuProfile: true };
  const result = await client.sendRequest<ProfileRequest.Result>(ProfileRequest.method, params);
  if (!result.cpuProfile) return undefined;
  await vscode.workspace.fs.createDirectory(logUri);
  const file = vscode.Uri.joinPath(logUri, `citadel-server-${stamp()}.cpuprofile`);
  await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(JSON.stringify(result.cpuProfile)));
  await vscode.commands.executeCommand('vscode.open', file);
  return file;
}

/** Writes the Chrome trace of the last resolution (Perfetto, chrome://tracing) to `target`, or where the user picks. */
export async function exportTrace(client: LanguageClient, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const trace = await client.sendRequest<ExportTraceRequest.Result>(ExportTraceRequest.method, {});
  if (!trace) {
    void vscode.window.showInformationMessage('Citadel: nothing resolved yet; resolve a package.json first.');
    return undefined;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const file =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export Citadel trace',
      ...(folder && { defaultUri: vscode.Uri.joinPath(folder, `citadel-trace-${stamp()}.json`) }),
      filters: { 'Chrome trace': ['json'] },
    }));
  if (!file) return undefined;
  await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(JSON.stringify(trace)));
  return file;
}
