/**
 * Epoch word: which table is current, and whether a migration is running.
 *
 * Encoding of header word H_EPOCH:
 * ```
 *  31                                        2   1   0
 * +-------------------------------------------+-------+
 * |          generation (30 bits)             | phase |
 * +-------------------------------------------+-------+
 *   generation  g selects TABLE_DESC[g & 1]; +1 at every flip
 *   phase       0 STABLE     : table g is current, writers write into it
 *               1 ALLOCATING : one writer (the one whose CAS set this phase)
 *                              allocates and zeroes table g+1 in the other
 *                              TABLE_DESC; everybody else's writes wait
 *               2 COPYING    : table g+1 is ready; writers help copy table g
 *                              into it chunk by chunk, then wait for the flip
 * ```
 *
 * Readers load the epoch only to validate: a read is valid when the
 * generation after the payload loads equals the generation whose table the
 * reader probed. The phase does not matter to readers: during ALLOCATING and
 * COPYING table g is intact and read-only (writers wait or help), so readers
 * keep reading it and never wait for a migration.
 *
 * Writers:
 * - load the epoch; in a non-STABLE phase they help (COPYING) or wait
 *   (ALLOCATING) until the generation moves on;
 * - announce the generation in their writer record (W_ACTIVE_GEN), then load
 *   the epoch again; only if it is unchanged do they touch table g. After
 *   locking a bucket they load it once more and back out if the phase left STABLE,
 *   so no write lands in table g once copying may have begun.
 * - A writer that finds table g over its load budget CASes STABLE -> ALLOCATING.
 *
 * Flip: the helper whose chunk completes the copy stores (g+1) << 2 | STABLE.
 * Everything written into table g+1 before that store is visible to any thread
 * whose Atomics.load of the epoch sees the new generation.
 *
 * Region reuse: the region of table g is retired at the flip to g+1. It may be
 * handed out again only when every writer record is idle or announces a
 * generation >= g+1, so no writer can still CAS inside it. Readers may still be
 * reading it; their generation check fails and they retry, and every index they
 * compute is bounded by the table they think they read.
 *
 * Migration cursor (H_MIG_CURSOR): tag << CURSOR_TAG_SHIFT | next chunk, where
 * tag = generation & CURSOR_TAG_MASK. Helpers claim chunks with CAS and give up
 * when the tag is not theirs, so a helper that slept through a whole migration
 * cannot claim a chunk of the next one.
 */

export const PHASE_MASK = 0b11;
export const PHASE_STABLE = 0;
export const PHASE_ALLOCATING = 1;
export const PHASE_COPYING = 2;
export const GEN_SHIFT = 2;

export function phaseOf(epoch: number): number {
  return epoch & PHASE_MASK;
}
export function genOf(epoch: number): number {
  return epoch >>> GEN_SHIFT;
}
export function makeEpoch(gen: number, phase: number): number {
  return ((gen << GEN_SHIFT) | phase) | 0;
}

/** Buckets of the old table copied per claimed chunk (defined in layout.ts: it sizes the chunk state words). */
export { MIGRATION_CHUNK_BUCKETS } from './layout.js';
/**
 * Bits for the chunk index in the cursor word. The largest table has
 * MAX_BUCKETS / MIGRATION_CHUNK_BUCKETS = 2^18 chunks, and helpers increment the
 * cursor to one past the last chunk, so the index needs 19 bits (18 would let
 * that last increment carry into the tag).
 */
export const CURSOR_TAG_SHIFT = 19;
export const CURSOR_CHUNK_MASK = (1 << CURSOR_TAG_SHIFT) - 1;
/** 12 tag bits (19 + 12 = 31) keep the cursor word positive. */
export const CURSOR_TAG_MASK = (1 << 12) - 1;

export function cursorWord(gen: number, chunk: number): number {
  return ((gen & CURSOR_TAG_MASK) << CURSOR_TAG_SHIFT) | chunk;
}
export function cursorTag(word: number): number {
  return (word >>> CURSOR_TAG_SHIFT) & CURSOR_TAG_MASK;
}
export function cursorChunk(word: number): number {
  return word & CURSOR_CHUNK_MASK;
}
