// Parsers that only some runs need (YAML and yarn lockfiles, pnpm workspaces, JSON error positions,
// semver: a remembered result parses no range), loaded on first use: together they took ~13 ms to
// initialise, a sixth of a warm `citadel resolve` of an npm project that needs none of them. require()
// is what keeps them lazy: esbuild bundles each as a module initialised when first required, where an
// import would initialise it at startup.
/* eslint-disable @typescript-eslint/no-require-imports */
function once<T>(load: () => T): () => T {
  let module: T | undefined;
  return () => (module ??= load());
}

export const yaml = once(() => require('yaml') as typeof import('yaml'));
export const yarnParsers = once(() => require('@yarnpkg/parsers') as typeof import('@yarnpkg/parsers'));
export const yarnLockfile = once(() => require('@yarnpkg/lockfile') as typeof import('@yarnpkg/lockfile'));
export const semver = once(() => require('semver') as typeof import('semver'));
export const jsonc = once(() => require('jsonc-parser') as typeof import('jsonc-parser'));
