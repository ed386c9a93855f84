/**
 * The fast write paths in WebAssembly (write-int32.wat), per map per thread.
 *
 * Writers: `putI32` / `putF64` run the whole of SharedFlatMap.set for an
 * int32 key with an int32 / float64 value, `deleteI32` the whole of its
 * delete and `addI32` the whole of `add` for int32 values, and `putStrI32` /
 * `putStrF64` the whole of `set` for a short one-byte string key (the key block
 * of a new key is allocated by the caller between two calls: PUT_NEED_BLOCK),
 * when nothing has to be waited for:
 * the same steps, in the same order, as the JS path (recovery.ts, "Write
 * protocol with intent"), with inline wasm atomics instead of Atomics builtin
 * calls. Anything that needs waiting (a migration, a locked slot, a lost CAS,
 * no insert budget left, no writer record yet) returns PUT_SLOW / DEL_SLOW having changed
 * nothing, and the caller runs the JS path, which waits, helps, times out and
 * starts migrations.
 *
 * Migration: `copyRange` copies a run of old slots into the new table (the
 * loop of migration.ts copySlot); it stops at the first slot it would have to
 * wait for (`stoppedAt()`), which the JS copy then handles.
 *
 * Invariants: the caller passes the geometry of the table of generation
 * `gen` that it saw inside the memory (like the read path). `configure` and
 * `setWriter` hold per-instance constants: words per slot, whether every
 * store must be atomic (ORDERED_PLAIN_LOADS false), the murmur3 seed, and this
 * thread's writer record (0 until the thread claims one).
 */
import { compiledOnce, instantiateOver, type SharedWasmMemory, type WasmModule } from './api.js';
import { WASM_BASE64 } from './write-int32.wasm.js';
import type { PackedKeyArgs } from './read-string-path.js';

/** putI32 / putF64: nothing changed, run the JS path. */
export const PUT_SLOW = 0;
/** The key was absent (its slot was EMPTY or a TOMBSTONE) and is now set. */
export const PUT_INSERTED = 1;
/** The key was present; its value was replaced. */
export const PUT_OVERWROTE = 2;
/** putStr*: the key is absent and no key block was passed; nothing changed (allocate one, call again). */
export const PUT_NEED_BLOCK = 3;
/** putStr*: inserted into an EMPTY slot, which now references the key block passed. */
export const PUT_STORED_BLOCK = 4;
/** addI32's result when it handed back (then `handedBack()` is 1; a real sum of INT32_MIN has 0). */
export const ADD_SLOW_RESULT = -2147483648;
/** deleteI32: nothing changed, run the JS path. */
export const DEL_SLOW = 0;
/** The key was present (FULL) and is now a TOMBSTONE. */
export const DEL_DELETED = 1;
/** The key was absent (an EMPTY slot ended the probe, or its slot is a TOMBSTONE). */
export const DEL_ABSENT = 2;
/** copyRange hash modes. */
export const HASH_STORED = 0; // slot word 1 is the key's hash (string keys)
export const HASH_MURMUR3_INT = 1; // fmix32(slot word 1 ^ seed) (int32 keys, built-in murmur3)

/** The cached table and its generation, as the wasm writes take them. */
type CachedTableArgs = [slots: number, capacity: number, gen: number, base: number];

/** put / delete: key, hash, value (unused by delete), then the cached table. */
type PutFn = (...args: [key: number, hash: number, value: number, ...CachedTableArgs]) => number;

/**
 * The string-key put (and delete, which shares its signature): the packed
 * key, the value (unused by delete), the cached table and the key block for
 * an EMPTY slot (NULL_BLOCK: none).
 */
type PutStrFn = (...args: [...PackedKeyArgs, value: number, ...CachedTableArgs, keyRef: number]) => number;

/** One map's write path in one thread. */
export interface WasmWritePath {
  /** Words per slot; 1 when every store must be atomic (not x86); murmur3 seed for HASH_MURMUR3_INT. */
  readonly configure: (stride: number, strict: number, seed: number) => void;
  /** This thread's writer record (word index) and its tag; (0, 0) for none. */
  readonly setWriter: (rec: number, tag: number) => void;
  /** int32 values: PUT_SLOW, PUT_INSERTED or PUT_OVERWROTE. */
  readonly putI32: PutFn;
  /** float64 values: same results. */
  readonly putF64: PutFn;
  /**
   * delete for the same maps: DEL_SLOW, DEL_DELETED or DEL_ABSENT. It has
   * putI32's signature, `value` unused (pass 0), so one wrapper compile serves both.
   */
  readonly deleteI32: PutFn;
  /**
   * add for int32 keys with int32 values (`value` is the delta): the new value,
   * or ADD_SLOW_RESULT with `handedBack()` 1 when nothing changed (a wait, or an
   * int32 overflow the JS path reports). putI32's signature: one wrapper compile.
   */
  readonly addI32: PutFn;
  /**
   * set for string keys of at most KEY_MAX_UNITS one-byte units (built-in
   * murmur3, little-endian) with int32 values: PUT_SLOW, PUT_NEED_BLOCK,
   * PUT_STORED_BLOCK, PUT_INSERTED (a tombstone of the key revived with its own
   * block) or PUT_OVERWROTE. Only PUT_STORED_BLOCK keeps `keyRef`.
   */
  readonly putStrI32: PutStrFn;
  /** The same for float64 values. */
  readonly putStrF64: PutStrFn;
  /**
   * delete of such a string key, any value kind: DEL_SLOW, DEL_DELETED or
   * DEL_ABSENT. putStrI32's signature, `value` and `keyRef` unused (pass 0): one
   * wrapper compile serves both.
   */
  readonly deleteStr: PutStrFn;
  /** The value word of the slot the last deleteStr deleted (an arena value: its block, for the caller to free). */
  readonly lastOld: () => number;
  /** 1 when the last addI32 handed back, 0 when it stored its result. */
  readonly handedBack: () => number;
  /**
   * Copy old slots [first, end) of the table at word `old` into the table with
   * slot 0 at word `slots` (region at `base`). Returns the entries found.
   */
  readonly copyRange: (
    old: number,
    first: number,
    end: number,
    slots: number,
    capacity: number,
    base: number,
    hashMode: number,
  ) => number;
  /** First slot the last copyRange did not handle (its `end` when it handled all). */
  readonly stoppedAt: () => number;
}

/** The compiled module, compiled on first use in this thread. */
export const writePathModule: () => WasmModule = compiledOnce(WASM_BASE64);

/** Instantiate the write path over one map's memory and configure it. */
export function instantiateWritePath(
  memory: SharedWasmMemory,
  stride: number,
  strict: boolean,
  seed: number,
): WasmWritePath {
  const path = instantiateOver(writePathModule(), memory) as WasmWritePath;
  path.configure(stride, strict ? 1 : 0, seed | 0);
  return path;
}
