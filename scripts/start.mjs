// `npm start`: builds and packages Citadel, installs it into VS Code 1.139's server (from the
// code-server npm package, installed into .tools/ on first use) and serves the web workbench on
// 127.0.0.1 with samples/express-api open. Prints the URL; Ctrl-C stops everything.
// The sample resolves against the registry your npm config names (HOME and npm_config_* are kept).
// Options: --port N (default 8080, or a free port when it is taken), --folder DIR (another project).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageExtension } from './package.mjs';
import { ensureTools, node24, vscodeDir } from './vscodeTools.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const folder = resolve(arg('--folder') ?? join(root, 'samples/express-api'));
const work = join(root, '.tools/start');

ensureTools({ browser: false });
const vsix = packageExtension(join(work, 'citadel.vsix'));

const dirs = Object.fromEntries(
  ['user-data', 'server-data', 'extensions', 'tmp', 'xdg-cache'].map((d) => {
    mkdirSync(join(work, d), { recursive: true });
    return [d, join(work, d)];
  }),
);
mkdirSync(join(dirs['server-data'], 'data/Machine'), { recursive: true });
writeFileSync(
  join(dirs['server-data'], 'data/Machine/settings.json'),
  JSON.stringify({ 'json.schemaDownload.enable': false, 'workbench.startupEditor': 'none' }, null, 2),
);
// HOME stays the user's, so ~/.npmrc (registry, tokens) applies to the sample as it would to npm.
const env = { ...process.env, TMPDIR: dirs.tmp, XDG_CACHE_HOME: dirs['xdg-cache'] };
const common = ['--user-data-dir', dirs['user-data'], '--server-data-dir', dirs['server-data'], '--extensions-dir', dirs.extensions];
const serverMain = join(vscodeDir, 'out/server-main.js');
execFileSync(node24, [serverMain, ...common, '--install-extension', vsix, '--force'], { env, stdio: ['ignore', 'inherit', 'inherit'] });

function freePort(preferred) {
  return new Promise((ok, fail) => {
    const probe = createServer()
      .once('error', (e) => (preferred ? freePort(0).then(ok, fail) : fail(e)))
      .listen(preferred, '127.0.0.1', () => {
        const { port } = probe.address();
        probe.close(() => ok(port));
      });
  });
}
const port = await freePort(Number(arg('--port') ?? 8080));
// A token, so that other local users and web pages cannot drive this VS Code (it can run terminals).
const token = randomBytes(16).toString('hex');

// detached = setsid: the server, its extension host and Citadel's language server are one process
// group, stopped together.
const server = spawn(
  node24,
  [serverMain, '--host', '127.0.0.1', '--port', String(port), '--connection-token', token, '--accept-server-license-terms', '--disable-telemetry', ...common],
  { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
);
let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try {
    process.kill(-server.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('exit', () => {
  try {
    process.kill(-server.pid, 'SIGKILL');
  } catch {
    // already gone
  }
});

let log = '';
server.stderr.on('data', (c) => process.stderr.write(c));
server.stdout.on('data', (chunk) => {
  if (log === null) return;
  log += String(chunk);
  if (!log.includes(`listening on ${port}`)) return;
  log = null;
  const url = `http://127.0.0.1:${port}/?tkn=${token}&folder=${encodeURIComponent(folder)}`;
  console.log(`\nCitadel in VS Code (1.139, web): ${url}\n`);
  console.log('Open package.json to see diagnostics, hovers, quick fixes and the status bar; Ctrl-C stops everything.');
});
server.on('exit', (code) => {
  if (!stopping) {
    console.error(`VS Code server exited (${code})${log ? `:\n${log}` : ''}`);
    stop(1);
  }
});
