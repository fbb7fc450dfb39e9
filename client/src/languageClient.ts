// The language client: which files the server sees, how it is started, and what it is told at start.
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

/** Files that change what a package.json resolves to; the server re-resolves manifests at or below them. */
const RESOLUTION_INPUTS = '**/{package-lock.json,npm-shrinkwrap.json,yarn.lock,pnpm-lock.yaml,bun.lock,.npmrc}';

export function createLanguageClient(context: vscode.ExtensionContext, outputChannel: vscode.LogOutputChannel): LanguageClient {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const watcher = vscode.workspace.createFileSystemWatcher(RESOLUTION_INPUTS);
  context.subscriptions.push(watcher);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', pattern: '**/package.json' }],
    outputChannel,
    // The server reads a project's .npmrc (which picks the registry) only in a trusted workspace;
    // a function, so a restart after trust is granted tells the server.
    initializationOptions: () => ({ trusted: vscode.workspace.isTrusted }),
    synchronize: { fileEvents: watcher, configurationSection: 'citadel' },
  };
  return new LanguageClient('citadel', 'Citadel', serverOptions, clientOptions);
}
