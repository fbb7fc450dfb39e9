// The metrics collector and profiler inside the language server: every resolution's engine events feed
// the collector and are kept (last run per package.json, a few package.json files) for its profile and
// trace; samples stream to the client as citadel/metrics, profiles as citadel/resolutionProfile.
import { Session } from 'node:inspector';
import type { Connection } from 'vscode-languageserver/node';
import { ExportTraceRequest, MetricsNotification, MetricsSnapshotRequest, ProfileNotification, ProfileRequest, type ResolutionProfile } from '../../../protocol';
import type { ResolveResult } from '../engine/api';
import type { EngineEvent, EventSink } from '../engine/types';
import { DEFAULT_REQUEST_LIMIT, MetricsCollector } from './collector';
import { graphFromResult, profileResolution, trimProfile } from './profiler';
import { metricsSettingsFrom } from './settings';
import { toChromeTrace } from './trace';

/** Package.json files whose last run's events are kept for Export Trace. */
const KEPT_RUNS = 8;
/** Spans sent to the dashboard; the trace export has them all. */
const SPANS_TO_CLIENT = 400;

interface Kept {
  events: EngineEvent[];
  profile: ResolutionProfile;
}

export class ServerMetrics {
  readonly collector: MetricsCollector;
  private readonly kept = new Map<string, Kept>();
  private lastUri: string | undefined;
  private started = false;

  constructor(
    private readonly connection: Connection,
    /** Reads the `citadel` configuration section, when the client supports it. */
    private readonly readConfig: () => Promise<unknown>,
    /** Resolves a package.json now (the scheduler's `now`). */
    private readonly resolveNow: (uri: string) => Promise<unknown>,
  ) {
    this.collector = new MetricsCollector({
      onSample: (update) => void this.connection.sendNotification(MetricsNotification.method, update satisfies MetricsNotification.Params),
    });
    connection.onRequest(MetricsSnapshotRequest.method, (): MetricsSnapshotRequest.Result => {
      // Started with --expose-gc (the soak does): collect and take a sample first, so the latest heap
      // figure is what is really retained.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc();
        this.collector.sample();
      }
      const last = this.lastUri ? this.kept.get(this.lastUri) : undefined;
      return { ...this.collector.snapshot(), ...(last && { profile: trimProfile(last.profile, SPANS_TO_CLIENT) }) };
    });
    connection.onRequest(ExportTraceRequest.method, ({ uri }: ExportTraceRequest.Params): ExportTraceRequest.Result => {
      const kept = this.kept.get(uri ?? this.lastUri ?? '');
      return kept ? toChromeTrace(kept.profile, kept.events) : null;
    });
    connection.onRequest(ProfileRequest.method, (params: ProfileRequest.Params) => this.profile(params));
  }

  /** Re-reads the metrics settings (at the first resolution and on every configuration change) and starts sampling. */
  async refresh(): Promise<void> {
    try {
      this.collector.configure(metricsSettingsFrom(await this.readConfig()));
    } catch {
      // Keep the current settings: the client could not answer.
    }
    if (!this.started) {
      this.started = true;
      this.collector.start();
    }
  }

  /** One resolution of `uri`: feed its events in through `onEvent`, then `finish` with its result. */
  begin(uri: string, concurrency: number | undefined): { onEvent: EventSink; finish(result: (ResolveResult & { config?: { maxsockets?: number } }) | undefined): void } {
    if (!this.started) void this.refresh();
    const events: EngineEvent[] = [];
    const limit = concurrency ?? DEFAULT_REQUEST_LIMIT;
    this.collector.runStarted(limit);
    const onEvent: EventSink = (e) => {
      events.push(e);
      this.collector.onEvent(e);
    };
    let finished = false;
    return {
      onEvent,
      finish: (result) => {
        if (finished) return;
        finished = true;
        if (!result) return this.collector.runFinished();
        const profile = profileResolution(events, { graph: graphFromResult(result), uri, concurrency: concurrency ?? result.config?.maxsockets ?? DEFAULT_REQUEST_LIMIT });
        this.collector.runFinished({
          t: Date.now(),
          uri,
          durationMs: profile.durationMs,
          packages: result.packages.length,
          requests: result.stats.requests,
          bytes: result.stats.bytes,
          ...(profile.speculationAccuracy !== undefined && { speculationAccuracy: profile.speculationAccuracy }),
        });
        this.kept.delete(uri);
        this.kept.set(uri, { events, profile });
        if (this.kept.size > KEPT_RUNS) this.kept.delete(this.kept.keys().next().value!);
        this.lastUri = uri;
        void this.connection.sendNotification(ProfileNotification.method, trimProfile(profile, SPANS_TO_CLIENT) satisfies ProfileNotification.Params);
      },
    };
  }

  forget(uri: string): void {
    this.kept.delete(uri);
    if (this.lastUri === uri) this.lastUri = undefined;
  }

  /** Resolves now; with `cpuProfile`, records a V8 CPU profile of this process meanwhile (VS Code opens `.cpuprofile`). */
  private async profile({ uri, cpuProfile }: ProfileRequest.Params): Promise<ProfileRequest.Result> {
    let session: Session | undefined;
    const post = <T>(method: string): Promise<T> =>
      new Promise((resolve, reject) => session!.post(method, (err, result) => (err ? reject(err) : resolve(result as T))));
    if (cpuProfile) {
      session = new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.start');
    }
    let recorded: unknown;
    try {
      await this.resolveNow(uri);
    } finally {
      if (session) {
        recorded = (await post<{ profile: unknown }>('Profiler.stop')).profile;
        session.disconnect();
      }
    }
    const kept = this.kept.get(uri);
    if (!kept) throw new Error(`The resolution of ${uri} did not finish`);
    return { profile: trimProfile(kept.profile, 2000), ...(recorded !== undefined && { cpuProfile: recorded }) };
  }

  dispose(): void {
    this.collector.dispose();
  }
}
