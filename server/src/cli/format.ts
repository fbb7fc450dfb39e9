// Text output of the CLI.
import type { ResolveResult } from '../engine/api';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// Made on first use: creating a NumberFormat loads ICU's locale data, ~6 ms of every run otherwise
// (`--json` prints no numbers).
let numberFormat: Intl.NumberFormat | undefined;
const int = { format: (n: number): string => (numberFormat ??= new Intl.NumberFormat('en')).format(n) };

export function progressLine(fetched: number, picked: number): string {
  return `resolving… ${int.format(fetched)} packuments fetched, ${int.format(picked)} versions picked`;
}

export function formatSummary(r: ResolveResult): string {
  const { stats, problems, packages } = r;
  const lines = [
    `Resolved ${int.format(packages.length)} packages (${int.format(stats.edges)} edges) in ${int.format(Math.round(stats.durationMs))} ms · ` +
      `${int.format(stats.requests)} requests · ${formatBytes(stats.bytes)} · ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
  ];
  for (const p of problems) {
    const via = p.path && p.path.length ? ` (via ${p.path.join(' > ')})` : '';
    lines.push(`  ${p.severity.padEnd(7)} ${p.code}: ${p.message}${via}`);
  }
  return lines.join('\n');
}
