// `npm test`: builds, runs the node:test layers (unit, engine against the loopback registry, npm
// parity, CLI, the language server over stdio), then the extension in a real VS Code.
// `node scripts/test.mjs <substring...>` runs only the matching node:test files (no VS Code).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const out = `out/run-${process.pid}`;
execFileSync(process.execPath, ['scripts/build.mjs', '--tests', '--out', out], { stdio: 'inherit' });

function testFiles(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const filter = process.argv.slice(2);
const files = testFiles(`${out}/test`).filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
const tap = `${out}/node-tests.tap`;
const r = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit' },
);
const count = (text, key) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
const tapText = readFileSync(tap, 'utf8');
let passed = count(tapText, 'pass');
let failed = count(tapText, 'fail') + (r.status === 0 ? 0 : count(tapText, 'fail') ? 0 : 1);
rmSync(out, { recursive: true, force: true });

if (filter.length === 0) {
  const e2e = spawnSync(process.execPath, ['scripts/vscode-e2e.mjs'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  process.stdout.write(e2e.stdout ?? '');
  const m = /^vscode: (\d+) passed, (\d+) failed$/m.exec(e2e.stdout ?? '');
  passed += Number(m?.[1] ?? 0);
  failed += m ? Number(m[2]) : 1;
  if (!m || e2e.status !== 0) failed ||= 1;
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
