// A tiny sequential test runner for the extension host (no mocha here). Each result is one console
// line, which VS Code forwards to the page's codeAutomationLog; scripts/vscode-e2e.mjs reads the
// RESULT_PREFIX lines to count and print the closing summary.

export const RESULT_PREFIX = 'citadel-vscode-test';

export interface TestCase {
  name: string;
  fn: () => Promise<void>;
}

export async function runTests(tests: readonly TestCase[]): Promise<void> {
  let failed = 0;
  for (const { name, fn } of tests) {
    const started = Date.now();
    try {
      await fn();
      console.log(`${RESULT_PREFIX} pass ${JSON.stringify({ name, ms: Date.now() - started })}`);
    } catch (error) {
      failed++;
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.log(`${RESULT_PREFIX} fail ${JSON.stringify({ name, ms: Date.now() - started, error: detail })}`);
    }
  }
  console.log(`${RESULT_PREFIX} done ${JSON.stringify({ passed: tests.length - failed, failed })}`);
  // VS Code exits with code 1 when run() rejects.
  if (failed > 0) throw new Error(`${failed} of ${tests.length} tests failed`);
}
