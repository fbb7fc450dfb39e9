// tree.ts's localeCompare decides most comparisons itself and leaves the rest to Intl.Collator('en'):
// its answers must be the collator's, for names and locations and for anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { localeCompare } from '../../server/src/engine/tree';

const collator = new Intl.Collator('en').compare;

function agree(a: string, b: string): void {
  assert.equal(Math.sign(localeCompare(a, b)), Math.sign(collator(a, b)), `${JSON.stringify(a)} against ${JSON.stringify(b)}`);
}

test('agrees with Intl.Collator("en") on crafted pairs: punctuation, digits, case, accents, prefixes', () => {
  const words = ['', 'a', 'A', 'ab', 'aB', 'a-b', 'a_b', 'a.b', 'a/b', 'a@b', 'a~b', 'a0', 'a9', 'ab-', 'ab_', 'ab\u0301', 'abé', 'abe\u0301', 'ab\u0000', 'ab ', 'ab\t', 'ab+', 'ab!', 'ab$', 'abZ', 'abz', '@types/node', '@types/node-fetch', '@types-x', 'node_modules/a', 'node_modules/@b/c', 'node_modules/a/node_modules/b', 'JSONStream', 'jsonstream', 'json-stream', 'ñ', 'n', 'ß', 'ss', '日本', '\uD83D\uDE00'];
  for (const a of words) for (const b of words) agree(a, b);
});

test('agrees with Intl.Collator("en") on 200,000 random pairs from a mixed alphabet', () => {
  const alphabet = [...'abcxyzABXZ0189-_.@/~ +!é\u0301ñß\u00A0日'];
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const word = () => Array.from({ length: next(7) }, () => alphabet[next(alphabet.length)]).join('');
  for (let i = 0; i < 200_000; i++) {
    const a = word();
    // Half the pairs share a prefix, where the first difference comes late.
    const b = next(2) ? a.slice(0, next(a.length + 1)) + word() : word();
    agree(a, b);
  }
});

test("agrees with Intl.Collator('en') on every pair of the recorded registry's package names, as locations", () => {
  const names = readdirSync('test/fixtures/registry')
    .filter((f) => f.endsWith('.json.br'))
    .map((f) => f.slice(0, -'.json.br'.length).replace('+', '/'))
    .slice(0, 700);
  assert.ok(names.length >= 700);
  const locations = names.map((n, i) => (i % 3 ? `node_modules/${n}` : `node_modules/${names[(i * 7) % names.length]}/node_modules/${n}`));
  for (const a of locations) for (const b of locations) agree(a, b);
});
