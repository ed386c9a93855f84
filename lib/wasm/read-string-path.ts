/**
 * The string-key read path in WebAssembly (read-string.wat), per map per thread.
 *
 * Readers: JS hashes and packs the key (murmur3StringPacked: four one-byte code
 * units per little-endian word), then one call runs the probe with
 * `i32.atomic.load` for every word: hash, key block header, the key's packed
 * words (passed as arguments, since readers never write shared memory), the
 * epoch and the validating reload of the seq word. For int32 / float64 values
 * the call returns the value (`getStrI32`, `getStrF64` + `lastF64`); for arena
 * values `findStr` returns the slot (its s1 in `lastSeq()`) and JS reads the
 * value block and validates (seqlock.ts: the window then spans both).
 *
 * Only keys of at most KEY_MAX_UNITS units, all <= 0xFF, with the built-in
 * murmur3 on a little-endian CPU, come here; every other key, and every RETRY,
 * runs the JS loop of SharedFlatMap.
 *
 * Invariants: as for the int32 read path (read-path.ts). Every address the
 * module forms from a slot's words is checked against the memory's size first,
 * so a stale table's garbage never makes it trap; the generation check rejects
 * what it read.
 */
import { compiledOnce, instantiateOver, type SharedWasmMemory, type WasmModule } from './api.js';
import { WASM_BASE64 } from './read-string.wasm.js';

/** Longest key (UTF-16 code units, all <= 0xFF) the module compares: 8 packed words. */
export const KEY_MAX_UNITS = 32;
/** findStr: absent (validated). */
export const FIND_MISS = 0;
/** findStr: retry (a writer held a slot, the generation moved, or a stale table). */
export const FIND_RETRY = -1;

/**
 * A string key as every wasm string-key function takes it (read-string.wat,
 * write-int32.wat): its hash, its key block header (n << BLOCK_TAG_BITS |
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

/** The probe's arguments: the packed key, then the cached table. */
type StringProbeFn<R> = (...args: [...PackedKeyArgs, slots: number, capacity: number, stride: number, gen: number]) => R;

/** One map's string-key read path in one thread. */
export interface WasmStringReadPath {
  /** The key's slot: its seq word index (> 0; s1 in lastSeq()), FIND_MISS or FIND_RETRY. */
  readonly findStr: StringProbeFn<number>;
  /** s1 of the slot the last findStr / getStr* found. */
  readonly lastSeq: () => number;
  /** int32 values: the value, READ_MISS or READ_RETRY (read-path.ts). */
  readonly getStrI32: StringProbeFn<number>;
  /** float64 values: STATUS_MISS, STATUS_HIT (value in lastF64()) or STATUS_RETRY. */
  readonly getStrF64: StringProbeFn<number>;
  readonly lastF64: () => number;
}

/** The compiled module, compiled on first use in this thread. */
export const stringReadPathModule: () => WasmModule = compiledOnce(WASM_BASE64);

/** Instantiate the string-key read path over one map's memory. */
export function instantiateStringReadPath(memory: SharedWasmMemory): WasmStringReadPath {
  return instantiateOver(stringReadPathModule(), memory) as WasmStringReadPath;
}
