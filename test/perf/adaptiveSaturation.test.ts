// The adaptive request limit holds while the event loop is saturated: responses then wait for the CPU,
// so more requests in flight cannot finish sooner (the concurrency sweep of perf:benchmark measures it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveLimit, eventLoopSaturation } from '../../server/src/engine/adaptiveLimit';

test('a saturated loop holds the limit; congestion still halves it; growth resumes when the loop has room', () => {
  let busy = true;
  let t = 0;
  const l = new AdaptiveLimit(4, 256, 32, () => t, () => busy);
  for (let i = 0; i < 50; i++) l.success(5);
  assert.equal(l.limit, 32);
  t = 100;
  l.congestion();
  assert.equal(l.limit, 16);
  busy = false;
  for (let i = 0; i < 20; i++) l.success(5);
  assert.equal(l.limit, 17, 'after a congestion, additive: about one per limit of responses');
});

test('event-loop saturation: a window spent in one synchronous task reads as saturated', async () => {
  // Utilization is measured from the loop's first turn; before it, Node reports none.
  await new Promise((ok) => setImmediate(ok));
  const saturated = eventLoopSaturation(0.9, 50);
  assert.equal(saturated(), false, 'no full window measured yet');
  const end = performance.now() + 80;
  while (performance.now() < end) {
    // Occupies the event loop for the whole window.
  }
  assert.equal(saturated(), true);
});
