/**
 * Which copy of each hot wasm call a map uses, per thread.
 *
 * Every map has its own instances of the wasm paths (an instance is bound to
 * one memory), so every map's `getI32` is a different function object.
 * V8 11.3 inlines the JS-to-wasm wrapper into the caller only while a call
 * site has seen one target; once a second map's probe goes through the same
 * site, every call there takes the generic call path, ~5 ns more per `get`
 * (at 100k entries, one map's loop 1.09x -> 1.29x `Map.get` as soon as a
 * second map has been read in the thread; docs/design.md §4, "Several maps in
 * one thread"). So each hot call is written out CALL_SITES times, and each
 * map takes one copy, in creation order, round robin: up to CALL_SITES maps
 * of a family in a thread each keep a monomorphic site.
 *
 * The families, and the calls they copy (spec/unit/call-sites.test.ts checks
 * the copies):
 * - `'int32'`: maps with int32 keys and int32 or float64 values. `get`'s probe
 *   (`getI32`; `getF64` in `getFloat64`), `set`'s `putI32`, `delete`'s
 *   `deleteI32` and `add`'s `addI32`. `set`'s `putF64` has one site: four
 *   copies of it in `set` made every int32 overwrite ~2.4 ns slower (39.1-40.5
 *   -> 41.5-41.6 ns, the suite's child at 100k, pinned, 3 alternating pairs). The write path has the same shape as the read path: an
 *   overwrite cost 41.5-44.0 ns with one map written in the thread and
 *   45.8-48.0 ns with two, 42.3-43.7 ns with two after the copies. Such a map
 *   takes a site even when its `get` goes elsewhere (float64 values, another
 *   hasher), because its `delete` and `set` use the copies.
 * - `'string'`: maps with string keys hashed by the built-in murmur3 on a
 *   little-endian CPU (the maps with the string-key wasm paths, any value
 *   kind). `getByString`'s `findStr`, `getStrI32` and `getStrF64`, `putStr`'s
 *   `putStrI32` and `putStrF64`, and `tryDeleteStr`'s `deleteStr`. Measured
 *   before the copies (16-char keys, 1k entries, `taskset -c 0`, 3 processes):
 *   57.2-58.9 ns per get with one string map read in the thread, 63.5-64.8 ns
 *   with two.
 * The other maps take none. The families count separately: the copies of one
 * family are other call sites than those of the other.
 *
 * State: one counter per family per thread (a module instance per isolate);
 * nothing is shared between threads or stored in shared memory.
 */

/** Textual copies of each hot call; spec/unit/call-sites.test.ts counts them. */
export const CALL_SITES = 4;

/** The maps that share one set of copies: int32 keys, or string keys (see the module comment). */
export type CallSiteFamily = 'int32' | 'string';

const nextSite: Record<CallSiteFamily, number> = { int32: 0, string: 0 };

/** The call site for the next map of `family` created or attached in this thread: 0 .. CALL_SITES - 1. */
export function takeCallSite(family: CallSiteFamily): number {
  const site = nextSite[family];
  nextSite[family] = (site + 1) % CALL_SITES;
  return site;
}
