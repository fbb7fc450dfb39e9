// Cooperative yielding. The engine's work arrives as promise continuations (a response parsed, a pick
// made, a node placed), and microtasks never let the event loop turn: with many of them ready at once
// the language server could not read an edit or answer a hover for hundreds of milliseconds. Long
// stretches call this between units of work: past 10 ms of the current slice it waits for a later turn
// of the loop.
//
// Waiters resume in order, a batch per turn, never all at once: a resumed unit runs in the microtask
// drain after the turn's callback, so a check made when it resumes cannot see the units resumed beside
// it (when every waiter resumed together, a turn ran hundreds of parses and picks: 0.2-1.5 s blocks in a
// cold resolution). The batch doubles while turns come back within the slice and halves when not.
const SLICE_MS = 10;
const MAX_BATCH = 64;

let since = performance.now();
let batch = 1;
let scheduled = false;
const waiting: (() => void)[] = [];

function turn(): void {
  const now = performance.now();
  // The last batch's units, plus whatever else the loop ran since: a conservative measure.
  const took = now - since;
  batch = took > SLICE_MS ? Math.max(1, batch >> 1) : took < SLICE_MS / 2 ? Math.min(MAX_BATCH, batch * 2) : batch;
  since = now;
  scheduled = false;
  for (const resume of waiting.splice(0, batch)) resume();
  if (waiting.length) schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(turn);
}

export function breathe(): Promise<void> | undefined {
  if (performance.now() - since < SLICE_MS) return undefined;
  return new Promise((resume) => {
    waiting.push(resume);
    schedule();
  });
}
