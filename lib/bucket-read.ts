/**
 * Layout 6: the JS read walk over buckets, and the lane matchers of both key
 * kinds. The wasm probes (read-bucket.wat) serve int32 keys with int32 and
 * float64 values; this walk serves what they do not (arena values, string
 * keys, a RETRY's slow path), and the matchers serve writers too
 * (bucket-write.ts findLane).
 *
 * Readers (readLane), as lib/bucket.ts states the protocol:
 *   s1 = SEQ (loadWord: plain on x86); odd -> RETRY;
 *   meta = META (loadWord, after SEQ); each OCCUPIED lane through `match`
 *   (column 0, then for string keys the key block);
 *   a match in lane l: TOMBSTONE(l) -> validate, MISS; FULL -> LANE_READ_HIT
 *   with `out` = { at, lane, seq: s1 }: the caller reads the lane's value
 *   words, then calls laneStillValid (epoch generation, SEQ === s1) before it
 *   uses them;
 *   no match: OVERFLOW -> the next bucket; else validate, MISS;
 *   the matcher could not tell (a key block past this thread's view, or torn):
 *   RETRY (the caller refreshes its views).
 * A miss is answered only after its bucket validated: its lanes and META
 * were a consistent snapshot of a current table.
 *
 * Invariant relied on: OCCUPIED lanes' key words never change in a live
 * table (a reclaimed tombstone's KEY_REF becomes NULL_BLOCK, which matches
 * no key: reading it either way answers "not this lane"), so a non-matching
 * lane is skipped without validation.
 */
import { B_META, OVERFLOW, type BucketGeometry, bucketAt, homeBucket, laneWordOffset, occupiedLanes, TOMBSTONE_SHIFT } from './bucket.js';
import { MATCH, MATCH_RESTART, NO_MATCH, type BucketTable, type LaneMatcher } from './bucket-write.js';
import { genOf } from './epoch.js';
import { blockEqualsPacked, blockEqualsString, type Views } from './blocks.js';
import { H_EPOCH, MAX_KEY_BYTES } from './layout.js';
import { LOCKED, loadWord } from './seqlock.js';
import type { PackedKey } from './strings.js';

/** readLane results. */
export const LANE_READ_HIT = 0; // `out` names the FULL lane; validate after reading its value
export const LANE_READ_MISS = 1;
export const LANE_READ_RETRY = 2;

/** Where readLane found the key. */
export interface LaneHit {
  at: number;
  lane: number;
  seq: number;
}

/** True when the table is still generation `gen`'s and the bucket at `at` still has SEQ `s1`: what was read in between is one snapshot. */
export function laneStillValid(words: Int32Array, at: number, s1: number, gen: number): boolean {
  return genOf(loadWord(words, H_EPOCH)) === gen && Atomics.load(words, at) === s1;
}

/** Walk `hash`'s chain in `table` (generation `gen`) for the key `match` recognizes; see the file comment. */
export function readLane(
  words: Int32Array,
  table: BucketTable,
  g: BucketGeometry,
  gen: number,
  hash: number,
  match: LaneMatcher,
  out: LaneHit,
): number {
  const buckets = table.buckets;
  let b = homeBucket(hash, buckets);
  for (let steps = 0; steps <= buckets; steps++) {
    const at = bucketAt(table.first, b);
    const s1 = loadWord(words, at);
    if ((s1 & LOCKED) !== 0) return LANE_READ_RETRY;
    const meta = loadWord(words, at + B_META);
    const occupied = occupiedLanes(meta, g.lanes);
    for (let lane = 0; lane < g.lanes; lane++) {
      if (((occupied >>> lane) & 1) === 0) continue;
      const m = match(words, at, lane);
      if (m === NO_MATCH) continue;
      if (m === MATCH_RESTART) return LANE_READ_RETRY;
      if (((meta >>> (TOMBSTONE_SHIFT + lane)) & 1) !== 0) {
        return laneStillValid(words, at, s1, gen) ? LANE_READ_MISS : LANE_READ_RETRY;
      }
      out.at = at;
      out.lane = lane;
      out.seq = s1;
      return LANE_READ_HIT;
    }
    if ((meta & OVERFLOW) === 0) return laneStillValid(words, at, s1, gen) ? LANE_READ_MISS : LANE_READ_RETRY;
    b = b + 1 === buckets ? 0 : b + 1;
  }
  return LANE_READ_RETRY; // every bucket OVERFLOWs: a stale geometry
}

/** Matches an int32 key: column 0. Set `key` before each use (one operation per thread at a time). */
export class Int32LaneMatcher {
  key = 0;
  constructor(private readonly g: BucketGeometry) {}
  readonly match: LaneMatcher = (words, at, lane) =>
    loadWord(words, at + laneWordOffset(this.g, 0, lane)) === this.key ? MATCH : NO_MATCH;
}

/**
 * Matches a string key: the HASH column, then the key block KEY_REF names,
 * compared with the packed key (all units <= 0xFF: `packed` set) or unit by
 * unit. Set the fields before each use.
 */
export class StringLaneMatcher {
  hash = 0;
  text = '';
  packed: PackedKey | undefined = undefined;
  views: Views;
  constructor(private readonly g: BucketGeometry, views: Views) {
    this.views = views;
  }
  readonly match: LaneMatcher = (words, at, lane) => {
    if (loadWord(words, at + laneWordOffset(this.g, 0, lane)) !== this.hash) return NO_MATCH;
    const block = loadWord(words, at + laneWordOffset(this.g, 1, lane));
    const same =
      this.packed !== undefined
        ? blockEqualsPacked(words, block, this.packed, this.text.length)
        : blockEqualsString(this.views, block, this.text, MAX_KEY_BYTES);
    return same > 0 ? MATCH : same === 0 ? NO_MATCH : MATCH_RESTART;
  };
}
