/**
 * The lock and intent steps every bucket write shares (bucket-write.ts,
 * bucket-copy.ts, the wasm write paths in write-bucket.wat), on the writer
 * record of the writing thread (layout.ts: W_LOCK_AT, W_LOCK_SEQ, W_INTENT,
 * W_INTENT_TABLE, W_INTENT_PAYLOAD). Recovery (recovery.ts) reads what they
 * leave there when the writer dies.
 *
 * Writers, in this order (bucket-write.ts "A put, step by step"):
 *   announceLock   LOCK_AT, LOCK_SEQ                    plain; published by the lock CAS
 *   CAS SEQ        s -> lockWord(tag, s)                the bucket is ours; the word names the record
 *   stage          INTENT_PAYLOAD = LANE_INFO, lane words (plain)
 *   commitIntent   INTENT_TABLE, INTENT = op            from here recovery rolls FORWARD
 *   ... lane words, META, SIZE, release ...
 *   clearLock      INTENT = 0, LOCK_AT = 0              plain, after the releasing store
 * abortLocked restores SEQ unchanged (nothing was written) and clears.
 *
 * Invariant: recovery trusts LOCK_AT only when the word it names is locked
 * with the record's tag, so a stale LOCK_AT (a lost CAS, a kill before the
 * clear) is harmless; an intent is committed only while the lock is held.
 */
import { INTENT_NONE, W_INTENT, W_INTENT_TABLE, W_LOCK_AT, W_LOCK_SEQ } from './layout.js';
import { storeWord } from './seqlock.js';

/** Announce the lock about to be taken (plain stores, published by the lock CAS). */
export function announceLock(words: Int32Array, rec: number, at: number, seq: number): void {
  words[rec + W_LOCK_AT] = at;
  words[rec + W_LOCK_SEQ] = seq;
}

/** Commit point: from this store on, recovery completes the operation instead of undoing it. */
export function commitIntent(words: Int32Array, rec: number, op: number, tableBase: number): void {
  words[rec + W_INTENT_TABLE] = tableBase;
  // storeWord: a plain store on x86, where stores become visible in program
  // order: the staged payload before the intent, the intent before any lane word.
  storeWord(words, rec + W_INTENT, op);
}

/** Forget the lock and intent after the releasing store (plain stores). */
export function clearLock(words: Int32Array, rec: number): void {
  words[rec + W_INTENT] = INTENT_NONE;
  words[rec + W_LOCK_AT] = 0;
}

/** Release a lock without changing the bucket (nothing was written). */
export function abortLocked(words: Int32Array, rec: number, at: number, seq: number): void {
  Atomics.store(words, at, seq);
  clearLock(words, rec);
}
