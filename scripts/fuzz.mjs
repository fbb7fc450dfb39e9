// `npm run test:fuzz`: the mutation fuzzer (test/reliability/fuzz.ts) at 10,000 cases per format.
// Options: --cases N (per format, default 10000), --seed S (default: time-based, printed), --formats a,b,
// --no-build. Failing inputs are written to out/fuzz/failures/<format>-<seed>.txt; `--seed S --formats f` replays a run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    formats: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
const out = 'out/fuzz';
if (!values['no-build']) execFileSync(process.execPath, ['scripts/build.mjs', '--tests', '--out', out], { stdio: 'inherit' });
const require = createRequire(import.meta.url);
const { fuzz, FORMATS } = require(resolve(out, 'test/reliability/fuzz.js'));

const seed = Number(values.seed ?? Date.now() % 1e9);
const formats = values.formats ? values.formats.split(',') : FORMATS;
const cases = Number(values.cases);
console.log(`fuzz: ${cases} cases per format, seed ${seed}, formats ${formats.join(', ')}`);
const t0 = performance.now();
let failed = 0;
let total = 0;
for (const format of formats) {
  const f0 = performance.now();
  const report = await fuzz({ casesPerFormat: cases, seed, dir: join(out, 'scratch'), formats: [format], maxCaseMs: 2000 });
  total += cases;
  const groups = new Map();
  for (const f of report.failures) {
    const lines = f.error.split('\n');
    const key = `${lines[0].replace(/\d+/g, 'N')} @ ${(lines.find((l) => /^\s+at /.test(l)) ?? '').trim()}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  const secs = ((performance.now() - f0) / 1000).toFixed(1);
  console.log(`${format}: ${cases} cases, ${report.problems[format]} with problems, ${report.failures.length} failures, slowest case ${report.maxMs[format]} ms, ${secs} s`);
  mkdirSync(join(out, 'failures'), { recursive: true });
  for (const [key, list] of groups) {
    const file = join(out, 'failures', `${format}-${list[0].seed}.txt`);
    writeFileSync(file, list[0].input);
    console.log(`  ${list.length} x ${key}\n    first: case ${list[0].case}, replay seed ${list[0].seed}, input in ${file}`);
  }
  failed += report.failures.length;
}
console.log(`fuzz: ${total} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${failed} failures`);
process.exit(failed ? 1 : 0);
