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
 * int32 -> float64 maps (F64_SLOT_INTS). Not passing it keeps the call at five
 * arguments (docs/design.md §4).
 *
 * Invariants: the caller passes the geometry of the table of generation `gen`
 * (first slot, capacity), which it saw inside the memory; memories
 * never shrink, so every address the loop forms is inside the memory even when
 * that table is long retired, and the generation check rejects such a read.
 *
 * Two builds of the same .wat, chosen once per process by ORDERED_PLAIN_LOADS
 * (lib/seqlock.ts):
 * - weakly ordered CPUs (arm64, and x86 under FLATSHARE_STRICT_ATOMICS=1):
 *   read-int32.wasm, every word by `i32.atomic.load`, as above;
 * - x86-64: read-int32-tso.wasm (scripts/build-wasm.mjs derives it), whose key
 *   and value loads are plain `i32.load`; the seq loads and the epoch load stay
 *   atomic. x86-TSO never performs a load before an older load, and V8 emits
 *   the wasm loads in program order (docs/design.md, "Memory ordering"), so the
 *   payload loads still happen before the validating seq load. The same
 *   argument as the JS path's plain loads on x86, and the same switch.
 *   Why: V8 11.3 checks the alignment of every atomic access (a misaligned one
 *   traps: lea/and/test/jnz before each, seen with `node --print-wasm-code`)
 *   and of no plain one. Measured (2026-12-03, 100k int32 get hits, both
 *   builds in one process, interleaved with Map; an A/A control put a 0.88-0.91
 *   bias on the second-loaded build): about 0.87-0.94× the time of the
 *   all-atomic build (docs/design.md, "Memory ordering").
 *
 * The module is compiled once per thread (synchronously: ~560 bytes) and
 * instantiated once per map per thread, over the map's WebAssembly.Memory.
 */
import { ORDERED_PLAIN_LOADS } from '../seqlock.js';
import { compiledOnce, instantiateOver, type SharedWasmMemory, type WasmModule } from './api.js';
import { WASM_BASE64 as TSO_WASM_BASE64 } from './read-int32-tso.wasm.js';
import { WASM_BASE64 as STRICT_WASM_BASE64 } from './read-int32.wasm.js';

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
 * index of slot 0, and its capacity in slots) and its generation. The home
 * slot is floor(hash * capacity / 2^32), as lib/table.ts homeSlot computes it.
 */
type ProbeFn<R> = (key: number, hash: number, slots: number, capacity: number, gen: number) => R;

/** One map's read path in one thread. */
export interface WasmReadPath {
  /** int32 values: the value, READ_MISS or READ_RETRY. */
  readonly getI32: ProbeFn<number>;
  /** float64 values: STATUS_MISS, STATUS_HIT or STATUS_RETRY. */
  readonly getF64: ProbeFn<number>;
  /** The value of the last getF64 that returned STATUS_HIT in this instance. */
  readonly lastF64: () => number;
}

/** The two builds of read-int32.wat: plain payload loads (x86-64) or every load atomic. */
export type ReadPathBuild = 'tso' | 'strict';

/** Which build this process reads with: 'tso' on x86-64, 'strict' elsewhere. */
export const READ_PATH_BUILD: ReadPathBuild = ORDERED_PLAIN_LOADS ? 'tso' : 'strict';

const MODULES: Record<ReadPathBuild, () => WasmModule> = {
  tso: compiledOnce(TSO_WASM_BASE64),
  strict: compiledOnce(STRICT_WASM_BASE64),
};

/** The compiled module of `build` (default READ_PATH_BUILD), compiled on first use in this thread. */
export function readPathModule(build: ReadPathBuild = READ_PATH_BUILD): WasmModule {
  return MODULES[build]();
}

/**
 * Instantiate the read path over one map's memory. `build` is for tests, which
 * run both builds on this CPU; the library always takes READ_PATH_BUILD.
 */
export function instantiateReadPath(memory: SharedWasmMemory, build: ReadPathBuild = READ_PATH_BUILD): WasmReadPath {
  return instantiateOver(readPathModule(build), memory) as WasmReadPath;
}
