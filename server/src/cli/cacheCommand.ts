// `citadel cache info|verify|clear` and `citadel perf:analyze-cache`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { decoderName, encoderName, loadWasm } from '../engine/cache/codec';
import { DiskCache, defaultCacheDir } from '../engine/cache/diskCache';
import { inspectCache } from '../engine/cache/inspect';
import { parseAccessLog, simulate } from '../engine/cache/eviction';
import { MemoryCache } from '../engine/cache/memoryCache';
import { resolveProject, type ProjectResult } from '../engine/project';
import { startTestRegistry, type TestRegistry } from '../testRegistry/server';

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MB`;

export async function cacheCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { 'cache-dir': { type: 'string' }, json: { type: 'boolean', default: false } } });
  } catch (err) {
    process.stderr.write(`citadel cache: ${(err as Error).message}\n`);
    return 2;
  }
  const [sub] = parsed.positionals;
  const dir = parsed.values['cache-dir'] !== undefined ? resolvePath(parsed.values['cache-dir']) : defaultCacheDir();
  const disk = new DiskCache(dir);
  await loadWasm();
  if (sub === 'clear') {
    disk.clear();
    process.stdout.write(`cleared ${dir}\n`);
    return 0;
  }
  if (sub !== 'info' && sub !== 'verify') {
    process.stderr.write('usage: citadel cache info|verify|clear [--cache-dir DIR] [--json]\n');
    return 2;
  }
  const info = inspectCache(disk, sub === 'verify');
  const { corrupt, bytesOnDisk: bytes, decodedBytes: raw, registries } = info;
  const swept = info.removedTempFiles ?? 0;
  if (parsed.values.json) process.stdout.write(JSON.stringify(info) + '\n');
  else {
    process.stdout.write(
      [
        `cache      ${dir}`,
        `entries    ${info.entries}${corrupt ? ` (${corrupt} corrupt${sub === 'verify' ? ', removed' : ''})` : ''}`,
        `on disk    ${mb(bytes)} (decoded ${mb(raw)}, ${info.compressionRatio.toFixed(2)}x)`,
        `fetched    ${info.oldest ?? '-'} .. ${info.newest ?? '-'}`,
        `codec      zstd, encoder ${info.encoder}, decoder ${info.decoder}`,
        ...Object.entries(registries).map(([r, n]) => `registry   ${r} (${n})`),
        ...(sub === 'verify' ? [`verify     removed ${corrupt} corrupt entries and ${swept} stale temp files`] : []),
      ].join('\n') + '\n',
    );
  }
  return corrupt && sub === 'info' ? 1 : 0;
}

interface Run {
  label: string;
  ms: number;
  result: ProjectResult;
}

/**
 * Resolves a project through a scratch cache: cold, warm in a fresh source (disk tier), hot (memory
 * tier), and after the TTL (every entry revalidated). Reports hit rates per tier against a target.
 */
export async function analyzeCacheCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        registry: { type: 'string' },
        fixture: { type: 'string' },
        'hit-rate-target': { type: 'string', default: '0.94' },
        'eviction-analysis': { type: 'boolean', default: false },
        'prediction-accuracy': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`citadel perf:analyze-cache: ${(err as Error).message}\n`);
    return 2;
  }
  const v = parsed.values;
  const target = Number(v['hit-rate-target']);
  let reg: TestRegistry | undefined;
  let dir = resolvePath(parsed.positionals[0] ?? '.');
  let registry = v.registry;
  if (v.fixture !== undefined || (!parsed.positionals[0] && !existsSync(join(dir, 'package.json')))) {
    const fixture = v.fixture ?? 'large';
    dir = resolvePath('test/fixtures/projects', fixture);
    reg = await startTestRegistry({ store: resolvePath('test/fixtures/registry') });
    registry = reg.url;
  }
  const cacheDir = mkdtempSync(join(tmpdir(), 'citadel-analyze-'));
  const env = { ...process.env, npm_config_userconfig: join(cacheDir, 'none'), npm_config_globalconfig: join(cacheDir, 'none') };
  let clock = Date.now();
  const now = (): number => clock;
  const memory = new MemoryCache();
  const runs: Run[] = [];
  const run = async (label: string, mem?: MemoryCache): Promise<Run> => {
    const t0 = performance.now();
    // Measures the cache's tiers, which the result memo would step around.
    const result = await resolveProject({ dir, registry, env, cache: { dir: cacheDir, memory: mem, now, memo: false } });
    const r = { label, ms: performance.now() - t0, result };
    runs.push(r);
    return r;
  };
  try {
    await run('cold');
    await run('warm (disk)');
    await run('hot (memory)', memory);
    await run('hot (memory)', memory);
    clock += 24 * 3600 * 1000;
    await run('after TTL (revalidate)');
    const warm = runs.slice(1);
    const sum = (k: 'memoryHits' | 'diskHits' | 'revalidated' | 'replaced' | 'misses') => warm.reduce((n, r) => n + (r.result.cache?.stats[k] ?? 0), 0);
    const lookups = sum('memoryHits') + sum('diskHits') + sum('revalidated') + sum('replaced') + sum('misses');
    const hitRate = (sum('memoryHits') + sum('diskHits') + sum('revalidated')) / Math.max(1, lookups);
    const files = new DiskCache(cacheDir).list();
    const onDisk = files.reduce((n, f) => n + f.size, 0);
    const cold = runs[0].result.cache!.stats;
    const report: Record<string, unknown> = {
      project: dir,
      runs: runs.map((r) => ({ label: r.label, ms: Math.round(r.ms * 10) / 10, packages: r.result.packages.length, ...r.result.cache?.stats })),
      tiers: { memory: sum('memoryHits'), diskFresh: sum('diskHits'), diskRevalidated: sum('revalidated'), replaced: sum('replaced'), miss: sum('misses') },
      hitRate,
      target,
      targetMet: hitRate >= target,
      entries: files.length,
      bytesOnDisk: onDisk,
      compressionRatio: cold.bytesWritten ? cold.rawBytesWritten / cold.bytesWritten : 0,
      evictions: runs.reduce((n, r) => n + (r.result.cache?.stats.evictions ?? 0), 0),
      encoder: encoderName(),
      decoder: decoderName(),
    };
    if (v['prediction-accuracy']) report.prediction = runs.slice(1).map((r) => ({ label: r.label, ...r.result.cache?.prediction }));
    if (v['eviction-analysis']) {
      // The recorded trace: the cache's own access log of the five runs, sized by each entry on disk.
      const size = new Map(files.map((f) => [f.key, f.size]));
      const trace = parseAccessLog(new DiskCache(cacheDir).readAccess()).map((a) => ({ ...a, size: size.get(a.key) ?? 0 }));
      report.eviction = [0.25, 0.5, 0.75].map((f) => ({ capFraction: f, lru: simulate(trace, onDisk * f, 'lru'), lfuDecay: simulate(trace, onDisk * f, 'lfu-decay') }));
    }
    if (v.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      const lines = runs.map((r) => {
        const c = r.result.cache!.stats;
        return `${r.label.padEnd(24)} ${r.ms.toFixed(1).padStart(8)} ms  mem ${c.memoryHits} disk ${c.diskHits} 304 ${c.revalidated} 200 ${c.replaced} miss ${c.misses} corrupt ${c.corrupt}`;
      });
      lines.push(`hit rate (warm runs) ${(hitRate * 100).toFixed(1)}% (target ${(target * 100).toFixed(1)}%: ${hitRate >= target ? 'met' : 'NOT met'})`);
      lines.push(`entries ${files.length}, ${mb(onDisk)} on disk, compression ${(report.compressionRatio as number).toFixed(2)}x (${report.encoder} / ${report.decoder})`);
      if (report.prediction) for (const p of report.prediction as { label: string; accuracy: number; recall: number }[]) lines.push(`prediction ${p.label}: accuracy ${(p.accuracy * 100).toFixed(1)}%, recall ${(p.recall * 100).toFixed(1)}%`);
      if (report.eviction) for (const e of report.eviction as { capFraction: number; lru: { hitRate: number }; lfuDecay: { hitRate: number } }[]) lines.push(`eviction cap ${e.capFraction * 100}%: LRU ${(e.lru.hitRate * 100).toFixed(1)}%, LFU-decay ${(e.lfuDecay.hitRate * 100).toFixed(1)}%`);
      process.stdout.write(lines.join('\n') + '\n');
    }
    return hitRate >= target ? 0 : 1;
  } finally {
    await reg?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
