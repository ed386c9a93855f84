/**
 * Warm-up of the JS-to-wasm calls of a new instance (Node 20, V8 11.3).
 *
 * V8 11.3 calls an exported wasm function through a generic JS-to-wasm
 * wrapper for its first GENERIC_WRAPPER_BUDGET calls, then compiles a wrapper
 * for the function's signature, for that instance only: every map attached
 * or created in a thread pays that compile once per signature it calls.
 * Measured here (scratch drivers, 50-200 fresh maps, load average 2-5):
 * - the generic wrapper costs ~45 ns per `get` against ~15-30 ns after;
 * - the call that triggers the compile takes 0.4-0.6 ms on its own (the mean
 *   of calls 900-1100 was 2.1 us), so a busy server would see a stall at
 *   some map's 1000th lookup in each worker;
 * - 200 fresh maps: `set` 700-1900 ns and `get` 300-1800 ns per call over
 *   their first 1000 calls; with --no-wasm-generic-wrapper 85 and 15 ns.
 * So a map runs its hot entry points GENERIC_WRAPPER_BUDGET times, with
 * arguments that touch nothing, when it is created or attached: the compile
 * happens in `new SharedFlatMap` / `attach` (~0.5 ms per signature) instead
 * of at a random later call. Later V8 versions cache wrappers per signature;
 * there the warm-up is ~1000 cheap calls (tens of microseconds).
 */

/** V8 11.3's kGenericWrapperBudget: calls through the generic wrapper before the tier-up compile. */
export const GENERIC_WRAPPER_BUDGET = 1000;

/** Calls made by `warmUp`: the budget and a margin, so the tier-up has happened when it returns. */
export const WARM_UP_CALLS = GENERIC_WRAPPER_BUDGET + 24;

/** Call `call` WARM_UP_CALLS times. `call` must not change anything (each entry point has such arguments). */
export function warmUp(call: () => unknown): void {
  for (let i = 0; i < WARM_UP_CALLS; i++) call();
}
