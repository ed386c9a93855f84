/**
 * The int32-key read path in WebAssembly (read-int32.wat), per thread.
 *
 * Readers: `getI32` / `getF64` run the whole seqlock read of SharedFlatMap.get
 * for int32 keys with int32 or float64 values: probe, `i32.atomic.load` of the
 * seq word, key, value words and epoch, and the validating reload of the seq
 * word. They never store to the shared memory. Atomic wasm loads are
 * sequentially consistent like `Atomics.load`, so the read is ordered on every
 * CPU (x86-64 and arm64 alike), but they cost a `mov` (x86) or an `ldar` (arm64)
 * instead of a 7-8 ns builtin call: see docs/design.md, "The int32 read path".
 *
 * Results: getI32 returns the int32 value as a number, READ_MISS or READ_RETRY
 * (both outside the int32 range). getF64 returns STATUS_MISS, STATUS_HIT (the
 * value is then `lastF64()`, an instance global, not shared memory) or
 * STATUS_RETRY. RETRY means "a writer held the slot, or the table generation
 * moved": the caller refreshes its table or backs off and calls again.
 *
 * Each function serves one slot size, a constant in its code: getI32 only
 * int32 -> int32 maps (I32_SLOT_INTS words per slot), getF64 only
 * int32 -> float64 maps (F64_SLOT_INTS). The table mask is 0xffffffff >>> shift.
 * Passing neither keeps the call at five arguments (docs/design.md §4).
 *
 * Invariants: the caller passes the geometry of the table of generation `gen`
 * (first slot, shift), which it saw inside the memory; memories
 * never shrink, so every address the loop forms is inside the memory even when
 * that table is long retired, and the generation check rejects such a read.
 *
 * The module is compiled once per thread (synchronously: 519 bytes) and
 * instantiated once per map per thread, over the map's WebAssembly.Memory.
 */
import { compiledOnce, instantiateOver, type SharedWasmMemory, type WasmModule } from './api.js';
import { WASM_BASE64 } from './read-int32.wasm.js';

/** getI32: the key is absent (2^32, never an int32 value). */
export const READ_MISS = 2 ** 32;
/** getI32: retry (a writer holds the slot, or the generation moved; 2^33). */
export const READ_RETRY = 2 ** 33;
/** getF64 results. */
export const STATUS_MISS = 0;
export const STATUS_HIT = 1;
export const STATUS_RETRY = 2;

/** Words per slot of the maps getI32 serves (int32 keys, int32 values); its code assumes it. */
export const I32_SLOT_INTS = 3;
/** Words per slot of the maps getF64 serves (int32 keys, float64 values). */
export const F64_SLOT_INTS = 4;

/**
 * The probe functions' common arguments: key, its hash, the cached table (word
 * index of slot 0, and shift = 32 - log2(slots)) and its generation.
 */
type ProbeFn<R> = (key: number, hash: number, slots: number, shift: number, gen: number) => R;

/** One map's read path in one thread. */
export interface WasmReadPath {
  /** int32 values: the value, READ_MISS or READ_RETRY. */
  readonly getI32: ProbeFn<number>;
  /** float64 values: STATUS_MISS, STATUS_HIT or STATUS_RETRY. */
  readonly getF64: ProbeFn<number>;
  /** The value of the last getF64 that returned STATUS_HIT in this instance. */
  readonly lastF64: () => number;
}

/** The compiled module, compiled on first use in this thread. */
export const readPathModule: () => WasmModule = compiledOnce(WASM_BASE64);

/** Instantiate the read path over one map's memory. */
export function instantiateReadPath(memory: SharedWasmMemory): WasmReadPath {
  return instantiateOver(readPathModule(), memory) as WasmReadPath;
}
