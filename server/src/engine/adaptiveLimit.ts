// How many registry requests to keep in flight, learned like TCP congestion control: slow start
// (one more per response, doubling each round trip) until the first sign of congestion, then
// additive increase (one more per round trip's worth of responses) and multiplicative decrease on
// 429, 5xx, timeouts and resets, or when latency climbs well above the best seen (queueing at the
// registry or in a proxy). Fixed limits are too low on a fast link and too high on a slow or
// rate-limited one; this one finds the knee per registry and keeps tracking it.
export class AdaptiveLimit {
  private current: number;
  private ssthresh = Infinity;
  private minRtt = Infinity;
  private lastDecrease = 0;

  constructor(
    private readonly min = 4,
    private readonly max = 256,
    initial = 16,
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
    // Latency far above the floor means requests are queueing somewhere: back off.
    if (rttMs > 3 * this.minRtt + 50) return this.congestion();
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
