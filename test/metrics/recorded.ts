// A recorded event stream with known answers: the project depends on a and b; a -> c -> d; b's first
// attempt fails and is retried. The resolution starts at t=1000 and takes 510 ms.
import type { EngineEvent } from '../../server/src/engine/types';
import type { DependencyGraph } from '../../server/src/metrics/profiler';

const URL = (name: string) => `http://127.0.0.1:4873/${name}`;
const end = (name: string, at: number, totalMs: number, queuedMs: number, ttfbMs: number, bytes: number, attempt = 1, error?: string): EngineEvent => ({
  type: 'fetchEnd',
  name,
  url: URL(name),
  at,
  status: error ? 503 : 200,
  bytes,
  queuedMs,
  ttfbMs,
  totalMs,
  attempt,
  ...(error && { error }),
});

export const RECORDED: EngineEvent[] = [
  { type: 'fetchStart', name: 'a', url: URL('a'), at: 1000 },
  { type: 'fetchStart', name: 'b', url: URL('b'), at: 1000 },
  end('b', 1010, 10, 0, 8, 0, 1, 'EREGISTRY: 503'),
  { type: 'retry', name: 'b', attempt: 2, delayMs: 5, reason: '503', at: 1010 },
  { type: 'fetchStart', name: 'b', url: URL('b'), at: 1015 },
  { type: 'parse', name: 'b', ms: 1, at: 1024 },
  end('b', 1025, 10, 0, 6, 500, 2),
  { type: 'pick', name: 'b', spec: '^1.0.0', version: '1.0.0', at: 1026 },
  { type: 'parse', name: 'a', ms: 5, at: 1049 },
  end('a', 1050, 50, 0, 30, 1000),
  { type: 'pick', name: 'a', spec: '^1.0.0', version: '1.2.0', at: 1052 },
  { type: 'fetchStart', name: 'c', url: URL('c'), at: 1052 },
  { type: 'parse', name: 'c', ms: 10, at: 1251 },
  end('c', 1252, 200, 20, 100, 400_000),
  { type: 'pick', name: 'c', spec: '^2.0.0', version: '2.0.1', at: 1255 },
  { type: 'pick', name: 'c', spec: '^2.0.0', version: '2.0.1', at: 1260 },
  { type: 'fetchStart', name: 'd', url: URL('d'), at: 1255 },
  { type: 'parse', name: 'd', ms: 5, at: 1499 },
  end('d', 1500, 245, 0, 200, 2000),
  { type: 'pick', name: 'd', spec: '~3.1.0', version: '3.1.4', at: 1502 },
  { type: 'done', at: 1510, durationMs: 510, packages: 4, requests: 5, bytes: 403_500 },
];

export const GRAPH: DependencyGraph = {
  root: ['a', 'b'],
  deps: new Map([
    ['a', new Set(['c'])],
    ['b', new Set<string>()],
    ['c', new Set(['d'])],
    ['d', new Set<string>()],
  ]),
  names: new Set(['a', 'b', 'c', 'd']),
};
