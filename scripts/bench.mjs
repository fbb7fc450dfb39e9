// `npm run bench`: builds, then runs the three benchmarks one after another, so that none disturbs
// another's timings: resolution beside npm, pnpm and bun (`citadel perf:benchmark`, which gets every
// argument given here), the editor budgets (scripts/bench-editor.mjs) and the dashboard budgets
// (scripts/bench-dashboard.mjs). `--skip editor,dashboard` leaves some out. Results land in .bench/.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const at = args.indexOf('--skip');
const skip = new Set(at === -1 ? [] : args.splice(at, 2)[1].split(','));
const steps = [
  ['scripts/build.mjs'],
  ['dist/cli.js', 'perf:benchmark', ...args],
  ...(skip.has('editor') ? [] : [['scripts/bench-editor.mjs']]),
  ...(skip.has('dashboard') ? [] : [['scripts/bench-dashboard.mjs']]),
];
let failed = 0;
for (const step of steps) {
  process.stdout.write(`\n$ node ${step.join(' ')}\n`);
  const r = spawnSync(process.execPath, step, { stdio: 'inherit' });
  // The build must work; a benchmark that fails is reported and the others still run.
  if (r.status !== 0 && step[0] === 'scripts/build.mjs') process.exit(r.status ?? 1);
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
