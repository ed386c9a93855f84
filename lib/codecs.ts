/**
 * Key and value codecs for fixed-width kinds: validation on the way in,
 * word encoding in a lane. Validation happens before any shared word is
 * written, so a rejected key or value leaves the map unchanged.
 */
import { ErrorCode, FlatshareRangeError, FlatshareTypeError, describe } from './errors.js';
import { loadWord, storeWord } from './seqlock.js';

export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

/** Throw ERR_FLATSHARE_KEY unless `key` is an int32 (an integer number in [-2^31, 2^31-1]). */
export function checkInt32Key(key: unknown): number {
  if (typeof key !== 'number') {
    throw new FlatshareTypeError(ErrorCode.KEY, `key must be an int32 number; got ${typeof key} ${describe(key)}`);
  }
  if ((key | 0) !== key) {
    throw new FlatshareRangeError(
      ErrorCode.KEY,
      `key must be an integer in [${INT32_MIN}, ${INT32_MAX}]; got ${describe(key)}`,
    );
  }
  return key;
}

/** Throw ERR_FLATSHARE_VALUE unless `value` is an int32. `what` names the argument. */
export function checkInt32Value(value: unknown, what = 'value'): number {
  if (typeof value !== 'number') {
    throw new FlatshareTypeError(
      ErrorCode.VALUE,
      `${what} must be an int32 number for an int32 map; got ${typeof value} ${describe(value)}`,
    );
  }
  if ((value | 0) !== value) {
    throw new FlatshareRangeError(
      ErrorCode.VALUE,
      `${what} must be an integer in [${INT32_MIN}, ${INT32_MAX}]; got ${describe(value)}`,
    );
  }
  return value;
}

/** Throw ERR_FLATSHARE_VALUE unless `value` is a number (any float64, NaN included). */
export function checkFloat64Value(value: unknown, what = 'value'): number {
  if (typeof value !== 'number') {
    throw new FlatshareTypeError(
      ErrorCode.VALUE,
      `${what} must be a number for a float64 map; got ${typeof value} ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Float64 <-> two int32 words. Each thread has its own scratch pair; the words
 * are stored low word first in the platform's byte order, and read back the
 * same way, so the round trip is exact for every double including NaN payloads.
 */
const scratchF64 = new Float64Array(1);
const scratchI32 = new Int32Array(scratchF64.buffer);
const LOW = 0;
const HIGH = 1;

export function readFloat64(words: Int32Array, index: number): number {
  scratchI32[LOW] = loadWord(words, index);
  scratchI32[HIGH] = loadWord(words, index + 1);
  return scratchF64[0] as number;
}

/** readFloat64 for a float64 whose two words are apart (a bucket's low and high value columns). */
export function readFloat64Split(words: Int32Array, low: number, high: number): number {
  scratchI32[LOW] = loadWord(words, low);
  scratchI32[HIGH] = loadWord(words, high);
  return scratchF64[0] as number;
}

/** The two int32 words of `value` (little-endian order: low, high) into out[0], out[1]. */
export function float64Words(value: number, out: Int32Array): void {
  scratchF64[0] = value;
  out[0] = scratchI32[LOW] as number;
  out[1] = scratchI32[HIGH] as number;
}

export function writeFloat64(words: Int32Array, index: number, value: number): void {
  scratchF64[0] = value;
  storeWord(words, index, scratchI32[LOW] as number);
  storeWord(words, index + 1, scratchI32[HIGH] as number);
}

/** SameValueZero, the equality Map uses: NaN equals NaN, +0 equals -0. */
export function sameValueZero(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}
