/**
 * Weakly consistent iteration, across resizes and clears, in O(cluster) memory.
 *
 * Idea: a table's home slot never decreases as the hash grows (table.ts,
 * homeSlot), so slot i of any table covers one hash interval
 * [slotStart(i), slotStart(i + 1)), whatever the table's size. The iterator
 * walks the 32-bit hash space once, from 0 up, keeping one number: `done`,
 * the length of the hash prefix already processed. Each step reads one
 * CLUSTER of the current table (the run of non-EMPTY slots that starts at the
 * slot covering `done`, up to and including the next EMPTY slot E) and yields
 * the FULL entries whose hash lies in [done, end), where end is where E's
 * interval ends; then done = end.
 *
 * Why each entry present for the whole iteration is yielded exactly once:
 * - Linear probing stores a key between its home slot and the first EMPTY
 *   slot after it, and EMPTY slots never reappear in a live table. So every
 *   key whose hash lies in [done, end) is inside the cluster just read, and
 *   nothing with a hash >= end is yielded early.
 * - A cluster is read slot by slot with seqlock validation and then the table
 *   generation is checked; only a cluster read entirely within one generation
 *   is used. If a migration flipped meanwhile, the cluster is re-read in the
 *   new table from the same `done`: whatever the new table's size, the
 *   unprocessed keys are those with hash >= done.
 * - Entries are yielded only after their cluster was validated, and `done`
 *   moves past their hashes right after, so nothing is yielded twice.
 *
 * The hash of a found key gives its exact position in the hash space: the
 * displacement (slot - home) mod capacity "unwraps" keys of the cluster that
 * wraps from the last slot to slot 0 (such a key's position is its hash plus
 * 2^32 per wrap of the walk, or minus 2^32 for a key whose home lies before
 * the wrap, so it falls outside [done, end) unless the walk reached it).
 */
import { EMPTY, FULL, LOCKED, STATE_MASK } from './seqlock.js';
import { genOf } from './epoch.js';
import { H_EPOCH } from './layout.js';
import { HASH_SPACE, homeSlot, slotStart, type TableInfo } from './table.js';
import { backoff } from './backoff.js';
import { TORN } from './blocks.js';

/** What iteration needs from the map instance of the calling thread. */
export interface IterationHost {
  readonly slotInts: number;
  /** The current generation's table, refreshed if needed. */
  snapshot(): { words: Int32Array; gen: number; table: TableInfo };
  /** The 32-bit hash (as int32) of the key in the FULL slot at `at` (unvalidated read). */
  hashAt(words: Int32Array, at: number): number;
  /** Read the key in the slot at `at` (unvalidated; TORN when a bounds check failed). */
  readKey(words: Int32Array, at: number): unknown;
  /** Read the value in the slot at `at` (unvalidated; TORN when a bounds check failed). */
  readValue(words: Int32Array, at: number): unknown;
  /** Turn a validated raw value into the value the user gets (json: JSON.parse). */
  finishValue(raw: unknown): unknown;
}

/** Yield every entry, weakly consistent (see the file comment). */
export function* iterateEntries(host: IterationHost): Generator<[unknown, unknown], void, undefined> {
  const stride = host.slotInts;
  let done = 0;
  const keys: unknown[] = [];
  const values: unknown[] = [];
  const positions: number[] = [];
  let attempt = 0;
  while (done < HASH_SPACE) {
    const { words, gen, table } = host.snapshot();
    const capacity = table.capacity;
    const first = homeSlot(done, capacity);
    keys.length = 0;
    values.length = 0;
    positions.length = 0;
    let v = first;
    let valid = true;
    for (;;) {
      if (v - first > capacity) {
        valid = false; // no EMPTY slot: a stale view of a reused region
        break;
      }
      const slot = v < capacity ? v : v - capacity; // v < first + capacity + 1 <= 2 * capacity
      const at = table.slots + slot * stride;
      const s1 = Atomics.load(words, at);
      if ((s1 & LOCKED) !== 0) {
        valid = false;
        break;
      }
      const state = s1 & STATE_MASK;
      if (state === EMPTY) break;
      if (state === FULL) {
        const hash = host.hashAt(words, at) >>> 0;
        const key = host.readKey(words, at);
        const value = host.readValue(words, at);
        if (Atomics.load(words, at) !== s1 || key === TORN || value === TORN) {
          valid = false;
          break;
        }
        const home = homeSlot(hash, capacity);
        const displacement = slot >= home ? slot - home : slot + capacity - home;
        // v - displacement is the home slot along the walk: home plus a whole number of wraps.
        positions.push(hash + ((v - displacement - home) / capacity) * HASH_SPACE);
        keys.push(key);
        values.push(value);
      }
      v++;
    }
    if (!valid || genOf(Atomics.load(words, H_EPOCH)) !== gen) {
      backoff(attempt++);
      continue;
    }
    attempt = 0;
    const end = slotStart(v + 1, capacity); // HASH_SPACE once the walk passes the last slot
    const from = done;
    done = end;
    for (let i = 0; i < keys.length; i++) {
      const position = positions[i] as number;
      if (position >= from && position < end) yield [keys[i], host.finishValue(values[i])];
    }
  }
}
