/**
 * Constants written out as literals on hot paths (lib/): in V8 11.3 optimized
 * code a module-level `const`, imported or not, is loaded from its context on
 * every use, so the int32 `get` and its hash (fmix32) write the constants they use
 * as literals (docs/design.md §4 has the timings): fmix32's multipliers and
 * shifts, and READ_MISS, the miss answer of the bucket probe `get` calls
 * (lib/wasm/bucket-read-path.ts, read-bucket.wat getI32). Each such literal is marked
 * `/* NAME *\/ literal`; this test finds every mark in lib/ and checks that the
 * literal is the value of the exported constant NAME, so a literal cannot drift
 * from the constant it stands for.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FMIX_C1, FMIX_C2, FMIX_SHIFT_1, FMIX_SHIFT_2, FMIX_SHIFT_3 } from '../../lib/hashers/murmur3.js';
import { READ_MISS } from '../../lib/wasm/bucket-read-path.js';
import { listFiles, repoRoot } from '../package/support.js';

/** Every constant a hot path may inline, by the name its mark uses. */
const NAMED: Readonly<Record<string, number>> = { FMIX_C1, FMIX_C2, FMIX_SHIFT_1, FMIX_SHIFT_2, FMIX_SHIFT_3, READ_MISS };

/** The marks expected, per file: the test fails if one disappears as well as if one is wrong. */
const EXPECTED_MARKS: Readonly<Record<string, number>> = {
  'lib/hashers/murmur3.ts': 5, // fmix32: two multipliers, three shifts
  'lib/shared-flat-map.ts': 2, // get: the two compares with READ_MISS
};

const MARK = /\/\* ([A-Z][A-Z0-9_]*) \*\/ (0x[0-9a-fA-F]+|\d+)/g;

test('every /* NAME */ literal in lib/ is the value of the constant NAME, and the expected marks are there', (t) => {
  const found: Record<string, number> = {};
  for (const file of listFiles(join(repoRoot, 'lib')).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(file, 'utf8');
    const where = relative(repoRoot, file).split('\\').join('/');
    for (const match of source.matchAll(MARK)) {
      const [text, name, literal] = match as unknown as [string, string, string];
      const value = NAMED[name];
      if (value === undefined) {
        t.fail(`${where}: "${text}" names ${name}, which this test does not know (add it to NAMED)`);
        continue;
      }
      t.is(Number(literal), value, `${where}: ${text}`);
      found[where] = (found[where] ?? 0) + 1;
    }
  }
  t.deepEqual(found, EXPECTED_MARKS);
});
