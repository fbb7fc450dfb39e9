// Dependency spec parsing: the subset of npm-package-arg that decides how an edge is resolved.
import { semver } from './lazy';

export type SpecType =
  | 'range'
  | 'version'
  | 'tag'
  | 'alias'
  | 'git'
  | 'file'
  | 'directory'
  | 'remote'
  | 'workspace'
  | 'invalid';

export interface Spec {
  raw: string;
  type: SpecType;
  /** Name the package is installed under (the alias name for `npm:` aliases). */
  name: string;
  /** Registry package name to fetch (the aliased package for `npm:` aliases). */
  fetchName: string;
  /** For registry specs: how the registry part is matched. */
  registryType?: 'range' | 'version' | 'tag';
  /** Range, exact version or tag; `''` normalised to `*`. */
  fetchSpec: string;
  /** Why an invalid spec is invalid. */
  reason?: string;
  /** For registry specs: identifies what is picked (fetch name, kind and range), for memoization. */
  key?: string;
}

// npm's name rules (validate-npm-package-name, the parts that matter for fetching safely).
const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9._~-][a-z0-9._~-]*$/i;
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 214 && NAME.test(name) && !name.startsWith('.') && !name.startsWith('_');
}

const GIT = /^(?:git\+|git:\/\/|github:|gitlab:|bitbucket:|gist:)/;
const SHORTHAND_GIT = /^[^@\s/:.][^\s/:]*\/[^\s/:@]+(?:#.*)?$/;
const PATH = /^(?:file:|\.{1,2}(?:\/|$)|\/|~\/)/;
const LOOSE_VERSION = /^[\s=v]*\d+\.\d+\.\d+/;

// Specs repeat across a tree (every `^4.17.21` of lodash); parsing runs semver's regexes, so keep them.
const parsed = new Map<string, Map<string, Spec>>();
let parsedCount = 0;

export function parseSpec(name: string, raw: string): Spec {
  let byRaw = parsed.get(name);
  if (!byRaw) parsed.set(name, (byRaw = new Map()));
  let s = byRaw.get(raw);
  if (!s) {
    if (++parsedCount > 100_000) {
      parsed.clear();
      parsedCount = 0;
    }
    s = parse(name, raw);
    if (s.registryType) s.key = `${s.fetchName}\0${s.registryType}\0${s.fetchSpec}`;
    byRaw.set(raw, (s = Object.freeze(s)));
  }
  return s;
}

function parse(name: string, raw: string): Spec {
  const spec = raw.trim();
  // Every spec has the same fields in the same order: the resolver reads them on hot paths.
  const base: Spec = { raw, type: 'invalid', name, fetchName: name, registryType: undefined, fetchSpec: spec, reason: undefined, key: undefined };
  if (!isValidName(name)) return { ...base, type: 'invalid', reason: `"${name}" is not a valid package name` };
  if (spec.startsWith('npm:')) {
    const sub = spec.slice(4);
    const at = sub.indexOf('@', 1);
    const realName = at === -1 ? sub : sub.slice(0, at);
    const inner = parse(realName, at === -1 ? '' : sub.slice(at + 1));
    if (inner.type === 'invalid') return { ...base, type: 'invalid', reason: inner.reason };
    if (inner.type === 'alias') return { ...base, type: 'invalid', reason: 'nested npm: aliases are not supported (npm refuses them too)' };
    if (inner.registryType === undefined) {
      return { ...base, type: 'invalid', reason: 'an npm: alias must name a registry package' };
    }
    return { ...base, type: 'alias', fetchName: realName, registryType: inner.registryType, fetchSpec: inner.fetchSpec };
  }
  if (spec.startsWith('workspace:')) return { ...base, type: 'workspace' };
  if (spec.startsWith('link:')) return { ...base, type: 'directory' };
  if (PATH.test(spec)) return { ...base, type: spec.endsWith('.tgz') || spec.endsWith('.tar.gz') ? 'file' : 'directory' };
  if (GIT.test(spec) || SHORTHAND_GIT.test(spec)) return { ...base, type: 'git' };
  if (/^https?:\/\//i.test(spec)) return { ...base, type: /\.git(#.*)?$/.test(spec) ? 'git' : 'remote' };
  // Fast paths for the common shapes; everything else goes through semver.
  if (/^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/.test(spec)) return { ...base, type: 'version', registryType: 'version', fetchSpec: spec };
  if (/^[\^~](0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/.test(spec)) return { ...base, type: 'range', registryType: 'range' };
  // semver.valid throws and catches internally on a non-version, and the stack capture costs more
  // than the parse: only full x.y.z shapes can be versions.
  const version = LOOSE_VERSION.test(spec) ? semver().valid(spec, { loose: true }) : null;
  if (version) return { ...base, type: 'version', registryType: 'version', fetchSpec: version };
  if (spec === '' || semver().validRange(spec, { loose: true }) !== null) {
    return { ...base, type: 'range', registryType: 'range', fetchSpec: spec === '' ? '*' : spec };
  }
  if (isTagName(spec)) return { ...base, type: 'tag', registryType: 'tag' };
  return { ...base, type: 'invalid', reason: `"${raw}" is not a valid version, range or tag` };
}

/** npm-package-arg's tag rule (the spec is URL-safe as is); a malformed string (a lone surrogate) is not a tag. */
function isTagName(spec: string): boolean {
  try {
    return encodeURIComponent(spec) === spec;
  } catch {
    return false;
  }
}

/** True when the edge is fetched from a registry (possibly through an alias). */
export function isRegistrySpec(spec: Spec): boolean {
  return spec.registryType !== undefined;
}
