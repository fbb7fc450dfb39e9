// extensionTestsPath entry: VS Code calls run() in the extension host and exits with its outcome.
import { runTests } from './runner';
import { tests } from './extension';

export function run(): Promise<void> {
  return runTests(tests);
}
