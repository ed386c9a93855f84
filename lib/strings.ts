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
 * slot afterwards and discards what it read if the slot moved.
 */
import { TAG_LATIN1, TAG_UTF16 } from './layout.js';

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
 * Strings up to this many code units are DECODED with a `String.fromCharCode`
 * loop; longer ones through Buffer's native `toString`. Measured on a
 * SharedArrayBuffer-backed Buffer (docs/benchmarks.md): the loop builds a
 * cons-string and loses from about 8 units on (16 units: 118 ns vs 59 ns).
 */
export const SHORT_DECODE_UNITS = 8;

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
    const first = byteOffset / UTF16_UNIT_BYTES;
    if (units <= SHORT_DECODE_UNITS) {
      let s = '';
      for (let i = 0; i < units; i++) s += String.fromCharCode(halves[first + i] as number);
      return s;
    }
    return bytes.toString('utf16le', byteOffset, byteOffset + units * UTF16_UNIT_BYTES);
  }
  if (byteLength <= SHORT_DECODE_UNITS) {
    let s = '';
    for (let i = 0; i < byteLength; i++) s += String.fromCharCode(bytes[byteOffset + i] as number);
    return s;
  }
  return bytes.toString('latin1', byteOffset, byteOffset + byteLength);
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
