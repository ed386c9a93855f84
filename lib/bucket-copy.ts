/**
 * The migration copy over buckets, one old bucket at a time (migration.ts
 * hands out chunks of MIGRATION_CHUNK_BUCKETS buckets, flips and retires;
 * this file copies one bucket's live lanes into the new table).
 *
 * Copier (a helper that owns the chunk of old bucket `b`):
 *   wait until the old bucket is unlocked (table g is read-only while
 *   COPYING: a writer that locked it before the phase left STABLE finishes
 *   first, and no writer locks it after), then for every FULL lane:
 *   walk the key's chain in table g+1 from its home bucket;
 *   - a lane with the same key words: copied before by a helper that did not
 *     finish the chunk (keys are unique in table g, and only that chunk's
 *     owner copies them), so it counts and is not copied again;
 *   - the first bucket with an EMPTY lane: OR OVERFLOW into the full buckets
 *     walked past, then lock the bucket as a write does, but with
 *     INTENT_COPY (LOCK_AT / LOCK_SEQ, LANE_INFO and the lane's words staged,
 *     intent committed, CAS of SEQ), write the lane, OR OCCUPIED, release,
 *     clear. A lost CAS reads the bucket again.
 *   A locked bucket of table g+1 on the way (another copier's): wait, read
 *   it again.
 * SIZE is not counted per copy: the flip writes table g+1's SIZE from the
 * chunks' entry counts. Recovery rolls a dead copier forward like a put
 * (finishBucketLock: INTENT_COPY redoes the lane and META, no SIZE).
 *
 * Invariants: nobody but copiers writes table g+1 before the flip, and
 * nobody reads it; every FULL lane of table g ends in exactly one lane of
 * table g+1 (the scan for its key words before an insert, and one owner per
 * chunk).
 */
import {
  B_META,
  LANE_EMPTY,
  OVERFLOW,
  type BucketGeometry,
  bucketAt,
  firstEmptyLane,
  fullLanes,
  homeBucket,
  laneWordOffset,
  occupiedLanes,
} from './bucket.js';
import {
  P_LANE_INFO,
  P_LANE_WORDS,
  changeMeta,
  laneInfo,
  payloadAt,
  releaseBucket,
  writeLane,
  type BucketTable,
} from './bucket-write.js';
import { INTENT_COPY } from './layout.js';
import { announceLock, clearLock, commitIntent } from './intent.js';
import { LOCKED, loadWord, lockWord } from './seqlock.js';

/** What a copier needs from its thread. */
export interface BucketCopyHost {
  readonly g: BucketGeometry;
  /** This thread's writer record and its tag. */
  readonly rec: number;
  readonly tag: number;
  /** The hash of the key in lane `lane` of the bucket at `at` (int32 keys: the hasher; string keys: the HASH column). */
  hashAt(words: Int32Array, at: number, lane: number): number;
  /** Wait a little for a lock (bounded; repairs DEAD threads; throws past the timeout). */
  pause(attempt: number, what: string): void;
}

/**
 * Copy the FULL lanes of bucket `b` of `old` into `next`; returns how many
 * entries it holds (copied now or before). Store order: `atomic` stores the
 * lane words with Atomics (weakly ordered CPUs), as a put does.
 */
export function copyBucket(host: BucketCopyHost, words: Int32Array, old: BucketTable, next: BucketTable, b: number, atomic: boolean): number {
  const g = host.g;
  const at = bucketAt(old.first, b);
  // First look plain on x86: a lock taken before ALLOCATING precedes the copier's
  // Atomics.load of COPYING in the total order, so this load sees it or its release.
  let seq = loadWord(words, at);
  for (let attempt = 0; (seq & LOCKED) !== 0; attempt++) {
    host.pause(attempt, 'a bucket lock (migration)');
    seq = Atomics.load(words, at);
  }
  const full = fullLanes(Atomics.load(words, at + B_META), g.lanes);
  let entries = 0;
  for (let lane = 0; lane < g.lanes; lane++) {
    if (((full >>> lane) & 1) === 0) continue;
    copyLane(host, words, at, lane, next, atomic);
    entries++;
  }
  return entries;
}

/** Copy lane `lane` of the old bucket at `from` into `next` unless a lane there already has its key words. */
function copyLane(host: BucketCopyHost, words: Int32Array, from: number, lane: number, next: BucketTable, atomic: boolean): void {
  const g = host.g;
  const rec = host.rec;
  let b = homeBucket(host.hashAt(words, from, lane), next.buckets);
  let attempt = 0;
  for (let steps = 0; steps <= next.buckets; ) {
    const at = bucketAt(next.first, b);
    const seq = Atomics.load(words, at);
    if ((seq & LOCKED) !== 0) {
      host.pause(attempt++, 'a bucket lock (migration)');
      continue;
    }
    const meta = Atomics.load(words, at + B_META);
    const occupied = occupiedLanes(meta, g.lanes);
    for (let l = 0; l < g.lanes; l++) {
      if (((occupied >>> l) & 1) !== 0 && sameKey(words, g, from, lane, at, l)) return; // copied before
    }
    const free = firstEmptyLane(meta, g.lanes);
    if (free >= 0) {
      // Stage and commit first (recovery.ts rolls a dead copier forward), then take the bucket.
      announceLock(words, rec, at, seq);
      words[payloadAt(rec, P_LANE_INFO)] = laneInfo(free, LANE_EMPTY);
      // The old lane is FULL in a read-only table: its words are stable.
      for (let c = 0; c < g.laneInts; c++) {
        words[payloadAt(rec, P_LANE_WORDS + c)] = loadWord(words, from + laneWordOffset(g, c, lane));
      }
      commitIntent(words, rec, INTENT_COPY, next.base);
      if (Atomics.compareExchange(words, at, seq, lockWord(host.tag, seq)) === seq) {
        writeLane(words, rec, at, g, atomic);
        changeMeta(words, rec, at);
        releaseBucket(words, rec, at);
        clearLock(words, rec);
        return;
      }
      clearLock(words, rec);
      continue; // another copier took the bucket first: read it again
    }
    if ((meta & OVERFLOW) === 0) Atomics.or(words, at + B_META, OVERFLOW);
    b = b + 1 === next.buckets ? 0 : b + 1;
    steps++;
    attempt = 0;
  }
  throw new Error('flatshare internal error: a new table with no EMPTY lane on a copy\'s chain');
}

/** True when lane `la` of the bucket at `a` and lane `lb` of the bucket at `b` hold the same key words. */
function sameKey(words: Int32Array, g: BucketGeometry, a: number, la: number, b: number, lb: number): boolean {
  for (let c = 0; c < g.keyInts; c++) {
    if (words[a + laneWordOffset(g, c, la)] !== words[b + laneWordOffset(g, c, lb)]) return false;
  }
  return true;
}
