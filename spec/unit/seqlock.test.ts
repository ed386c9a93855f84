/**
 * Seq word encoding (lib/seqlock.ts): lock bit, reserved bits, version, wrap,
 * the owner tag of a locked word.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  LOCKED,
  ORDERED_PLAIN_LOADS,
  OWNER_TAG_SHIFT,
  RESERVED_MASK,
  VERSION_MASK,
  VERSION_ONE,
  loadWord,
  lockOwnerTag,
  lockWord,
  released,
  storeWord,
} from '../../lib/seqlock.js';

/** Bits of the version counter (32 - lock bit - 2 reserved bits). */
const VERSION_BITS = 29;
const TOP_VERSION = 2 ** VERSION_BITS - 1;
/** Owner tags are writer record numbers + 1; they fill the version's bits. */
const MAX_TAG = TOP_VERSION;
const versionOf = (seq: number): number => seq >>> 3;
const isInt32 = (x: number): boolean => Number.isInteger(x) && (x | 0) === x;

/** An unlocked seq word of layout 6: any version, reserved bits and lock bit 0. */
const unlockedSeq = fc.integer({ min: 0, max: TOP_VERSION }).map((version) => (version * VERSION_ONE) | 0);
const ownerTag = fc.integer({ min: 1, max: MAX_TAG });

test('constants: lock bit, reserved bits and version bits are disjoint and cover the word', (t) => {
  t.is(LOCKED, 1);
  t.is(LOCKED & RESERVED_MASK, 0);
  t.is(VERSION_MASK & (RESERVED_MASK | LOCKED), 0);
  t.is((VERSION_MASK | RESERVED_MASK | LOCKED) | 0, -1);
  t.is(VERSION_ONE, (RESERVED_MASK | LOCKED) + 1);
  t.is(OWNER_TAG_SHIFT, Math.log2(VERSION_ONE), 'the owner tag sits where the version does');
});

test('released() is even, int32, bumps the version by one and leaves the reserved bits 0', (t) => {
  fc.assert(
    fc.property(unlockedSeq, (seq) => {
      const r = released(seq);
      return (
        isInt32(r) &&
        (r & LOCKED) === 0 &&
        (r & RESERVED_MASK) === 0 &&
        versionOf(r) === ((versionOf(seq) + 1) & TOP_VERSION) &&
        r !== seq
      );
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('released() clears stray reserved bits and the lock bit of the word it is given', (t) => {
  t.is(released(VERSION_ONE | RESERVED_MASK | LOCKED), 2 * VERSION_ONE);
  t.is(released(RESERVED_MASK), VERSION_ONE);
});

test('released() wraps at the top version to version 0, staying a small int32', (t) => {
  const top = VERSION_MASK | 0; // version 2^29 - 1
  t.is(versionOf(top), TOP_VERSION);
  t.is(top, -8);
  const r = released(top);
  t.false(Number.isNaN(r));
  t.true(isInt32(r), `released(top) = ${r}`);
  t.is(r, 0, 'version 0');
  // One below the top still increments normally, to the top.
  const belowTop = (VERSION_MASK - VERSION_ONE) | 0;
  t.is(versionOf(released(belowTop)), TOP_VERSION);
  t.true(released(belowTop) < 0, 'the top version has the sign bit set');
});

test('released() moves a negative word (version >= 2^28) on by one version', (t) => {
  const seq = ((2 ** 28) * VERSION_ONE) | 0;
  t.true(seq < 0);
  const r = released(seq);
  t.true(r < 0);
  t.is(r - seq, VERSION_ONE);
});

test('lockWord() is odd, int32, names its owner, and differs for every owner of the same word', (t) => {
  fc.assert(
    fc.property(unlockedSeq, ownerTag, ownerTag, (seq, a, b) => {
      const la = lockWord(a, seq);
      return (
        isInt32(la) &&
        (la & LOCKED) === LOCKED &&
        (la & RESERVED_MASK) === 0 &&
        lockOwnerTag(la) === a &&
        (a === b) === (la === lockWord(b, seq))
      );
    }),
    { numRuns: 2000 },
  );
  t.is(lockWord(2, 0), 17, 'tag 2: 2 << 3 | LOCKED');
});

test('lockOwnerTag() is 0 for every unlocked word', (t) => {
  fc.assert(fc.property(unlockedSeq, (seq) => lockOwnerTag(seq) === 0 && lockOwnerTag(released(seq)) === 0));
  t.is(lockOwnerTag(0), 0);
  t.is(lockOwnerTag(lockWord(MAX_TAG, 0)), MAX_TAG, 'the largest tag survives the sign bit');
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
