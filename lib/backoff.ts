/**
 * Bounded waiting. Spin a little (a lock is normally held for well under a
 * microsecond), then sleep with Atomics.wait on a private word with a timeout
 * that doubles up to MAX_SLEEP_MS. Nobody notifies the private word: the wait
 * is a sleep that gives the core to the lock holder when threads outnumber
 * cores (a wake-up costs ~40 us here, so sleeping first would be slower).
 */
/** Busy iterations before the first sleep. */
export const SPIN_ROUNDS = 64;
/** First sleep, in milliseconds. */
export const FIRST_SLEEP_MS = 0.01;
/** Longest single sleep, in milliseconds. */
export const MAX_SLEEP_MS = 1;

const sleepCell = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

/** Wait a little; `attempt` counts the calls since the condition was first seen. */
export function backoff(attempt: number): void {
  if (attempt < SPIN_ROUNDS) return;
  const exponent = Math.min(attempt - SPIN_ROUNDS, 10);
  Atomics.wait(sleepCell, 0, 0, Math.min(MAX_SLEEP_MS, FIRST_SLEEP_MS * 2 ** exponent));
}

/** Wait until words[index] !== value, or `timeoutMs` passes. */
export function waitWhileEqual(words: Int32Array, index: number, value: number, timeoutMs: number): void {
  for (let spin = 0; spin < SPIN_ROUNDS; spin++) {
    if (Atomics.load(words, index) !== value) return;
  }
  Atomics.wait(words, index, value, timeoutMs);
}
