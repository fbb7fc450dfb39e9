// Issue #7's HTTP/2 question, as a transport measurement: an HTTP/1.1 keep-alive pool against one HTTP/2
// session (h2c: loopback has no TLS) fetching the large fixture's closure, the same gzip'd abbreviated
// documents from servers in another process with injected latency; the client gunzips and JSON.parses
// each body, as the registry client does. Wall time and the client's CPU, medians over rounds that
// alternate the order. Citadel's registry client itself speaks HTTP/1.1 only.
// Usage: npm run build && node scripts/bench-http2.mjs [--latency 0,20,50] [--rounds 5] [--h1 32] [--h2 32]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import http from 'node:http';
import http2 from 'node:http2';
import { gunzipSync } from 'node:zlib';

const mode = process.argv[2];

if (mode === 'serve') {
  const bodies = new Map(Object.entries(JSON.parse(readFileSync(process.argv[3], 'utf8'))).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  const latency = Number(process.argv[4]);
  const handler = (req, res) => {
    const name = decodeURIComponent(req.url.slice(1));
    setTimeout(() => {
      const body = bodies.get(name);
      if (!body) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/vnd.npm.install-v1+json', 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    }, latency);
  };
  const h1 = http.createServer(handler);
  h1.keepAliveTimeout = 60_000;
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } }, handler);
  h1.listen(0, '127.0.0.1', () => h2.listen(0, '127.0.0.1', () => process.stdout.write(`${h1.address().port} ${h2.address().port}\n`)));
} else {
  const { values } = parseArgs({ options: { latency: { type: 'string', default: '0,20,50' }, rounds: { type: 'string', default: '5' }, h1: { type: 'string', default: '32' }, h2: { type: 'string', default: '32' } } });
  const rounds = Number(values.rounds);
  const [width1, width2] = [Number(values.h1), Number(values.h2)];
  const scratch = mkdtempSync(join(tmpdir(), 'citadel-h2-'));
  const bodiesFile = join(scratch, 'bodies.json');
  // The closure: resolve the fixture against the loopback registry, then fetch each document once.
  const registry = spawn(process.execPath, ['dist/cli.js', 'registry', 'serve', '--store', 'test/fixtures/registry'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((ok) => registry.stdout.once('data', (d) => ok(String(d).trim())));
  const resolved = await new Promise((ok, fail) => {
    const cli = spawn(process.execPath, ['dist/cli.js', 'resolve', 'test/fixtures/projects/large', '--registry', url, '--json', '--lockfile', 'ignore', '--cache-dir', join(scratch, 'cache')], {
      env: { ...process.env, npm_config_legacy_peer_deps: 'true' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out = [];
    cli.stdout.on('data', (c) => out.push(c));
    cli.on('exit', () => ok(JSON.parse(Buffer.concat(out).toString('utf8'))));
    cli.on('error', fail);
  });
  const closure = [...new Set(resolved.packages.map((p) => p.realName ?? p.name))];
  const bodies = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  await Promise.all(closure.map((n) => new Promise((ok, fail) => {
    http.get(`${url}${n.replace('/', '%2f')}`, { agent, headers: { accept: 'application/vnd.npm.install-v1+json', 'accept-encoding': 'gzip' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { bodies[n] = Buffer.concat(chunks).toString('base64'); ok(); });
    }).on('error', fail);
  })));
  agent.destroy();
  registry.kill();
  writeFileSync(bodiesFile, JSON.stringify(bodies));
  const names = Object.keys(bodies);
  const consume = (chunks) => JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8'));
  /** Every document, `width` at a time. */
  async function pool(fetchOne, width) {
    let i = 0;
    await Promise.all(Array.from({ length: width }, async () => { while (i < names.length) await fetchOne(names[i++]); }));
  }
  const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  for (const latency of values.latency.split(',').map(Number)) {
    const server = spawn(process.execPath, [new URL(import.meta.url).pathname, 'serve', bodiesFile, String(latency)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [p1, p2] = await new Promise((ok) => server.stdout.once('data', (d) => ok(String(d).trim().split(' ').map(Number))));
    const h1 = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: width1 });
      await pool((n) => new Promise((ok, fail) => {
        http.get(`http://127.0.0.1:${p1}/${encodeURIComponent(n)}`, { agent }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => { consume(chunks); ok(); });
        }).on('error', fail);
      }), width1);
      agent.destroy();
    };
    const h2 = async () => {
      const session = http2.connect(`http://127.0.0.1:${p2}`);
      await pool((n) => new Promise((ok, fail) => {
        const s = session.request({ ':path': `/${encodeURIComponent(n)}` });
        const chunks = [];
        s.on('data', (c) => chunks.push(c));
        s.on('end', () => { consume(chunks); ok(); });
        s.on('error', fail);
      }), width2);
      session.close();
    };
    const results = { h1: [], h2: [] };
    for (let r = 0; r < rounds; r++) {
      for (const [label, run] of r % 2 ? [['h2', h2], ['h1', h1]] : [['h1', h1], ['h2', h2]]) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await run();
        const cpu = process.cpuUsage(cpu0);
        results[label].push({ wall: performance.now() - t0, cpu: (cpu.user + cpu.system) / 1000 });
      }
    }
    server.kill();
    for (const [label, xs] of Object.entries(results)) {
      console.log(`latency ${latency} ms, ${label} (${label === 'h1' ? `${width1} sockets` : `${width2} streams`}): ${names.length} documents, wall median ${med(xs.map((x) => x.wall)).toFixed(0)} ms (${xs.map((x) => x.wall.toFixed(0)).join(', ')}), client CPU median ${med(xs.map((x) => x.cpu)).toFixed(0)} ms`);
    }
  }
  rmSync(scratch, { recursive: true, force: true });
}
