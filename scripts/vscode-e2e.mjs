// Extension tests in a real VS Code: VS Code 1.139's server (from code-server) on Node 24, its web
// workbench in headless chromium, the extension loaded from this repo in development mode, and the
// tests of test/vscode/ run inside its extension host against a loopback fixture registry, in a
// multi-root workspace (folders a and b). Then one UI test drives the page: the dashboard, opened in a
// folder without a package.json, is restored after a reload (the onWebviewPanel activation event).
// The client's activation time measured in the run is copied to .bench/activation.json for
// scripts/bench-editor.mjs.
// Usage: node scripts/vscode-e2e.mjs   → exits with the tests' code after "vscode: N passed, M failed".
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium as playwright } from 'playwright-core';
import { chromium, ensureTools, node24, vscodeDir } from './vscodeTools.mjs';

const started = Date.now();
const root = resolve(fileURLToPath(import.meta.url), '../..');
// One folder per run: two runs at once (npm test in two shells) must not delete each other's files.
// Removed after a passing run; a failing run's logs and screenshots stay there.
const work = join(root, '.tools/vscode-e2e', `run-${process.pid}`);
const outDir = join(root, 'out/vscode-tests');
const TIMEOUT_MS = 180_000;
const RESULT = /citadel-vscode-test (pass|fail|done) (\{.*\})/;

process.chdir(root);
ensureTools();
execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline', logLevel: 'warning' };
await esbuild.build({ ...common, entryPoints: { index: 'test/vscode/index.ts' }, outdir: outDir, external: ['vscode'] });
// The fixture registry helper is TypeScript; bundle it so this script can start the registry itself.
await esbuild.build({ ...common, entryPoints: { registry: 'test/helpers/npmOracle.ts' }, outdir: outDir });
const { startFixtureRegistry } = createRequire(import.meta.url)(join(outDir, 'registry.js'));

rmSync(work, { recursive: true, force: true });
const dirs = Object.fromEntries(
  ['home', 'tmp', 'xdg-config', 'xdg-data', 'xdg-cache', 'user-data', 'server-data', 'extensions', 'workspace/a', 'workspace/b', 'empty'].map((d) => {
    mkdirSync(join(work, d), { recursive: true });
    return [d, join(work, d)];
  }),
);
mkdirSync(join(dirs['server-data'], 'data/Machine'), { recursive: true });
writeFileSync(join(dirs['server-data'], 'data/Machine/settings.json'), JSON.stringify({
    // Keep the built-in JSON and npm extensions off the network: test traffic stays on 127.0.0.1.
    'json.schemaDownload.enable': false,
    'npm.fetchOnlinePackageInfo': false,
    // Every LSP message in the extension's log (user-data/logs/*/exthost*/citadel.citadel/): a failed
    // run can then be read message by message.
    'citadel.trace.server': 'verbose',
  }));

const registry = await startFixtureRegistry();
// Folder a is the project most tests edit; b (an unknown package) is for the multi-root test.
cpSync('test/fixtures/projects/tiny-e1', dirs['workspace/a'], { recursive: true });
writeFileSync(
  join(dirs['workspace/b'], 'package.json'),
  JSON.stringify({ name: 'second', version: '1.0.0', dependencies: { ms: '2.1.1', 'citadel-no-such-package': '^1.0.0' } }, null, 2) + '\n',
);
for (const folder of ['a', 'b']) writeFileSync(join(work, 'workspace', folder, '.npmrc'), `registry=${registry.url}\n`);
const workspaceFile = join(work, 'workspace/citadel.code-workspace');
writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: 'a' }, { path: 'b' }] }));
const activationFile = join(work, 'activation.json');

// No npm_config_* from the caller (npm sets them under `npm test`) and a fresh HOME: the workspace's
// .npmrc alone decides the registry. VS Code and chromium keep their files under `work`.
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k))),
  HOME: dirs.home,
  TMPDIR: dirs.tmp,
  XDG_CONFIG_HOME: dirs['xdg-config'],
  XDG_DATA_HOME: dirs['xdg-data'],
  XDG_CACHE_HOME: dirs['xdg-cache'],
  // Where the activation test writes the client's own activation figures.
  CITADEL_E2E_ACTIVATION: activationFile,
};

const port = await new Promise((ok, fail) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => ok(port));
  });
  probe.on('error', fail);
});

// detached = setsid: the server, its extension host and our language server form one process group,
// killed as a whole at exit (killing the main process alone leaves the others running).
const server = spawn(
  node24,
  [
    join(vscodeDir, 'out/server-main.js'),
    ...['--host', '127.0.0.1', '--port', String(port), '--without-connection-token', '--accept-server-license-terms'],
    ...['--enable-smoke-test-driver', '--disable-telemetry', '--disable-workspace-trust', '--log', 'trace'],
    ...['--user-data-dir', dirs['user-data'], '--server-data-dir', dirs['server-data'], '--extensions-dir', dirs.extensions],
  ],
  { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
);
let browser;
function cleanup() {
  try {
    process.kill(-server.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
process.on('exit', cleanup);

const serverLog = [];
for (const stream of [server.stdout, server.stderr]) stream.on('data', (chunk) => serverLog.push(String(chunk)));
await new Promise((ok, fail) => {
  const timer = setTimeout(() => fail(new Error(`VS Code server did not start:\n${serverLog.join('')}`)), 60_000);
  server.stdout.on('data', () => {
    if (serverLog.join('').includes(`listening on ${port}`)) {
      clearTimeout(timer);
      ok();
    }
  });
  server.on('exit', (code) => fail(new Error(`VS Code server exited with ${code}:\n${serverLog.join('')}`)));
});

const counts = { passed: 0, failed: 0 };
const seen = new Set();
/** Test lines can arrive twice (automation log and browser console); each test is counted once. */
function onLine(line) {
  const m = RESULT.exec(line);
  if (!m || seen.has(m[0])) return;
  seen.add(m[0]);
  const [, kind, json] = m;
  const data = JSON.parse(json);
  if (kind === 'pass') {
    counts.passed++;
    console.log(`  ✔ ${data.name} (${data.ms} ms)`);
  } else if (kind === 'fail') {
    counts.failed++;
    console.log(`  ✘ ${data.name} (${data.ms} ms)\n${String(data.error).replace(/^/gm, '      ')}`);
  }
}

const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
const workbenchUrl = (where, payload) => `http://127.0.0.1:${port}/?${where}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

/** Runs a command from the palette (F1), retrying while the quick input is still busy. */
async function runCommand(page, title) {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title });
  for (let attempt = 1; !(await row.first().isVisible()); attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.keyboard.type(title);
    await row.first().waitFor({ timeout: 5_000 }).catch((error) => {
      if (attempt === 5) throw error;
    });
  }
  await page.keyboard.press('Enter');
}

/**
 * The dashboard, opened from the palette in a folder with no package.json (nothing else activates the
 * extension there), is back after Developer: Reload Window, its page running and fed by the server:
 * VS Code restored it through onWebviewPanel:citadel.dashboard and the serializer. (Reload Window, not
 * a page reload: it shuts the workbench down properly, so the open editors are saved to be restored.)
 */
async function dashboardRestoredAfterReload(page) {
  const memory = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame').locator('[data-figure="memory"]');
  // '–' until the server's metrics reach the page.
  const fed = (when) => memory.filter({ hasNotText: '–' }).waitFor({ timeout: 60_000 }).catch((error) => {
    throw new Error(`no live dashboard ${when}: ${error.message}`);
  });
  await page.goto(workbenchUrl(`folder=${encodeURIComponent(dirs.empty)}`, [['extensionDevelopmentPath', remote(root)], ['skipWelcome', 'true']]));
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await runCommand(page, 'Citadel: Show Performance Dashboard');
  await fed('after the command');
  await runCommand(page, 'Developer: Reload Window');
  await page.waitForEvent('load', { timeout: 60_000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await fed('after the reload');
}

let exitCode = 1;
try {
  browser = await playwright.launch({
    executablePath: chromium,
    headless: true,
    env,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const page = await browser.newPage();
  const exited = new Promise((ok) => page.exposeFunction('codeAutomationExit', (code) => ok(code)));
  await page.exposeFunction('codeAutomationLog', (_type, args) => {
    for (const line of String(Array.isArray(args) ? args.join(' ') : args).split('\n')) onLine(line);
  });
  page.on('console', (message) => onLine(message.text()));
  const payload = [
    ['extensionDevelopmentPath', remote(root)],
    ['extensionTestsPath', remote(join(outDir, 'index'))],
    ['skipWelcome', 'true'],
  ];
  await page.goto(workbenchUrl(`workspace=${encodeURIComponent(workspaceFile)}`, payload));
  let timer;
  const timeout = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`tests did not finish within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
  });
  exitCode = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  await page.close();
  if (existsSync(activationFile)) {
    mkdirSync('.bench', { recursive: true });
    copyFileSync(activationFile, '.bench/activation.json');
  }

  const name = 'the dashboard is restored after a window reload (UI)';
  const uiStarted = Date.now();
  const uiPage = await browser.newPage();
  try {
    await dashboardRestoredAfterReload(uiPage);
    onLine(`citadel-vscode-test pass ${JSON.stringify({ name, ms: Date.now() - uiStarted })}`);
  } catch (error) {
    await uiPage.screenshot({ path: join(work, 'restore-failure.png') }).catch(() => undefined);
    onLine(`citadel-vscode-test fail ${JSON.stringify({ name, ms: Date.now() - uiStarted, error: `${error?.message ?? error} (screenshot: ${join(work, 'restore-failure.png')})` })}`);
    exitCode = 1;
  }
} catch (error) {
  console.error(String(error?.stack ?? error));
  console.error(serverLog.join('').slice(-4000));
} finally {
  await browser?.close();
  await registry.close();
  cleanup();
}
if (exitCode === 0 && counts.failed + counts.passed === 0) exitCode = 1; // tests never reported: not a pass
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
console.log(`vscode: ${counts.passed} passed, ${counts.failed} failed`);
if (exitCode === 0 && !process.env.CITADEL_E2E_KEEP) rmSync(work, { recursive: true, force: true, maxRetries: 3 });
else console.log(`VS Code logs and screenshots: ${work}`); // kept on failure or with CITADEL_E2E_KEEP=1
process.exit(exitCode);
