// Imported first by extension.ts, so the bundle evaluates this before its dependencies: the start of
// the client's load time, which activation reports.
export const bundleEvaluationStarted = performance.now();
