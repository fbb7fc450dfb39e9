// The benchmark's results as rows (the JSON) and as a markdown table (the README's). Pure: the numbers
// in, text out, so the formatting is tested without running anything.
import { median, spread, type Spread } from './stats';

export type BenchMode = 'cold' | 'cold-history' | 'cold-lock' | 'warm' | 'stale' | 'warm-lock' | 'hot' | 'incremental' | 'incremental-inproc' | 'incremental-version';

export const MODE_NOTES: Record<BenchMode, string> = {
  cold: 'no lockfile, every cache empty, fresh process',
  'cold-history': "as cold, but Citadel's usage history of the cold runs kept: every document they needed is requested in the first wave (Citadel only)",
  'cold-lock': "the tool's own lockfile present, caches empty, fresh process",
  warm: 'no lockfile, disk caches of an earlier run, fresh process',
  stale: 'as warm, but every cached document past its TTL (`--prefer-online`): each is revalidated (Citadel only)',
  'warm-lock': "the tool's own lockfile present and current, warm caches, fresh process",
  hot: 'in-process re-resolve with the memory cache (Citadel only: the language server case)',
  incremental: 'one range edited in package.json, warm caches, lockfile of the previous run kept, fresh process',
  'incremental-inproc': 'one range edited, its version kept, re-resolved in-process with the memory cache (Citadel only: an edit in the editor)',
  'incremental-version': 'one dependency pinned to another version, re-resolved in-process with the memory cache (Citadel only: an edit that changes the tree)',
};

export interface BenchRow {
  fixture: string;
  latencyMs: number;
  mode: BenchMode;
  tool: string;
  wall: Spread;
  cpuMs: number;
  rssMb: number;
  requests: number;
  bytes: number;
  /** Worst exit code over the runs (Citadel exits 1 when the tree has errors, e.g. a peer conflict). */
  rc: number;
  floorMs: number;
  /** Citadel's median wall time / this tool's, same fixture, latency and mode; absent for Citadel. */
  citadelRatio?: number;
  /** This tool's median wall time / the physical floor (cold modes only: the floor assumes a cold walk). */
  floorRatio?: number;
}

export interface FloorInfo {
  fixture: string;
  latencyMs: number;
  depth: number;
  parseMs: number;
  packuments: number;
  packages: number;
  floorMs: number;
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ratio = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '' : n.toFixed(2));

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Fills citadelRatio and floorRatio from the rows of the same fixture, latency and mode. */
export function withRatios(rows: BenchRow[]): BenchRow[] {
  return rows.map((r) => {
    const citadel = rows.find((c) => c.tool === 'citadel' && c.fixture === r.fixture && c.latencyMs === r.latencyMs && c.mode === r.mode);
    const out: BenchRow = { ...r };
    if (citadel && r.tool !== 'citadel') out.citadelRatio = citadel.wall.median / r.wall.median;
    if ((r.mode === 'cold' || r.mode === 'cold-history') && r.floorMs > 0) out.floorRatio = r.wall.median / r.floorMs;
    return out;
  });
}

export function markdownTable(rows: readonly BenchRow[], floors: readonly FloorInfo[]): string {
  const lines = [
    '| fixture | latency | mode | tool | wall ms median (min-max) | CPU ms | peak RSS MB | requests | bytes | citadel / tool | tool / floor |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const k = `${r.fixture}\0${r.latencyMs}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const [k, group] of groups) {
    for (const r of group) {
      const wall = r.wall.n > 1 ? `${int(r.wall.median)} (${int(r.wall.min)}-${int(r.wall.max)})` : int(r.wall.median);
      lines.push(
        `| ${r.fixture} | ${r.latencyMs} | ${r.mode} | ${r.tool}${r.rc > 1 || r.rc < 0 ? ` (rc ${r.rc})` : ''} | ${wall} | ${int(r.cpuMs)} | ${int(r.rssMb)} | ${int(r.requests)} | ${formatBytes(r.bytes)} | ${ratio(r.citadelRatio)} | ${ratio(r.floorRatio)} |`,
      );
    }
    const [fixture, latency] = k.split('\0');
    const f = floors.find((x) => x.fixture === fixture && x.latencyMs === Number(latency));
    if (f) lines.push(`| ${fixture} | ${latency} | floor | depth ${f.depth} x ${latency} + parse ${int(f.parseMs)} | ${int(f.floorMs)} | | | ${int(f.packuments)} | | | 1.00 |`);
  }
  return lines.join('\n');
}

/** The whole markdown report: conditions, the table, what each mode means. */
export function markdownReport(rows: readonly BenchRow[], floors: readonly FloorInfo[], meta: { runs: number; npmRuns: number; versions: Record<string, string>; date: string }): string {
  const modes = [...new Set(rows.map((r) => r.mode))];
  return [
    `Measured ${meta.date}; medians of ${meta.runs} runs (npm: ${meta.npmRuns}); lockfile-only resolution on the loopback registry with the injected latency (ms).`,
    `Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    markdownTable(rows, floors),
    '',
    ...modes.map((m) => `- **${m}**: ${MODE_NOTES[m]}.`),
    '- CPU ms and peak RSS: the tool\'s process tree under GNU time (in-process modes: the benchmark process, registry included).',
    '- floor: graph depth by names x latency + gunzip and JSON.parse of the closure\'s abbreviated packuments.',
  ].join('\n');
}

/**
 * The concurrency sweep as a table of medians: a row per setting, a column per latency, the best
 * fixed setting per latency, and adaptive against it (ratio > 1: adaptive is slower).
 */
export function sweepTable(samples: readonly { setting: string; latencyMs: number; wallMs: number; cpuMs: number }[]): string {
  const settings = [...new Set(samples.map((s) => s.setting))];
  const latencies = [...new Set(samples.map((s) => s.latencyMs))].sort((a, b) => a - b);
  const of = (setting: string, l: number) => samples.filter((s) => s.setting === setting && s.latencyMs === l);
  const cell = (setting: string, l: number) => spread(of(setting, l).map((s) => s.wallMs));
  const lines = [`| concurrency | ${latencies.map((l) => `L=${l}: wall ms median (min-max), CPU ms`).join(' | ')} |`, `|---|${latencies.map(() => '---|').join('')}`];
  for (const setting of settings) {
    lines.push(`| ${setting} | ${latencies.map((l) => {
      const c = cell(setting, l);
      // CPU time of the process tree: steadier than wall time when other work shares the cores.
      return c.n ? `${int(c.median)} (${int(c.min)}-${int(c.max)}), ${int(median(of(setting, l).map((s) => s.cpuMs)))}` : '-';
    }).join(' | ')} |`);
  }
  const fixed = settings.filter((s) => s !== 'adaptive');
  if (fixed.length) {
    const best = latencies.map((l) => fixed.map((s) => ({ s, m: cell(s, l).median })).filter((x) => Number.isFinite(x.m)).sort((a, b) => a.m - b.m)[0]);
    lines.push(`| best fixed | ${best.map((b) => (b ? `${b.s} (${int(b.m)})` : '-')).join(' | ')} |`);
    if (settings.includes('adaptive')) lines.push(`| adaptive / best fixed | ${latencies.map((l, i) => ratio(best[i] ? cell('adaptive', l).median / best[i]!.m : undefined)).join(' | ')} |`);
  }
  return lines.join('\n');
}
