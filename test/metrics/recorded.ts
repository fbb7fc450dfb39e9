// A recorded event stream with known answers: the project depends on a and b; a -> c -> d; b's first
// attempt fails and is retried. The resolution starts at t=1000 and takes 510 ms.
import type { EngineEvent } from '../../server/src/engine/types';
import type { DependencyGraph } from '../../server/src/metrics/profiler';

const URL = (name: string) => `http://127.0.0.1:4873/${name}`;
/** `net`: the phases the registry client times itself besides queue and ttfb, and the decoded size. */
const end = (name: string, at: number, totalMs: number, queuedMs: number, ttfbMs: number, bytes: number, net: { connectMs: number; decompressMs: number; decodedBytes: number }, attempt = 1, error?: string): EngineEvent => ({
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
  ...net,
  ...(error && { error }),
});

// Known answers per span (download = total - queue - connect - ttfb - decompress - parse):
//   b: 2 attempts, the first on a new socket (connect 3) failing; the retry reuses it, uncompressed 500 B.
//   a: connect 4, ttfb 26, download 13, decompress 2, parse 5; 1,000 B gzip -> 4,000 B.
//   c: queue 20, ttfb 100, download 62, decompress 8, parse 10; 400,000 B -> 2,000,000 B.
//   d: connect 5, ttfb 195, download 39, decompress 1, parse 5; 2,000 B -> 10,000 B.
export const RECORDED: EngineEvent[] = [
  { type: 'fetchStart', name: 'a', url: URL('a'), at: 1000 },
  { type: 'fetchStart', name: 'b', url: URL('b'), at: 1000 },
  end('b', 1010, 10, 0, 5, 0, { connectMs: 3, decompressMs: 0, decodedBytes: 0 }, 1, 'EREGISTRY: 503'),
  { type: 'retry', name: 'b', attempt: 2, delayMs: 5, reason: '503', at: 1010 },
  { type: 'fetchStart', name: 'b', url: URL('b'), at: 1015 },
  { type: 'parse', name: 'b', ms: 1, at: 1024 },
  end('b', 1025, 10, 0, 6, 500, { connectMs: 0, decompressMs: 0, decodedBytes: 500 }, 2),
  { type: 'pick', name: 'b', spec: '^1.0.0', version: '1.0.0', at: 1026 },
  { type: 'parse', name: 'a', ms: 5, at: 1049 },
  end('a', 1050, 50, 0, 26, 1000, { connectMs: 4, decompressMs: 2, decodedBytes: 4000 }),
  { type: 'pick', name: 'a', spec: '^1.0.0', version: '1.2.0', at: 1052 },
  { type: 'fetchStart', name: 'c', url: URL('c'), at: 1052 },
  { type: 'parse', name: 'c', ms: 10, at: 1251 },
  end('c', 1252, 200, 20, 100, 400_000, { connectMs: 0, decompressMs: 8, decodedBytes: 2_000_000 }),
  { type: 'pick', name: 'c', spec: '^2.0.0', version: '2.0.1', at: 1255 },
  { type: 'pick', name: 'c', spec: '^2.0.0', version: '2.0.1', at: 1260 },
  { type: 'fetchStart', name: 'd', url: URL('d'), at: 1255 },
  { type: 'parse', name: 'd', ms: 5, at: 1499 },
  end('d', 1500, 245, 0, 195, 2000, { connectMs: 5, decompressMs: 1, decodedBytes: 10_000 }),
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
