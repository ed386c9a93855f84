/**
 * Layout 6: the int32-key write paths over buckets in WebAssembly
 * (write-bucket.wat; protocol in lib/bucket-write.ts), per map per thread.
 *
 * putI32 / putF64 / addI32 / deleteI32 run a whole write when nothing needs
 * waiting for; otherwise they answer SLOW having changed nothing, and the JS
 * path (bucket-write.ts) does the write. Arguments: key, hash, value (or
 * delta), the word index of the first bucket, the bucket count, the
 * generation and the word index of the table region (SIZE, REMAINING).
 * `configure(wide, strict)`: wide 1 for float64 values (4 lanes), 0 for int32
 * (7); strict 1 stores what the JS path stores with storeWord atomically
 * (weakly ordered CPUs). `setWriter(rec, tag)`: the thread's writer record.
 * copyBuckets (the migration copy) serves every key kind: `configureCopy`
 * gives it the map's bucket geometry and murmur3 seed.
 */
import { compiledOnce, instantiateOver, type SharedWasmMemory, type WasmModule } from './api.js';
import { WASM_BASE64 } from './write-bucket.wasm.js';
import type { PackedKeyArgs } from './bucket-read-path.js';

/** put results. */
export const PUT_SLOW = 0;
export const PUT_INSERTED = 1;
export const PUT_OVERWROTE = 2;
/** delete results. */
export const DEL_SLOW = 0;
export const DEL_DELETED = 1;
export const DEL_ABSENT = 2;
/** putStr*: the key is absent and needs its key block (nothing changed); the lane now references keyRef. */
export const PUT_NEED_BLOCK = 3;
export const PUT_STORED_BLOCK = 4;
/** addI32's SLOW answer (INT32_MIN), telling itself from a real result of that value by handedBack() = 1. */
export const ADD_SLOW_RESULT = -0x80000000;

type PutFn = (key: number, hash: number, value: number, first: number, buckets: number, gen: number, base: number) => number;

/** One map's bucket write path in one thread. */
export interface WasmBucketWritePath {
  configure(wide: number, strict: number): void;
  setWriter(rec: number, tag: number): void;
  readonly putI32: PutFn;
  readonly putF64: PutFn;
  readonly addI32: PutFn;
  deleteI32(key: number, hash: number, first: number, buckets: number, gen: number, base: number): number;
  /** 1 when the last addI32 handed back (its result was ADD_SLOW_RESULT). */
  handedBack(): number;
  /** copyBuckets' geometry (lanes a bucket, words a lane, key words a lane) and the murmur3 seed. */
  configureCopy(lanes: number, laneInts: number, keyInts: number, seed: number): void;
  /**
   * The migration copy of old buckets [from, end) (lib/bucket-copy.ts copyBucket, step for step):
   * the entries of the old buckets it finished; stoppedAt() is the first it did not finish.
   */
  copyBuckets(oldFirst: number, from: number, end: number, newFirst: number, newBuckets: number, newBase: number, hashMode: number): number;
  stoppedAt(): number;
  /** String keys, int32 values (4 lanes): PUT_SLOW, PUT_NEED_BLOCK, PUT_STORED_BLOCK, PUT_INSERTED (a revival) or PUT_OVERWROTE. */
  readonly putStrI32: (...args: [...PackedKeyArgs, value: number, first: number, buckets: number, gen: number, base: number, keyRef: number]) => number;
  /** String keys, float64 values (3 lanes): as putStrI32. */
  readonly putStrF64: (...args: [...PackedKeyArgs, value: number, first: number, buckets: number, gen: number, base: number, keyRef: number]) => number;
  /** String keys, any value kind (`lanes` of the map): DEL_DELETED (lastOld(): the value column's word), DEL_ABSENT or DEL_SLOW. */
  readonly deleteStr: (...args: [...PackedKeyArgs, lanes: number, first: number, buckets: number, gen: number, base: number]) => number;
  readonly lastOld: () => number;
}

/** copyBuckets hash modes: the built-in murmur3 of an int32 key, or the HASH column of a string key. */
export const COPY_HASH_STORED = 0;
export const COPY_HASH_MURMUR3_INT = 1;

const MODULE = compiledOnce(WASM_BASE64);

/** The compiled module, compiled on first use in this thread. */
export function bucketWriteModule(): WasmModule {
  return MODULE();
}

/** Instantiate the bucket write path over one map's memory. */
export function instantiateBucketWritePath(memory: SharedWasmMemory): WasmBucketWritePath {
  return instantiateOver(MODULE(), memory) as WasmBucketWritePath;
}
