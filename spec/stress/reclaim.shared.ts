/** Keys and values of the tombstone key-reclaim stress test (reclaim.test.ts) and its reader worker. */

/** Keys that are set once and never deleted: every read must return their value. */
export const STABLE_KEYS = 32;
/** Churned keys are named by a number below CHURN_NAMES; each name is short or long by its number. */
export const CHURN_NAMES = 4096;
/** Every LONG_EVERY-th churn name is longer than the wasm probes take (KEY_MAX_UNITS), so the JS loop reads it. */
export const LONG_EVERY = 3;

export function stableKey(i: number): string {
  return `s/${i}`;
}

export function churnKey(i: number): string {
  return i % LONG_EVERY === 0 ? `churned-key-long-enough-for-the-js-probe/${i}` : `c/${i}`;
}

/** The value of `key` at `version`: long enough that a full map holds a few hundred entries. */
export function valueFor(key: string, version: number): string {
  return `v:${key}:${version}:`.padEnd(200, '.');
}

/** True when `value` is one that was written for `key` (any version). */
export function isValueOf(key: string, value: unknown): boolean {
  if (typeof value !== 'string' || value.length !== 200 || !value.startsWith(`v:${key}:`)) return false;
  const rest = value.slice(`v:${key}:`.length);
  return /^\d+:\.*$/.test(rest);
}
