// Cooperative yielding. The engine's work arrives as promise continuations (a response parsed, a pick
// made, a node placed), and microtasks never let the event loop turn: with many of them ready at once
// the language server could not read an edit or answer a hover for hundreds of milliseconds. Long
// stretches call this between units of work: past 10 ms of the current slice it waits for the next
// turn of the loop. Waiters share that turn, and each checks the slice again when it resumes, so a
// crowd of them does not run as one long batch.
let since = performance.now();
let turn: Promise<void> | undefined;

function nextTurn(): Promise<void> {
  return (turn ??= new Promise((resume) =>
    setImmediate(() => {
      turn = undefined;
      since = performance.now();
      resume();
    }),
  ));
}

export function breathe(): Promise<void> | undefined {
  if (performance.now() - since < 10) return undefined;
  return (async () => {
    do await nextTurn();
    while (performance.now() - since >= 10);
  })();
}
