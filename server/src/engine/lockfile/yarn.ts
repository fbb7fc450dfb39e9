// yarn.lock: classic (v1, yarn's own format, parsed with @yarnpkg/lockfile, yarn 1's parser) and berry
// (YAML with `__metadata`). Both key entries by the descriptors they answer (`name@range`), which is how
// yarn itself looks a dependency up, so edges resolve by descriptor.
import { yarnLockfile } from '../lazy';
import type { DepMap } from '../types';
import { edgesOf, emptyImporter, splitIdent, type LockedEdge, type LockedImporter, type LockedPackage, type LockfileProblem, type LockfileResult } from './model';
import { depMap, invalid, record } from './text';
import { parseYaml, yamlKeyLines } from './yamlText';

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** `zdebug@npm:debug@2.6.9` → real name `debug`; a plain range has none. */
function aliasTarget(range: string): string | undefined {
  const m = /^npm:((?:@[^/@]+\/)?[^@]+)@/.exec(range);
  return m?.[1];
}

/**
 * The first string left open at the end of its line. yarn 1's tokenizer reads an unterminated string by
 * appending past the end of the input until V8's string limit (seconds and ~1 GB), so such a file must
 * never reach it. Its strings are JSON strings on one line; `#` at a token start begins a comment.
 */
function unterminatedString(text: string): { line: number; column: number } | undefined {
  let line = 1;
  let start = -1;
  let lineStart = 0;
  let comment = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '\n' || i === text.length) {
      if (start !== -1) return { line, column: start - lineStart + 1 };
      line++;
      lineStart = i + 1;
      comment = false;
    } else if (comment) {
      continue;
    } else if (start !== -1) {
      if (c === '\\') i++;
      else if (c === '"') start = -1;
    } else if (c === '"') {
      start = i;
    } else if (c === '#' && (i === lineStart || /[\s,:]/.test(text[i - 1]))) {
      comment = true;
    }
  }
  return undefined;
}

function failingLine(text: string): number {
  const lines = text.split('\n');
  const fails = (n: number): boolean => {
    try {
      yarnLockfile().parse(lines.slice(0, n).join('\n') + '\n');
      return false;
    } catch {
      return true;
    }
  };
  let lo = 1;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

interface ClassicEntry {
  version: string;
  resolved?: string;
  integrity?: string;
  dependencies?: DepMap;
  optionalDependencies?: DepMap;
}

export function readYarnClassic(text: string, file: string): LockfileResult {
  if (!/^# yarn lockfile v1\s*$/m.test(text.split('\n', 3).join('\n'))) {
    return { problems: [invalid(file, 'unknown yarn.lock format: neither the classic "# yarn lockfile v1" header nor berry\'s __metadata')] };
  }
  const open = unterminatedString(text);
  if (open) return { problems: [invalid(file, 'invalid yarn.lock (a string is not closed on its line)', open.line, open.column)] };
  let parsed: { type: string; object: Record<string, ClassicEntry> };
  try {
    parsed = yarnLockfile().parse(text) as typeof parsed;
  } catch (e) {
    // yarn's parser ends its message with "<line>:<col> in lockfile"; the column is right, the line drifts
    // with blank lines, so the line is found by bisecting: the shortest prefix of whole lines that fails.
    const msg = e instanceof Error ? e.message : String(e);
    const m = /(\d+):(\d+) in \S+$/.exec(msg);
    const why = msg.replace(/^Unknown token: \{.*?type: '(\w+)'.*$/, 'unexpected $1').replace(/ \d+:\d+ in \S+$/, '');
    return { problems: [invalid(file, `invalid yarn.lock (${why})`, failingLine(text), Math.max(1, m ? Number(m[2]) : 1))] };
  }
  // Entry headers start at column 0: `debug@2.6.9:` or `"ms@1 || 2", ms@^2.1.1:`.
  const lineOf = new Map<string, number>();
  text.split('\n').forEach((l, i) => {
    if (/^[^#\s]/.test(l) && l.endsWith(':')) for (const d of l.slice(0, -1).split(/,\s*/)) lineOf.set(unquote(d), i + 1);
  });
  // The parser maps every descriptor to the same object; one package per object.
  const entries = new Map<ClassicEntry, string[]>();
  const problems: LockfileProblem[] = [];
  for (const [descriptor, entry] of Object.entries(record(parsed.object))) {
    const e = record(entry) as unknown as ClassicEntry;
    if (typeof e.version !== 'string') {
      problems.push(invalid(file, `the entry for ${descriptor} has no version`, lineOf.get(descriptor) ?? 1));
      continue;
    }
    entries.set(e, [...(entries.get(e) ?? []), descriptor]);
  }
  const packages: LockedPackage[] = [];
  const keyOf = new Map<string, string>();
  for (const [e, descriptors] of entries) {
    const [name, range] = splitIdent(descriptors[0]);
    const realName = aliasTarget(range);
    const key = descriptors.join(', ');
    for (const d of descriptors) keyOf.set(d, key);
    packages.push({
      key,
      name,
      version: e.version,
      ...(realName && realName !== name && { realName }),
      integrity: typeof e.integrity === 'string' ? e.integrity : undefined,
      resolved: typeof e.resolved === 'string' ? e.resolved : undefined,
      dependencies: depMap(e.dependencies),
      optionalDependencies: depMap(e.optionalDependencies),
      peerDependencies: {},
      descriptors,
      line: lineOf.get(descriptors[0]) ?? 1,
    });
  }
  const edges: LockedEdge[] = packages.flatMap((p) =>
    edgesOf(p.key, false, { prod: p.dependencies, optional: p.optionalDependencies }, (n, spec) => ({ to: keyOf.get(`${n}@${spec}`) ?? null })),
  );
  // Classic records no importers: the drift check looks the manifests' `name@spec` up in `descriptors`.
  return { lockfile: { kind: 'yarn-classic', file, version: 1, packages, importers: {}, edges }, problems };
}

interface BerryEntry {
  version?: string;
  resolution?: string;
  dependencies?: DepMap;
  peerDependencies?: DepMap;
  dependenciesMeta?: Record<string, { optional?: boolean | string }>;
  checksum?: string;
  linkType?: string;
}

/** Flags arrive as strings from the failsafe parser. */
const yes = (v: unknown): boolean => v === true || v === 'true';

/** Versions of __metadata yarn 2 to 4 write (4.x writes 8 to 10 depending on the release). */
const BERRY_VERSIONS = new Set([4, 5, 6, 7, 8, 9, 10]);

export function readYarnBerry(text: string, file: string): LockfileResult {
  const parsed = parseYaml(text, file, 'yarn.lock');
  if ('problem' in parsed) return { problems: [parsed.problem] };
  const json = parsed.value;
  const metadata = json.__metadata as { version?: unknown } | undefined;
  const version = Number(metadata?.version);
  if (!BERRY_VERSIONS.has(version)) {
    return { problems: [invalid(file, `unknown yarn.lock __metadata.version ${String(metadata?.version)} (yarn 2 to 4 write 4 to 10)`)] };
  }
  const lineOf = yamlKeyLines(text).get('')!;
  const packages: LockedPackage[] = [];
  const importers: Record<string, LockedImporter> = {};
  const keyOf = new Map<string, string>();
  const workspaceOf = new Map<string, string>();
  const pending: { from: string; importer: boolean; deps: Parameters<typeof edgesOf>[2] }[] = [];
  const problems: LockfileProblem[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata') continue;
    const raw = record(value);
    if (raw !== value || (raw.resolution !== undefined && typeof raw.resolution !== 'string')) {
      problems.push(invalid(file, `the entry for ${key} is not a package entry`, lineOf.get(key) ?? 1));
      continue;
    }
    const e: BerryEntry = {
      version: typeof raw.version === 'string' ? raw.version : undefined,
      resolution: raw.resolution as string | undefined,
      dependencies: depMap(raw.dependencies),
      peerDependencies: depMap(raw.peerDependencies),
      dependenciesMeta: Object.fromEntries(Object.entries(record(raw.dependenciesMeta)).map(([k, v]) => [k, record(v)])),
    };
    const descriptors = key.split(/,\s*/);
    const line = lineOf.get(key) ?? 1;
    const [, reference] = splitIdent(e.resolution ?? '');
    const deps: DepMap = {};
    const optional: DepMap = {};
    // Berry keeps optional dependencies in `dependencies`, flagged in dependenciesMeta.
    for (const [n, r] of Object.entries(e.dependencies ?? {})) (yes(e.dependenciesMeta?.[n]?.optional) ? optional : deps)[n] = r;
    for (const d of descriptors) keyOf.set(d, key);
    if (reference.startsWith('workspace:')) {
      const path = reference.slice('workspace:'.length).replace(/^\.$/, '');
      importers[path] = { ...emptyImporter(line), dependencies: deps, optionalDependencies: optional };
      for (const d of descriptors) workspaceOf.set(d, path);
      pending.push({ from: path, importer: true, deps: { prod: deps, optional } });
      continue;
    }
    const [name] = splitIdent(descriptors[0]);
    const [resolutionName] = splitIdent(e.resolution ?? descriptors[0]);
    packages.push({
      key,
      name,
      version: e.version ?? '',
      ...(resolutionName !== name && { realName: resolutionName }),
      resolved: e.resolution,
      dependencies: deps,
      optionalDependencies: optional,
      peerDependencies: e.peerDependencies ?? {},
      descriptors,
      line,
    });
    // Peers are resolved per parent in yarn's virtual packages, which the lockfile does not record.
    pending.push({ from: key, importer: false, deps: { prod: deps, optional } });
  }
  // yarn applies its built-in compat patches (fsevents, typescript, resolve) to a descriptor without the
  // dependent asking: `fsevents@npm:~2.3.2` is installed as the patch entry, which is built from the plain one.
  const patchOf = new Map<string, string>();
  for (const p of packages) {
    const m = /^(?:@[^/]+\/)?[^@]+@patch:(.+?)#(?:optional!)?builtin</.exec(p.key);
    if (!m) continue;
    const inner = decodeURIComponent(m[1]);
    patchOf.set(inner, p.key);
    const [n, range] = splitIdent(inner);
    pending.push({ from: p.key, importer: false, deps: { prod: { [n]: range } } });
  }
  const edges: LockedEdge[] = pending.flatMap((p) =>
    edgesOf(p.from, p.importer, p.deps, (n, range) => {
      const d = `${n}@${range}`;
      const ws = workspaceOf.get(d);
      if (ws !== undefined) return { to: ws, toImporter: true };
      const patched = patchOf.get(d);
      return { to: (patched !== p.from && patched) || keyOf.get(d) || null };
    }),
  );
  return { lockfile: { kind: 'yarn-berry', file, version, packages, importers, edges }, problems };
}
