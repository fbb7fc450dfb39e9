// Cooperative yielding. The engine's work arrives as promise continuations (a response parsed, a pick
// made, a node placed), and microtasks never let the event loop turn: with many of them ready at once
// the language server could not read an edit or answer a hover for hundreds of milliseconds. Long
// stretches call this between units of work: past the current slice (5 ms; 1 in the language server,
// setBreatheSlice) it waits for a later turn of the loop. A turn holds more than its slice (the answers
// the poll brings, a collection, a timer), and with 10 ms slices a request from the editor during a
// cold resolution waited 57-102 ms at worst (median 76 over 8 bench-editor runs); with 5 ms, 48-83
// (median 62), and the runs' 95th percentiles had a median of 45 against 54 ms; cold resolutions no
// slower (CLI, 6 alternating runs: 1.26 against 1.30 s).
//
// Waiters resume in order, a batch per turn, never all at once: a resumed unit runs in the microtask
// drain after the turn's callback, so a check made when it resumes cannot see the units resumed beside
// it (when every waiter resumed together, a turn ran hundreds of parses and picks: 0.2-1.5 s blocks in a
// cold resolution). The batch is what fits the slice at the last turn's cost per unit. That cost counts
// whatever else the loop ran since, idle time included, so it errs small: the first turn after a pause
// resumes one unit. (A batch that only doubled and halved kept its 64 from the small units at the end
// of one resolution into the start of the next, where units decode whole entries: 60-80 ms turns.)
const MAX_BATCH = 64;
let sliceMs = 5;

/**
 * The slice for this process. The language server takes 1 ms. Against 5 ms (5 paired runs), 2 ms gave
 * worst waits of 47-77 ms (median 51) against 48-76 (median 72), 95th percentiles 39 against 47 ms at
 * the median; against 2 ms (5 more), 1 ms gave 32-64 (median 46) against 41-66 (median 57), 95th
 * percentiles 35 against 37; its cold resolutions no slower either time. The CLI keeps 5 ms, since 2
 * cost it ~4% of a cold run (6 alternating runs).
 */
export function setBreatheSlice(ms: number): void {
  sliceMs = ms;
}

let since = performance.now();
let batch = 1;
let resumed = 0;
let scheduled = false;
const waiting: (() => void)[] = [];

function turn(): void {
  const now = performance.now();
  const took = now - since;
  batch = resumed === 0 ? 1 : Math.max(1, Math.min(MAX_BATCH, Math.floor((sliceMs * resumed) / Math.max(took, 0.001))));
  since = now;
  scheduled = false;
  const ready = waiting.splice(0, batch);
  resumed = ready.length;
  for (const resume of ready) resume();
  if (waiting.length) schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(turn);
}

export function breathe(): Promise<void> | undefined {
  if (performance.now() - since < sliceMs) return undefined;
  return new Promise((resume) => {
    waiting.push(resume);
    schedule();
  });
}
