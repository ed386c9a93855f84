/**
 * Arena: variable-length blocks for string keys and string, bytes and json
 * values, inside the map's SharedArrayBuffer.
 *
 * Block format (layout.ts): one HEADER word `byteLength << BLOCK_TAG_BITS | tag`,
 * then the payload bytes padded to a whole word. A block's size is the size of
 * its class, `ARENA_CLASS_SIZES[classFor(blockIntsFor(byteLength))]`, so the
 * class of a live block follows from its header and needs no word of its own.
 *
 * Allocation: size classes (exact up to 8 words, then 4 steps per doubling, so
 * a block wastes less than a quarter of its size) and one free list per class.
 * `allocateBlock` pops the class's free list, or bump-allocates a new block
 * from H_ALLOC_TOP like table regions (memory.ts). `freeBlock` pushes. Space
 * freed by an overwrite or a delete is therefore reused by the next block of
 * the same class: overwriting one key forever keeps a bounded footprint.
 *
 * Writers (the only threads that allocate and free):
 *   lock the class record: CAS LOCK 0 -> threadId + 1 (the owner's identity,
 *   so a lock left by a terminated thread can be found and released);
 *   pop: head = FREE_HEAD; FREE_HEAD = head's link word; or push: link = FREE_HEAD;
 *   FREE_HEAD = block; then store LOCK = 0, which publishes the list.
 *   Lock order: a writer may take a class lock while it holds a bucket lock,
 *   never the other way round, and holds one class lock at a time: no cycles.
 *   A thread that dies between the two stores of a pop or push leaves a list
 *   that is still well formed (at worst one block is leaked).
 *
 * Readers never touch the free lists. They read a block between the two loads
 * of a bucket's SEQ word, so the block may be freed and reused under them. That
 * is caught by the reader's validation: a block is freed only after the bucket
 * whose lane referenced it was released with a new version (an overwrite or a
 * delete), or after the epoch moved on (a migration dropped a tombstone, or a
 * clear). Until validation succeeds the header is untrusted, so
 * `payloadBytes` bounds-checks it against the view and the kind's size limit:
 * a torn read never throws, never reads out of range and never allocates a
 * huge string.
 *
 * Invariants:
 * - A block referenced by a FULL or TOMBSTONE lane of the current table is
 *   never on a free list.
 * - A key block is immutable from its publication until it is freed.
 * - Each block is freed exactly once: by the writer that unlinked it from its
 *   lane (overwrite, delete), or by the thread that flipped the epoch, for the
 *   blocks only the retired table referenced.
 *
 * Limitations: blocks are not split or merged, so space freed in one class
 * serves only that class (see docs/design.md, "Arena").
 */
import {
  ARENA_BASE,
  ARENA_CLASS_INTS,
  ARENA_CLASS_SIZES,
  ARENA_CLASSES,
  A_FREE_HEAD,
  A_LOCK,
  BLOCK_HEADER_INTS,
  BLOCK_TAG_BITS,
  BLOCK_TAG_MASK,
  INT_BYTES,
  MIN_BLOCK_INTS,
  NULL_BLOCK,
} from './layout.js';
import { bumpAllocate, type SharedMemory } from './memory.js';
import { backoff } from './backoff.js';
import { loadWord, storeWord } from './seqlock.js';
import { threadId } from 'node:worker_threads';

/** The thread identity written into a class lock: threadId + 1, never 0. */
const OWNER = threadId + 1;

/** What the arena needs from the calling thread's map instance. */
export interface ArenaHost {
  readonly memory: SharedMemory;
  /** The current explicit-length view. */
  words(): Int32Array;
  /** Make new views after the buffer grew; returns the new word view. */
  refreshWords(): Int32Array;
  /**
   * One step of a bounded wait for a class lock (spin, sleep, repair dead
   * threads, throw ERR_FLATSHARE_TIMEOUT past the map's limit). Plain backoff
   * when absent.
   */
  pause?(attempt: number, what: string): void;
}

/** Words a block with `byteLength` payload bytes needs, before rounding up to its class. */
export function blockIntsFor(byteLength: number): number {
  return Math.max(MIN_BLOCK_INTS, BLOCK_HEADER_INTS + Math.ceil(byteLength / INT_BYTES));
}

/** The smallest class whose blocks hold `ints` words (binary search over ARENA_CLASS_SIZES). */
export function classFor(ints: number): number {
  let lo = 0;
  let hi = ARENA_CLASSES - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ARENA_CLASS_SIZES[mid] as number) < ints) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Size in words of the block that holds a payload of `byteLength` bytes. */
export function blockSizeFor(byteLength: number): number {
  return ARENA_CLASS_SIZES[classFor(blockIntsFor(byteLength))] as number;
}

/** The header word of a block holding `byteLength` bytes with encoding `tag`. */
export function blockHeader(byteLength: number, tag: number): number {
  return (byteLength << BLOCK_TAG_BITS) | tag;
}

/** Word index of class `c`'s record. */
function classRecord(c: number): number {
  return ARENA_BASE + c * ARENA_CLASS_INTS;
}

function lockClass(host: ArenaHost, words: Int32Array, rec: number): void {
  for (let attempt = 0; Atomics.compareExchange(words, rec + A_LOCK, 0, OWNER) !== 0; attempt++) {
    if (host.pause !== undefined) host.pause(attempt, 'an arena free-list lock');
    else backoff(attempt);
  }
}

function unlockClass(words: Int32Array, rec: number): void {
  // Publishes the list head and the link words written under the lock.
  Atomics.store(words, rec + A_LOCK, 0);
}

/**
 * Allocate a block for `byteLength` payload bytes and write its header.
 * Returns the block index. The caller writes the payload, then publishes the
 * index through a bucket release. Throws FlatshareFullError (nothing allocated)
 * when a new block would exceed maxBytes.
 */
export function allocateBlock(host: ArenaHost, byteLength: number, tag: number): number {
  const c = classFor(blockIntsFor(byteLength));
  const size = ARENA_CLASS_SIZES[c] as number;
  let words = host.words();
  const rec = classRecord(c);
  let block = NULL_BLOCK;
  // A hint, read plain on x86 (loadWord): the pop below re-reads it under the
  // class lock, and a stale NULL only means a new block instead of a free one.
  if (loadWord(words, rec + A_FREE_HEAD) !== NULL_BLOCK) {
    lockClass(host, words, rec);
    block = Atomics.load(words, rec + A_FREE_HEAD);
    if (block !== NULL_BLOCK) {
      if (block + size > words.length) words = host.refreshWords();
      Atomics.store(words, rec + A_FREE_HEAD, Atomics.load(words, block + BLOCK_HEADER_INTS));
    }
    unlockClass(words, rec);
  }
  if (block === NULL_BLOCK) {
    block = bumpAllocate(words, host.memory, size);
  }
  if (block + size > words.length) words = host.refreshWords();
  // storeWord (plain on x86), like the payload words written next: no other
  // thread can reach the block before the bucket release that publishes it.
  storeWord(words, block, blockHeader(byteLength, tag));
  return block;
}

/**
 * Put a block back on its class's free list. Only for a block that no lane of
 * the current table references any more (see the invariants above).
 */
export function freeBlock(host: ArenaHost, block: number): void {
  if (block === NULL_BLOCK) return;
  let words = host.words();
  if (block + MIN_BLOCK_INTS > words.length) words = host.refreshWords();
  const header = Atomics.load(words, block);
  const c = classFor(blockIntsFor(header >>> BLOCK_TAG_BITS));
  const rec = classRecord(c);
  lockClass(host, words, rec);
  Atomics.store(words, block + BLOCK_HEADER_INTS, Atomics.load(words, rec + A_FREE_HEAD));
  Atomics.store(words, rec + A_FREE_HEAD, block);
  unlockClass(words, rec);
}

/**
 * Release every class lock held by `owner` (threadId + 1 of a thread known to
 * be dead; recovery.ts). A pop or push cut short between its two stores leaves
 * the list well formed (at worst one block leaks), so releasing is enough.
 * Returns the number of locks released.
 */
export function releaseClassLocksOf(words: Int32Array, owner: number): number {
  if (owner === 0) return 0;
  let released = 0;
  for (let c = 0; c < ARENA_CLASSES; c++) {
    if (Atomics.compareExchange(words, classRecord(c) + A_LOCK, owner, 0) === owner) released++;
  }
  return released;
}

/** Encoding tag of a block header. */
export function headerTag(header: number): number {
  return header & BLOCK_TAG_MASK;
}

/**
 * Payload length of the block at `block`, read from an UNVALIDATED header, or
 * -1 when the header cannot belong to a block of at most `maxBytes` bytes that
 * lies inside `words` (a torn or reused read: the caller retries).
 */
export function payloadBytes(words: Int32Array, block: number, header: number, maxBytes: number): number {
  const byteLength = header >>> BLOCK_TAG_BITS;
  if (block <= NULL_BLOCK || byteLength > maxBytes) return -1;
  if (block + BLOCK_HEADER_INTS + Math.ceil(byteLength / INT_BYTES) > words.length) return -1;
  return byteLength;
}

/** Free blocks in class `c` (walks the list under its lock; for tests and stats). */
export function freeListLength(host: ArenaHost, c: number): number {
  let words = host.refreshWords();
  const rec = classRecord(c);
  lockClass(host, words, rec);
  let n = 0;
  try {
    for (let block = Atomics.load(words, rec + A_FREE_HEAD); block !== NULL_BLOCK; n++) {
      if (block + MIN_BLOCK_INTS > words.length) words = host.refreshWords();
      block = Atomics.load(words, block + BLOCK_HEADER_INTS);
    }
  } finally {
    unlockClass(words, rec);
  }
  return n;
}

