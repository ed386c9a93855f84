/**
 * Epoch word and migration cursor encodings (lib/epoch.ts).
 */
import test from 'ava';
import fc from 'fast-check';
import {
  CURSOR_CHUNK_MASK,
  CURSOR_TAG_MASK,
  CURSOR_TAG_SHIFT,
  GEN_SHIFT,
  MIGRATION_CHUNK_BUCKETS,
  PHASE_ALLOCATING,
  PHASE_COPYING,
  PHASE_MASK,
  PHASE_STABLE,
  cursorChunk,
  cursorTag,
  cursorWord,
  genOf,
  makeEpoch,
  phaseOf,
} from '../../lib/epoch.js';
import { MAX_BUCKETS } from '../../lib/layout.js';

const PHASES = [PHASE_STABLE, PHASE_ALLOCATING, PHASE_COPYING] as const;
/** Generations the 30 generation bits can hold. */
const MAX_GEN = 2 ** (32 - GEN_SHIFT) - 1;
const isInt32 = (x: number): boolean => Number.isInteger(x) && (x | 0) === x;

test('phases are distinct and fit the phase mask; STABLE is 0 so a zeroed header is STABLE(0)', (t) => {
  t.is(new Set(PHASES).size, 3);
  for (const p of PHASES) t.is(p & ~PHASE_MASK, 0);
  t.is(PHASE_STABLE, 0);
  t.is(makeEpoch(0, PHASE_STABLE), 0);
  t.is(PHASE_MASK, (1 << GEN_SHIFT) - 1);
});

test('makeEpoch / genOf / phaseOf round-trip for every generation, large ones included', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_GEN }), fc.constantFrom(...PHASES), (gen, phase) => {
      const epoch = makeEpoch(gen, phase);
      return isInt32(epoch) && genOf(epoch) === gen && phaseOf(epoch) === phase;
    }),
    { numRuns: 2000 },
  );
  for (const gen of [0, 1, 2 ** 28, 2 ** 29 - 1, 2 ** 29, 2 ** 30 - 2, MAX_GEN]) {
    for (const phase of PHASES) {
      const epoch = makeEpoch(gen, phase);
      t.true(isInt32(epoch), `makeEpoch(${gen}, ${phase}) = ${epoch}`);
      t.is(genOf(epoch), gen);
      t.is(phaseOf(epoch), phase);
    }
  }
  // Generations >= 2^29 use the sign bit; genOf must still read them as non-negative.
  t.true(makeEpoch(2 ** 29, PHASE_STABLE) < 0);
  t.is(genOf(makeEpoch(2 ** 29, PHASE_COPYING)), 2 ** 29);
});

test('epochs of different generations or phases differ (a CAS on the epoch cannot confuse them)', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: MAX_GEN }),
      fc.constantFrom(...PHASES),
      fc.integer({ min: 0, max: MAX_GEN }),
      fc.constantFrom(...PHASES),
      (g1, p1, g2, p2) => (makeEpoch(g1, p1) === makeEpoch(g2, p2)) === (g1 === g2 && p1 === p2),
    ),
  );
  t.not(makeEpoch(5, PHASE_STABLE), makeEpoch(5, PHASE_COPYING));
});

test('cursorWord / cursorTag / cursorChunk round-trip and the word stays positive', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_GEN }), fc.integer({ min: 0, max: CURSOR_CHUNK_MASK }), (gen, chunk) => {
      const word = cursorWord(gen, chunk);
      return (
        isInt32(word) &&
        word >= 0 &&
        cursorTag(word) === (gen & CURSOR_TAG_MASK) &&
        cursorChunk(word) === chunk
      );
    }),
    { numRuns: 2000 },
  );
  const top = cursorWord(CURSOR_TAG_MASK, CURSOR_CHUNK_MASK);
  t.is(top, 2 ** 31 - 1);
  t.is(cursorTag(top), CURSOR_TAG_MASK);
  t.is(cursorChunk(top), CURSOR_CHUNK_MASK);
});

test('the cursor of consecutive generations differs (a sleeping helper cannot claim the next migration)', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_GEN - 1 }), fc.integer({ min: 0, max: CURSOR_CHUNK_MASK }), (gen, chunk) =>
      cursorTag(cursorWord(gen, chunk)) !== cursorTag(cursorWord(gen + 1, 0)),
    ),
  );
  t.is(cursorTag(cursorWord(CURSOR_TAG_MASK + 1, 0)), 0, 'the tag wraps');
});

test('chunk bits cover the largest table: MIGRATION_CHUNK_BUCKETS * 2^CURSOR_TAG_SHIFT >= MAX_BUCKETS', (t) => {
  t.true(MIGRATION_CHUNK_BUCKETS * 2 ** CURSOR_TAG_SHIFT >= MAX_BUCKETS);
  // Helpers increment the cursor up to `chunks` (one past the last chunk); that must not carry into the tag.
  const chunks = Math.ceil(MAX_BUCKETS / MIGRATION_CHUNK_BUCKETS);
  t.true(chunks <= CURSOR_CHUNK_MASK);
  const last = cursorWord(7, chunks - 1);
  t.is(cursorTag(last + 1), 7);
  t.is(cursorChunk(last + 1), chunks);
  t.is(CURSOR_CHUNK_MASK, 2 ** CURSOR_TAG_SHIFT - 1);
  // Tag and chunk bits together fit in 31 bits (positive int32).
  t.true(Math.log2(CURSOR_TAG_MASK + 1) + CURSOR_TAG_SHIFT <= 31);
});
