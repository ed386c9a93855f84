/**
 * One table: a region of TABLE_HEADER_INTS words followed by `buckets`
 * cache-line buckets of lanes (bucket.ts: the bucket, its lanes and the
 * seqlock protocol), then the migration chunk states.
 *
 * Size: any number of buckets from MIN_BUCKETS to MAX_BUCKETS, not only
 * powers of two, so a presized table holds its entries at the maximum load
 * (layout.ts bucketsFor).
 *
 * Home bucket: floor(hash * buckets / 2^32), the high word of the 64-bit
 * product of the unsigned 32-bit hash and the bucket count (`homeSlot`; the
 * wasm probes compute it with one i64.mul). For a power-of-two count 2^b that
 * is the top b bits of the hash. It keeps tables of every size in the same
 * hash order: it never decreases as the hash grows, and bucket i covers the
 * hashes [slotStart(i), slotStart(i + 1)). Weakly consistent iteration relies
 * on this (bucket-iterator.ts).
 *
 * Chain: home, home+1, ... wrapping from the last bucket to 0; a walk goes on
 * past a bucket only while it has OVERFLOW (bucket.ts). Deletes leave
 * TOMBSTONE lanes that keep their key, so chains stay intact; migration drops
 * them. (A string TOMBSTONE's key block can be reclaimed at the arena limit:
 * its KEY_REF becomes NULL_BLOCK, which matches no key; shared-flat-map.ts
 * reclaimTombstoneKeys.)
 */
import {
  H_TABLE_DESC,
  TABLE_DESC_BASE,
  TABLE_DESC_BUCKETS,
  TABLE_BUCKET_INTS,
  TABLE_DESC_INTS,
  TABLE_HEADER_INTS,
  T_REMAINING,
  T_SIZE,
  tableRegionInts,
} from './layout.js';

/** Where the table of one generation lives, as one thread sees it. */
export interface TableInfo {
  /** Word index of the table region (its header). */
  base: number;
  /** Word index of bucket 0 (its SEQ word). */
  first: number;
  /** Buckets: MIN_BUCKETS .. MAX_BUCKETS, any number (home bucket: homeSlot). */
  buckets: number;
}

/** Word index of the descriptor of generation `gen`'s table. */
export function descriptorAt(gen: number): number {
  return H_TABLE_DESC + (gen & 1) * TABLE_DESC_INTS;
}

/** 2^16: homeSlot splits the 32-bit hash into two 16-bit halves. */
const HALF = 0x10000;
/** The low 16 bits of a hash. */
const HALF_MASK = 0xffff;
/** Size of the 32-bit hash space. */
export const HASH_SPACE = 2 ** 32;

/**
 * Home index of a 32-bit hash (any int32; read as unsigned) in a table of
 * `count` buckets: floor(hash * count / 2^32), exactly. (The name is from
 * layout 5, where the table was an array of slots; bucket.ts homeBucket calls
 * it, and the iterator's hash order argument holds for any count.)
 *
 * The product reaches 2^57 (count <= MAX_BUCKETS = 2^25), past the 2^53 a
 * double holds exactly, so it is taken in two 16-bit halves, each partial
 * product below 2^41: floor((hi * c * 2^16 + lo * c) / 2^32)
 *     = floor((hi * c + floor(lo * c / 2^16)) / 2^16).
 * The wasm probes compute the same value with one i64.mul. spec/unit/table.test.ts
 * checks this function against BigInt arithmetic; spec/unit/bucket-copy.test.ts
 * and spec/unit/wasm-write-path.test.ts check the wasm copyBuckets (which
 * computes home buckets in wasm) against the JS copyBucket.
 */
export function homeSlot(hash: number, count: number): number {
  const low = Math.floor(((hash & HALF_MASK) * count) / HALF);
  return Math.floor(((hash >>> 16) * count + low) / HALF);
}

/**
 * The smallest unsigned hash whose home index is >= `index` in a table of
 * `count` buckets (HASH_SPACE when `index` >= count): bucket i covers the
 * hashes [slotStart(i), slotStart(i + 1)). Starts from the rounded quotient
 * and steps to the exact boundary with homeSlot, so it inherits its exactness.
 */
export function slotStart(index: number, count: number): number {
  if (index <= 0) return 0;
  if (index >= count) return HASH_SPACE;
  let h = Math.min(HASH_SPACE - 1, Math.ceil((index * HASH_SPACE) / count));
  while (h > 0 && homeSlot(h - 1, count) >= index) h--;
  while (homeSlot(h, count) < index) h++;
  return h;
}

/** Read generation `gen`'s descriptor. Only meaningful while the epoch's generation is `gen` or `gen + 1`'s allocation is done. */
export function readTableInfo(words: Int32Array, gen: number): TableInfo {
  const desc = descriptorAt(gen);
  const base = Atomics.load(words, desc + TABLE_DESC_BASE);
  const buckets = Atomics.load(words, desc + TABLE_DESC_BUCKETS);
  return { base, first: base + TABLE_HEADER_INTS, buckets };
}

/** The words of generation `gen`'s table region (readTableInfo's caveat applies). */
export function tableRegionOf(words: Int32Array, gen: number): { base: number; ints: number } {
  const table = readTableInfo(words, gen);
  return { base: table.base, ints: tableRegionInts(table.buckets) };
}

/** Publish the descriptor of generation `gen`'s table (done before the epoch store that makes it visible). */
export function writeTableInfo(words: Int32Array, gen: number, base: number, buckets: number): void {
  const desc = descriptorAt(gen);
  Atomics.store(words, desc + TABLE_DESC_BASE, base);
  Atomics.store(words, desc + TABLE_DESC_BUCKETS, buckets);
}

/** Initialize a table region's header: entries already in it and inserts it still accepts. */
export function initTableHeader(words: Int32Array, base: number, size: number, remaining: number): void {
  Atomics.store(words, base + T_SIZE, size);
  Atomics.store(words, base + T_REMAINING, remaining);
}

/** True when the `words` view covers the whole table. */
export function viewCovers(words: Int32Array, info: TableInfo): boolean {
  return info.buckets > 0 && info.first + info.buckets * TABLE_BUCKET_INTS <= words.length && info.base >= 0;
}
