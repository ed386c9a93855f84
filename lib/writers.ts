/**
 * Writer records: the identity of every thread that writes to a map.
 *
 * One record per writing thread (MAX_WRITERS of them, WRITER_RECORD_INTS each):
 * - OWNER: threadId + 1 of the thread that claimed it with a CAS from 0.
 * - ACTIVE_GEN: generation + 1 of the table the writer may be touching, or 0
 *   when it is between operations. Retired table regions are reused only when
 *   no record announces an older generation (epoch.ts, "Region reuse").
 * - LOCK_AT / LOCK_SEQ: written with plain stores just before the writer's
 *   CAS on a bucket's SEQ word, and published by that CAS; LOCK_AT is cleared
 *   after the release. The locked seq word itself carries the record's TAG
 *   (record number + 1, seqlock.ts `lockWord`), so "record r holds the bucket at
 *   LOCK_AT" is exactly `lockOwnerTag(words[LOCK_AT]) === tag(r)`.
 * - STATUS / INTENT / INTENT_TABLE / INTENT_PAYLOAD: crash recovery
 *   (recovery.ts): the intent is what the writer is about to do to the bucket it
 *   holds, so a dead writer's half-done write can be rolled forward.
 *
 * Records are claimed lazily on the first write and cached per thread by map
 * id, so attaching the same map many times in one thread uses one record.
 * Each instance also keeps the record number in a field; `releaseThread` on
 * any instance makes all instances of the map in the thread drop it
 * (recovery.ts `instancesOf`), so none keeps writing through a record the
 * thread gave back.
 */
import { threadId } from 'node:worker_threads';
import { ErrorCode, FlatshareRangeError } from './errors.js';
import {
  MAX_WRITERS,
  WRITERS_BASE,
  WRITER_RECORD_INTS,
  W_ACTIVE_GEN,
  W_INTENT,
  W_LOCK_AT,
  W_OWNER,
  W_STATUS,
  RECORD_LIVE,
} from './layout.js';

/** This thread's record index (word index) per map id. */
const claimedByMap = new Map<string, number>();

/** Word index of record number `n`. */
export function writerRecordAt(n: number): number {
  return WRITERS_BASE + n * WRITER_RECORD_INTS;
}

/** Tag of the record at word index `rec`: record number + 1 (never 0). Goes into lock words and chunk claims. */
export function recordTag(rec: number): number {
  return (rec - WRITERS_BASE) / WRITER_RECORD_INTS + 1;
}

/** Word index of the record whose tag is `tag`, or -1 for a tag that names no record. */
export function recordOfTag(tag: number): number {
  return tag >= 1 && tag <= MAX_WRITERS ? writerRecordAt(tag - 1) : -1;
}

/** Word index of the first record whose OWNER is `owner`, or -1. */
function ownedRecord(words: Int32Array, owner: number): number {
  for (let n = 0; n < MAX_WRITERS; n++) {
    const rec = writerRecordAt(n);
    if (Atomics.load(words, rec + W_OWNER) === owner) return rec;
  }
  return -1;
}

/** Claim (or find) this thread's writer record in the map. Returns its word index. */
export function claimWriterRecord(words: Int32Array, mapId: string): number {
  const cached = claimedByMap.get(mapId);
  if (cached !== undefined && Atomics.load(words, cached + W_OWNER) === threadId + 1) return cached;
  const owner = threadId + 1;
  // A record this thread already owns first (its cached number may have been
  // forgotten: forgetClaimedRecord), so that it never holds two; then a free one.
  let rec = ownedRecord(words, owner);
  for (let n = 0; rec < 0 && n < MAX_WRITERS; n++) {
    const candidate = writerRecordAt(n);
    if (Atomics.load(words, candidate + W_OWNER) === 0 && Atomics.compareExchange(words, candidate + W_OWNER, 0, owner) === 0) {
      rec = candidate;
    }
  }
  if (rec >= 0) {
    Atomics.store(words, rec + W_ACTIVE_GEN, 0);
    Atomics.store(words, rec + W_LOCK_AT, 0);
    Atomics.store(words, rec + W_INTENT, 0);
    Atomics.store(words, rec + W_STATUS, RECORD_LIVE);
    claimedByMap.set(mapId, rec);
    return rec;
  }
  throw new FlatshareRangeError(
    ErrorCode.THREADS,
    `all ${MAX_WRITERS} writer records of this map are taken: too many threads have written to it`,
  );
}

/**
 * Forget this thread's cached record number for `mapId` (no instance of the map
 * is left in this thread: recovery.ts calls it when the last one was collected).
 * The record stays claimed in the map's memory: the next claimWriterRecord in
 * this thread looks for a record it owns before it takes a free one, and
 * releaseWriterRecord finds it by its OWNER word too.
 */
export function forgetClaimedRecord(mapId: string): void {
  claimedByMap.delete(mapId);
}

/** @internal Map ids this thread holds a cached record number for (spec/unit/registry.test.ts). */
export function cachedRecordCount(): number {
  return claimedByMap.size;
}

/**
 * Give this thread's record back (e.g. when the thread is about to exit). It is
 * found by its OWNER word, not only through the cache, which forgetClaimedRecord
 * may have emptied while the thread still owned the record.
 */
export function releaseWriterRecord(words: Int32Array, mapId: string): void {
  claimedByMap.delete(mapId);
  const owner = threadId + 1;
  for (let n = 0; n < MAX_WRITERS; n++) {
    const rec = writerRecordAt(n);
    if (Atomics.load(words, rec + W_OWNER) !== owner) continue;
    Atomics.store(words, rec + W_ACTIVE_GEN, 0);
    Atomics.compareExchange(words, rec + W_OWNER, owner, 0);
  }
}
