// Fixed-capacity ring buffers: the collector's history never grows past its capacity, whatever the uptime.

export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    this.items[(this.head + this.count) % this.capacity] = item;
    if (this.count < this.capacity) this.count++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = new Array<T>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.items[(this.head + i) % this.capacity] as T;
    return out;
  }

  last(): T | undefined {
    return this.count ? this.items[(this.head + this.count - 1) % this.capacity] : undefined;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}

/** Nearest-rank percentile of unsorted values (p in 0..100); undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  return percentiles(values, [p])[0];
}

/**
 * Several nearest-rank percentiles from one sort (a typed array's, numeric without a comparator): a
 * sample of a cold resolution's window sorted its ~1,000 times to first byte three times over.
 */
export function percentiles(values: readonly number[], ps: readonly number[]): (number | undefined)[] {
  if (values.length === 0) return ps.map(() => undefined);
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => sorted[Math.min(Math.max(1, Math.ceil((p / 100) * sorted.length)), sorted.length) - 1]);
}
