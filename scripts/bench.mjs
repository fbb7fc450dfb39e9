// `npm run bench`: builds, then runs the three benchmarks one after another, so that none disturbs
// another's timings: resolution beside npm, pnpm and bun (`citadel perf:benchmark`, which gets every
// argument given here), the editor budgets (scripts/bench-editor.mjs) and the dashboard budgets
// (scripts/bench-dashboard.mjs). `--skip editor,dashboard` leaves some out. Results land in .bench/.
// `--node PATH` runs the benchmarks on another Node: Citadel's CLI and language server, and npm and
// pnpm too (its directory goes first on PATH, where their `#!/usr/bin/env node` finds it), so every
// Node-based tool in the table runs on the same one. The language server runs on the extension host's
// Node in an editor (22 in desktop VS Code 1.139, 24 in its code-server build), not on the system's.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args.splice(at, 2)[1];
};
const skip = new Set((option('--skip') ?? '').split(',').filter(Boolean));
const nodeOption = option('--node');
const node = nodeOption ? resolve(nodeOption) : process.execPath;
const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` };
const steps = [
  ['scripts/build.mjs'],
  ['dist/cli.js', 'perf:benchmark', ...args],
  ...(skip.has('editor') ? [] : [['scripts/bench-editor.mjs']]),
  ...(skip.has('dashboard') ? [] : [['scripts/bench-dashboard.mjs']]),
];
let failed = 0;
for (const step of steps) {
  // The build is not measured: it runs on this Node.
  const runtime = step[0] === 'scripts/build.mjs' ? process.execPath : node;
  process.stdout.write(`\n$ ${runtime === process.execPath ? 'node' : runtime} ${step.join(' ')}\n`);
  const r = spawnSync(runtime, step, { stdio: 'inherit', env });
  // The build must work; a benchmark that fails is reported and the others still run.
  if (r.status !== 0 && step[0] === 'scripts/build.mjs') process.exit(r.status ?? 1);
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
