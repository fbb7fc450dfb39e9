// Where a piece of work spends its CPU: a sampling profile of one async call through node:inspector,
// folded into self time per function (name, file, line), heaviest first.
import { Session } from 'node:inspector';

export interface HotFunction {
  name: string;
  location: string;
  selfMs: number;
  share: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((ok, fail) => s.post(method, params ?? {}, (err, res) => (err ? fail(err) : ok(res as T))));
}

export async function profileTop<T>(work: () => Promise<T>, top = 12): Promise<{ value: T; hot: HotFunction[]; totalMs: number }> {
  const s = new Session();
  s.connect();
  try {
    await post(s, 'Profiler.enable');
    await post(s, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(s, 'Profiler.start');
    const t0 = performance.now();
    const value = await work();
    const totalMs = performance.now() - t0;
    const { profile } = await post<{ profile: { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] } }>(s, 'Profiler.stop');
    const samples = profile.samples.length || 1;
    const msPerSample = (profile.endTime - profile.startTime) / 1000 / samples;
    const byFn = new Map<string, HotFunction>();
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0;
      if (!hits) continue;
      const f = n.callFrame;
      const name = f.functionName || '(anonymous)';
      if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
        // Kept under their own names: GC share matters for allocation-heavy growth.
        if (name !== '(garbage collector)') continue;
      }
      // Line and column: the CLI bundle is built without line breaks.
      const location = f.url ? `${f.url.replace(/^file:\/\//, '').split('/').slice(-3).join('/')}:${f.lineNumber + 1}:${f.columnNumber + 1}` : '';
      const key = `${name} ${location}`;
      const h = byFn.get(key) ?? { name, location, selfMs: 0, share: 0 };
      h.selfMs += hits * msPerSample;
      byFn.set(key, h);
    }
    const busy = [...byFn.values()].reduce((a, h) => a + h.selfMs, 0) || 1;
    const hot = [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map((h) => ({ ...h, share: h.selfMs / busy }));
    return { value, hot, totalMs };
  } finally {
    s.disconnect();
  }
}
