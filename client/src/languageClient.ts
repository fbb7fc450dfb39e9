// The language client: which files the server sees, how it is started, and what it is told at start.
// extension.ts loads this module only after activation (vscode-languageclient is most of the bundle's
// evaluation time), so nothing else imports it at run time.
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandler,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { ResolutionStatusNotification } from '../../protocol';

/** Files that change what a package.json resolves to; the server re-resolves manifests at or below them. */
const RESOLUTION_INPUTS = '**/{package-lock.json,npm-shrinkwrap.json,yarn.lock,pnpm-lock.yaml,bun.lock,.npmrc}';

/** Restarts allowed in RESTART_WINDOW_MS before Citadel gives up on a server that keeps crashing. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60_000;

/**
 * A crashed server is restarted and the output channel says so in one line (no pop-up); after
 * MAX_RESTARTS crashes within the window it stays down, and that is the one pop-up, since the user must act.
 */
export function crashHandler(outputChannel: vscode.LogOutputChannel, onCrash: (line: string) => void): ErrorHandler {
  const crashes: number[] = [];
  return {
    error: () => ({ action: ErrorAction.Continue, handled: true }),
    closed: (): CloseHandlerResult => {
      const now = Date.now();
      crashes.push(now);
      while (crashes.length && crashes[0]! < now - RESTART_WINDOW_MS) crashes.shift();
      if (crashes.length > MAX_RESTARTS) {
        const line = `The Citadel language server crashed ${crashes.length} times in 3 minutes and will not be restarted; use "Citadel: Restart Server".`;
        outputChannel.error(line);
        onCrash(line);
        return { action: CloseAction.DoNotRestart, message: line };
      }
      const line = 'The Citadel language server stopped unexpectedly; restarting it.';
      outputChannel.warn(line);
      onCrash(line);
      return { action: CloseAction.Restart, handled: true };
    },
  };
}

export interface ClientHooks {
  /** A crash, with the line written to the output channel. */
  onCrash(line: string): void;
  /** The server runs again after a crash. */
  onRestartAfterCrash(): void;
  onStatus(summary: ResolutionStatusNotification.Params): void;
}

/** Creates the client, wires its events to `hooks`, and starts the server without waiting for it. */
export function startLanguageClient(context: vscode.ExtensionContext, outputChannel: vscode.LogOutputChannel, hooks: ClientHooks): LanguageClient {
  let crashed = false;
  const client = createLanguageClient(context, outputChannel, (line) => {
    crashed = true;
    hooks.onCrash(line);
  });
  context.subscriptions.push(
    client.onDidChangeState(({ newState }) => {
      if (newState !== State.Running || !crashed) return;
      crashed = false;
      hooks.onRestartAfterCrash();
    }),
    client.onNotification(ResolutionStatusNotification.method, hooks.onStatus),
  );
  // Requests sent before the server is up wait for it inside the client.
  client.start().catch((error: unknown) => outputChannel.error(`The Citadel language server did not start: ${String(error)}`));
  return client;
}

/**
 * A young generation of 4 MB semi-spaces instead of V8's 16: a cold resolution allocates fast enough to
 * grow it to the limit, and the server's peak RSS on the large fixture fell by 15-20 MB (cold and warm)
 * with no change in its time (scripts/bench-editor.mjs launches the server the same way). It can only be
 * set at launch.
 */
const SERVER_EXEC_ARGV = ['--max-semi-space-size=4'];
/**
 * One malloc arena (glibc; other C libraries ignore it). glibc gives threads arenas of their own, and
 * what the server's threads (libuv's pool, V8's helpers, the cache thread) allocate and free stayed
 * mapped in them: the peak RSS of a cold resolution of the large fixture was 145-150 MB with one
 * arena against 158-161 with the default, in the same time (scripts/bench-editor.mjs, 4 alternating
 * rounds). The server's threads seldom allocate at once, so they do not wait on each other for it.
 */
const SERVER_ENV = { MALLOC_ARENA_MAX: '1' };

function createLanguageClient(context: vscode.ExtensionContext, outputChannel: vscode.LogOutputChannel, onCrash: (line: string) => void): LanguageClient {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    // The client adds these to the extension host's environment.
    run: { module, transport: TransportKind.ipc, options: { execArgv: SERVER_EXEC_ARGV, env: SERVER_ENV } },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: [...SERVER_EXEC_ARGV, '--nolazy', '--inspect=6009'], env: SERVER_ENV } },
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
    errorHandler: crashHandler(outputChannel, onCrash),
  };
  return new LanguageClient('citadel', 'Citadel', serverOptions, clientOptions);
}
