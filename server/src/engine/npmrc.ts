// npm's configuration cascade (builtin < global < user < project < env < cli), read the way npm reads it,
// so Citadel resolves against the same registries with the same credentials as `npm install` would.
// Bad content never throws: problems come back as values in `errors`.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, parse as parsePath, resolve } from 'node:path';

export type IniValue = string | boolean | null | string[];

export type ConfigLayer = 'builtin' | 'global' | 'user' | 'project' | 'env' | 'cli';

export interface ConfigSource {
  layer: ConfigLayer;
  path?: string;
  status: 'loaded' | 'missing' | 'error' | 'ignored';
}

export interface ConfigError {
  /** Absent for problems in merged values, whose layer is no longer known. */
  layer?: ConfigLayer;
  path?: string;
  message: string;
}

/** The credential fields npm reads under one nerf-dart key such as `//host:port/path/`. */
export interface Credential {
  token?: string;
  /** base64 of `user:password`, as in `:_auth`. */
  auth?: string;
  username?: string;
  /** base64-encoded password, as npm stores `:_password`. */
  password?: string;
}

export interface NpmConfig {
  /** Default registry, always with a trailing slash. */
  registry: string;
  /** `@scope` -> registry URL (trailing slash). */
  scopes: Record<string, string>;
  /** Nerf-dart key -> credential. A Map so that `JSON.stringify(config)` never prints a secret. */
  credentials: Map<string, Credential>;
  /** Proxy for http: and https: targets after npm's fallbacks (config, then environment). */
  proxy: { http?: string; https?: string };
  noproxy: string[];
  /** PEM certificates from `ca` and `cafile`. */
  ca?: string[];
  strictSsl: boolean;
  /** Set only when configured; the client picks an editor-friendly default otherwise. */
  fetchTimeout?: number;
  fetchRetries: number;
  fetchRetryMintimeout: number;
  fetchRetryMaxtimeout: number;
  fetchRetryFactor: number;
  /** Set only when configured. */
  maxsockets?: number;
  legacyPeerDeps: boolean;
  strictPeerDeps: boolean;
  tag: string;
  cache: string;
  offline: boolean;
  preferOffline: boolean;
  preferOnline: boolean;
  /** Which files were considered, for diagnostics. */
  sources: ConfigSource[];
  errors: ConfigError[];
}

export interface LoadNpmConfigOptions {
  /** Directory npm would run in; the project root is found upward from it. */
  cwd?: string;
  /** Project root, when already known (skips the upward search). */
  projectDir?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
  cli?: Record<string, string>;
  /** False in an untrusted workspace: the project's .npmrc is not read at all. */
  trustProjectConfig?: boolean;
}

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

// ---------------------------------------------------------------------------------------------------
// ini, as npm's `ini` package decodes it

/** Decodes one ini text. Keys inside `[sections]` are reported and skipped: npm's config never uses them. */
export function parseIni(text: string): { values: Record<string, IniValue>; errors: string[] } {
  const values: Record<string, IniValue> = Object.create(null);
  const errors: string[] = [];
  let section: string | undefined;
  for (const line of text.split(/[\r\n]+/)) {
    if (!line || /^\s*[;#]/.test(line)) continue;
    const m = /^\[([^\]]*)\]$|^([^=]+)(=(.*))?$/.exec(line);
    if (!m) {
      errors.push(`cannot parse line: ${line.trim().slice(0, 40)}`);
      continue;
    }
    if (m[1] !== undefined) {
      section = m[1];
      errors.push(`section [${section}] is not used by npm; its keys are ignored`);
      continue;
    }
    if (section !== undefined) continue;
    const rawKey = unquote(m[2]);
    const isArray = rawKey.length > 2 && rawKey.endsWith('[]');
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    if (key === '__proto__') continue;
    const raw = m[3] ? unquote(m[4]) : true;
    const value = raw === 'true' ? true : raw === 'false' ? false : raw === 'null' ? null : raw;
    const prev = values[key];
    if (isArray || Array.isArray(prev)) {
      // Like ini: `k[]` makes a list, and a later plain `k=` appends rather than resetting it.
      const list = Array.isArray(prev) ? prev : prev === undefined ? [] : [String(prev)];
      list.push(String(value));
      values[key] = list;
    } else {
      values[key] = value;
    }
  }
  return { values, errors };
}

function unquote(text: string | undefined): string {
  const val = (text ?? '').trim();
  const q = val[0];
  if (val.length > 1 && (q === '"' || q === "'") && val.endsWith(q)) {
    const inner = q === "'" ? val.slice(1, -1) : val;
    try {
      return String(JSON.parse(inner));
    } catch {
      return inner;
    }
  }
  // Unquoted: an unescaped `;` or `#` starts a comment; `\;` and `\#` are literal.
  let out = '';
  for (let i = 0; i < val.length; i++) {
    const c = val[i];
    if (c === ';' || c === '#') break;
    if (c === '\\' && i + 1 < val.length) {
      const n = val[++i];
      out += n === ';' || n === '#' || n === '\\' ? n : '\\' + n;
    } else {
      out += c;
    }
  }
  return out.trim();
}

/** `${VAR}` from env; `${VAR?}` is empty when unset; an unset `${VAR}` stays literal; `\${VAR}` escapes. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/(?<!\\)(\\*)\$\{([^${}?]+)(\?)?\}/g, (orig, esc: string, name: string, optional?: string) => {
    // An odd number of backslashes escapes the expression; pairs collapse to one each.
    if (esc.length % 2) return orig.slice((esc.length + 1) / 2);
    const value = env[name] ?? (optional ? '' : `\${${name}}`);
    return esc.slice(esc.length / 2) + value;
  });
}

// ---------------------------------------------------------------------------------------------------
// Loading

type Raw = Record<string, IniValue>;

/** Reads npm's config layers. Never throws for bad files; see `errors`. */
export function loadNpmConfig(opts: LoadNpmConfigOptions = {}): NpmConfig {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const cwd = resolve(opts.cwd ?? opts.projectDir ?? process.cwd());
  const sources: ConfigSource[] = [];
  const errors: ConfigError[] = [];
  const merged: Raw = Object.create(null);
  const envLayer = fromEnv(env);
  const cli = opts.cli ?? {};

  const readLayer = (layer: ConfigLayer, file: string) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') sources.push({ layer, path: file, status: 'missing' });
      else {
        sources.push({ layer, path: file, status: 'error' });
        errors.push({ layer, path: file, message: `cannot read ${file}: ${code ?? String(e)}` });
      }
      return;
    }
    const { values, errors: errs } = parseIni(text);
    for (const message of errs) errors.push({ layer, path: file, message });
    sources.push({ layer, path: file, status: 'loaded' });
    assign(merged, values, env);
  };
  // Later layers may not change where earlier ones live, except cli/env, which npm reads first.
  const early = (key: string): string | undefined => cli[key] ?? envLayer[key];
  const pathOf = (p: string) => expandPath(expandEnv(p, env), home, cwd);

  const prefix = pathOf(early('prefix') ?? env.PREFIX ?? defaultPrefix());
  readLayer('builtin', process.platform === 'win32' ? join(prefix, 'node_modules/npm/npmrc') : join(prefix, 'lib/node_modules/npm/npmrc'));
  readLayer('global', pathOf(early('globalconfig') ?? join(prefix, 'etc', 'npmrc')));
  readLayer('user', pathOf(early('userconfig') ?? join(home, '.npmrc')));
  const projectFile = join(opts.projectDir ? resolve(opts.projectDir) : localPrefix(cwd), '.npmrc');
  if (opts.trustProjectConfig === false) sources.push({ layer: 'project', path: projectFile, status: 'ignored' });
  else readLayer('project', projectFile);
  assign(merged, envLayer, env);
  sources.push({ layer: 'env', status: 'loaded' });
  assign(merged, cli, env);
  sources.push({ layer: 'cli', status: 'loaded' });

  return typed(merged, { env, home, cwd, errors, sources });
}

function defaultPrefix(): string {
  return process.platform === 'win32' ? dirname(process.execPath) : dirname(dirname(process.execPath));
}

/** npm's localPrefix: the nearest directory upward holding package.json or node_modules, else cwd. */
function localPrefix(cwd: string): string {
  const root = parsePath(cwd).root;
  for (let dir = cwd; dir !== root; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) || existsSync(join(dir, 'node_modules'))) return dir;
  }
  return cwd;
}

/** `npm_config_*`, case-insensitive, `_` -> `-` except a leading one and except in nerf-dart keys; empty is unset. */
function fromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(env)) {
    if (!/^npm_config_/i.test(k) || !v) continue;
    const key = k.slice('npm_config_'.length);
    out[key.startsWith('//') ? key : key.replace(/(?!^)_/g, '-').toLowerCase()] = v;
  }
  return out;
}

function assign(target: Raw, values: Record<string, IniValue>, env: NodeJS.ProcessEnv): void {
  for (const [k, v] of Object.entries(values)) {
    const value = typeof v === 'string' ? expandEnv(v, env) : Array.isArray(v) ? v.map((x) => expandEnv(x, env)) : v;
    target[expandEnv(k, env)] = value;
  }
}

function expandPath(p: string, home: string, cwd: string): string {
  return /^~[/\\]/.test(p) ? join(home, p.slice(2)) : resolve(cwd, p);
}

/** Registry URLs compare and nerf-dart with a trailing slash, as npm normalizes them. */
function normalizeRegistry(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

interface TypeCtx {
  env: NodeJS.ProcessEnv;
  home: string;
  cwd: string;
  errors: ConfigError[];
  sources: ConfigSource[];
}

function typed(raw: Raw, ctx: TypeCtx): NpmConfig {
  const str = (key: string): string | undefined => {
    const v = raw[key];
    if (Array.isArray(v)) return v[v.length - 1];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = raw[key];
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '') return true;
    if (v === 'false') return false;
    if (v !== undefined && v !== null) ctx.errors.push({ message: `${key}: expected true or false` }); // the value is not echoed: an expanded ${VAR} may be a secret
    return def;
  };
  const num = (key: string): number | undefined => {
    const v = str(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (Number.isFinite(n) && n >= 0) return n;
    ctx.errors.push({ message: `${key}: expected a number` });
    return undefined;
  };
  const url = (key: string): string | undefined => {
    const v = str(key);
    if (v === undefined) return undefined;
    // Only http(s): anything else cannot be fetched, and an opaque URL (`x:y`) has no nerf-dart.
    // The value is not echoed: after ${VAR} expansion it may hold a secret from the environment.
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      /* reported below */
    }
    if (u && (u.protocol === 'http:' || u.protocol === 'https:')) return u.toString();
    ctx.errors.push({ message: `${key}: not an http(s) URL (${v.length} characters${u ? ', another scheme' : ' that do not parse as a URL'})` });
    return undefined;
  };

  const registry = normalizeRegistry(url('registry') ?? DEFAULT_REGISTRY);
  const scopes: Record<string, string> = {};
  const credentials = new Map<string, Credential>();
  for (const [key, value] of Object.entries(raw)) {
    const scoped = /^(@[^/:]+):registry$/.exec(key);
    if (scoped) {
      const u = url(key);
      if (u) scopes[scoped[1]] = normalizeRegistry(u);
      continue;
    }
    const cred = /^(\/\/.+):(_authToken|_auth|username|_password)$/.exec(key);
    if (cred && typeof value === 'string' && value !== '') {
      const field = ({ _authToken: 'token', _auth: 'auth', username: 'username', _password: 'password' } as const)[
        cred[2] as '_authToken' | '_auth' | 'username' | '_password'
      ];
      const c = credentials.get(cred[1]) ?? {};
      c[field] = value;
      credentials.set(cred[1], c);
    }
  }
  // Legacy un-scoped credentials belong to the default registry only, and lose to a scoped entry there.
  const legacy: Credential = { token: str('_authToken'), auth: str('_auth'), username: str('username'), password: str('_password') };
  const defKey = nerfDart(registry);
  if (!usable(credentials.get(defKey) ?? {}) && usable(legacy)) {
    credentials.set(defKey, Object.fromEntries(Object.entries(legacy).filter(([, v]) => v !== undefined)));
  }

  // npm hands one proxy (https-proxy, else proxy) to its agent, which falls back to the environment by protocol.
  const lowerEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v) lowerEnv[k.toLowerCase()] = v;
  const configured = str('https-proxy') ?? str('proxy');
  const withScheme = (p: string | undefined) => (p && !p.includes('://') ? `http://${p}` : p);
  const proxy = {
    https: withScheme(configured ?? lowerEnv.https_proxy),
    http: withScheme(configured ?? lowerEnv.https_proxy ?? lowerEnv.http_proxy ?? lowerEnv.proxy),
  };
  const np = raw.noproxy;
  const noproxySrc = Array.isArray(np) ? np.join(',') : typeof np === 'string' && np ? np : (lowerEnv.no_proxy ?? '');
  const noproxy = noproxySrc
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  const ca: string[] = [];
  const caRaw = raw.ca;
  for (const c of Array.isArray(caRaw) ? caRaw : typeof caRaw === 'string' && caRaw ? [caRaw] : []) ca.push(c);
  const cafile = str('cafile');
  if (cafile) {
    const file = expandPath(cafile, ctx.home, ctx.cwd);
    try {
      // npm splits a bundle into single certificates; so do we, so each one is validated on its own.
      const text = readFileSync(file, 'utf8');
      ca.push(...(text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []));
    } catch (e) {
      ctx.errors.push({ path: file, message: `cannot read cafile ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
    }
  }

  const win = process.platform === 'win32';
  const cacheDefault = win && ctx.env.LOCALAPPDATA ? join(ctx.env.LOCALAPPDATA, 'npm-cache') : join(ctx.home, win ? 'npm-cache' : '.npm');
  const cache = str('cache');

  return {
    registry,
    scopes,
    credentials,
    proxy,
    noproxy,
    ca: ca.length ? ca : undefined,
    strictSsl: bool('strict-ssl', true),
    fetchTimeout: num('fetch-timeout'),
    fetchRetries: num('fetch-retries') ?? 2,
    fetchRetryMintimeout: num('fetch-retry-mintimeout') ?? 10_000,
    fetchRetryMaxtimeout: num('fetch-retry-maxtimeout') ?? 60_000,
    fetchRetryFactor: num('fetch-retry-factor') ?? 10,
    maxsockets: num('maxsockets'),
    legacyPeerDeps: bool('legacy-peer-deps', false),
    strictPeerDeps: bool('strict-peer-deps', false),
    tag: str('tag') ?? 'latest',
    cache: cache ? expandPath(cache, ctx.home, ctx.cwd) : cacheDefault,
    offline: bool('offline', false),
    preferOffline: bool('prefer-offline', false),
    preferOnline: bool('prefer-online', false),
    sources: ctx.sources,
    errors: ctx.errors,
  };
}

// ---------------------------------------------------------------------------------------------------
// Registries, credentials, proxies

/** The registry a package is fetched from: its scope's `@scope:registry`, else `registry`. */
export function registryFor(config: NpmConfig, packageName: string): string {
  if (packageName.startsWith('@')) {
    const scope = packageName.split('/')[0];
    if (config.scopes[scope]) return config.scopes[scope];
  }
  return config.registry;
}

/** npm's nerf-dart: `//host[:port]/dir/` of a URL, protocol, userinfo, query and last segment dropped. */
export function nerfDart(url: string): string {
  const u = new URL('.', url);
  return `//${u.host}${u.pathname}`;
}

function usable(c: Credential): boolean {
  return Boolean(c.token || c.auth || (c.username && c.password));
}

/**
 * The Authorization header for a request URL, as npm-registry-fetch computes it: walk up from
 * `//host[:port]/full/path` one segment (or one slash) at a time to `//host[:port]`, and use the first
 * key with a usable credential. The walk never leaves the URL's host and port, so a credential is never
 * sent anywhere but below the location it was keyed to.
 */
export function authFor(config: NpmConfig, url: string): string | undefined {
  // Asked once per request: most configs hold no credentials at all.
  if (!config.credentials.size) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  for (let key = `//${u.host}${u.pathname}`; key.length > 2; key = key.replace(/([^/]+|\/)$/, '')) {
    const c = config.credentials.get(key);
    if (!c || !usable(c)) continue;
    if (c.token) return `Bearer ${c.token}`;
    if (c.auth) return `Basic ${c.auth}`;
    const password = Buffer.from(c.password ?? '', 'base64').toString('utf8');
    return `Basic ${Buffer.from(`${c.username}:${password}`).toString('base64')}`;
  }
  return undefined;
}

/** The proxy URL for a request, or undefined when none applies or `noproxy` matches the host. */
export function proxyFor(config: NpmConfig, url: string): string | undefined {
  if (!config.proxy.https && !config.proxy.http) return undefined;
  const u = new URL(url);
  const proxy = u.protocol === 'https:' ? config.proxy.https : config.proxy.http;
  if (!proxy) return undefined;
  // Like @npmcli/agent: a noproxy entry matches the host when its dot-separated labels are a suffix of the host's.
  const host = u.hostname.split('.').filter(Boolean).reverse();
  const bypass = config.noproxy.some((entry) => {
    if (entry === '*') return true;
    const labels = entry.split('.').filter(Boolean).reverse();
    return labels.length > 0 && labels.every((l, i) => host[i] === l);
  });
  return bypass ? undefined : proxy;
}

/**
 * Strips secrets for logs: URL userinfo, Authorization values, npmrc credential assignments, npm tokens,
 * and, given a config, every credential value it holds verbatim.
 */
export function redact(text: string, config?: NpmConfig): string {
  let out = text
    .replace(/(\/\/)[^/\s:@]*(:[^/\s@]*)?@/g, '$1***@')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 ***')
    .replace(/(_authToken|_auth|_password)(\s*[=:]\s*)("?)[^\s"]+/g, '$1$2$3***')
    .replace(/\bnpm_[A-Za-z0-9]{36}\b/g, 'npm_***');
  for (const c of config?.credentials.values() ?? []) {
    for (const secret of [c.token, c.auth, c.password]) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}
