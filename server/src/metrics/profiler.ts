// The resolution profiler: from one resolution's engine events (and the resolved graph, which says who
// depends on whom), a span per packument with its phases, the waterfall, the critical path, the slowest
// and largest packuments, time by phase and recommendations derived from those figures.
import { phaseList, type PackumentSpan, type Phase, type ResolutionProfile } from '../../../protocol';
import type { ResolveResult } from '../engine/api';
import type { EngineEvent } from '../engine/types';
import { percentile } from './ringBuffer';

/** Who depends on whom, by package name: parent -> the names of its dependencies. */
export interface DependencyGraph {
  /** The project's own dependencies. */
  root: Iterable<string>;
  deps: Map<string, Set<string>>;
  /** Every name in the resolved tree (for speculation accuracy). */
  names: Set<string>;
}

export interface ProfileOptions {
  graph?: DependencyGraph;
  uri?: string;
  /** The bound on requests in flight the resolution ran with, for the recommendation. */
  concurrency?: number;
}


/** Event timestamps are whole milliseconds: a fetch may carry the same `at` as the pick that caused it. */
const CLOCK_SLACK_MS = 1;

export function graphFromResult(result: Pick<ResolveResult, 'packages' | 'direct'>): DependencyGraph {
  const deps = new Map<string, Set<string>>();
  const names = new Set<string>();
  // Edges are keyed by the installed name; aliased packages are fetched under their real name.
  const real = new Map<string, string>();
  for (const p of result.packages) if (p.realName) real.set(p.name, p.realName);
  const fetchName = (n: string) => real.get(n) ?? n;
  for (const p of result.packages) {
    const name = fetchName(p.name);
    names.add(name);
    let set = deps.get(name);
    if (!set) deps.set(name, (set = new Set()));
    for (const d of Object.keys(p.dependencies ?? {})) set.add(fetchName(d));
  }
  return { root: result.direct.map((d) => fetchName(d.name)), deps, names };
}

interface Build extends PackumentSpan {
  fetchEnd: number;
  pendingParse: number;
  pickAt?: number;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export function profileResolution(events: readonly EngineEvent[], opts: ProfileOptions = {}): ResolutionProfile {
  const done = events.findLast((e) => e.type === 'done');
  const t0 = done ? done.at - done.durationMs : Math.min(...events.map((e) => e.at));
  const spans = new Map<string, Build>();
  for (const e of events) {
    if (e.type === 'fetchStart') {
      if (!spans.has(e.name)) {
        spans.set(e.name, { name: e.name, start: e.at - t0, queueMs: 0, connectMs: 0, ttfbMs: 0, downloadMs: 0, decompressMs: 0, parseMs: 0, pickMs: 0, end: e.at - t0, fetchEnd: e.at - t0, bytes: 0, decodedBytes: 0, status: 0, attempts: 0, pendingParse: 0 });
      }
    } else if (e.type === 'parse') {
      const s = spans.get(e.name);
      if (s) s.pendingParse += e.ms;
    } else if (e.type === 'fetchEnd') {
      const s = spans.get(e.name);
      if (!s) continue;
      s.attempts++;
      s.queueMs += e.queuedMs;
      s.connectMs += e.connectMs;
      s.ttfbMs += e.ttfbMs;
      s.decompressMs += e.decompressMs;
      s.parseMs += s.pendingParse;
      // What the client did not time separately is the body's transfer (and the event loop's delays in it).
      s.downloadMs += Math.max(0, e.totalMs - e.queuedMs - e.connectMs - e.ttfbMs - e.decompressMs - s.pendingParse);
      s.pendingParse = 0;
      s.bytes += e.bytes;
      s.decodedBytes += e.decodedBytes;
      s.status = e.status;
      if (e.error) s.error = e.error;
      else delete s.error;
      // A span's fetch ends with its last attempt (retry waits included).
      s.fetchEnd = Math.max(s.fetchEnd, e.at - t0);
    } else if (e.type === 'pick') {
      const s = spans.get(e.name);
      if (s && s.pickAt === undefined) s.pickAt = e.at - t0;
    }
  }
  const list = [...spans.values()];
  for (const s of list) {
    s.fetchEnd = Math.max(s.fetchEnd, s.start + s.queueMs + s.connectMs + s.ttfbMs + s.downloadMs + s.decompressMs + s.parseMs);
    s.pickMs = s.pickAt === undefined ? 0 : Math.max(0, s.pickAt - s.fetchEnd);
    s.end = s.fetchEnd + s.pickMs;
  }
  if (opts.graph) assignParents(list, spans, opts.graph);

  const durationMs = done?.durationMs ?? Math.max(0, ...list.map((s) => s.end));
  const out: PackumentSpan[] = list
    // Code order for a tie: String#localeCompare would load ICU's collation data for it.
    .sort((a, b) => a.start - b.start || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ fetchEnd: _f, pendingParse: _p, pickAt: _a, ...s }) => ({
      ...s,
      start: r1(s.start),
      end: r1(s.end),
      queueMs: r1(s.queueMs),
      connectMs: r1(s.connectMs),
      ttfbMs: r1(s.ttfbMs),
      downloadMs: r1(s.downloadMs),
      decompressMs: r1(s.decompressMs),
      parseMs: r1(s.parseMs),
      pickMs: r1(s.pickMs),
    }));
  const phases: Record<Phase, number> = { queue: 0, connect: 0, ttfb: 0, download: 0, decompress: 0, parse: 0, pick: 0 };
  let wire = 0;
  let decoded = 0;
  for (const s of out) {
    for (const [phase, ms] of phaseList(s)) phases[phase] += ms;
    // Only spans whose body was decoded count: an error or a 304 has wire bytes of nothing.
    if (s.decodedBytes > 0) {
      wire += s.bytes;
      decoded += s.decodedBytes;
    }
  }
  for (const k of Object.keys(phases) as Phase[]) phases[k] = r1(phases[k]);
  // Speculative fetches aborted when the resolution ended did not delay it.
  const useful = out.filter((s) => s.attempts > 0 && !s.error?.startsWith('EABORTED'));
  const criticalPath = findCriticalPath(useful, durationMs);
  const fetched = new Set(out.map((s) => s.name));
  const speculationAccuracy = opts.graph && fetched.size ? [...fetched].filter((n) => opts.graph!.names.has(n)).length / fetched.size : undefined;
  const profile: ResolutionProfile = {
    ...(opts.uri && { uri: opts.uri }),
    durationMs: r1(durationMs),
    packages: done?.packages ?? opts.graph?.names.size ?? 0,
    requests: done?.requests ?? out.reduce((n, s) => n + s.attempts, 0),
    bytes: done?.bytes ?? out.reduce((n, s) => n + s.bytes, 0),
    spans: out,
    spanCount: out.length,
    criticalPath,
    slowest: [...useful]
      .sort((a, b) => b.end - b.start - (a.end - a.start))
      .slice(0, 10)
      .map((s) => ({ name: s.name, ms: r1(s.end - s.start) })),
    largest: [...out]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 10)
      .map((s) => ({ name: s.name, bytes: s.bytes })),
    phases,
    ...(wire > 0 && { compressionRatio: Math.round((decoded / wire) * 1000) / 1000 }),
    recommendations: [],
    ...(speculationAccuracy !== undefined && { speculationAccuracy: Math.round(speculationAccuracy * 1000) / 1000 }),
    ...(opts.concurrency && { concurrency: opts.concurrency }),
  };
  profile.recommendations = recommend(profile, events);
  return profile;
}

/**
 * The parent of a fetch is the dependent whose pick started it: among the packages that depend on it,
 * the one picked last at or before the fetch started. The project's own dependencies start at once.
 */
function assignParents(list: Build[], byName: Map<string, Build>, graph: DependencyGraph): void {
  const dependents = new Map<string, string[]>();
  for (const [parent, children] of graph.deps) {
    for (const c of children) {
      let l = dependents.get(c);
      if (!l) dependents.set(c, (l = []));
      l.push(parent);
    }
  }
  for (const s of list) {
    let best: Build | undefined;
    for (const p of dependents.get(s.name) ?? []) {
      const ps = byName.get(p);
      if (!ps || ps === s || ps.pickAt === undefined || ps.pickAt > s.start + CLOCK_SLACK_MS) continue;
      if (!best || ps.pickAt! > best.pickAt!) best = ps;
    }
    if (best) s.parent = best.name;
  }
}

/** The chain of fetches that ends last, each started by the previous one's pick. */
export function findCriticalPath(spans: readonly PackumentSpan[], durationMs: number): ResolutionProfile['criticalPath'] {
  if (spans.length === 0) return { names: [], ms: 0, text: 'no packuments fetched' };
  const byName = new Map(spans.map((s) => [s.name, s]));
  let last = spans[0]!;
  for (const s of spans) if (s.end > last.end) last = s;
  const chain: PackumentSpan[] = [];
  const seen = new Set<string>();
  for (let s: PackumentSpan | undefined = last; s && !seen.has(s.name); s = s.parent ? byName.get(s.parent) : undefined) {
    seen.add(s.name);
    chain.unshift(s);
  }
  const ms = r1(last.end - chain[0]!.start);
  const names = chain.map((s) => s.name);
  const shown = names.length > 6 ? [...names.slice(0, 2), '...', ...names.slice(-3)] : names;
  return { names, ms, text: `${shown.join(' > ')} = ${Math.round(ms)} ms of ${Math.round(durationMs)} ms` };
}

function recommend(p: ResolutionProfile, events: readonly EngineEvent[]): { id: string; message: string }[] {
  const out: { id: string; message: string }[] = [];
  const fetchMs = p.phases.queue + p.phases.connect + p.phases.ttfb + p.phases.download + p.phases.decompress + p.phases.parse;
  const mb = (b: number) => `${(b / (1024 * 1024)).toFixed(1)} MB`;
  const share = (x: number) => `${Math.round(x * 100)}%`;
  if (fetchMs > 0 && p.phases.queue / fetchMs > 0.25 && Math.max(...p.spans.map((s) => s.queueMs)) > 20) {
    out.push({
      id: 'concurrency',
      message: `Requests waited ${Math.round(p.phases.queue)} ms in total for a connection slot (${share(p.phases.queue / fetchMs)} of fetch time): raise citadel.concurrency${p.concurrency ? ` (now ${p.concurrency})` : ''} or maxsockets in .npmrc.`,
    });
  }
  const ttfb = percentile(
    p.spans.filter((s) => s.attempts > 0 && !s.error).map((s) => s.ttfbMs / s.attempts),
    50,
  );
  if (ttfb !== undefined && ttfb > 150) {
    out.push({
      id: 'slowRegistry',
      message: `The registry is slow: median time to first byte ${Math.round(ttfb)} ms. A nearer mirror or a warm cache removes most of this wait.`,
    });
  }
  const top = p.largest[0];
  if (top && p.bytes > 0 && top.bytes > 256 * 1024 && top.bytes / p.bytes > 0.2) {
    out.push({
      id: 'hugePackument',
      message: `${top.name}'s packument is ${mb(top.bytes)}, ${share(top.bytes / p.bytes)} of all bytes downloaded: it dominates the download; pinning an exact version or keeping it cached avoids refetching it.`,
    });
  }
  if (p.criticalPath.names.length >= 4 && p.durationMs > 0 && p.criticalPath.ms / p.durationMs > 0.6) {
    out.push({
      id: 'latencyBound',
      message: `Resolution is bound by a chain of ${p.criticalPath.names.length} dependent fetches (${p.criticalPath.text}): each waits for its parent's pick. More concurrency will not help; a warm cache or a lockfile removes these round-trips.`,
    });
  }
  if (p.speculationAccuracy !== undefined && p.speculationAccuracy < 0.8) {
    out.push({
      id: 'speculation',
      message: `Speculative prefetch fetched ${share(1 - p.speculationAccuracy)} of its packuments for packages that did not end up in the tree; this costs bandwidth, not wall time.`,
    });
  }
  const networkEnd = Math.max(0, ...p.spans.filter((s) => s.attempts > 0 && !s.error?.startsWith('EABORTED')).map((s) => s.end));
  if (p.durationMs > 200 && networkEnd < p.durationMs * 0.5) {
    out.push({
      id: 'cpuBound',
      message: `The last packument was picked at ${Math.round(networkEnd)} ms of ${Math.round(p.durationMs)} ms: the rest is placement work in the server, not the network. Run Citadel: Profile Resolution to record a CPU profile.`,
    });
  }
  const retries = events.filter((e) => e.type === 'retry').length;
  if (retries > 0) {
    out.push({ id: 'retries', message: `${retries} fetches were retried: the registry or network is unreliable; see Citadel: Show Output for the reasons.` });
  }
  if (fetchMs > 0 && p.phases.parse / fetchMs > 0.2) {
    out.push({
      id: 'parse',
      message: `Parsing takes ${share(p.phases.parse / fetchMs)} of fetch time: the registry may be sending full documents instead of abbreviated ones (application/vnd.npm.install-v1+json).`,
    });
  }
  return out;
}

/** At most `max` spans for a client: the critical path, the slowest, then the earliest; by start. */
export function trimProfile(p: ResolutionProfile, max = 400): ResolutionProfile {
  if (p.spans.length <= max) return p;
  const keep = new Set<string>();
  for (const name of [...p.criticalPath.names, ...p.slowest.map((s) => s.name), ...p.largest.map((s) => s.name), ...p.spans.map((s) => s.name)]) {
    if (keep.size >= max) break;
    keep.add(name);
  }
  return { ...p, spans: p.spans.filter((s) => keep.has(s.name)) };
}
