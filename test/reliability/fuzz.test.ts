// The seed set of the fuzzer (fuzz.ts) in `npm test`: 300 mutated documents per format from a fixed
// seed, so a failure here replays exactly. `npm run test:fuzz` runs 10,000+ per format from a new seed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FORMATS, fuzz } from './fuzz';
import { cleanScratch, scratch } from './helpers';

after(cleanScratch);

for (const format of FORMATS) {
  test(`fuzz ${format}: 300 mutations, no exception, no hang, every problem with file and position`, async () => {
    const report = await fuzz({ casesPerFormat: 300, seed: 20261127, dir: join(scratch('citadel-fuzz-'), 'p'), formats: [format], maxCaseMs: 2000 });
    const shown = report.failures.slice(0, 3).map((f) => `case ${f.case} (seed ${f.seed}): ${f.error}\n--- input ---\n${f.input.slice(0, 600)}`);
    assert.deepEqual(shown, [], `${report.failures.length} failures`);
    // Mutations must actually produce bad input, or the test tests nothing.
    assert.ok(report.problems[format] > 30, `only ${report.problems[format]} of 300 cases had problems`);
  });
}
