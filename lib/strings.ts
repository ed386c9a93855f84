/**
 * The string codec of arena blocks: an adaptive one-byte / two-byte form.
 *
 * A string whose UTF-16 code units are all <= 0xFF is stored one byte per
 * code unit (TAG_LATIN1); any other string two bytes per code unit,
 * little-endian (TAG_UTF16). Why not UTF-8 (measured in docs/design.md,
 * "String codec"):
 * - The form is canonical (a string has exactly one encoding), so key
 *   equality is a length check plus a code-unit loop against the probe key,
 *   with no encoding step on the read path; `TextEncoder.encodeInto` costs
 *   50-90 ns for a short key here, more than a whole Map.get.
 * - Every string round-trips exactly, lone surrogates included, so no input
 *   string has to be refused.
 * - ASCII and Latin-1 text costs one byte per character like UTF-8; other
 *   scripts cost two bytes per code unit (UTF-8: 2 for Greek/Cyrillic, 3 for CJK).
 *
 * All functions take views over the shared buffer and a byte offset, and never
 * throw for any (torn) length or tag within the view: the caller validates the
 * bucket afterwards and discards what it read if the bucket moved.
 */
import { INT_BYTES, TAG_LATIN1, TAG_UTF16 } from './layout.js';

/** Largest code unit of the one-byte form. */
export const LATIN1_MAX_UNIT = 0xff;
/** Bytes per code unit in the two-byte form. */
export const UTF16_UNIT_BYTES = 2;
/**
 * Strings up to this many code units are WRITTEN with a JS loop of typed-array
 * stores; longer ones through Buffer's native `write`, whose fixed call cost
 * the store loop (no string building) beats below this length.
 */
export const SHORT_STRING_UNITS = 24;
/**
 * Strings up to this many code units are DECODED with one `String.fromCharCode`
 * call with one explicit argument per unit (`fromUnits`), which allocates the
 * flat result once; longer ones through Buffer's native `toString`, whose
 * fixed cost (a C++ binding call) the builtin beats below this length.
 * Measured on a SharedArrayBuffer-backed Buffer (docs/design.md, "String
 * codec"): 16 units 75 ns against 165 ns, 24 units 103 against 170,
 * crossing over at about 32.
 */
export const SHORT_DECODE_UNITS = 24;

/** TAG_LATIN1 when every code unit of `s` fits in one byte, else TAG_UTF16. */
export function stringTag(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > LATIN1_MAX_UNIT) return TAG_UTF16;
  return TAG_LATIN1;
}

/** Encoded payload length of `s` in the form `tag`. */
export function stringBytes(s: string, tag: number): number {
  return tag === TAG_LATIN1 ? s.length : s.length * UTF16_UNIT_BYTES;
}

/** Write `s` in the form `tag` at `byteOffset` (the block is locked or unpublished). */
export function writeString(bytes: Buffer, halves: Uint16Array, byteOffset: number, s: string, tag: number): void {
  const n = s.length;
  if (tag === TAG_LATIN1) {
    if (n <= SHORT_STRING_UNITS) for (let i = 0; i < n; i++) bytes[byteOffset + i] = s.charCodeAt(i);
    else bytes.write(s, byteOffset, n, 'latin1');
  } else {
    const first = byteOffset / UTF16_UNIT_BYTES;
    if (n <= SHORT_STRING_UNITS) for (let i = 0; i < n; i++) halves[first + i] = s.charCodeAt(i);
    else bytes.write(s, byteOffset, n * UTF16_UNIT_BYTES, 'utf16le');
  }
}

/**
 * Decode a string of `byteLength` bytes in the form `tag` at `byteOffset`.
 * An unknown tag (a torn read) decodes as the one-byte form.
 */
export function readString(bytes: Buffer, halves: Uint16Array, byteOffset: number, byteLength: number, tag: number): string {
  if (tag === TAG_UTF16) {
    const units = byteLength >>> 1;
    if (units <= SHORT_DECODE_UNITS) return fromUnits(halves, byteOffset / UTF16_UNIT_BYTES, units);
    return bytes.toString('utf16le', byteOffset, byteOffset + units * UTF16_UNIT_BYTES);
  }
  if (byteLength <= SHORT_DECODE_UNITS) return fromUnits(bytes, byteOffset, byteLength);
  return bytes.toString('latin1', byteOffset, byteOffset + byteLength);
}

/** `String.fromCharCode`, typed to accept the `number | undefined` of a typed-array read (never undefined in range). */
const fromCodes = String.fromCharCode as (...units: Array<number | undefined>) => string;

/**
 * The flat string of the `n` code units `u[i]` .. `u[i + n - 1]`, for
 * n <= SHORT_DECODE_UNITS, in one `String.fromCharCode` call with n explicit
 * arguments. A `+=` loop builds a cons string from 13 units on, and spread or
 * `apply` pass the arguments through a generic path (measured 90-97 ns at 16
 * units, against 49 for explicit arguments).
 */
function fromUnits(u: Uint8Array | Uint16Array, i: number, n: number): string {
  switch (n) {
    case 0: return '';
    case 1: return fromCodes(u[i]);
    case 2: return fromCodes(u[i], u[i + 1]);
    case 3: return fromCodes(u[i], u[i + 1], u[i + 2]);
    case 4: return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3]);
    case 5: return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4]);
    case 6: return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5]);
    case 7: return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6]);
    case 8: return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7]);
    case 9:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8]);
    case 10:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9]);
    case 11:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10]);
    case 12:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11]);
    case 13:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12]);
    case 14:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13]);
    case 15:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14]);
    case 16:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15]);
    case 17:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16]);
    case 18:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17]);
    case 19:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17], u[i + 18]);
    case 20:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17], u[i + 18], u[i + 19]);
    case 21:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17], u[i + 18], u[i + 19], u[i + 20]);
    case 22:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17], u[i + 18], u[i + 19], u[i + 20], u[i + 21]);
    case 23:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17], u[i + 18], u[i + 19], u[i + 20], u[i + 21], u[i + 22]);
    case 24:
      return fromCodes(u[i], u[i + 1], u[i + 2], u[i + 3], u[i + 4], u[i + 5], u[i + 6], u[i + 7],
        u[i + 8], u[i + 9], u[i + 10], u[i + 11], u[i + 12], u[i + 13], u[i + 14], u[i + 15],
        u[i + 16], u[i + 17], u[i + 18], u[i + 19], u[i + 20], u[i + 21], u[i + 22], u[i + 23]);
  }
  throw new RangeError(`fromUnits: ${n} units is more than SHORT_DECODE_UNITS`);
}

/** True when the block payload equals `s` (compares code units; no decoding). */
export function stringEquals(
  bytes: Uint8Array,
  halves: Uint16Array,
  byteOffset: number,
  byteLength: number,
  tag: number,
  s: string,
): boolean {
  const n = s.length;
  if (tag === TAG_LATIN1) {
    if (byteLength !== n) return false;
    for (let i = 0; i < n; i++) if (bytes[byteOffset + i] !== s.charCodeAt(i)) return false;
    return true;
  }
  if (tag !== TAG_UTF16 || byteLength !== n * UTF16_UNIT_BYTES) return false;
  const first = byteOffset / UTF16_UNIT_BYTES;
  for (let i = 0; i < n; i++) if (halves[first + i] !== s.charCodeAt(i)) return false;
  return true;
}

// ---- packed key form (the string-key read path) ------------------------------

/**
 * Longest key, in code units, whose one-byte form the read path packs into
 * 32-bit words (`PackedKey`) to compare with a key block word by word. Longer
 * keys, and keys with a unit above 0xFF, are compared unit by unit
 * (`stringEquals`).
 */
export const PACKED_KEY_MAX_UNITS = 256;
/** Code units per packed word. */
export const PACKED_UNITS_PER_INT = INT_BYTES;
/**
 * True when the CPU is little-endian, so that byte i of a block payload is
 * bits 8 * (i % 4) of its Int32Array word. The packed compare assumes it;
 * big-endian CPUs compare unit by unit.
 */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * One thread's packed form of the key being looked up: code units 4j..4j+3
 * in word j, unit 4j in the low byte (the little-endian Int32Array view of the
 * one-byte block payload), unused high bytes of the last word zero. Filled by
 * `packLatin1` or murmur3.ts `murmur3StringPacked`; only meaningful while
 * `unitsOr <= LATIN1_MAX_UNIT` (else the bytes of wide units overlap).
 * A single per-module instance is reused by every lookup (no allocation); no
 * user code runs between packing a key and comparing it.
 */
export class PackedKey {
  readonly words = new Int32Array(PACKED_KEY_MAX_UNITS / PACKED_UNITS_PER_INT);
  /** Bitwise OR of every code unit of the key: above LATIN1_MAX_UNIT, the key is stored two bytes per unit. */
  unitsOr = 0;
}

/** Pack `key` (at most PACKED_KEY_MAX_UNITS units) into `out` (see PackedKey). */
export function packLatin1(key: string, out: PackedKey): void {
  const n = key.length;
  const words = out.words;
  let units = 0;
  let i = 0;
  for (; i + PACKED_UNITS_PER_INT <= n; i += PACKED_UNITS_PER_INT) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    const c2 = key.charCodeAt(i + 2);
    const c3 = key.charCodeAt(i + 3);
    units |= c0 | c1 | c2 | c3;
    words[i >>> 2] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
  }
  if (i < n) {
    let tail = 0;
    for (let shift = 0; i < n; i++, shift += 8) {
      const c = key.charCodeAt(i);
      units |= c;
      tail |= c << shift;
    }
    words[n >>> 2] = tail;
  }
  out.unitsOr = units;
}

/**
 * Mask of the payload bytes that a key of `n` units occupies in its last,
 * partial word (n % 4 of them; the rest is padding, possibly stale bytes of a
 * reused block).
 */
export function tailMask(n: number): number {
  return (1 << ((n & (PACKED_UNITS_PER_INT - 1)) * 8)) - 1;
}
