// One resolution at a time per package.json: edits are debounced, and a newer edit or request aborts
// the run in flight so a stale result is never published.

export type Run<T> = (uri: string, signal: AbortSignal) => Promise<T>;

export class Superseded extends Error {
  constructor(uri: string) {
    super(`Resolution of ${uri} was superseded by a newer one`);
  }
}

export class ResolutionScheduler<T> {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly inFlight = new Map<string, AbortController>();

  constructor(
    private readonly run: Run<T>,
    private readonly delayMs = 250,
  ) {}

  /** Resolve after the edits have paused for delayMs. */
  schedule(uri: string): void {
    this.cancel(uri);
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        this.now(uri).catch(() => undefined); // superseded: the newer run reports
      }, this.delayMs),
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

  dispose(): void {
    for (const uri of [...this.timers.keys(), ...this.inFlight.keys()]) this.cancel(uri);
  }
}
