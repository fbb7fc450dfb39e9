// Small statistics for the benchmarks: medians and spread over repeated runs, percentiles, and the
// log-log least-squares fit that says how a cost grows with the input size.
import { percentiles } from '../metrics/ringBuffer';

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in [0, 100]; NaN for no values (the metrics' percentiles, see there). */
export function percentile(xs: readonly number[], p: number): number {
  return percentiles(xs, [p])[0] ?? NaN;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: 0.1 = the runs spread over 10% of the median. */
  relSpread: number;
  n: number;
}

export function spread(xs: readonly number[]): Spread {
  const med = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { median: med, min, max, relSpread: med > 0 ? (max - min) / med : 0, n: xs.length };
}

export interface PowerFit {
  /** y = coefficient * x^exponent */
  exponent: number;
  coefficient: number;
  /** Coefficient of determination of the fit in log-log space. */
  r2: number;
}

/** Least squares on (log x, log y); points with a non-positive coordinate are ignored. */
export function powerFit(points: readonly { x: number; y: number }[]): PowerFit {
  const p = points.filter((q) => q.x > 0 && q.y > 0).map((q) => ({ x: Math.log(q.x), y: Math.log(q.y) }));
  const n = p.length;
  if (n < 2) return { exponent: NaN, coefficient: NaN, r2: NaN };
  const mx = p.reduce((a, q) => a + q.x, 0) / n;
  const my = p.reduce((a, q) => a + q.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const q of p) {
    sxy += (q.x - mx) * (q.y - my);
    sxx += (q.x - mx) ** 2;
    syy += (q.y - my) ** 2;
  }
  const exponent = sxx ? sxy / sxx : NaN;
  return { exponent, coefficient: Math.exp(my - exponent * mx), r2: syy ? (sxy * sxy) / (sxx * syy) : 1 };
}

/** Local exponents between consecutive sizes: where growth turns superlinear, not just whether. */
export function localExponents(points: readonly { x: number; y: number }[]): { from: number; to: number; exponent: number }[] {
  const s = [...points].filter((q) => q.x > 0 && q.y > 0).sort((a, b) => a.x - b.x);
  const out: { from: number; to: number; exponent: number }[] = [];
  for (let i = 1; i < s.length; i++) out.push({ from: s[i - 1].x, to: s[i].x, exponent: Math.log(s[i].y / s[i - 1].y) / Math.log(s[i].x / s[i - 1].x) });
  return out;
}
