// `npm run test:soak`: 1,000 resolutions in one process, then 1,000 under random registry faults, with
// heap slope and open file descriptors measured (test/reliability/soak.ts), then the extremes
// (test/reliability/extremes.ts: 50,000-entry lockfiles, a 1,000-deep chain, cycles, 5,000 workspaces,
// names at npm's limits), and the soak again through dist/server.js over stdio (test/reliability/serverSoak.ts).
// Options: --runs N (default 1000), --seed S, --only soak|server|extremes, --no-build.
import { execFileSync, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '1000' }, seed: { type: 'string', default: '1' }, only: { type: 'string' }, 'no-build': { type: 'boolean', default: false } },
});
const out = 'out/soak';
if (!values['no-build']) execFileSync(process.execPath, ['scripts/build.mjs', '--tests', '--out', out], { stdio: 'inherit' });
let failed = 0;
const run = (file, args) => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--enable-source-maps', `${out}/test/reliability/${file}`, ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
};
if (values.only !== 'extremes' && values.only !== 'server') run('soak.js', ['--runs', values.runs, '--seed', values.seed, '--out-dir', out]);
// The same through the real language server process over stdio (needs dist/, which the build made).
if (!values.only || values.only === 'server') run('serverSoak.js', ['--runs', values.runs, '--seed', values.seed, '--out-dir', out]);
if (!values.only || values.only === 'extremes') run('extremes.js', ['--out-dir', out]);
process.exit(failed ? 1 : 0);
