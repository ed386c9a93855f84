/**
 * Seqlock: tear-free publication of one bucket (lib/bucket.ts), and the
 * encoding of its SEQ word.
 *
 * Seq word encoding (32 bits):
 * ```
 *  31                                   3   2   1   0
 * +--------------------------------------+-------+---+
 * |            version (29 bits)         |   0   | L |
 * +--------------------------------------+-------+---+
 *   L      1 = a writer holds the bucket (the word is odd); while L is set the
 *          upper 29 bits hold the OWNER TAG (writer record number + 1) instead
 *          of the version: `lockWord(tag, s)`. The pre-lock word s is kept in
 *          the owner's writer record (W_LOCK_SEQ) and in the writer's locals.
 *   0      two reserved bits, always 0 (RESERVED_MASK): layout 5 kept a slot's
 *          state here; layout 6 keeps lane states in META (bucket.ts), and the
 *          version stays at bit 3 so that the wasm paths and the tests that
 *          build SEQ words by hand (VERSION_ONE) keep one encoding
 *   version incremented by every release that published a change
 * ```
 *
 * Readers (get, has, iteration), never write shared memory and never lock:
 *   s1 = load(SEQ); if odd, back off and retry;
 *   read META and the lane words (bucket-read.ts, wasm/read-bucket.wat);
 *   check that the table generation is unchanged (epoch.ts);
 *   s2 = Atomics.load(SEQ); if s1 !== s2 retry, else the words read form one
 *   consistent snapshot of the bucket, taken while the table was current.
 *   The generation check cannot be left to the bucket's own SEQ (marking old
 *   buckets at migration): a reused table region would fool a stale reader,
 *   see docs/design.md, "Why a read still loads the epoch".
 *
 * Writers (bucket-write.ts):
 *   record the lock intent (bucket index, pre-lock value s) in their writer record;
 *   CAS SEQ from the even value s they read to lockWord(tag, s) (they own the
 *   bucket, and the word itself says who does: recovery.ts relies on this);
 *   re-check the epoch (a migration may have started: then abort, which
 *   restores s exactly because nothing was written);
 *   write the lane and META; release with one store of `released(s)`,
 *   which publishes them together.
 *
 * Invariants: the SEQ word of an unlocked bucket is always even and its
 * reserved bits are 0; every release moves the version on. (The lane
 * invariants are in bucket.ts.)
 *
 * Memory ordering of the JS read loops (string keys, arena values, iteration;
 * why the reader is correct, see docs/design.md for the long form):
 * - JS Atomics are sequentially consistent; there is no standalone fence.
 * - Weakly ordered CPUs (arm64 and anything that is not x86): every word of the
 *   read window is read with Atomics.load (`ORDERED_PLAIN_LOADS` false), so the
 *   payload loads cannot be reordered after the validating load; the writer
 *   stores payload words with Atomics.store for the same reason.
 * - x86-64 (TSO): loads are not reordered with other loads and stores are not
 *   reordered with other stores, and V8 keeps typed-array accesses in program
 *   order around an Atomics call. The reader therefore needs one Atomics.load,
 *   the validating one, which also keeps V8 from reusing an earlier load of the
 *   same word. This saves ~3 Atomics calls (~8 ns each) on every read.
 *   `FLATSHARE_STRICT_ATOMICS=1` forces the weak-CPU path on x86 (the tests
 *   run both paths).
 *
 * Limitations: the version wraps after 2^29 releases; a reader would need to
 * sleep through exactly a multiple of that many writes to one bucket to be fooled.
 *
 * References: Lameter, "Effective synchronization on Linux/NUMA systems" (2005);
 * Boehm, "Can seqlocks get along with programming language memory models?" (2012);
 * puzpuzpuz/xsync and pb's FlatMapOf seqlock buckets.
 */

/** Low bit: a writer holds the bucket. */
export const LOCKED = 1;
/** The two reserved bits above the lock bit: 0 in every SEQ word of layout 6. */
export const RESERVED_MASK = 0b110;
/** One version step. */
export const VERSION_ONE = 0b1000;
/** Bits of the version counter. */
export const VERSION_MASK = ~(VERSION_ONE - 1);

/** Where the owner tag sits in a locked seq word (in place of the version). */
export const OWNER_TAG_SHIFT = 3;

/**
 * The locked word the writer with record tag `tag` (record number + 1, >= 1)
 * installs on a bucket whose unlocked word was `seq`: owner tag, the word's
 * reserved bits (0), LOCKED. Unique per holder, so a lock left by a dead thread
 * can never be confused with a lock a live thread takes later on the same bucket.
 */
export function lockWord(tag: number, seq: number): number {
  return ((tag << OWNER_TAG_SHIFT) | (seq & RESERVED_MASK) | LOCKED) | 0;
}

/** Owner tag of a locked seq word; 0 when the word is not locked. */
export function lockOwnerTag(word: number): number {
  return (word & LOCKED) === 0 ? 0 : word >>> OWNER_TAG_SHIFT;
}

/**
 * The word that releases a bucket locked from `seq`, the pre-lock word (kept in
 * the writer record as W_LOCK_SEQ: the locked word holds the owner tag, not the
 * version): the next version, reserved bits and lock bit clear. Wraps from the
 * top version to version 0.
 */
export function released(seq: number): number {
  return ((seq & VERSION_MASK) + VERSION_ONE) | 0;
}

/** True when the process runs on a CPU whose plain loads and stores stay in program order. */
function detectOrderedPlainAccess(): boolean {
  const env = typeof process !== 'undefined' ? process.env?.FLATSHARE_STRICT_ATOMICS : undefined;
  if (env === '1' || env === 'true') return false;
  const arch = typeof process !== 'undefined' ? process.arch : 'unknown';
  return arch === 'x64' || arch === 'ia32';
}

/**
 * Whether payload words inside a seqlock window may use plain typed-array
 * accesses (x86 TSO) or must use Atomics (every other CPU). Fixed at load time.
 */
export const ORDERED_PLAIN_LOADS: boolean = detectOrderedPlainAccess();

/** Load a payload word inside a read window. */
export function loadWord(words: Int32Array, index: number): number {
  return ORDERED_PLAIN_LOADS ? (words[index] as number) : Atomics.load(words, index);
}

/** Store a payload word while holding the bucket's lock. */
export function storeWord(words: Int32Array, index: number, value: number): void {
  if (ORDERED_PLAIN_LOADS) words[index] = value;
  else Atomics.store(words, index, value);
}
