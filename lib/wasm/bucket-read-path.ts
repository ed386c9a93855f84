/**
 * Layout 6: the read paths over cache-line buckets in WebAssembly
 * (read-bucket.wat; bucket layout and protocol in lib/bucket.ts), per thread:
 * int32 keys (getI32, getF64) and short one-byte string keys (findStr,
 * getStrI32, getStrF64: the key packed by JS as for read-string-path.ts).
 *
 * `getI32` / `getF64` run the whole seqlock read of a bucket table for int32
 * keys with int32 (7 lanes a bucket) or float64 values (4 lanes): home bucket,
 * SEQ, META, one SIMD compare of the bucket's keys, the value words, the
 * epoch and the validating SEQ reload; OVERFLOW sends them to the next
 * bucket. They never store to the shared memory. Results as read-path.ts:
 * getI32 the value, READ_MISS or READ_RETRY; getF64 STATUS_MISS, STATUS_HIT
 * (value in `lastF64()`) or STATUS_RETRY.
 *
 * Arguments: key, its hash, the word index of the table's first bucket, the
 * number of buckets and the generation. Every address the loop forms lies
 * inside that table, which lay inside the memory when the caller saw it;
 * memories never shrink, and the generation check rejects a retired table.
 *
 * Two builds, chosen once per process by ORDERED_PLAIN_LOADS (seqlock.ts):
 * read-bucket.wasm for weakly ordered CPUs (META and value loads atomic, an
 * `atomic.fence` before each validation, because the key words are read by a
 * plain `v128.load`), and read-bucket-tso.wasm for x86-64 (plain payload
 * loads, no fences: TSO keeps loads in program order).
 */
import { ORDERED_PLAIN_LOADS } from '../seqlock.js';
import { compiledOnce, instantiateOver, type SharedWasmMemory, type WasmModule } from './api.js';
import { WASM_BASE64 as TSO_WASM_BASE64 } from './read-bucket-tso.wasm.js';
import { WASM_BASE64 as STRICT_WASM_BASE64 } from './read-bucket.wasm.js';

/** getI32 / getStrI32: the key is absent (2^32, never an int32 value). */
export const READ_MISS = 2 ** 32;
/** getI32 / getStrI32: retry (a writer holds the bucket, or the generation moved; 2^33). */
export const READ_RETRY = 2 ** 33;
/** getF64 / getStrF64 results. */
export const STATUS_MISS = 0;
export const STATUS_HIT = 1;
export const STATUS_RETRY = 2;

/** Longest key (UTF-16 code units, all <= 0xFF) the string functions compare: 8 packed words. */
export const KEY_MAX_UNITS = 32;
/** findStr: absent (validated). */
export const FIND_MISS = 0;
/** findStr: retry (a writer held a bucket, the generation moved, or a stale table). */
export const FIND_RETRY = -1;

/**
 * A string key as every wasm string-key function takes it (read-bucket.wat,
 * write-bucket.wat): its hash, its key block header (n << BLOCK_TAG_BITS |
 * TAG_LATIN1) and its packed words (strings.ts PackedKey; unused ones 0).
 */
export type PackedKeyArgs = [
  hash: number,
  header: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  w4: number,
  w5: number,
  w6: number,
  w7: number,
];

/** The two builds of read-bucket.wat: plain payload loads and no fences (x86-64), or atomic loads and fences. */
export type ReadPathBuild = 'tso' | 'strict';

/** Lanes a bucket has in the maps getI32 serves (int32 keys, int32 values); its code assumes it. */
export const I32_BUCKET_LANES = 7;
/** Lanes a bucket has in the maps getF64 serves (int32 keys, float64 values). */
export const F64_BUCKET_LANES = 4;

/** The probes' arguments: key, hash, first bucket's word index, bucket count, generation. */
type BucketProbeFn<R> = (key: number, hash: number, first: number, buckets: number, gen: number) => R;

/** One map's bucket read path in one thread. */
export interface WasmBucketReadPath {
  /** int32 values: the value, READ_MISS or READ_RETRY. */
  readonly getI32: BucketProbeFn<number>;
  /** float64 values: STATUS_MISS, STATUS_HIT or STATUS_RETRY. */
  readonly getF64: BucketProbeFn<number>;
  /** The value of the last getF64 / getStrF64 that returned STATUS_HIT in this instance. */
  readonly lastF64: () => number;
  /** String keys, arena values: the bucket (SEQ word index) of the key's FULL lane, unvalidated; FIND_MISS or FIND_RETRY. */
  readonly findStr: (...args: [...PackedKeyArgs, first: number, buckets: number, lanes: number, gen: number]) => number;
  /** findStr's last hit: the bucket's SEQ as read (validate against it) and the lane. */
  readonly lastSeq: () => number;
  readonly lastLane: () => number;
  /** string -> int32: the value, READ_MISS or READ_RETRY. */
  readonly getStrI32: (...args: [...PackedKeyArgs, first: number, buckets: number, gen: number]) => number;
  /** string -> float64: STATUS_MISS, STATUS_HIT (lastF64()) or STATUS_RETRY. */
  readonly getStrF64: (...args: [...PackedKeyArgs, first: number, buckets: number, gen: number]) => number;
}

/** Which build this process reads with: 'tso' on x86-64, 'strict' elsewhere. */
export const BUCKET_READ_BUILD: ReadPathBuild = ORDERED_PLAIN_LOADS ? 'tso' : 'strict';

const MODULES: Record<ReadPathBuild, () => WasmModule> = {
  tso: compiledOnce(TSO_WASM_BASE64),
  strict: compiledOnce(STRICT_WASM_BASE64),
};

/** The compiled module of `build` (default BUCKET_READ_BUILD), compiled on first use in this thread. */
export function bucketReadModule(build: ReadPathBuild = BUCKET_READ_BUILD): WasmModule {
  return MODULES[build]();
}

/** Instantiate the bucket read path over one map's memory; `build` is for tests, which run both. */
export function instantiateBucketReadPath(memory: SharedWasmMemory, build: ReadPathBuild = BUCKET_READ_BUILD): WasmBucketReadPath {
  return instantiateOver(bucketReadModule(build), memory) as WasmBucketReadPath;
}
