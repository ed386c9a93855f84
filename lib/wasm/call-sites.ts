/**
 * Which of `get`'s call sites of the int32 probe a map uses, per thread.
 *
 * Every map has its own instance of the wasm read path (an instance is bound
 * to one memory), so every map's `getI32` is a different function object.
 * V8 11.3 inlines the JS-to-wasm wrapper into the caller only while a call
 * site has seen one target; once a second map's probe goes through the same
 * site, every call there takes the generic call path, ~5 ns more per `get`
 * (at 100k entries, one map's loop 1.09x -> 1.29x `Map.get` as soon as a
 * second map has been read in the thread; docs/design.md §4, "Several maps in
 * one thread"). So `get` holds GET_CALL_SITES textual copies of the call, and
 * each int32 -> int32 map takes one of them, in creation order, round robin:
 * up to GET_CALL_SITES such maps in a thread each keep a monomorphic site.
 *
 * State: one counter per thread (a module instance per isolate); nothing is
 * shared between threads or stored in shared memory.
 */

/** Textual copies of the probe call in `SharedFlatMap.get`; spec/unit/call-sites.test.ts counts them. */
export const GET_CALL_SITES = 4;

let nextSite = 0;

/** The call site for the next int32 -> int32 map created or attached in this thread: 0 .. GET_CALL_SITES - 1. */
export function takeGetCallSite(): number {
  const site = nextSite;
  nextSite = (nextSite + 1) % GET_CALL_SITES;
  return site;
}
