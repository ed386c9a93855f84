/**
 * Seq word encoding (lib/seqlock.ts): lock bit, state bits, version, wrap.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  EMPTY,
  FULL,
  LOCKED,
  ORDERED_PLAIN_LOADS,
  STATE_MASK,
  STATE_SHIFT,
  TOMBSTONE,
  VERSION_MASK,
  VERSION_ONE,
  loadWord,
  locked,
  released,
  stateName,
  storeWord,
} from '../../lib/seqlock.js';

const STATES = [EMPTY, FULL, TOMBSTONE] as const;
/** Bits of the version counter (32 - lock bit - 2 state bits). */
const VERSION_BITS = 29;
const versionOf = (seq: number): number => seq >>> 3;
const isInt32 = (x: number): boolean => Number.isInteger(x) && (x | 0) === x;

/** An unlocked seq word: any int32 with the lock bit clear and a valid state. */
const unlockedSeq = fc
  .tuple(fc.integer({ min: 0, max: 2 ** VERSION_BITS - 1 }), fc.constantFrom(...STATES))
  .map(([version, state]) => ((version * VERSION_ONE) | state) | 0);

test('constants: lock bit, state bits and version bits are disjoint and cover the word', (t) => {
  t.is(LOCKED & STATE_MASK, 0);
  t.is(VERSION_MASK & (STATE_MASK | LOCKED), 0);
  t.is((VERSION_MASK | STATE_MASK | LOCKED) | 0, -1);
  t.is(VERSION_ONE, (STATE_MASK | LOCKED) + 1);
  t.is(STATE_SHIFT, 1);
  t.is(new Set(STATES).size, 3);
  for (const s of STATES) t.is(s & ~STATE_MASK, 0);
  t.is(EMPTY, 0, 'a zero-filled table must read as all EMPTY');
});

test('locked() is odd and keeps state and version', (t) => {
  fc.assert(
    fc.property(unlockedSeq, (seq) => {
      const l = locked(seq);
      return (l & LOCKED) === LOCKED && (l & ~LOCKED) === seq && isInt32(l) && stateName(l) === stateName(seq);
    }),
  );
  t.is(locked(FULL) & 1, 1);
});

test('released() is even, int32, bumps the version by one and carries the chosen state', (t) => {
  fc.assert(
    fc.property(unlockedSeq, fc.constantFrom(...STATES), fc.boolean(), (seq, state, fromLocked) => {
      // Writers pass the pre-lock word; the locked word must give the same result.
      const r = released(fromLocked ? locked(seq) : seq, state);
      return (
        isInt32(r) &&
        (r & LOCKED) === 0 &&
        (r & STATE_MASK) === state &&
        versionOf(r) === ((versionOf(seq) + 1) & (2 ** VERSION_BITS - 1)) &&
        r !== seq
      );
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('released() wraps at the top version to version 0, staying a small int32', (t) => {
  const top = (VERSION_MASK | FULL) | 0; // version 2^29 - 1, FULL
  t.is(versionOf(top), 2 ** VERSION_BITS - 1);
  t.is(top, -6);
  for (const state of STATES) {
    const r = released(top, state);
    t.false(Number.isNaN(r));
    t.true(isInt32(r), `released(top, ${state}) = ${r}`);
    t.is(r, state, 'version 0 with the chosen state');
    t.is(released(locked(top), state), state);
  }
  // One below the top still increments normally, to the top.
  const belowTop = ((VERSION_MASK - VERSION_ONE) | EMPTY) | 0;
  t.is(versionOf(released(belowTop, TOMBSTONE)), 2 ** VERSION_BITS - 1);
  t.true(released(belowTop, TOMBSTONE) < 0, 'the top version has the sign bit set');
});

test('released() changes the word even when state and version look alike (sign bit)', (t) => {
  // A word with the sign bit set (version >= 2^28) is a negative int32.
  const seq = ((2 ** 28) * VERSION_ONE) | FULL;
  t.true(seq < 0);
  const r = released(seq, FULL);
  t.true(r < 0);
  t.is(r - seq, VERSION_ONE);
});

test('stateName names every state and ignores the lock bit and version', (t) => {
  t.is(stateName(EMPTY), 'EMPTY');
  t.is(stateName(FULL), 'FULL');
  t.is(stateName(TOMBSTONE), 'TOMBSTONE');
  t.is(stateName(0b110), 'INVALID');
  t.is(stateName(locked(FULL)), 'FULL');
  t.is(stateName(released(released(0, FULL), TOMBSTONE)), 'TOMBSTONE');
  t.is(stateName(-1), 'INVALID');
  t.is(stateName((VERSION_MASK | TOMBSTONE) | 0), 'TOMBSTONE');
});

test('ORDERED_PLAIN_LOADS follows the CPU and FLATSHARE_STRICT_ATOMICS', (t) => {
  const env = process.env.FLATSHARE_STRICT_ATOMICS;
  const strict = env === '1' || env === 'true';
  t.is(ORDERED_PLAIN_LOADS, !strict && (process.arch === 'x64' || process.arch === 'ia32'));
});

test('loadWord/storeWord round-trip int32 words, and wrap like an Int32Array', (t) => {
  const words = new Int32Array(new SharedArrayBuffer(16 * Int32Array.BYTES_PER_ELEMENT));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (index, value) => {
      storeWord(words, index, value);
      return loadWord(words, index) === value && Atomics.load(words, index) === value;
    }),
    { numRuns: 1000 },
  );
  storeWord(words, 3, 2 ** 31);
  t.is(loadWord(words, 3), -(2 ** 31));
  storeWord(words, 4, -1);
  t.is(loadWord(words, 4), -1);
  t.is(loadWord(words, 5), words[5] as number);
  // Neighbouring words are untouched.
  words.fill(0);
  storeWord(words, 7, 123);
  t.deepEqual([...words].filter((w) => w !== 0), [123]);
});
