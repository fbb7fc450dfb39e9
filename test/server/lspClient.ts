// A minimal LSP client for tests: starts dist/server.js over stdio and keeps what the server publishes,
// with waits on it (tests wait for messages, never sleep). With `capture`, every byte the server writes
// to stdout and stderr is kept too, so the secrets tests can search all of it.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  ConfigurationRequest,
  createProtocolConnection,
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type InitializeResult,
  type ProtocolConnection,
} from 'vscode-languageserver/node';
import { MetricsNotification, ResolutionStatusNotification, type ResolutionSummary } from '../../protocol';

type Waiter = () => boolean;

export class TestLspClient {
  readonly diagnostics = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();
  readonly statuses: ResolutionSummary[] = [];
  /** Publishes and settled statuses in arrival order, to tell a resolution's last publish from an early one. */
  private readonly sequence: ({ uri: string; version?: number; diagnostics: Diagnostic[] } | { uri: string; settled: true })[] = [];
  readonly metrics: MetricsNotification.Params[] = [];
  readonly stdout: Buffer[] = [];
  readonly stderr: Buffer[] = [];
  /** What the server reads as the `citadel` section of every scope. */
  settings: unknown = {};
  readonly connection: ProtocolConnection;
  readonly child: ChildProcess;
  private waiters: Waiter[] = [];

  /**
   * `env` replaces the server's environment, so npm config from the test runner cannot leak in;
   * `nodeArgs` go to the server's Node (the soak passes --expose-gc); `server` is the bundle to run.
   */
  constructor(env: NodeJS.ProcessEnv, nodeArgs: string[] = [], opts: { capture?: boolean; server?: string } = {}) {
    this.child = spawn(process.execPath, [...nodeArgs, opts.server ?? 'dist/server.js', '--stdio'], { env, stdio: ['pipe', 'pipe', opts.capture ? 'pipe' : 'inherit'] });
    if (opts.capture) {
      this.child.stdout!.on('data', (c: Buffer) => this.stdout.push(c));
      this.child.stderr!.on('data', (c: Buffer) => this.stderr.push(c));
    }
    this.connection = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.connection.onNotification(PublishDiagnosticsNotification.type, ({ uri, version, diagnostics }) => {
      this.diagnostics.set(uri, { version, diagnostics });
      this.sequence.push({ uri, version, diagnostics });
      this.wake();
    });
    this.connection.onNotification(ResolutionStatusNotification.method, (summary: ResolutionSummary) => {
      this.statuses.push(summary);
      if (summary.state !== 'resolving') this.sequence.push({ uri: summary.uri, settled: true });
      this.wake();
    });
    this.connection.onNotification(MetricsNotification.method, (m: MetricsNotification.Params) => {
      this.metrics.push(m);
      this.wake();
    });
    this.connection.onRequest(ConfigurationRequest.type, ({ items }) => items.map(() => this.settings));
    this.connection.listen();
  }

  private wake(): void {
    this.waiters = this.waiters.filter((done) => !done());
  }

  /** Resolves once `predicate` holds for the state received so far; rejects after `timeoutMs`. */
  waitFor<T>(what: string, predicate: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check: Waiter = () => {
        const value = predicate();
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  /**
   * The diagnostics a resolution of `uri` at document `version` ended with: its last publish before its
   * settled status (a first resolution on a cold cache publishes its direct dependencies' first).
   */
  diagnosticsFor(uri: string, version: number): Promise<Diagnostic[]> {
    return this.waitFor(`diagnostics for ${uri} v${version}`, () => {
      let last: Diagnostic[] | undefined;
      for (const e of this.sequence) {
        if (e.uri !== uri) continue;
        if ('settled' in e) {
          if (last) return last;
        } else last = e.version === version ? e.diagnostics : undefined;
      }
      return undefined;
    });
  }

  /** The server's InitializeResult, once initialize() has run. */
  initialized?: InitializeResult;

  async initialize(rootUri: string, trusted = true): Promise<void> {
    this.initialized = await this.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'project' }],
      capabilities: { workspace: { configuration: true }, textDocument: { hover: { contentFormat: ['markdown'] } } },
      initializationOptions: { trusted },
    });
    await this.connection.sendNotification(InitializedNotification.type, {});
  }

  open(uri: string, text: string): Promise<void> {
    return this.connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'json', version: 1, text },
    });
  }

  change(uri: string, version: number, text: string): Promise<void> {
    return this.connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
  }

  /** The idle (or error) status of the next resolution of `uri` after `from` statuses. */
  settled(uri: string, from = 0): Promise<ResolutionSummary> {
    return this.waitFor(`resolution of ${uri}`, () => this.statuses.slice(from).find((s) => s.uri === uri && s.state !== 'resolving'));
  }

  /** Everything the server wrote (with `capture`), as text. */
  output(): string {
    return Buffer.concat([...this.stdout, ...this.stderr]).toString('utf8');
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.connection.sendRequest(ShutdownRequest.type);
    await this.connection.sendNotification(ExitNotification.type);
    await exited;
    this.connection.dispose();
  }
}
