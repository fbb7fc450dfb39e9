// Cooperative yielding. The engine's work arrives as promise continuations (a response parsed, a pick
// made, a node placed), and microtasks never let the event loop turn: with many of them ready at once
// the language server could not read an edit or answer a hover for hundreds of milliseconds. Long
// stretches call this between units of work; it resumes on the next turn once 10 ms have gone by.
let since = performance.now();

export function breathe(): Promise<void> | undefined {
  if (performance.now() - since < 10) return undefined;
  return new Promise((resume) =>
    setImmediate(() => {
      since = performance.now();
      resume();
    }),
  );
}
