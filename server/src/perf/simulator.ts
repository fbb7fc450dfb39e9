// A discrete-event simulation of one resolution over a recorded dependency graph. Two resources, as in
// the engine: C request slots (the registry client's FIFO semaphore, fixed or growing in slow start as
// its adaptive limit does) over a keep-alive pool that opens a socket when every pooled one is busy, and
// one CPU (the event loop, which handles each response, decodes, parses and picks in arrival order). A packument can be requested once some
// picked manifest names it, so the graph's depth bounds the number of round trips; the cap bounds how
// many overlap; the CPU serializes what arrives together. Deterministic: ties break by event order.

export interface SimGraph {
  /** Names requested at the start: the project's own dependencies. */
  roots: readonly string[];
  /** name -> names its picked manifests depend on (requests its parse unlocks). */
  deps: ReadonlyMap<string, readonly string[]>;
  /** CPU ms to decode, parse and pick one packument (before the scale factor); default 0. */
  cpuMs?: ReadonlyMap<string, number>;
  /** Decoded size of each packument (bytes), for a CPU cost per byte. */
  bytes?: ReadonlyMap<string, number>;
}

export interface SimParams {
  /** Delay the registry adds to every request (the benchmark's injected latency). */
  latencyMs: number;
  /** Requests in flight; with `adaptive`, the ceiling. */
  concurrency: number;
  /**
   * The registry client's adaptive limit: starts at `initial`, one more slot per response (slow start;
   * loopback never congests), except while the CPU is saturated (a response arrives to a busy CPU).
   */
  adaptive?: { initial: number };
  /** Opening a socket (the pool grows when every pooled socket is busy): added to that request's round trip. */
  connectMs?: number;
  /** Per-request service time besides the latency (loopback round trip, server work, transfer). */
  serviceMs?: number;
  /** Multiplies every graph cpuMs: a fresh process runs cold JIT, so its parse is slower than a warmed-up measurement. */
  cpuScale?: number;
  /** Fixed CPU per packument on top of cpuMs (picking and placement spread over the walk). */
  cpuPerDocMs?: number;
  /** CPU per decoded byte of a packument (decode, parse, pick, placement grow with the document). */
  cpuPerByteMs?: number;
  /** CPU per network response on top of the document's (HTTP parsing, socket and promise work); none for cached names. */
  cpuPerRequestMs?: number;
  /** Before the first request: process start, module load, config. */
  startupMs?: number;
  /** After the last pick: placement left over, cache flush, output. */
  tailMs?: number;
  /** Names known up front (a lockfile, the usage model): requested at time zero as well. */
  prefetch?: readonly string[];
  /** Names answered without the network (fresh cache): their CPU runs, no request is made. */
  cached?: ReadonlySet<string>;
}

export interface SimResult {
  totalMs: number;
  /** From the first request to the last parse. */
  walkMs: number;
  requests: number;
  /** Longest chain of requests (in round trips) that the run actually waited through. */
  depth: number;
  peakInFlight: number;
  /** Sockets the pool opened. */
  sockets: number;
  /** Time requests waited for a slot, summed. */
  queueWaitMs: number;
  /** Time responses waited for the CPU, summed. */
  cpuWaitMs: number;
  cpuBusyMs: number;
  /** The chain of names ending at the last parse: what a faster run has to shorten. */
  criticalPath: string[];
}

/** A binary heap of events by time, then by insertion order (so equal times stay FIFO). */
class EventQueue<T> {
  private readonly heap: { t: number; seq: number; v: T }[] = [];
  private seq = 0;
  get size(): number {
    return this.heap.length;
  }
  push(t: number, v: T): void {
    const h = this.heap;
    h.push({ t, seq: this.seq++, v });
    for (let i = h.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (!this.less(h[i], h[up])) break;
      [h[i], h[up]] = [h[up], h[i]];
      i = up;
    }
  }
  pop(): { t: number; v: T } | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
  private less(a: { t: number; seq: number }, b: { t: number; seq: number }): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }
}

type Ev = { kind: 'arrive'; name: string } | { kind: 'parsed'; name: string };

export function simulate(graph: SimGraph, p: SimParams): SimResult {
  const service = p.serviceMs ?? 0;
  const scale = p.cpuScale ?? 1;
  const perDoc = p.cpuPerDocMs ?? 0;
  const cap = Math.max(1, Math.floor(p.concurrency));
  const start = p.startupMs ?? 0;
  const perByte = p.cpuPerByteMs ?? 0;
  const perRequest = p.cpuPerRequestMs ?? 0;
  const cpuOf = (name: string, fetched: boolean): number =>
    (graph.cpuMs?.get(name) ?? 0) * scale + perDoc + (graph.bytes?.get(name) ?? 0) * perByte + (fetched ? perRequest : 0);
  let grown = 0;
  const limit = (): number => (p.adaptive ? Math.min(cap, Math.max(1, p.adaptive.initial) + grown) : cap);

  const events = new EventQueue<Ev>();
  const requested = new Set<string>();
  const waiting: { name: string; since: number }[] = [];
  let waitHead = 0;
  const cause = new Map<string, string | undefined>();
  const hops = new Map<string, number>();
  let inFlight = 0;
  let peak = 0;
  let sockets = 0;
  let requests = 0;
  let queueWait = 0;
  let cpuWait = 0;
  let cpuBusy = 0;
  let cpuFreeAt = start;
  let last = start;
  let lastName: string | undefined;

  const send = (name: string, t: number): void => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    requests++;
    // Keep-alive: a socket freed by a response is reused; only a request beyond every pooled one connects.
    const connect = inFlight > sockets ? (sockets++, p.connectMs ?? 0) : 0;
    events.push(t + connect + p.latencyMs + service, { kind: 'arrive', name });
  };
  const runCpu = (name: string, t: number, fetched: boolean): void => {
    const begin = Math.max(t, cpuFreeAt);
    cpuWait += begin - t;
    const cost = cpuOf(name, fetched);
    cpuBusy += cost;
    cpuFreeAt = begin + cost;
    events.push(cpuFreeAt, { kind: 'parsed', name });
  };
  const request = (name: string, t: number, from: string | undefined): void => {
    if (requested.has(name)) return;
    requested.add(name);
    cause.set(name, from);
    hops.set(name, (from === undefined ? 0 : hops.get(from)!) + (p.cached?.has(name) ? 0 : 1));
    if (p.cached?.has(name)) return runCpu(name, t, false);
    if (inFlight < limit() && waitHead === waiting.length) send(name, t);
    else waiting.push({ name, since: t });
  };

  for (const name of graph.roots) request(name, start, undefined);
  for (const name of p.prefetch ?? []) request(name, start, undefined);
  for (let e = events.pop(); e; e = events.pop()) {
    const { t, v } = e;
    if (v.kind === 'arrive') {
      inFlight--;
      if (cpuFreeAt <= t) grown++;
      // A grown limit admits more than the one waiting request the freed slot would.
      while (waitHead < waiting.length && inFlight < limit()) {
        const next = waiting[waitHead++];
        queueWait += t - next.since;
        send(next.name, t);
      }
      runCpu(v.name, t, true);
    } else {
      last = t;
      lastName = v.name;
      for (const d of graph.deps.get(v.name) ?? []) request(d, t, v.name);
    }
  }
  const criticalPath: string[] = [];
  for (let n = lastName; n !== undefined; n = cause.get(n)) criticalPath.unshift(n);
  return {
    totalMs: last + (p.tailMs ?? 0),
    walkMs: last - start,
    requests,
    depth: lastName === undefined ? 0 : Math.max(...hops.values()),
    peakInFlight: peak,
    sockets,
    queueWaitMs: queueWait,
    cpuWaitMs: cpuWait,
    cpuBusyMs: cpuBusy,
    criticalPath,
  };
}

/** Depth of the graph in request waves from the roots (the physical floor's round-trip count). */
export function graphDepth(graph: SimGraph): number {
  return simulate(graph, { latencyMs: 1, concurrency: Number.MAX_SAFE_INTEGER }).depth;
}

export interface Recommendation {
  text: string;
  predictedMs: number;
  /** Relative change against the current setting, e.g. -0.3. */
  delta: number;
}

/**
 * What-ifs against the current setting: other concurrency caps, and a first wave that already knows
 * every name (a lockfile or a usage history). Sorted best first; only changes worth more than 3%.
 */
export function recommend(graph: SimGraph, current: SimParams, caps: readonly number[] = [4, 8, 16, 24, 32, 48, 64, 96, 128, 256]): Recommendation[] {
  const base = simulate(graph, current).totalMs;
  const out: Recommendation[] = [];
  let best: Recommendation | undefined;
  for (const c of caps) {
    if (c === current.concurrency && !current.adaptive) continue;
    const ms = simulate(graph, { ...current, adaptive: undefined, concurrency: c }).totalMs;
    const delta = ms / base - 1;
    const verb = current.adaptive ? 'fix' : c > current.concurrency ? 'raise' : 'lower';
    // The smallest cap within 1% of the best: more sockets for nothing is no recommendation.
    if (!best || ms < best.predictedMs * 0.99) best = { text: `${verb} concurrency ${current.adaptive ? 'at' : 'to'} ${c}`, predictedMs: ms, delta };
  }
  if (best && best.delta < -0.03) out.push({ ...best, text: `${best.text}: predicted ${pct(best.delta)}` });
  const all = new Set<string>(graph.roots);
  for (const [from, to] of graph.deps) for (const n of [from, ...to]) all.add(n);
  const known = simulate(graph, { ...current, prefetch: [...all] }).totalMs;
  if (known / base - 1 < -0.03) out.push({ text: `request every name in the first wave (lockfile or usage history): predicted ${pct(known / base - 1)}`, predictedMs: known, delta: known / base - 1 });
  const cpuFree = simulate(graph, { ...current, cpuScale: (current.cpuScale ?? 1) / 2, cpuPerDocMs: (current.cpuPerDocMs ?? 0) / 2 }).totalMs;
  if (cpuFree / base - 1 < -0.03) out.push({ text: `halve parse and pick CPU per packument: predicted ${pct(cpuFree / base - 1)}`, predictedMs: cpuFree, delta: cpuFree / base - 1 });
  return out.sort((a, b) => a.delta - b.delta);
}

function pct(d: number): string {
  return `${d > 0 ? '+' : ''}${Math.round(d * 100)}%`;
}
