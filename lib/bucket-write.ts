/**
 * The JS write protocol over cache-line buckets (lib/bucket.ts): find a
 * key's lane, lock its bucket, write with an intent, release (recovery.ts,
 * "Write protocol with intent"), with the bucket's SEQ as the lock word and
 * the lane named in the intent.
 *
 * Writers:
 *   findLane: walk the key's chain from its home bucket, reading SEQ, META
 *   and the OCCUPIED lanes' key words without validation (keys are
 *   immutable in a table, and META is read before them);
 *   - the key in lane l of bucket i (FULL or TOMBSTONE): lock i from the SEQ
 *     read before its META (LOCK_LOST: read it again);
 *   - absent, not inserting: ABSENT once the chain ends (a bucket without
 *     OVERFLOW), provided the table is still the current one;
 *   - absent, inserting: the first bucket j with an EMPTY lane ends the
 *     chain for this key (no key lives past a bucket that was never full);
 *     OR OVERFLOW into every bucket walked past (all full), then lock j from
 *     the SEQ read before its META, take one unit of REMAINING, and pick
 *     j's first EMPTY lane under the lock.
 *   A locked bucket on the way: wait for it (pause) and read it again,
 *   unless it is full and holds no lane of the key, which no insert can
 *   change (it is walked past).
 *   tryLockBucket: announce LOCK_AT / LOCK_SEQ, CAS SEQ to lockWord(tag, s),
 *   re-read the epoch (a migration may have begun: restore, RESTART).
 *
 *   putLane / deleteLane: stage LANE_INFO (lane and its state before) and the
 *   lane's words in the writer record; commit the intent; write the lane's
 *   words; the META change (EMPTY: OR OCCUPIED, TOMBSTONE: AND ~TOMBSTONE;
 *   delete: OR TOMBSTONE); SIZE +-1 with INTENT_SIZED; release SEQ as
 *   released(s); clear the record ("A put, step by step" below).
 *   Recovery (finishBucketLock) redoes every step after the commit: each is
 *   idempotent.
 *
 * Invariants (besides lib/bucket.ts's):
 * - A CAS of SEQ from s succeeds only if nobody locked the bucket since s
 *   was read (the version moves on every release), so the lanes the writer
 *   looked at are unchanged, but for OVERFLOW bits set meanwhile.
 * - Only the holder of a bucket's lock changes its lane words or lane bits.
 * - An insert's OVERFLOW ORs happen before its lock CAS, hence before its
 *   release: a reader or writer that starts after the release sees them.
 */
import {
  B_META,
  LANE_EMPTY,
  LANE_FULL,
  LANE_TOMBSTONE,
  OVERFLOW,
  type BucketGeometry,
  type LaneState,
  bucketAt,
  firstEmptyLane,
  homeBucket,
  laneState,
  laneWordOffset,
  markOccupied,
  markRevived,
  markTombstone,
  occupiedLanes,
} from './bucket.js';
import { genOf } from './epoch.js';
import {
  H_EPOCH,
  INTENT_COPY,
  INTENT_DELETE,
  INTENT_OP_MASK,
  INTENT_PUT,
  INTENT_SIZED,
  T_REMAINING,
  T_SIZE,
  W_INTENT,
  W_INTENT_PAYLOAD,
  W_INTENT_TABLE,
  W_LOCK_SEQ,
} from './layout.js';
import { LOCKED, loadWord, lockWord, released, storeWord } from './seqlock.js';
import { abortLocked, announceLock, clearLock, commitIntent } from './intent.js';

/** A table of buckets as one thread sees it. */
export interface BucketTable {
  /** Word index of the table region (its header: SIZE, REMAINING). */
  readonly base: number;
  /** Word index of bucket 0. */
  readonly first: number;
  /** Number of buckets. */
  readonly buckets: number;
}

/** What the write steps need from the writing thread. */
export interface BucketWriteHost {
  /** The map's words (a view that covers the table). */
  readonly words: Int32Array;
  readonly g: BucketGeometry;
  /** This thread's writer record (word index) and its tag (lockWord). */
  readonly rec: number;
  readonly tag: number;
  /** Wait a little for a lock another thread holds (backs off; throws past the wait timeout). */
  pause(attempt: number, what: string): void;
  /** The table's insert budget is spent: start its resize (returns when the caller should re-read the epoch). */
  budgetExhausted(epoch: number): void;
}

/**
 * Does lane `lane` of the bucket at `at` (OCCUPIED) hold the key? MATCH,
 * NO_MATCH, or MATCH_RESTART when it cannot tell now (a string key block
 * beyond this thread's view: the caller refreshes and starts over).
 */
export type LaneMatcher = (words: Int32Array, at: number, lane: number) => number;
export const NO_MATCH = 0;
export const MATCH = 1;
export const MATCH_RESTART = -1;

/** The lane a writer holds locked, as findLane leaves it. */
export interface LaneLock {
  /** Word index of the bucket (its SEQ). */
  at: number;
  lane: number;
  /** SEQ before the lock. */
  seq: number;
  /** The lane's state when locked: LANE_EMPTY for an insert (one unit of REMAINING taken). */
  state: LaneState;
}

/** findLane results. */
export const LANE_LOCKED = 0; // `out` holds the locked lane
export const LANE_ABSENT = 1; // the key is not in the table (not inserting)
export const LANE_RESTART = 2; // the epoch moved, a resize began, or the matcher asked: start over

/** tryLockBucket results. */
export const BUCKET_TAKEN = 0;
export const BUCKET_LOST = 1; // another thread changed SEQ first: read the bucket again
export const BUCKET_RESTART = 2; // the epoch moved (or the budget is spent): start over

// ---- the intent payload of a lane write ----------------------------------------

/** Payload word 0: LANE_INFO = lane | state before << LANE_INFO_STATE_SHIFT. Then the lane's words, column by column. */
export const P_LANE_INFO = 0;
export const P_LANE_WORDS = 1;
export const LANE_INFO_LANE_MASK = 0b111;
export const LANE_INFO_STATE_SHIFT = 4;

export function laneInfo(lane: number, state: LaneState): number {
  return lane | (state << LANE_INFO_STATE_SHIFT);
}
export function laneOfInfo(info: number): number {
  return info & LANE_INFO_LANE_MASK;
}
export function stateOfInfo(info: number): LaneState {
  return (info >>> LANE_INFO_STATE_SHIFT) as LaneState;
}

/** Word index of payload word `p` in writer record `rec`. */
export function payloadAt(rec: number, p: number): number {
  return rec + W_INTENT_PAYLOAD + p;
}

// ---- locking --------------------------------------------------------------------

/**
 * Lock the bucket at `at` whose SEQ was `seq` (even), in `table` of the STABLE
 * `epoch`. With `insert`, one unit of REMAINING is taken after the lock;
 * none left: the bucket is restored and the resize started (BUCKET_RESTART).
 */
export function tryLockBucket(host: BucketWriteHost, table: BucketTable, at: number, seq: number, epoch: number, insert: boolean): number {
  const words = host.words;
  const rec = host.rec;
  // Plain: the CAS below publishes them (recovery trusts LOCK_AT only when the word is locked with this tag).
  announceLock(words, rec, at, seq);
  if (Atomics.compareExchange(words, at, seq, lockWord(host.tag, seq)) !== seq) {
    clearLock(words, rec);
    return BUCKET_LOST;
  }
  // After the locked CAS (a full fence on x86) a plain load reads the epoch as of the CAS or later.
  if (loadWord(words, H_EPOCH) !== epoch) {
    abortLocked(words, rec, at, seq);
    return BUCKET_RESTART;
  }
  if (insert && Atomics.sub(words, table.base + T_REMAINING, 1) <= 0) {
    Atomics.add(words, table.base + T_REMAINING, 1);
    abortLocked(words, rec, at, seq);
    host.budgetExhausted(epoch);
    return BUCKET_RESTART;
  }
  return BUCKET_TAKEN;
}

/**
 * Find `hash`'s key (as `match` tells) in `table` of the STABLE `epoch` and
 * lock the bucket of its lane; with `insert`, an absent key gets an EMPTY
 * lane, locked, with one unit of REMAINING taken. Returns LANE_LOCKED (`out`
 * filled), LANE_ABSENT or LANE_RESTART.
 */
export function findLane(
  host: BucketWriteHost,
  table: BucketTable,
  epoch: number,
  hash: number,
  match: LaneMatcher,
  insert: boolean,
  out: LaneLock,
): number {
  const words = host.words;
  const lanes = host.g.lanes;
  const buckets = table.buckets;
  const home = homeBucket(hash, buckets);
  let b = home;
  let attempt = 0;
  for (let steps = 0; steps <= buckets; ) {
    const at = bucketAt(table.first, b);
    // Plain on x86: the lock CAS below validates it.
    const seq = loadWord(words, at);
    const meta = Atomics.load(words, at + B_META);
    const occupied = occupiedLanes(meta, lanes);
    let lane = -1;
    for (let l = 0; l < lanes; l++) {
      if (((occupied >>> l) & 1) === 0) continue;
      const m = match(words, at, l);
      if (m === MATCH_RESTART) return LANE_RESTART;
      if (m === MATCH) {
        lane = l;
        break;
      }
    }
    const free = lane < 0 ? firstEmptyLane(meta, lanes) : -1;
    if ((seq & LOCKED) !== 0 && (lane >= 0 || free >= 0)) {
      // Held, and either holding our key or open to an insert: wait, then read it again.
      host.pause(attempt++, 'a bucket lock');
      if (Atomics.load(words, H_EPOCH) !== epoch) return LANE_RESTART;
      continue;
    }
    if (lane >= 0) {
      const outcome = tryLockBucket(host, table, at, seq, epoch, false);
      if (outcome === BUCKET_LOST) continue;
      if (outcome === BUCKET_RESTART) return LANE_RESTART;
      out.at = at;
      out.lane = lane;
      out.seq = seq;
      out.state = laneState(Atomics.load(words, at + B_META), lane);
      return LANE_LOCKED;
    }
    if (free >= 0 || (meta & OVERFLOW) === 0) {
      // The chain ends here: no key homed at or before this bucket lives past it.
      if (!insert) {
        return genOf(Atomics.load(words, H_EPOCH)) === genOf(epoch) ? LANE_ABSENT : LANE_RESTART;
      }
      if (free < 0) {
        // Full and the end of the chain: the insert goes on, and readers must follow it.
        Atomics.or(words, at + B_META, OVERFLOW);
      } else {
        const outcome = tryLockBucket(host, table, at, seq, epoch, true);
        if (outcome === BUCKET_LOST) continue;
        if (outcome === BUCKET_RESTART) return LANE_RESTART;
        out.at = at;
        out.lane = firstEmptyLane(Atomics.load(words, at + B_META), lanes);
        out.seq = seq;
        out.state = LANE_EMPTY;
        return LANE_LOCKED;
      }
    }
    b = b + 1 === buckets ? 0 : b + 1;
    steps++;
    attempt = 0;
  }
  // Walked every bucket: a stale view of a reused region (a live table keeps EMPTY lanes).
  return LANE_RESTART;
}

// ---- writing --------------------------------------------------------------------
//
// A put, step by step (each an exported function, in this order, so the unit
// tests can stop a writer after any one of them and run recovery):
//   stagePut       record LANE_INFO and the lane's words          (plain)
//   commitIntent   INTENT_TABLE, INTENT = PUT / DELETE            from here recovery rolls FORWARD (recovery.ts's)
//   writeLane      the lane's words from the record               (plain on x86, Atomics elsewhere)
//   changeMeta     OR OCCUPIED / AND ~TOMBSTONE / OR TOMBSTONE    (atomic; idempotent)
//   countSize      SIZE +- 1 unless the intent is SIZED; then SIZED
//   releaseBucket  SEQ = released(LOCK_SEQ)                       publishes the bucket
//   clearLock      INTENT = 0, LOCK_AT = 0 (recovery.ts's)          (plain)
// A delete stages LANE_INFO only and skips writeLane.

/** Stage a put into the locked lane: LANE_INFO, then the key columns (the lane's own unless it is EMPTY) and the value columns. */
export function stagePut(
  words: Int32Array,
  rec: number,
  g: BucketGeometry,
  lock: LaneLock,
  keyWords: ArrayLike<number>,
  valueWords: ArrayLike<number>,
): void {
  words[payloadAt(rec, P_LANE_INFO)] = laneInfo(lock.lane, lock.state);
  for (let c = 0; c < g.keyInts; c++) {
    words[payloadAt(rec, P_LANE_WORDS + c)] =
      lock.state === LANE_EMPTY ? (keyWords[c] as number) : (words[lock.at + laneWordOffset(g, c, lock.lane)] as number);
  }
  for (let c = 0; c < g.valueInts; c++) words[payloadAt(rec, P_LANE_WORDS + g.keyInts + c)] = valueWords[c] as number;
}

/** Copy the staged lane words into the lane. `atomic`: with Atomics (weakly ordered CPUs). */
export function writeLane(words: Int32Array, rec: number, at: number, g: BucketGeometry, atomic: boolean): void {
  const lane = laneOfInfo(words[payloadAt(rec, P_LANE_INFO)] as number);
  for (let c = 0; c < g.laneInts; c++) {
    const v = words[payloadAt(rec, P_LANE_WORDS + c)] as number;
    if (atomic) Atomics.store(words, at + laneWordOffset(g, c, lane), v);
    else words[at + laneWordOffset(g, c, lane)] = v;
  }
}

/** The META change of the committed intent (after the lane's words: a locked instruction, ordered after them on every CPU). */
export function changeMeta(words: Int32Array, rec: number, at: number): void {
  const info = words[payloadAt(rec, P_LANE_INFO)] as number;
  const lane = laneOfInfo(info);
  if (((words[rec + W_INTENT] as number) & INTENT_OP_MASK) === INTENT_DELETE) markTombstone(words, at, lane);
  else if (stateOfInfo(info) === LANE_EMPTY) markOccupied(words, at, lane);
  else if (stateOfInfo(info) === LANE_TOMBSTONE) markRevived(words, at, lane);
}

/** SIZE + 1 for a put into an EMPTY or TOMBSTONE lane, - 1 for a delete, unless done (INTENT_SIZED); then SIZED. */
export function countSize(words: Int32Array, rec: number): void {
  const intent = words[rec + W_INTENT] as number;
  if ((intent & INTENT_SIZED) !== 0) return;
  const op = intent & INTENT_OP_MASK;
  const delta = op === INTENT_DELETE ? -1 : stateOfInfo(words[payloadAt(rec, P_LANE_INFO)] as number) === LANE_FULL ? 0 : 1;
  if (delta !== 0) Atomics.add(words, (words[rec + W_INTENT_TABLE] as number) + T_SIZE, delta);
  // After the locked add (a full fence on x86), a plain store suffices there. A thread killed
  // between the two leaves SIZE off by one (docs/failure-model.md).
  storeWord(words, rec + W_INTENT, intent | INTENT_SIZED);
}

/** Release the bucket: the version moves on, the reserved bits stay 0. Publishes the lane and META. */
export function releaseBucket(words: Int32Array, rec: number, at: number): void {
  Atomics.store(words, at, released(words[rec + W_LOCK_SEQ] as number));
}

/**
 * Put into the locked lane: `keyWords` are the key columns for an EMPTY lane
 * (ignored otherwise: the lane keeps its key), `valueWords` the value columns.
 * `atomic`: store the lane words with Atomics (weakly ordered CPUs).
 */
export function putLane(
  host: BucketWriteHost,
  table: BucketTable,
  lock: LaneLock,
  keyWords: ArrayLike<number>,
  valueWords: ArrayLike<number>,
  atomic: boolean,
): void {
  const words = host.words;
  const rec = host.rec;
  stagePut(words, rec, host.g, lock, keyWords, valueWords);
  commitIntent(words, rec, INTENT_PUT, table.base);
  writeLane(words, rec, lock.at, host.g, atomic);
  changeMeta(words, rec, lock.at);
  countSize(words, rec);
  releaseBucket(words, rec, lock.at);
  clearLock(words, rec);
}

/** Delete the locked FULL lane. */
export function deleteLane(host: BucketWriteHost, table: BucketTable, lock: LaneLock): void {
  const words = host.words;
  const rec = host.rec;
  words[payloadAt(rec, P_LANE_INFO)] = laneInfo(lock.lane, lock.state);
  commitIntent(words, rec, INTENT_DELETE, table.base);
  changeMeta(words, rec, lock.at);
  countSize(words, rec);
  releaseBucket(words, rec, lock.at);
  clearLock(words, rec);
}

/**
 * Release a locked bucket unchanged. An insert (lane EMPTY when locked) gives
 * its unit of REMAINING back.
 */
export function abortLane(host: BucketWriteHost, table: BucketTable, lock: LaneLock): void {
  if (lock.state === LANE_EMPTY) Atomics.add(host.words, table.base + T_REMAINING, 1);
  abortLocked(host.words, host.rec, lock.at, lock.seq);
}

// ---- recovery ------------------------------------------------------------------

/**
 * Repair the bucket lock a dead writer held (recovery.ts: its record `rec`,
 * the bucket at `at`, locked with its tag). No intent committed: nothing was
 * written, so SEQ is restored (roll back; an insert's unit of REMAINING is not
 * given back). A committed INTENT_PUT, INTENT_DELETE or
 * INTENT_COPY (bucket-copy.ts; no SIZE: the flip counts the chunks): every
 * step after the commit is redone (writeLane .. releaseBucket: each idempotent)
 * and the bucket released (roll forward). Returns true when rolled forward.
 */
export function finishBucketLock(words: Int32Array, g: BucketGeometry, rec: number, at: number): boolean {
  const op = Atomics.load(words, rec + W_INTENT) & INTENT_OP_MASK;
  if (op === INTENT_PUT || op === INTENT_DELETE || op === INTENT_COPY) {
    // Redo every step after the commit; each one is idempotent.
    if (op !== INTENT_DELETE) writeLane(words, rec, at, g, true);
    changeMeta(words, rec, at);
    if (op !== INTENT_COPY) countSize(words, rec); // a copy's count is the chunk's (bucket-copy.ts)
    releaseBucket(words, rec, at);
    clearLock(words, rec);
    return true;
  }
  abortLocked(words, rec, at, Atomics.load(words, rec + W_LOCK_SEQ));
  return false;
}
