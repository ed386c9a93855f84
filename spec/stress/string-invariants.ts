/**
 * String values that carry an invariant, so that a torn or misdirected read
 * of an arena block shows up.
 *
 * `stringValueOf(key, version, length)` is a header naming the key, the
 * version and the body length, then a body of exactly `length` UTF-16 code
 * units generated from (key, version): ASCII, Latin-1 (0x80-0xFF), two-byte
 * units and surrogate pairs, which a cut at the end can leave lone. Values of
 * one key differ in length (so in size class and encoding form), and any
 * string that is not exactly one of them (a mix of two writes, a prefix, a
 * block reused for another value, another key's value) fails
 * `isValidStringFor`, because validation regenerates the whole expected string.
 */

const UNITS = ['a', 'b', 'z', '0', ' ', '\x80', '\x9f', 'é', '\xff', 'ж', '漢', '😀', '\ud800', '\udfff'];

/** Bodies longer than this are possible but not needed: blocks then span many size classes. */
export const MAX_BODY_UNITS = 3000;

function body(key: string, version: number, length: number): string {
  let state = (version * 0x9e3779b1) ^ key.length;
  for (let i = 0; i < key.length; i++) state = Math.imul(state ^ key.charCodeAt(i), 0x85ebca6b);
  const twoByte = version % 3 !== 0; // a third of the values stay one-byte (Latin-1) form
  let s = '';
  while (s.length < length) {
    state = (Math.imul(state, 1664525) + 1013904223) | 0;
    const pick = (state >>> 8) % (twoByte ? UNITS.length : 9);
    s += UNITS[pick] as string;
  }
  return s.slice(0, length);
}

/** The value number `version` of `key`, with a body of `length` code units. */
export function stringValueOf(key: string, version: number, length: number): string {
  return `${key}#${version}#${length}:${body(key, version, length)}`;
}

const HEADER = /^(.*)#(\d+)#(\d+):/s;

/** True when `value` is exactly one of the values `stringValueOf(key, ...)` can produce. */
export function isValidStringFor(key: string, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = HEADER.exec(value.slice(0, key.length + 32));
  if (match === null || match[1] !== key) return false;
  const version = Number(match[2]);
  const length = Number(match[3]);
  return value === stringValueOf(key, version, length);
}
