// A seeded mutation fuzzer over the real input formats: package.json (the fixture projects), .npmrc,
// and every lockfile format (the committed yarn and pnpm fixtures; npm, bun and pnpm v9 lockfiles
// written from a fixture's locked tree). Each case mutates a seed (bytes, lines, JSON structure, hostile
// tokens) and feeds it to the real reader; the invariants: no exception escapes, no case takes longer
// than a bound, and every problem names its file with a position inside the text.
// `fuzz.test.ts` runs a few hundred cases per format in `npm test`; `npm run test:fuzz` runs 10,000+.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import type { ProjectManifest } from '../../server/src/engine/api';
import { analyze } from '../../server/src/engine/analysis';
import { parseLockfile, type LockfileKind } from '../../server/src/engine/lockfile';
import { authFor, loadNpmConfig, proxyFor, redact, registryFor } from '../../server/src/engine/npmrc';
import { ManifestError, parseManifest } from '../../server/src/engine/project';
import { resolve } from '../../server/src/engine/resolver';
import { RegistryError, type PackumentSource } from '../../server/src/engine/types';
import { parseManifest as parseLspManifest } from '../../server/src/lsp/manifest';
import { packument, rng } from './helpers';

export type Format = 'package.json' | '.npmrc' | LockfileKind;
export const FORMATS: Format[] = ['package.json', '.npmrc', 'npm', 'yarn-classic', 'yarn-berry', 'pnpm', 'bun'];

const ROOT = process.cwd();
const LOCKS = resolvePath(ROOT, 'test/fixtures/lockfiles');

/** Real documents of each format to start from. */
export function seeds(format: Format): string[] {
  switch (format) {
    case 'package.json': {
      const dir = resolvePath(ROOT, 'test/fixtures/projects');
      const out = readdirSync(dir).map((p) => readFileSync(join(dir, p, 'package.json'), 'utf8'));
      const ws = join(dir, 'monorepo', 'packages');
      for (const p of readdirSync(ws)) out.push(readFileSync(join(ws, p, 'package.json'), 'utf8'));
      return out;
    }
    case '.npmrc':
      return NPMRC_SEEDS;
    case 'yarn-classic':
    case 'yarn-berry':
      return ['tiny-e2', 'tiny-e4', 'aliases-optional'].map((p) => readFileSync(join(LOCKS, format, p, 'yarn.lock'), 'utf8'));
    case 'pnpm':
      return [...['tiny-e2', 'tiny-e4', 'aliases-optional'].map((p) => readFileSync(join(LOCKS, 'pnpm6', p, 'pnpm-lock.yaml'), 'utf8')), pnpm9Seed()];
    case 'npm':
      return [npmSeed(3), npmSeed(2), npmSeed(1)];
    case 'bun':
      return [bunSeed()];
  }
}

const NPMRC_SEEDS = [
  `registry=https://registry.npmjs.org/\n@corp:registry=https://npm.corp.example/api/\n//npm.corp.example/api/:_authToken=\${NPM_TOKEN}\nstrict-ssl=true\n`,
  `; user config\n# comment\nproxy=http://proxy.example:8080\nhttps-proxy="http://user:pass@proxy.example:8443"\nnoproxy=localhost,127.0.0.1,.internal\nfetch-retries=4\nfetch-timeout=60000\nmaxsockets=16\n`,
  `//registry.example/:username=alice\n//registry.example/:_password=cGFzc3dvcmQ=\n//other.example/path/:_auth=YWxpY2U6cGFzcw==\nalways-auth=true\n_authToken=legacy\n`,
  `ca[]="-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"\nca[]=second\ncafile=~/certs/bundle.pem\nlegacy-peer-deps=true\nstrict-peer-deps=false\ntag=next\n`,
  `[section]\nkey=value\nprefix=\${HOME}/.npm-global\nglobalconfig=./etc/npmrc\nfetch-retry-mintimeout=10\nfetch-retry-maxtimeout=100\nfetch-retry-factor=2\noffline=false\nprefer-offline=true\n`,
];

/** The tree of the committed aliases-optional yarn.lock, as every other tool would lock it (flat). */
function lockedTree(): { name: string; version: string; integrity?: string; deps: Record<string, string> }[] {
  const r = parseLockfile('yarn-classic', readFileSync(join(LOCKS, 'yarn-classic', 'aliases-optional', 'yarn.lock'), 'utf8'), 'yarn.lock');
  const seen = new Set<string>();
  const out = [];
  for (const p of r.lockfile!.packages) {
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    out.push({ name: p.name, version: p.version, integrity: p.integrity, deps: { ...p.dependencies, ...p.optionalDependencies } });
  }
  return out;
}

function npmSeed(version: 1 | 2 | 3): string {
  const tree = lockedTree();
  const root = { name: 'p', version: '1.0.0', dependencies: Object.fromEntries(tree.slice(0, 5).map((p) => [p.name, `^${p.version}`])) };
  const packages: Record<string, unknown> = { '': root };
  const v1: Record<string, unknown> = {};
  for (const p of tree) {
    const entry = { version: p.version, resolved: `https://registry.npmjs.org/${p.name}/-/${p.name.split('/').pop()}-${p.version}.tgz`, integrity: p.integrity, ...(Object.keys(p.deps).length && { dependencies: p.deps }) };
    packages[`node_modules/${p.name}`] = entry;
    v1[p.name] = { version: p.version, resolved: entry.resolved, integrity: p.integrity, ...(Object.keys(p.deps).length && { requires: p.deps }) };
  }
  const doc = version === 1 ? { name: 'p', version: '1.0.0', lockfileVersion: 1, requires: true, dependencies: v1 } : { name: 'p', version: '1.0.0', lockfileVersion: version, requires: true, packages, ...(version === 2 && { dependencies: v1 }) };
  return JSON.stringify(doc, null, 2) + '\n';
}

function bunSeed(): string {
  const tree = lockedTree();
  const lines = ['{', '  "lockfileVersion": 1,', '  "workspaces": {', '    "": {', '      "name": "p",', '      "dependencies": {'];
  for (const p of tree.slice(0, 5)) lines.push(`        ${JSON.stringify(p.name)}: ${JSON.stringify(`^${p.version}`)},`);
  lines.push('      },', '    },', '  },', '  "packages": {');
  for (const p of tree) lines.push(`    ${JSON.stringify(p.name)}: [${JSON.stringify(`${p.name}@${p.version}`)}, "", ${JSON.stringify({ dependencies: p.deps })}, ${JSON.stringify(p.integrity ?? '')}],`);
  lines.push('  }', '}', '');
  return lines.join('\n');
}

function pnpm9Seed(): string {
  const tree = lockedTree();
  const versions = new Map(tree.map((p) => [p.name, p.version]));
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const lines = ["lockfileVersion: '9.0'", '', 'settings:', '  autoInstallPeers: true', '  excludeLinksFromLockfile: false', '', 'importers:', '', '  .:', '    dependencies:'];
  for (const p of tree.slice(0, 5)) lines.push(`      ${q(p.name)}:`, `        specifier: ^${p.version}`, `        version: ${p.version}`);
  lines.push('', 'packages:', '');
  for (const p of tree) lines.push(`  ${q(`${p.name}@${p.version}`)}:`, `    resolution: {integrity: ${p.integrity ?? 'sha512-x'}}`, '');
  lines.push('snapshots:', '');
  for (const p of tree) {
    lines.push(`  ${q(`${p.name}@${p.version}`)}:${Object.keys(p.deps).length ? '' : ' {}'}`);
    const deps = Object.keys(p.deps).filter((d) => versions.has(d));
    if (deps.length) {
      lines.push('    dependencies:');
      for (const d of deps) lines.push(`      ${q(d)}: ${versions.get(d)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Mutations

const TOKENS = [
  '{', '}', '[', ']', '"', ':', ',', '\n', '\r\n', '\t', ' ', '\\', '\\u0000', '\u0000', '\uFFFF', '\uD800', '😀', 'ü', '\u202E',
  '<<<<<<< HEAD\n', '=======\n', '>>>>>>> branch\n', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString',
  'null', 'true', 'false', '-1', '0', '1e999', 'NaN', '99999999999999999999', '1.2.3', '^1.0.0', '>=1 <2', '*', 'latest', 'npm:', 'npm:x@1',
  'workspace:*', 'file:../x', 'git+ssh://git@github.com/a/b.git', 'https://x/y.tgz', '../x', '../../etc/passwd', '@scope/', '@', '/', '//',
  '${HOME}', '${NOPE}', '\\${ESC}', '=', ';', '#', '[x]', 'a[]', 'key=', '=value', '//host/:_authToken=t', '@s:registry=http://x',
  'x'.repeat(300), 'é'.repeat(100), '  ', '- ', '? ', '&anchor ', '*anchor', '!!binary ', '%YAML 1.2\n', '---\n', '...\n', "'", '|\n', '>\n',
  'resolution: ', 'version: ', 'specifier: ', 'dependencies:', '"packages": ', '"lockfileVersion": 99', 'lockfileVersion: 5.4', '__metadata:',
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Replace one random value of a JSON document with something hostile. */
function mutateJson(text: string, r: () => number): string | undefined {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
  const holders: { [k: string]: Json }[] | Json[][] = [];
  const walk = (v: Json, depth: number): void => {
    if (depth > 12 || v === null || typeof v !== 'object') return;
    (holders as Json[]).push(v);
    for (const c of Array.isArray(v) ? v : Object.values(v)) walk(c, depth + 1);
  };
  walk(doc, 0);
  if (!holders.length) return undefined;
  const target = holders[Math.floor(r() * holders.length)] as unknown as Record<string, Json>;
  const keys = Object.keys(target);
  const hostile: Json[] = [null, true, 0, -1, 1e308, '', '*', 'x'.repeat(5000), [], {}, ['a'], { a: 'b' }, '../x', '__proto__', '1.0.0', { '': '' }, [[[[[]]]]], 'npm:@s/p@^1'];
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const op = r();
  if (op < 0.5 && keys.length) target[pick(keys)] = pick(hostile);
  else if (op < 0.7) target[pick(['__proto__', 'constructor', '', 'dependencies', 'workspaces', 'overrides', 'packages', 'versions', pick(keys) ?? 'k', '../x', '@s/p', 'a'.repeat(300)])] = pick(hostile);
  else if (op < 0.85 && keys.length) delete target[pick(keys)];
  else if (keys.length) {
    // Deep nesting: a value wrapped a few hundred times.
    let v: Json = target[pick(keys)];
    for (let i = 0; i < 300; i++) v = { x: v };
    target[pick(keys)] = v;
  }
  return JSON.stringify(doc, null, r() < 0.5 ? 2 : undefined) + (r() < 0.9 ? '\n' : '');
}

/** One mutated document: 1-4 stacked text mutations, or a structural JSON one. */
export function mutate(seed: string, r: () => number, json: boolean): string {
  if (json && r() < 0.35) {
    const m = mutateJson(seed, r);
    if (m !== undefined) return m;
  }
  let s = seed;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const len = Math.floor(r() * Math.min(64, s.length - at + 1));
    const op = r();
    if (op < 0.2) {
      // Flip one bit of one character.
      if (s.length) s = s.slice(0, at) + String.fromCharCode(s.charCodeAt(Math.min(at, s.length - 1)) ^ (1 << Math.floor(r() * 7))) + s.slice(at + 1);
    } else if (op < 0.35) s = s.slice(0, at) + s.slice(at + len);
    else if (op < 0.5) s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
    else if (op < 0.75) s = s.slice(0, at) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(at);
    else if (op < 0.83) s = s.slice(0, at);
    else if (op < 0.92) {
      const lines = s.split('\n');
      const a = Math.floor(r() * lines.length);
      const b = Math.floor(r() * lines.length);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      s = lines.join('\n');
    } else {
      // Repeat a line many times (large inputs, duplicate keys).
      const lines = s.split('\n');
      const a = Math.floor(r() * lines.length);
      lines.splice(a, 0, ...Array<string>(200).fill(lines[a]));
      s = lines.join('\n');
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Invariants

export interface FuzzFailure {
  format: Format;
  seed: number;
  case: number;
  error: string;
  input: string;
}

export interface FuzzReport {
  cases: Record<string, number>;
  problems: Record<string, number>;
  maxMs: Record<string, number>;
  failures: FuzzFailure[];
}

/** Any name resolves to a tiny document, except names with 'zz' (404): enough for the resolver to walk. */
const anySource: PackumentSource = {
  async packument(name) {
    if (name.includes('zz')) throw new RegistryError('E404', `${name} is not in the registry`, 404);
    return { packument: packument(name, { '1.0.0': {}, '2.0.0-beta.1': {}, '2.0.0': { deprecated: 'old' } }), bytes: 100 };
  },
};

function positionInside(text: string, line: number, column: number): boolean {
  const lines = text.split('\n');
  return Number.isInteger(line) && Number.isInteger(column) && line >= 1 && column >= 1 && line <= lines.length + 1;
}

/** Checks one input of `format`; throws on a broken invariant. `dir` is a scratch folder (for .npmrc files). */
export async function check(format: Format, text: string, dir: string): Promise<number> {
  if (format === 'package.json') {
    const lsp = parseLspManifest(text);
    if (!lsp.ok && !(lsp.error.offset >= 0 && lsp.error.offset <= text.length)) throw new Error(`LSP parse error offset ${lsp.error.offset} outside the text`);
    let manifest: ProjectManifest;
    try {
      manifest = parseManifest(text, 'package.json');
    } catch (e) {
      if (!(e instanceof ManifestError)) throw e;
      if (e.file !== 'package.json' || !positionInside(text, e.line, e.column)) throw new Error(`bad position: ${e.message}`);
      if (lsp.ok && /invalid JSON/.test(e.message)) throw new Error('the engine rejects JSON the LSP layer accepts');
      return 1;
    }
    const result = await resolve({ manifest, source: anySource, nodeVersion: '20.0.0' });
    analyze({ result, manifest });
    for (const p of result.problems) if (typeof p.message !== 'string' || !p.code) throw new Error(`malformed problem ${JSON.stringify(p)}`);
    return result.problems.length;
  }
  if (format === '.npmrc') {
    writeFileSync(join(dir, '.npmrc'), text);
    const config = loadNpmConfig({ projectDir: dir, home: dir, env: { HOME: dir, NPM_TOKEN: 'secret-token-value', npm_config_userconfig: join(dir, 'none'), npm_config_globalconfig: join(dir, 'none') } });
    for (const url of [config.registry, 'https://registry.npmjs.org/x', 'http://127.0.0.1:1/@s%2fp']) {
      authFor(config, url);
      try {
        proxyFor(config, url);
      } catch (e) {
        throw new Error(`proxyFor threw: ${(e as Error).message}`);
      }
    }
    registryFor(config, '@corp/x');
    registryFor(config, 'x');
    for (const e of config.errors) {
      if (typeof e.message !== 'string') throw new Error('malformed config error');
      if (e.message.includes('secret-token-value')) throw new Error(`a config error prints a secret: ${e.message}`);
    }
    if (redact('Bearer secret-token-value', config).includes('secret-token-value')) throw new Error('redact kept a token');
    JSON.stringify(config);
    return config.errors.length;
  }
  const file = `/project/${format}.lock`;
  const r = parseLockfile(format, text, file);
  for (const p of r.problems) {
    if (p.file !== file) throw new Error(`problem without its file: ${JSON.stringify(p)}`);
    if (!positionInside(text, p.line, p.column)) throw new Error(`problem position ${p.line}:${p.column} outside the text: ${p.message}`);
    if (typeof p.message !== 'string' || !p.message) throw new Error('problem without a message');
  }
  if (r.lockfile) {
    if (!Array.isArray(r.lockfile.packages) || !Array.isArray(r.lockfile.edges)) throw new Error('lockfile without packages or edges');
    for (const p of r.lockfile.packages) if (typeof p.name !== 'string' || typeof p.version !== 'string' || !(p.line >= 1)) throw new Error(`malformed package ${JSON.stringify(p).slice(0, 200)}`);
  }
  return r.problems.length;
}

/** Runs `casesPerFormat` cases of each format from `seed`; never throws, reports. */
export async function fuzz(opts: { casesPerFormat: number; seed: number; dir: string; formats?: Format[]; maxCaseMs?: number; onProgress?: (f: Format, n: number) => void }): Promise<FuzzReport> {
  const report: FuzzReport = { cases: {}, problems: {}, maxMs: {}, failures: [] };
  mkdirSync(opts.dir, { recursive: true });
  for (const format of opts.formats ?? FORMATS) {
    const base = seeds(format);
    // The seeds themselves must be good input: otherwise mutations test nothing.
    for (const s of base) if (format !== 'package.json' && format !== '.npmrc' && (await check(format, s, opts.dir)) !== 0) throw new Error(`a ${format} seed has problems: ${JSON.stringify(parseLockfile(format as LockfileKind, s, 'x').problems)}`);
    let problems = 0;
    let maxMs = 0;
    for (let i = 0; i < opts.casesPerFormat; i++) {
      const caseSeed = (opts.seed * 1_000_003 + i * 7919 + FORMATS.indexOf(format)) >>> 0;
      const r = rng(caseSeed);
      const input = mutate(base[Math.floor(r() * base.length)], r, format === 'package.json' || format === 'npm');
      const t0 = performance.now();
      try {
        problems += (await check(format, input, opts.dir)) > 0 ? 1 : 0;
        const ms = performance.now() - t0;
        maxMs = Math.max(maxMs, ms);
        if (opts.maxCaseMs && ms > opts.maxCaseMs) throw new Error(`took ${ms.toFixed(0)} ms`);
      } catch (e) {
        report.failures.push({ format, seed: caseSeed, case: i, error: e instanceof Error ? (e.stack ?? e.message) : String(e), input });
      }
      if (i % 1000 === 999) opts.onProgress?.(format, i + 1);
    }
    report.cases[format] = opts.casesPerFormat;
    report.problems[format] = problems;
    report.maxMs[format] = Math.round(maxMs * 10) / 10;
  }
  return report;
}

/** Replays one failure: the same input from its case seed. */
export function replay(format: Format, caseSeed: number): string {
  const base = seeds(format);
  const r = rng(caseSeed);
  return mutate(base[Math.floor(r() * base.length)], r, format === 'package.json' || format === 'npm');
}
