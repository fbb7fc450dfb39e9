// The language server as the .vsix ships it: only the files .vscodeignore lets through, in a folder
// with no node_modules anywhere above it. It must resolve, and write compressed cache entries (with
// native zstd where Node has it, else the WASM build copied beside the bundles).
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ResolveRequest, type ResolutionSummary } from '../../protocol';
import { DiskCache } from '../../server/src/engine/cache/diskCache';
import { parseEntry } from '../../server/src/engine/cache/entry';
import type { TestRegistry } from '../../server/src/testRegistry/server';
import { fixtureDir, startFixtureRegistry } from '../helpers/npmOracle';
import { TestLspClient } from './lspClient';

let scratch: string;
let reg: TestRegistry;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'citadel-packaged-'));
  reg = await startFixtureRegistry();
});

after(async () => {
  await reg?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('the packaged server (only what .vscodeignore ships) resolves and writes zstd-compressed entries', async () => {
  const shipped = readFileSync('.vscodeignore', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!dist/'))
    .map((l) => l.slice(1));
  assert.ok(['dist/server.js', 'dist/server-main.js', 'dist/cacheWorker.js'].every((f) => shipped.includes(f)), shipped.join());
  const ext = join(scratch, 'extension');
  mkdirSync(join(ext, 'dist'), { recursive: true });
  for (const f of shipped) cpSync(f, join(ext, f));
  const dir = join(scratch, 'project');
  const cache = join(scratch, 'cache');
  cpSync(fixtureDir('small'), dir, { recursive: true });
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k) && k !== 'NODE_PATH'));
  const client = new TestLspClient({ ...env, HOME: scratch }, [], { server: join(ext, 'dist/server.js') });
  client.settings = { registry: reg.url, cache: { directory: cache } };
  try {
    await client.initialize(pathToFileURL(dir).href);
    const summary: ResolutionSummary = await client.connection.sendRequest(ResolveRequest.method, { uri: pathToFileURL(join(dir, 'package.json')).href } satisfies ResolveRequest.Params);
    assert.equal(summary.state, 'idle', JSON.stringify(summary));
    assert.ok(reg.log.length > 10);
  } finally {
    // Shutdown waits for the cache's writes.
    await client.stop();
  }
  const disk = new DiskCache(cache);
  const entries = disk.list();
  assert.ok(entries.length > 10, `${entries.length} entries`);
  for (const e of entries) assert.equal(parseEntry(disk.read(e.key)!).codec, 1, 'zstd, not raw');
});
