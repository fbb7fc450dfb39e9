// `npm test`: builds, then runs every test layer with node's test runner.
// Layers: unit + engine (test/**/*.test.ts), which start their own loopback registry on 127.0.0.1.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

execFileSync(process.execPath, ['scripts/build.mjs', '--tests'], { stdio: 'inherit' });

function testFiles(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const filter = process.argv.slice(2);
const files = testFiles('out/test').filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
