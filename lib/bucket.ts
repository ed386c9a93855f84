/**
 * A table is an array of cache-line BUCKETS, each guarded by one seqlock
 * word (layout 6; layout 5 had slots with one seq word each; why it changed:
 * docs/design.md §10, docs/layout6.md).
 *
 * Bucket (BUCKET_INTS = 16 words = one 64-byte line, line-aligned):
 * ```
 *  +0  SEQ    seqlock word of the whole bucket (seqlock.ts: lock bit, owner tag
 *             while locked, version; its reserved bits stay 0)
 *  +1  META   OCCUPIED bits 0..lanes-1 | TOMBSTONE bits 8..8+lanes-1 | OVERFLOW bit 16
 *  +2  ...    the lanes, in columns: column c of lane l at word 2 + c * lanes + l
 * ```
 * A lane holds one entry: its key words (int32: the key; string: HASH,
 * KEY_REF) then its value words, column by column, so column 0 (the key or
 * the hash) of every lane is contiguous and one SIMD compare tests them all.
 * lanes = floor(LANE_AREA_INTS / lane words): 7 for int32 -> int32.
 *
 * Lane states (META bits of lane l):
 *   EMPTY      OCCUPIED(l) clear: never held a key in this table
 *   FULL       OCCUPIED(l), not TOMBSTONE(l)
 *   TOMBSTONE  OCCUPIED(l) and TOMBSTONE(l): a deleted key, kept so chains stay intact
 * OVERFLOW: an insert walked past this bucket because every lane was
 * OCCUPIED; a reader that does not find its key here reads on only then.
 *
 * Readers: s1 = SEQ (odd: retry); meta = META; compare the key with column 0
 * of the OCCUPIED lanes; a match in lane l: read its value words, validate
 * (epoch generation, SEQ === s1), and answer the value, or a miss for a
 * TOMBSTONE. No match: OVERFLOW -> the next bucket (no validation needed to
 * read on); else validate and answer a miss.
 *
 * Writers change META only by atomic OR / AND, one bit-set per change, each
 * idempotent (recovery may redo one that was done): insert ORs OCCUPIED(l),
 * delete ORs TOMBSTONE(l), a revival ANDs TOMBSTONE(l) away, and an insert
 * that passes a full bucket ORs OVERFLOW into it WITHOUT holding its lock.
 * That last one is why the lock holder never stores META plainly: it would
 * erase an OVERFLOW bit set meanwhile.
 *
 * Invariants:
 * - A lane's key words are written only while the bucket is locked and the
 *   lane EMPTY, before the OR of OCCUPIED(l), and never change afterwards in
 *   that table. OCCUPIED bits are never cleared in a live table. So a walk may
 *   skip a non-matching lane without validation, and a reader that loads
 *   META before the key words sees the key of every OCCUPIED lane.
 * - A key homed at bucket b that lives in bucket j != b: every bucket from b
 *   to j - 1 along the chain has OVERFLOW, set before the insert's release.
 * - Within one table a key occupies at most one lane (docs/layout6.md,
 *   "Invariants": inserts scan the whole chain, then lock the first bucket
 *   with an EMPTY lane from the seq they read before scanning it).
 */
import { CACHE_LINE_INTS, type KeyKind, type ValueKind, keyInts, valueInts } from './layout.js';
import { homeSlot } from './table.js';

/** Words per bucket: one cache line. */
export const BUCKET_INTS = CACHE_LINE_INTS;
/** Word of the bucket's seqlock. */
export const B_SEQ = 0;
/** Word of the lane states and OVERFLOW. */
export const B_META = 1;
/** First lane word. */
export const B_LANES = 2;
/** Words left for lanes. */
export const LANE_AREA_INTS = BUCKET_INTS - B_LANES; // 14

/** META: lane l is OCCUPIED (FULL or TOMBSTONE) when bit OCCUPIED_SHIFT + l is set. */
export const OCCUPIED_SHIFT = 0;
/** META: lane l is a TOMBSTONE when bit TOMBSTONE_SHIFT + l is set (with OCCUPIED). */
export const TOMBSTONE_SHIFT = 8;
/** META: an insert passed this bucket full. */
export const OVERFLOW = 1 << 16;
/** Most lanes a bucket can have: the lane bits of one kind must not reach the next. */
export const MAX_LANES = TOMBSTONE_SHIFT - OCCUPIED_SHIFT;
/** Mask of `lanes` lane bits, unshifted. */
export function laneMask(lanes: number): number {
  return (1 << lanes) - 1;
}

/** Lane states, as laneState returns them. */
export const LANE_EMPTY = 0;
export const LANE_FULL = 1;
export const LANE_TOMBSTONE = 2;
export type LaneState = typeof LANE_EMPTY | typeof LANE_FULL | typeof LANE_TOMBSTONE;

/** Where a map's lane words sit inside a bucket. */
export interface BucketGeometry {
  /** Lanes per bucket. */
  readonly lanes: number;
  /** Words per lane: key words, then value words. */
  readonly laneInts: number;
  /** Key words per lane (int32: 1; string: HASH and KEY_REF). */
  readonly keyInts: number;
  /** Value words per lane. */
  readonly valueInts: number;
}

/** Lanes per bucket for lanes of `laneInts` words. */
export function lanesFor(laneInts: number): number {
  if (!Number.isInteger(laneInts) || laneInts < 1 || laneInts > LANE_AREA_INTS) {
    throw new RangeError(`a lane of ${laneInts} words does not fit a bucket`);
  }
  return Math.min(MAX_LANES, Math.floor(LANE_AREA_INTS / laneInts));
}

/** The bucket geometry of a map with these key and value kinds. */
export function bucketGeometry(keys: KeyKind, values: ValueKind): BucketGeometry {
  const k = keyInts(keys);
  const v = valueInts(values);
  return { lanes: lanesFor(k + v), laneInts: k + v, keyInts: k, valueInts: v };
}

/** Offset from a bucket's first word of lane `lane`'s word in column `column` (0 .. laneInts-1). */
export function laneWordOffset(g: BucketGeometry, column: number, lane: number): number {
  return B_LANES + column * g.lanes + lane;
}

/** Word index of bucket `b` of a table whose first bucket is at word `first`. */
export function bucketAt(first: number, b: number): number {
  return first + b * BUCKET_INTS;
}

/** Home bucket of a 32-bit hash in a table of `buckets` buckets: floor(hash * buckets / 2^32). */
export function homeBucket(hash: number, buckets: number): number {
  return homeSlot(hash, buckets);
}

/** Bitmask (bit l = lane l) of the OCCUPIED lanes in `meta`. */
export function occupiedLanes(meta: number, lanes: number): number {
  return (meta >>> OCCUPIED_SHIFT) & laneMask(lanes);
}

/** Bitmask of the TOMBSTONE lanes in `meta`. */
export function tombstoneLanes(meta: number, lanes: number): number {
  return (meta >>> TOMBSTONE_SHIFT) & laneMask(lanes);
}

/** Bitmask of the FULL lanes in `meta`. */
export function fullLanes(meta: number, lanes: number): number {
  return occupiedLanes(meta, lanes) & ~tombstoneLanes(meta, lanes);
}

/** The state of lane `lane` in `meta`. */
export function laneState(meta: number, lane: number): LaneState {
  if (((meta >>> (OCCUPIED_SHIFT + lane)) & 1) === 0) return LANE_EMPTY;
  return ((meta >>> (TOMBSTONE_SHIFT + lane)) & 1) === 0 ? LANE_FULL : LANE_TOMBSTONE;
}

/** The first EMPTY lane in `meta`, or -1 when every lane is OCCUPIED. */
export function firstEmptyLane(meta: number, lanes: number): number {
  const free = ~occupiedLanes(meta, lanes) & laneMask(lanes);
  return free === 0 ? -1 : 31 - Math.clz32(free & -free);
}

/** True when `meta` says an insert walked past this bucket. */
export function overflows(meta: number): boolean {
  return (meta & OVERFLOW) !== 0;
}

// ---- META changes: each one atomic bit operation, idempotent -----------------

/** Make lane `lane` of the bucket at `at` FULL after an insert into it (EMPTY -> FULL). */
export function markOccupied(words: Int32Array, at: number, lane: number): void {
  Atomics.or(words, at + B_META, 1 << (OCCUPIED_SHIFT + lane));
}

/** Make lane `lane` a TOMBSTONE (FULL -> TOMBSTONE). */
export function markTombstone(words: Int32Array, at: number, lane: number): void {
  Atomics.or(words, at + B_META, 1 << (TOMBSTONE_SHIFT + lane));
}

/** Make lane `lane` FULL again (TOMBSTONE -> FULL; a FULL lane stays FULL). */
export function markRevived(words: Int32Array, at: number, lane: number): void {
  Atomics.and(words, at + B_META, ~(1 << (TOMBSTONE_SHIFT + lane)));
}

/** Set OVERFLOW in the bucket at `at` unless `meta` (its META as last read) has it. */
export function markOverflow(words: Int32Array, at: number, meta: number): void {
  if ((meta & OVERFLOW) === 0) Atomics.or(words, at + B_META, OVERFLOW);
}
