// npm `overrides` (arborist's override-set.js): rules keyed `name` or `name@range`, a string value or
// an object of nested rules (`"."` for the key itself), `$name` referring to the root's own spec.
// An edge whose name matches a rule in scope, and whose range intersects the rule's key range, is
// resolved with the rule's value instead of its own spec.
import { parseRange, satisfies } from './semverCache';
import { parseSpec } from './spec';
import type { DepMap } from './types';

export class OverrideSet {
  readonly children = new Map<string, OverrideSet>();
  readonly name?: string;
  readonly key?: string;
  readonly keySpec?: string;
  readonly value?: string;
  /** On the root set: the root package's dependency maps, for `$name` values. */
  rootDeps: DepMap[] = [];

  constructor(
    overrides: unknown,
    readonly parent?: OverrideSet,
    key?: string,
  ) {
    const rules: Record<string, unknown> =
      typeof overrides === 'string' ? { '.': overrides } : overrides && typeof overrides === 'object' ? { ...(overrides as Record<string, unknown>) } : {};
    if (rules['.'] === '') rules['.'] = '*';
    if (parent && key !== undefined) {
      const at = key.indexOf('@', 1);
      this.name = at === -1 ? key : key.slice(0, at);
      this.key = key;
      this.keySpec = at === -1 ? '*' : key.slice(at + 1) || '*';
      this.value = typeof rules['.'] === 'string' ? (rules['.'] as string) : this.keySpec;
    }
    for (const [k, v] of Object.entries(rules)) if (k !== '.') this.children.set(k, new OverrideSet(v, this, k));
  }

  /** Rules in scope here: this set's children, then each ancestor's, the nearest winning. */
  get ruleset(): Map<string, OverrideSet> {
    const rules = new Map<string, OverrideSet>();
    const add = (o: OverrideSet): void => {
      for (const kid of o.children.values()) if (!rules.has(kid.key!)) rules.set(kid.key!, kid);
      if (o.parent && !rules.has(o.key!)) rules.set(o.key!, o);
      if (o.parent) add(o.parent);
    };
    add(this);
    return rules;
  }

  /**
   * The set a node reached by edges under `a` and `b` takes (override-set.js findSpecificOverrideSet):
   * the more specific when one is inside the other, else their nearest common ancestor, or undefined
   * when their rules for some package cannot both hold (the node keeps the set it has).
   */
  static specific(a: OverrideSet, b: OverrideSet): OverrideSet | undefined {
    for (let o: OverrideSet | undefined = b; o; o = o.parent) if (o === a) return b;
    for (let o: OverrideSet | undefined = a; o; o = o.parent) if (o === b) return a;
    const rulesB = b.ruleset;
    for (const [key, ruleA] of a.ruleset) {
      const ruleB = rulesB.get(key);
      if (!ruleB || ruleB === ruleA || !ruleA.value || !ruleB.value || ruleA.value.startsWith('$') || ruleB.value.startsWith('$')) continue;
      const x = parseSpec(ruleA.name!, ruleA.value);
      const y = parseSpec(ruleB.name!, ruleB.value);
      const rx = x.registryType === 'range' || x.registryType === 'version' ? parseRange(x.fetchSpec) : null;
      const ry = y.registryType === 'range' || y.registryType === 'version' ? parseRange(y.fetchSpec) : null;
      if (rx && ry && !rx.intersects(ry)) return undefined;
    }
    for (let o: OverrideSet | undefined = b; o; o = o.parent) for (let p: OverrideSet | undefined = a; p; p = p.parent) if (o === p) return o;
    return undefined;
  }

  get root(): OverrideSet {
    return this.parent ? this.parent.root : this;
  }

  /** The rule an edge `name@rawSpec` falls under, or this set when none applies. */
  edgeRule(name: string, rawSpec: string): OverrideSet {
    for (const rule of this.ruleset.values()) {
      if (rule.name !== name) continue;
      if (rule.keySpec === '*') return rule;
      const spec = parseSpec(name, rawSpec);
      if (spec.registryType === 'range' || spec.registryType === 'version') {
        const a = parseRange(spec.fetchSpec);
        const b = parseRange(rule.keySpec!);
        if (a && b && a.intersects(b)) return rule;
        continue;
      }
      return rule;
    }
    return this;
  }

  /** The spec an edge resolves with under this rule (a `$name` value reads the root's own spec). */
  overrideFor(name: string): string | undefined {
    if (!this.value || this.value === '*' || this.name !== name) return undefined;
    if (!this.value.startsWith('$')) return this.value;
    const ref = this.value.slice(1);
    for (const deps of this.root.rootDeps) if (deps?.[ref]) return deps[ref];
    return undefined;
  }
}

/**
 * An edge under an override accepts a node that satisfies the override, or one that satisfies its
 * own spec but not the override's key range (edge.js satisfiedBy).
 */
export function overriddenAccepts(version: string, rule: OverrideSet, overrideSpec: string, rawRange: string): boolean {
  if (satisfies(version, overrideSpec)) return true;
  return satisfies(version, rawRange) && !satisfies(version, rule.keySpec ?? '*');
}

type Rules = Record<string, unknown>;

/** Nests a rule path (outermost first) into npm's overrides shape. */
function nest(rules: Rules, path: string[], value: string): void {
  let level = rules;
  for (const key of path.slice(0, -1)) {
    const next = level[key];
    level = (level[key] = typeof next === 'object' && next !== null ? next : typeof next === 'string' ? { '.': next } : {}) as Rules;
  }
  const last = path[path.length - 1];
  const existing = level[last];
  if (typeof existing === 'object' && existing !== null) (existing as Rules)['.'] = value;
  else level[last] = value;
}

/**
 * yarn `resolutions` as npm overrides: `pkg` and `**\/pkg` apply everywhere, `parent/pkg` and
 * `parent/**\/pkg` below `parent` (npm's nested rules cover the whole subtree, a superset of yarn's
 * direct-child form). Scoped names count as one segment.
 */
export function overridesFromYarn(resolutions: unknown): Rules {
  const rules: Rules = {};
  if (!resolutions || typeof resolutions !== 'object') return rules;
  for (const [key, value] of Object.entries(resolutions as Rules)) {
    if (typeof value !== 'string') continue;
    const segments: string[] = [];
    const parts = key.split('/');
    for (let i = 0; i < parts.length; i++) segments.push(parts[i].startsWith('@') && i + 1 < parts.length ? `${parts[i]}/${parts[++i]}` : parts[i]);
    const path = segments.filter((s) => s !== '**' && s !== '');
    if (path.length) nest(rules, path, value.replace(/^npm:(?=[\d^~<>=*])/, ''));
  }
  return rules;
}

/** pnpm `overrides` as npm overrides: `foo`, `foo@range` and `parent>foo` (pnpm's "-" removal is not modelled). */
export function overridesFromPnpm(overrides: unknown): Rules {
  const rules: Rules = {};
  if (!overrides || typeof overrides !== 'object') return rules;
  for (const [key, value] of Object.entries(overrides as Rules)) {
    if (typeof value !== 'string' || value === '-') continue;
    nest(rules, key.split('>').map((s) => s.trim()).filter(Boolean), value);
  }
  return rules;
}
