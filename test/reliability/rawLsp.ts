// The language server (dist/server.js) over stdio, keeping every byte it writes to stdout and stderr so
// tests can search all of it, with the workspace trusted or not. Waits on messages, never sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  ConfigurationRequest,
  createProtocolConnection,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type ProtocolConnection,
} from 'vscode-languageserver/node';
import { MetricsNotification, ResolutionStatusNotification, type ResolutionSummary } from '../../protocol';

export class RawLspServer {
  readonly connection: ProtocolConnection;
  readonly child: ChildProcess;
  readonly stdout: Buffer[] = [];
  readonly stderr: Buffer[] = [];
  readonly diagnostics = new Map<string, Diagnostic[]>();
  readonly statuses: ResolutionSummary[] = [];
  readonly metrics: MetricsNotification.Params[] = [];
  settings: unknown = {};
  private waiters: (() => boolean)[] = [];

  constructor(env: NodeJS.ProcessEnv, args: string[] = []) {
    this.child = spawn(process.execPath, [...args, 'dist/server.js', '--stdio'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => this.stdout.push(c));
    this.child.stderr!.on('data', (c: Buffer) => this.stderr.push(c));
    this.connection = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.connection.onNotification(PublishDiagnosticsNotification.type, ({ uri, diagnostics }) => {
      this.diagnostics.set(uri, diagnostics);
      this.wake();
    });
    this.connection.onNotification(ResolutionStatusNotification.method, (s: ResolutionSummary) => {
      this.statuses.push(s);
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
    this.waiters = this.waiters.filter((w) => !w());
  }

  waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): boolean => {
        const v = probe();
        if (v === undefined) return false;
        clearTimeout(timer);
        resolve(v);
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  async initialize(rootUri: string, trusted: boolean): Promise<void> {
    await this.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'project' }],
      capabilities: { workspace: { configuration: true }, textDocument: { hover: { contentFormat: ['markdown'] } } },
      initializationOptions: { trusted },
    });
    await this.connection.sendNotification(InitializedNotification.type, {});
  }

  open(uri: string, text: string): Promise<void> {
    return this.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'json', version: 1, text } });
  }

  /** The idle (or error) status of the next resolution of `uri` after `from` statuses. */
  settled(uri: string, from = 0): Promise<ResolutionSummary> {
    return this.waitFor(`resolution of ${uri}`, () => this.statuses.slice(from).find((s) => s.uri === uri && s.state !== 'resolving'));
  }

  /** Everything the server wrote, as text. */
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
