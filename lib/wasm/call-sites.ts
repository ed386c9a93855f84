/**
 * Which copy of each hot wasm call a map uses, per thread: `get`'s call of
 * the int32 probe, and `set`'s, `delete`'s and `add`'s calls of the int32
 * put, delete and add.
 *
 * Every map has its own instance of the wasm read path (an instance is bound
 * to one memory), so every map's `getI32` is a different function object.
 * V8 11.3 inlines the JS-to-wasm wrapper into the caller only while a call
 * site has seen one target; once a second map's probe goes through the same
 * site, every call there takes the generic call path, ~5 ns more per `get`
 * (at 100k entries, one map's loop 1.09x -> 1.29x `Map.get` as soon as a
 * second map has been read in the thread; docs/design.md §4, "Several maps in
 * one thread"). So `get` holds CALL_SITES textual copies of the call, and
 * each int32 -> int32 map takes one of them, in creation order, round robin:
 * up to CALL_SITES such maps in a thread each keep a monomorphic site.
 * The write path has the same shape (every map its own write instance): an
 * overwrite cost 41.5-44.0 ns with one map written in the thread and
 * 45.8-48.0 ns with two. So `set` (`putI32`), `delete` (`deleteI32`) and `add`
 * (`addI32`) hold CALL_SITES copies too, picked by the same site: 42.3-43.7 ns
 * with two (docs/design.md §4). Every map with int32 keys and int32 or
 * float64 values takes a site, because its `delete` (and, for int32 values,
 * `set` and `add`) goes through the copies even when its `get` does not
 * (float64 values, another hasher); the other maps take none.
 *
 * State: one counter per thread (a module instance per isolate); nothing is
 * shared between threads or stored in shared memory.
 */

/** Textual copies of the call in `SharedFlatMap.get`, `set`, `delete` and `add`; spec/unit/call-sites.test.ts counts them. */
export const CALL_SITES = 4;

let nextSite = 0;

/** The call site for the next map with int32 keys and int32 or float64 values created or attached in this thread: 0 .. CALL_SITES - 1. */
export function takeCallSite(): number {
  const site = nextSite;
  nextSite = (nextSite + 1) % CALL_SITES;
  return site;
}
