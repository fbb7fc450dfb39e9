// One resolution at a time per package.json: an edit after a pause resolves at once, edits in a burst
// are debounced, and a newer edit or request aborts the run in flight so a stale result is never
// published.

export type Run<T> = (uri: string, signal: AbortSignal) => Promise<T>;

export class Superseded extends Error {
  constructor(uri: string) {
    super(`Resolution of ${uri} was superseded by a newer one`);
  }
}

export class ResolutionScheduler<T> {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly inFlight = new Map<string, AbortController>();
  private readonly lastScheduled = new Map<string, number>();

  /**
   * `delayMs` is short because a fixed debounce is pure latency on every edit (the editor budget is
   * 100 ms); it only has to merge the notifications of one keystroke burst.
   */
  constructor(
    private readonly run: Run<T>,
    private readonly delayMs = 50,
  ) {}

  /**
   * The first edit after a pause of delayMs resolves on the next turn of the event loop; an edit that
   * follows closely waits until the edits pause for delayMs. Either way it aborts the run in flight.
   */
  schedule(uri: string): void {
    const now = Date.now();
    const burst = now - (this.lastScheduled.get(uri) ?? -Infinity) < this.delayMs;
    this.lastScheduled.set(uri, now);
    this.cancel(uri);
    this.timers.set(
      uri,
      setTimeout(
        () => {
          this.timers.delete(uri);
          this.now(uri).catch(() => undefined); // superseded: the newer run reports
        },
        burst ? this.delayMs : 0,
      ),
    );
  }

  /** Resolve right away; rejects with Superseded when a newer run takes its place. */
  async now(uri: string): Promise<T> {
    this.cancel(uri);
    const controller = new AbortController();
    this.inFlight.set(uri, controller);
    try {
      const result = await this.run(uri, controller.signal);
      if (controller.signal.aborted) throw new Superseded(uri);
      return result;
    } finally {
      if (this.inFlight.get(uri) === controller) this.inFlight.delete(uri);
    }
  }

  cancel(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    this.inFlight.get(uri)?.abort();
    this.inFlight.delete(uri);
  }

  /** Cancels the uri's work and forgets it (a closed document). */
  forget(uri: string): void {
    this.cancel(uri);
    this.lastScheduled.delete(uri);
  }

  dispose(): void {
    for (const uri of [...this.timers.keys(), ...this.inFlight.keys()]) this.cancel(uri);
  }
}
