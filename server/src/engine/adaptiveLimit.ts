// How many registry requests to keep in flight, learned like TCP congestion control: slow start
// (one more per response, doubling each round trip) until the first sign of congestion, then
// additive increase (one more per round trip's worth of responses) and multiplicative decrease on
// 429, 5xx, timeouts and resets. Latency is not a signal: measured in a JavaScript process it mostly
// measures the process's own busy event loop (parsing what already arrived), and backing off on it
// made a cold editor resolution of the large fixture ~40% slower than a fixed limit of 64.
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
  ) {
    this.current = Math.min(max, Math.max(min, initial));
  }

  get limit(): number {
    return Math.floor(this.current);
  }

  /** A response's time to first byte. */
  success(rttMs: number): void {
    this.minRtt = Math.min(this.minRtt, rttMs);
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
