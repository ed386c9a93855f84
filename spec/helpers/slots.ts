/**
 * Where an int32 key lives in a table of buckets, for white-box tests and
 * their workers: the chain of lib/bucket.ts (home bucket, then the next one
 * while the bucket has OVERFLOW, wrapping from the last to bucket 0), read
 * with Atomics.load.
 */
import { B_META, OVERFLOW, bucketAt, firstEmptyLane, homeBucket, laneWordOffset, occupiedLanes, type BucketGeometry } from '../../lib/bucket.js';
import type { TableInfo } from '../../lib/table.js';

/** A lane of a table: its bucket's SEQ word index and the lane number (-1: the key is absent and its chain ends in that bucket). */
export interface LaneAt {
  at: number;
  lane: number;
}

/**
 * The bucket and lane that hold `key` (FULL or TOMBSTONE), or the bucket
 * where its chain ends (lane -1) when it is absent. `hash` is the map's hash
 * of `key`. The table must end every chain (every live table does).
 */
export function int32KeyLane(words: Int32Array, table: TableInfo, g: BucketGeometry, hash: number, key: number): LaneAt {
  for (let b = homeBucket(hash, table.buckets); ; b = b + 1 === table.buckets ? 0 : b + 1) {
    const at = bucketAt(table.first, b);
    const meta = Atomics.load(words, at + B_META);
    const occupied = occupiedLanes(meta, g.lanes);
    for (let lane = 0; lane < g.lanes; lane++) {
      if (((occupied >>> lane) & 1) !== 0 && Atomics.load(words, at + laneWordOffset(g, 0, lane)) === key) return { at, lane };
    }
    if (firstEmptyLane(meta, g.lanes) >= 0 || (meta & OVERFLOW) === 0) return { at, lane: -1 };
  }
}
