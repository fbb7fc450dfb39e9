// @yarnpkg/lockfile ships no types; this is the part of yarn 1's parser the reader uses.
declare module '@yarnpkg/lockfile' {
  export function parse(text: string, file?: string): { type: 'success' | 'merge' | 'conflict'; object: Record<string, unknown> };
}
