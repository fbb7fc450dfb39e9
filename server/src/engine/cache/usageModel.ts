// The usage model: per project, which packuments its recent resolutions needed. The next resolution
// loads (and, if stale, revalidates) all of them in one parallel wave before the graph walk asks,
// which removes the depth x round-trip chain from a revalidating or partly cold run. A name is
// predicted when any of the last RUNS resolutions needed it. Accuracy = predicted and used / predicted;
// recall = needed and predicted / needed.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RUNS = 3;

interface UsageFile {
  version: 1;
  /** Resolution counter; names map to the last run that needed them. */
  run: number;
  names: Record<string, number>;
}

export interface PredictionStats {
  predicted: number;
  needed: number;
  hits: number;
  accuracy: number;
  recall: number;
}

export function predictionStats(predicted: Iterable<string>, needed: Iterable<string>): PredictionStats {
  const p = new Set(predicted);
  const n = new Set(needed);
  let hits = 0;
  for (const x of p) if (n.has(x)) hits++;
  return { predicted: p.size, needed: n.size, hits, accuracy: p.size ? hits / p.size : 1, recall: n.size ? hits / n.size : 1 };
}

export class UsageModel {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'usage');
  }

  private file(project: string): string {
    return join(this.dir, createHash('sha256').update(project).digest('hex').slice(0, 32) + '.json');
  }

  private load(project: string): UsageFile {
    try {
      const f = JSON.parse(readFileSync(this.file(project), 'utf8')) as UsageFile;
      if (f.version === 1 && typeof f.run === 'number' && f.names && typeof f.names === 'object') return f;
    } catch {
      /* none yet, or unreadable: predict nothing */
    }
    return { version: 1, run: 0, names: {} };
  }

  predict(project: string): string[] {
    const f = this.load(project);
    return Object.entries(f.names)
      .filter(([, run]) => f.run - run < RUNS)
      .map(([name]) => name);
  }

  /** Records one resolution's needed names (atomic replace; concurrent recorders: last one wins). */
  record(project: string, needed: Iterable<string>): void {
    const f = this.load(project);
    f.run++;
    for (const n of needed) f.names[n] = f.run;
    for (const [n, run] of Object.entries(f.names)) if (f.run - run >= RUNS) delete f.names[n];
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const temp = join(this.dir, `.${process.pid}.${randomBytes(6).toString('hex')}`);
      writeFileSync(temp, JSON.stringify(f), { mode: 0o600 });
      renameSync(temp, this.file(project));
    } catch {
      /* prediction is an optimization */
    }
  }
}
