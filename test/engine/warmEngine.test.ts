import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tlsModule from 'node:tls';
import { loadNpmConfig } from '../../server/src/engine/npmrc';
import { warmEngine } from '../../server/src/engine/project';
import { createRegistryClient } from '../../server/src/engine/registryClient';
import { CERT, KEY } from '../helpers/tlsCert';

// Its own file, so its own process: the TLS contexts a process keeps start empty.
test('warmEngine builds the TLS context of the configured ca for an https registry, and the first resolution reuses it', async () => {
  const secure = https.createServer({ key: KEY, cert: CERT }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.npm.install-v1+json' });
    res.end(JSON.stringify({ name: 'ms', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'ms', version: '1.0.0' } } }));
  });
  secure.listen(0, '127.0.0.1');
  await once(secure, 'listening');
  const registry = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/`;
  // Empty user and global files: only what this test sets counts.
  const scratch = mkdtempSync(join(tmpdir(), 'citadel-warm-'));
  const empty = join(scratch, 'npmrc');
  writeFileSync(empty, '');
  const saved = { ca: process.env.npm_config_ca, registry: process.env.npm_config_registry, userconfig: process.env.npm_config_userconfig, globalconfig: process.env.npm_config_globalconfig };
  const original = tlsModule.createSecureContext;
  let contexts = 0;
  tlsModule.createSecureContext = (...args) => {
    contexts++;
    return original(...args);
  };
  try {
    process.env.npm_config_userconfig = empty;
    process.env.npm_config_globalconfig = empty;
    process.env.npm_config_ca = CERT;
    process.env.npm_config_registry = registry;
    await warmEngine();
    assert.equal(contexts, 1);
    const client = createRegistryClient(loadNpmConfig({ trustProjectConfig: false }), { http2: 'off' });
    assert.equal((await client.packument('ms')).packument.name, 'ms');
    client.close();
    assert.equal(contexts, 1, 'the connection used the context warmEngine built');
  } finally {
    tlsModule.createSecureContext = original;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[`npm_config_${k}`];
      else process.env[`npm_config_${k}`] = v;
    }
    secure.close();
    secure.closeAllConnections();
    rmSync(scratch, { recursive: true, force: true });
  }
});
