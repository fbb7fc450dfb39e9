// `npm run start:cli`: builds Citadel and resolves the sample project with the CLI, against the registry
// your npm config names (https://registry.npmjs.org/ by default). Extra arguments go to `citadel resolve`.
import { execFileSync, spawnSync } from 'node:child_process';

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const args = process.argv.slice(2);
const r = spawnSync(process.execPath, ['dist/cli.js', 'resolve', 'samples/express-api', ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
