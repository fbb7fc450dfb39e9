// Chrome trace-event JSON of a resolution (the format Perfetto and chrome://tracing open): a lane per
// concurrent fetch with each packument's phases nested in its span, the critical path on its own lane,
// requests in flight as a counter, retries and conflicts as instants.
import type { PackumentSpan, ResolutionProfile } from '../../../protocol';
import type { EngineEvent } from '../engine/types';
import { phaseList } from '../../../protocol';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'i' | 'C' | 'M';
  ts: number;
  pid: number;
  tid: number;
  dur?: number;
  cat?: string;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  metadata?: Record<string, unknown>;
}

const PID = 1;
const PATH_TID = 1;
const us = (ms: number) => Math.round(ms * 1000);

/** Lane per span: the first lane free at its start (spans sorted by start). */
function lanes(spans: readonly PackumentSpan[]): number[] {
  const ends: number[] = [];
  return spans.map((s) => {
    let lane = ends.findIndex((end) => end <= s.start);
    if (lane === -1) lane = ends.push(0) - 1;
    ends[lane] = s.end;
    return lane;
  });
}

export function toChromeTrace(profile: ResolutionProfile, events: readonly EngineEvent[] = []): ChromeTrace {
  const out: TraceEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid: PID, tid: 0, args: { name: 'citadel resolve' } },
    { name: 'thread_name', ph: 'M', ts: 0, pid: PID, tid: PATH_TID, args: { name: 'critical path' } },
    { name: 'resolve', ph: 'X', ts: 0, dur: us(profile.durationMs), pid: PID, tid: PATH_TID, cat: 'resolution', args: { packages: profile.packages, requests: profile.requests, bytes: profile.bytes, criticalPath: profile.criticalPath.text } },
  ];
  const byName = new Map(profile.spans.map((s) => [s.name, s]));
  // Path spans in a row: each starts no earlier than its parent ends, so they nest cleanly under `resolve`.
  let cursor = 0;
  for (const name of profile.criticalPath.names) {
    const s = byName.get(name);
    if (!s) continue;
    const start = Math.max(cursor, s.start);
    const end = Math.max(start, s.end);
    out.push({ name, ph: 'X', ts: us(start), dur: us(end - start), pid: PID, tid: PATH_TID, cat: 'critical' });
    cursor = end;
  }
  const lane = lanes(profile.spans);
  const used = new Set<number>();
  profile.spans.forEach((s, i) => {
    const tid = lane[i]! + 2;
    used.add(tid);
    out.push({
      name: s.name,
      ph: 'X',
      ts: us(s.start),
      dur: us(s.end - s.start),
      pid: PID,
      tid,
      cat: 'packument',
      args: { bytes: s.bytes, decodedBytes: s.decodedBytes, status: s.status, attempts: s.attempts, ...(s.parent && { parent: s.parent }), ...(s.error && { error: s.error }) },
    });
    let t = s.start;
    for (const [phase, ms] of phaseList(s)) {
      const dur = Math.min(ms, s.end - t);
      if (dur > 0) out.push({ name: phase, ph: 'X', ts: us(t), dur: us(dur), pid: PID, tid, cat: 'phase' });
      t += Math.max(0, dur);
    }
  });
  for (const tid of [...used].sort((a, b) => a - b)) out.push({ name: 'thread_name', ph: 'M', ts: 0, pid: PID, tid, args: { name: `fetch lane ${tid - 1}` } });
  // Requests open over time, from the spans' fetch parts.
  const edges: [number, number][] = [];
  for (const s of profile.spans) edges.push([s.start, 1], [s.end - s.pickMs, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  for (const [t, d] of edges) {
    open += d;
    out.push({ name: 'requests in flight', ph: 'C', ts: us(t), pid: PID, tid: 0, args: { open } });
  }
  const done = events.findLast((e) => e.type === 'done');
  const t0 = done ? done.at - done.durationMs : 0;
  for (const e of events) {
    if (e.type === 'retry') out.push({ name: `retry ${e.name}`, ph: 'i', s: 't', ts: us(Math.max(0, e.at - t0)), pid: PID, tid: PATH_TID, cat: 'retry', args: { attempt: e.attempt, delayMs: e.delayMs, reason: e.reason } });
    if (e.type === 'conflict') out.push({ name: `conflict ${e.problem.name ?? ''}`.trim(), ph: 'i', s: 'g', ts: us(Math.max(0, e.at - t0)), pid: PID, tid: PATH_TID, cat: 'conflict', args: { message: e.problem.message } });
  }
  return { traceEvents: out, displayTimeUnit: 'ms', metadata: { 'citadel-version': 1, ...(profile.uri && { uri: profile.uri }) } };
}
