/**
 * A single-threaded writer of layout-6 bucket tables for reader tests: it
 * follows the placement rules of lib/bucket.ts (a key keeps its lane; an
 * insert scans the whole chain first, then takes the first EMPTY lane of the
 * first bucket that has one, ORing OVERFLOW into every bucket it walked past)
 * without locks, and mirrors what it holds in a `Map`, the oracle.
 *
 * Keys are matched by column 0 (int32 keys; for string keys column 0 is the
 * hash) and by the extra key columns a call passes (a string key's block:
 * column 1), so string-key lanes may share a hash. The oracle is keyed by
 * column 0 only: tests that read through it use distinct column-0 keys.
 */
import {
  B_META,
  B_SEQ,
  BUCKET_INTS,
  OVERFLOW,
  LANE_FULL,
  LANE_TOMBSTONE,
  type BucketGeometry,
  bucketAt,
  firstEmptyLane,
  homeBucket,
  laneState,
  laneWordOffset,
  markOccupied,
  markOverflow,
  markRevived,
  markTombstone,
  occupiedLanes,
} from '../../lib/bucket.js';
import { VERSION_ONE } from '../../lib/seqlock.js';

export class BucketTableWriter {
  /** What the table holds: column-0 key -> value words. */
  readonly oracle = new Map<number, number[]>();

  constructor(
    readonly words: Int32Array,
    /** Word index of bucket 0 (line-aligned in bytes: a multiple of BUCKET_INTS). */
    readonly first: number,
    readonly buckets: number,
    readonly g: BucketGeometry,
  ) {
    if (first % BUCKET_INTS !== 0) throw new RangeError('buckets must be line-aligned');
    words.fill(0, first, first + buckets * BUCKET_INTS);
  }

  /** Word index of bucket b's SEQ. */
  at(b: number): number {
    return bucketAt(this.first, b);
  }

  /** The bucket and lane holding `key` (FULL or TOMBSTONE), or undefined. `extraKeyWords`: the key's other columns must match too. */
  find(key: number, hash: number, extraKeyWords: readonly number[] = []): { b: number; lane: number } | undefined {
    let b = homeBucket(hash, this.buckets);
    for (let steps = 0; steps < this.buckets; steps++) {
      const at = this.at(b);
      const meta = this.words[at + B_META] as number;
      const occupied = occupiedLanes(meta, this.g.lanes);
      for (let lane = 0; lane < this.g.lanes; lane++) {
        if (((occupied >>> lane) & 1) === 0 || this.words[at + laneWordOffset(this.g, 0, lane)] !== key) continue;
        if (extraKeyWords.every((w, i) => this.words[at + laneWordOffset(this.g, 1 + i, lane)] === w)) return { b, lane };
      }
      if ((meta & OVERFLOW) === 0) return undefined;
      b = b + 1 === this.buckets ? 0 : b + 1;
    }
    return undefined;
  }

  /** Insert, overwrite or revive `key` with `value` (words of the value columns); returns what it did. */
  put(key: number, hash: number, value: readonly number[], extraKeyWords: readonly number[] = []): 'inserted' | 'overwrote' | 'revived' {
    if (value.length !== this.g.valueInts) throw new RangeError('wrong number of value words');
    const found = this.find(key, hash, extraKeyWords);
    if (found !== undefined) {
      const at = this.at(found.b);
      const was = laneState(this.words[at + B_META] as number, found.lane);
      this.writeValue(at, found.lane, value);
      markRevived(this.words, at, found.lane);
      this.bump(at);
      this.oracle.set(key, [...value]);
      return was === LANE_TOMBSTONE ? 'revived' : 'overwrote';
    }
    let b = homeBucket(hash, this.buckets);
    for (let steps = 0; steps < this.buckets; steps++) {
      const at = this.at(b);
      const meta = this.words[at + B_META] as number;
      const lane = firstEmptyLane(meta, this.g.lanes);
      if (lane >= 0) {
        this.words[at + laneWordOffset(this.g, 0, lane)] = key;
        extraKeyWords.forEach((w, i) => (this.words[at + laneWordOffset(this.g, 1 + i, lane)] = w));
        this.writeValue(at, lane, value);
        markOccupied(this.words, at, lane);
        this.bump(at);
        this.oracle.set(key, [...value]);
        return 'inserted';
      }
      markOverflow(this.words, at, meta);
      b = b + 1 === this.buckets ? 0 : b + 1;
    }
    throw new Error('bucket table full');
  }

  /** Delete `key`; false when it is not FULL here. */
  remove(key: number, hash: number, extraKeyWords: readonly number[] = []): boolean {
    const found = this.find(key, hash, extraKeyWords);
    if (found === undefined) return false;
    const at = this.at(found.b);
    if (laneState(this.words[at + B_META] as number, found.lane) !== LANE_FULL) return false;
    markTombstone(this.words, at, found.lane);
    this.bump(at);
    this.oracle.delete(key);
    return true;
  }

  private writeValue(at: number, lane: number, value: readonly number[]): void {
    value.forEach((w, i) => (this.words[at + laneWordOffset(this.g, this.g.keyInts + i, lane)] = w));
  }

  /** A release: the bucket's version moves on. */
  private bump(at: number): void {
    this.words[at + B_SEQ] = ((this.words[at + B_SEQ] as number) + VERSION_ONE) | 0;
  }
}
