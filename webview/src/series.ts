// The charts' data: an hour of samples held as columns (one Float64Array per field, NaN where a sample
// has no value), appended in place, and decimated to the chart's width for drawing. A chart 600 px wide
// cannot show 3,600 points; building and rasterizing all of them was most of a frame. The minimum and
// maximum of each pixel column are both kept, so every spike and dip still shows.
import { SERIES_KEYS, type MetricSample, type SeriesKey } from '../../protocol';

export class Columns {
  /** Sample times, epoch ms. */
  readonly t: Float64Array;
  readonly values: Record<SeriesKey, Float64Array>;
  length = 0;

  constructor(readonly capacity: number) {
    this.t = new Float64Array(capacity);
    this.values = Object.fromEntries(SERIES_KEYS.map((k) => [k, new Float64Array(capacity)])) as Record<SeriesKey, Float64Array>;
  }

  /** Replaces the content with the last `capacity` samples. */
  reset(samples: readonly MetricSample[]): void {
    this.length = 0;
    for (const s of samples.slice(-this.capacity)) this.push(s);
  }

  /** Appends one sample; when full, the oldest drops off. */
  push(s: MetricSample): void {
    if (this.length === this.capacity) {
      this.t.copyWithin(0, 1);
      for (const k of SERIES_KEYS) this.values[k].copyWithin(0, 1);
      this.length--;
    }
    const i = this.length++;
    this.t[i] = s.t;
    for (const k of SERIES_KEYS) this.values[k][i] = s[k] ?? NaN;
  }
}

export interface Line {
  key: SeriesKey;
  /** Multiplier applied when drawn (a 0..1 fraction shown as %). */
  scale?: number;
}

/**
 * uPlot's aligned data for `lines`, x in seconds, null where a line has no value (a gap): every sample
 * when they fit in `columns` pixel columns twice over, else per column its first and last time, carrying
 * each line's minimum and maximum in the order they occurred.
 */
export function decimate(c: Columns, lines: readonly Line[], columns: number): (number | null)[][] {
  const n = c.length;
  const xs: number[] = [];
  const ys: (number | null)[][] = lines.map(() => []);
  const value = (l: number, i: number) => {
    const v = c.values[lines[l]!.key][i]!;
    return Number.isNaN(v) ? null : v * (lines[l]!.scale ?? 1);
  };
  if (n <= 2 * columns) {
    for (let i = 0; i < n; i++) {
      xs.push(c.t[i]! / 1000);
      for (let l = 0; l < lines.length; l++) ys[l]!.push(value(l, i));
    }
    return [xs, ...ys];
  }
  const t0 = c.t[0]!;
  const perMs = columns / Math.max(1, c.t[n - 1]! - t0);
  const column = (i: number) => Math.min(columns - 1, Math.floor((c.t[i]! - t0) * perMs));
  for (let i = 0; i < n; ) {
    const col = column(i);
    let j = i + 1;
    while (j < n && column(j) === col) j++;
    xs.push(c.t[i]! / 1000);
    if (j - i > 1) xs.push(c.t[j - 1]! / 1000);
    for (let l = 0; l < lines.length; l++) {
      const v = c.values[lines[l]!.key];
      let lo = -1;
      let hi = -1;
      for (let k = i; k < j; k++) {
        if (Number.isNaN(v[k]!)) continue;
        if (lo < 0 || v[k]! < v[lo]!) lo = k;
        if (hi < 0 || v[k]! > v[hi]!) hi = k;
      }
      const out = ys[l]!;
      if (j - i === 1) out.push(value(l, i));
      else if (lo < 0) out.push(null, null);
      else out.push(value(l, Math.min(lo, hi)), value(l, Math.max(lo, hi)));
    }
    i = j;
  }
  return [xs, ...ys];
}
