// The adaptive request limit: slow start, additive increase, multiplicative decrease on congestion
// signals (at most once per round trip), bounded by min and max.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveLimit } from '../../server/src/engine/adaptiveLimit';

test('slow start grows by one per response until the first congestion', () => {
  const l = new AdaptiveLimit(4, 256, 16, () => 0);
  for (let i = 0; i < 16; i++) l.success(20);
  assert.equal(l.limit, 32);
  assert.equal(new AdaptiveLimit().limit, 32);
});

test('congestion halves the limit once per round trip, then growth is additive', () => {
  let t = 0;
  const l = new AdaptiveLimit(4, 256, 64, () => t);
  l.success(20);
  t = 1000;
  l.congestion();
  assert.equal(l.limit, 32);
  l.congestion(); // the same burst, within one round trip: no second cut
  assert.equal(l.limit, 32);
  for (let i = 0; i < 32; i++) l.success(20);
  assert.equal(l.limit, 33); // +1 per limit's worth of responses
});

test('slow responses do not shrink the limit (a busy event loop is not congestion); bounds hold', () => {
  let t = 0;
  const l = new AdaptiveLimit(4, 40, 16, () => t);
  for (let i = 0; i < 100; i++) l.success(10);
  assert.equal(l.limit, 40);
  t = 100;
  l.success(500);
  assert.equal(l.limit, 40);
  l.congestion();
  assert.equal(l.limit, 20);
  for (let k = 0; k < 10; k++) {
    t += 100;
    l.congestion();
  }
  assert.equal(l.limit, 4);
});
