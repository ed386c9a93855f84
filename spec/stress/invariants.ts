/**
 * Values that carry an invariant, so that a torn or misdirected read shows up
 * (the pattern of pb's KeyTornRead test, where keys are {A, B} with B == ^A).
 *
 * int32 values: `int32ValueOf(key)`, a bijection of int32, so a value read for
 * a key that is not `int32ValueOf(key)` came from another key's slot.
 *
 * float64 values: `float64ValueOf(key, version)` sets the high word to a fixed
 * exponent plus a 20-bit version and the low word to a bijective mix of the
 * version and the key. A double whose two words come from two different
 * writes (two versions, or two keys) fails `isValidFloat64For`, because the
 * mix is a bijection: a low word determines the (version, key) pair it was
 * written with. Every version writes different high AND low words, so a tear
 * on either side is caught.
 */

/** Odd multipliers: Math.imul by an odd number is a bijection of the 32-bit integers. */
const INT_VALUE_MULTIPLIER = 0x9e3779b1;
const INT_VALUE_SALT = 0x5bd1e995;
const VERSION_MULTIPLIER = 0x85ebca6b;
const KEY_MULTIPLIER = 0xc2b2ae35;
const LOW_WORD_SALT = 0x27d4eb2f;

/** int32 value bound to `key`: a bijection, so distinct keys never share a value. */
export function int32ValueOf(key: number): number {
  return Math.imul(key ^ INT_VALUE_SALT, INT_VALUE_MULTIPLIER) | 0;
}

/** Bits of the version stored in the high word's mantissa part. */
export const FLOAT_VERSION_BITS = 20;
/** Number of distinct versions per key. */
export const FLOAT_VERSIONS = 2 ** FLOAT_VERSION_BITS;
const VERSION_MASK = FLOAT_VERSIONS - 1;
/** Sign 0, biased exponent 0x400: every valid value is a normal double in [2, 4), never NaN. */
const HIGH_WORD_EXPONENT = 0x400;
const HIGH_WORD_EXPONENT_SHIFT = FLOAT_VERSION_BITS;

const scratch = new Float64Array(1);
const scratchWords = new Int32Array(scratch.buffer);
/** Word order of a double in memory on little-endian CPUs (x64, arm64). */
const LOW = 0;
const HIGH = 1;

function lowWordOf(key: number, version: number): number {
  return (Math.imul(version, VERSION_MULTIPLIER) ^ Math.imul(key, KEY_MULTIPLIER) ^ LOW_WORD_SALT) | 0;
}

/** The valid float64 value number `version` (in [0, FLOAT_VERSIONS)) of `key`. */
export function float64ValueOf(key: number, version: number): number {
  const v = version & VERSION_MASK;
  scratchWords[HIGH] = (HIGH_WORD_EXPONENT << HIGH_WORD_EXPONENT_SHIFT) | v;
  scratchWords[LOW] = lowWordOf(key, v);
  return scratch[0] as number;
}

/** True when `value` is one of the valid values of `key` (not a mix of two writes, not another key's). */
export function isValidFloat64For(key: number, value: number): boolean {
  scratch[0] = value;
  const high = scratchWords[HIGH] as number;
  const low = scratchWords[LOW] as number;
  if (high >>> HIGH_WORD_EXPONENT_SHIFT !== HIGH_WORD_EXPONENT) return false;
  return low === lowWordOf(key, high & VERSION_MASK);
}

/** The double made of `a`'s high word and `b`'s low word: what a torn read of a then b could return. */
export function tornFloat64(a: number, b: number): number {
  scratch[0] = a;
  const high = scratchWords[HIGH] as number;
  scratch[0] = b;
  scratchWords[HIGH] = high;
  return scratch[0] as number;
}
