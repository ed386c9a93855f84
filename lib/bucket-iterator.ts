/**
 * Weakly consistent iteration over a table of buckets, across resizes and
 * clears, in O(cluster) memory: a walk of the hash space in bucket order.
 *
 * Bucket b of any table covers one hash interval [slotStart(b), slotStart(b + 1))
 * of its bucket count (table.ts: the home bucket never decreases as the hash
 * grows). The iterator keeps `done`, the hash prefix already processed. Each
 * step reads one CLUSTER of the current table: the buckets from the one that
 * covers `done` up to and including the first bucket E without OVERFLOW, and
 * yields the FULL entries whose hash lies in [done, end), end being where E's
 * interval ends; then done = end.
 *
 * Why each entry present for the whole iteration is yielded exactly once:
 * - A key homed at bucket h lives between h and the first bucket without
 *   OVERFLOW from h on (lib/bucket.ts invariants); OVERFLOW is never cleared
 *   in a live table. So every key whose hash lies in [done, end) is inside
 *   the cluster read, and nothing with a hash >= end is yielded early.
 * - Each bucket is read between two equal even SEQ loads, and the table
 *   generation is checked after the cluster; only a cluster read entirely
 *   within one generation is used, else it is re-read (in the new table,
 *   from the same `done`).
 * - Entries are yielded only after their cluster was validated, and `done`
 *   moves past their hashes right after.
 * As in iterator.ts, a key's position in the walk unwraps the cluster that
 * wraps from the last bucket to bucket 0: its hash plus 2^32 per wrap.
 */
import { B_META, type BucketGeometry, bucketAt, fullLanes, homeBucket, OVERFLOW } from './bucket.js';
import { genOf } from './epoch.js';
import { H_EPOCH } from './layout.js';
import { LOCKED } from './seqlock.js';
import { HASH_SPACE, slotStart } from './table.js';
import { backoff } from './backoff.js';
import { TORN } from './blocks.js';
import type { BucketTable } from './bucket-write.js';

/** What iteration needs from the map instance of the calling thread. */
export interface BucketIterationHost {
  readonly g: BucketGeometry;
  /** The current generation's table, refreshed if needed. */
  snapshot(): { words: Int32Array; gen: number; table: BucketTable };
  /** The 32-bit hash (as int32) of the key in lane `lane` of the bucket at `at` (unvalidated read). */
  hashAt(words: Int32Array, at: number, lane: number): number;
  /** Read the key of that lane (unvalidated; TORN when a bounds check failed). */
  readKey(words: Int32Array, at: number, lane: number): unknown;
  /** Read the value of that lane (unvalidated; TORN when a bounds check failed). */
  readValue(words: Int32Array, at: number, lane: number): unknown;
  /** Turn a validated raw value into the value the user gets (json: JSON.parse). */
  finishValue(raw: unknown): unknown;
}

/** Yield every entry, weakly consistent (see the file comment). */
export function* iterateBucketEntries(host: BucketIterationHost): Generator<[unknown, unknown], void, undefined> {
  const lanes = host.g.lanes;
  let done = 0;
  const keys: unknown[] = [];
  const values: unknown[] = [];
  const positions: number[] = [];
  let attempt = 0;
  while (done < HASH_SPACE) {
    const { words, gen, table } = host.snapshot();
    const buckets = table.buckets;
    const first = homeBucket(done, buckets);
    keys.length = 0;
    values.length = 0;
    positions.length = 0;
    let v = first;
    let valid = true;
    for (;;) {
      if (v - first > buckets) {
        valid = false; // every bucket OVERFLOWs: a stale view of a reused region
        break;
      }
      const b = v < buckets ? v : v - buckets; // v <= first + buckets < 2 * buckets
      const at = bucketAt(table.first, b);
      const s1 = Atomics.load(words, at);
      if ((s1 & LOCKED) !== 0) {
        valid = false;
        break;
      }
      const meta = Atomics.load(words, at + B_META);
      const full = fullLanes(meta, lanes);
      for (let lane = 0; lane < lanes && valid; lane++) {
        if (((full >>> lane) & 1) === 0) continue;
        const hash = host.hashAt(words, at, lane) >>> 0;
        const key = host.readKey(words, at, lane);
        const value = host.readValue(words, at, lane);
        if (key === TORN || value === TORN) {
          valid = false;
          break;
        }
        const home = homeBucket(hash, buckets);
        const displacement = b >= home ? b - home : b + buckets - home;
        // v - displacement is the home bucket along the walk: home plus a whole number of wraps.
        positions.push(hash + ((v - displacement - home) / buckets) * HASH_SPACE);
        keys.push(key);
        values.push(value);
      }
      if (!valid || Atomics.load(words, at) !== s1) {
        valid = false;
        break;
      }
      if ((meta & OVERFLOW) === 0) break;
      v++;
    }
    if (!valid || genOf(Atomics.load(words, H_EPOCH)) !== gen) {
      backoff(attempt++);
      continue;
    }
    attempt = 0;
    const end = slotStart(v + 1, buckets); // HASH_SPACE once the walk passes the last bucket
    const from = done;
    done = end;
    for (let i = 0; i < keys.length; i++) {
      const position = positions[i] as number;
      if (position >= from && position < end) yield [keys[i], host.finishValue(values[i])];
    }
  }
}
