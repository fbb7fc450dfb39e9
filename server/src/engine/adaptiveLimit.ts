// How many registry requests to keep in flight, learned like TCP congestion control: slow start
// (one more per response, doubling each round trip) until the first sign of congestion, then
// additive increase (one more per round trip's worth of responses) and multiplicative decrease on
// 429, 5xx, timeouts and resets. Latency is not a signal: measured in a JavaScript process it mostly
// measures the process's own busy event loop (parsing what already arrived), and backing off on it
// made a cold editor resolution of the large fixture ~40% slower than a fixed limit of 64.
// A saturated event loop (optional `saturated` probe) holds the limit instead: responses then wait
// for the CPU, not the network, so more requests in flight cannot finish sooner and only add sockets.
/** Where slow start begins and the ceiling; the simulator models the same limit. */
export const ADAPTIVE_INITIAL = 32;
export const ADAPTIVE_MAX = 256;

export class AdaptiveLimit {
  private current: number;
  private ssthresh = Infinity;
  private minRtt = Infinity;
  private lastDecrease = 0;

  constructor(
    private readonly min = 4,
    private readonly max = ADAPTIVE_MAX,
    initial = ADAPTIVE_INITIAL,
    private readonly now: () => number = () => performance.now(),
    private readonly saturated: () => boolean = () => false,
  ) {
    this.current = Math.min(max, Math.max(min, initial));
  }

  get limit(): number {
    return Math.floor(this.current);
  }

  /** A response's time to first byte. */
  success(rttMs: number): void {
    this.minRtt = Math.min(this.minRtt, rttMs);
    if (this.saturated()) return;
    this.current += this.current < this.ssthresh ? 1 : 1 / this.current;
    if (this.current > this.max) this.current = this.max;
  }

  /** A 429, 5xx, timeout or reset: halve, at most once per round trip so one burst counts once. */
  congestion(): void {
    const t = this.now();
    if (t - this.lastDecrease < Math.max(this.minRtt, 10)) return;
    this.lastDecrease = t;
    this.ssthresh = Math.max(this.min, this.current / 2);
    this.current = this.ssthresh;
  }
}

/**
 * True while the event loop was busy more than `threshold` of the last full window, from
 * `performance.eventLoopUtilization` (re-measured at most once per window, so calling it is cheap).
 */
export function eventLoopSaturation(threshold = 0.9, windowMs = 100): () => boolean {
  let last = performance.eventLoopUtilization();
  let lastAt = performance.now();
  let saturated = false;
  return () => {
    // Asked once per response: within the window, the clock alone answers.
    const t = performance.now();
    if (t - lastAt < windowMs) return saturated;
    const now = performance.eventLoopUtilization();
    saturated = performance.eventLoopUtilization(now, last).utilization > threshold;
    last = now;
    lastAt = t;
    return saturated;
  };
}
