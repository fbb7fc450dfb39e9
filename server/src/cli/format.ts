// Text output of the CLI.
import type { ResolveResult } from '../engine/api';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * A count with thousands separators, as Intl.NumberFormat('en') writes it: creating a NumberFormat loads
 * ICU's locale data, 6-13 ms of a warm `citadel resolve` that takes ~60.
 */
export function grouped(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+$)/g, ',');
}

export function progressLine(fetched: number, picked: number): string {
  return `resolving… ${grouped(fetched)} packuments fetched, ${grouped(picked)} versions picked`;
}

export function formatSummary(r: ResolveResult): string {
  const { stats, problems, packages } = r;
  const lines = [
    `Resolved ${grouped(packages.length)} packages (${grouped(stats.edges)} edges) in ${grouped(Math.round(stats.durationMs))} ms · ` +
      `${grouped(stats.requests)} requests · ${formatBytes(stats.bytes)} · ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
  ];
  for (const p of problems) {
    const via = p.path && p.path.length ? ` (via ${p.path.join(' > ')})` : '';
    lines.push(`  ${p.severity.padEnd(7)} ${p.code}: ${p.message}${via}`);
  }
  return lines.join('\n');
}
