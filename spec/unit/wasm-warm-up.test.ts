/**
 * The JS-to-wasm warm-up (lib/wasm/warm-up.ts) that every int32 map runs when
 * it is created or attached: its arguments must touch nothing, in a map that
 * holds entries and whose thread has a writer record (a second instance in the
 * same thread), and it must call each entry point at least V8's generic-wrapper
 * budget of times. (What it buys is a time and is measured by the benchmarks,
 * not here: set-new at 1k entries, docs/benchmarks.md.)
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { GENERIC_WRAPPER_BUDGET, WARM_UP_CALLS, warmUp } from '../../lib/wasm/warm-up.js';
import { READ_RETRY, STATUS_RETRY, type WasmReadPath } from '../../lib/wasm/read-path.js';
import { PUT_SLOW, instantiateWritePath } from '../../lib/wasm/write-path.js';

test('warmUp calls its function WARM_UP_CALLS times, at least the generic-wrapper budget', (t) => {
  let calls = 0;
  warmUp(() => calls++);
  t.is(calls, WARM_UP_CALLS);
  t.true(WARM_UP_CALLS >= GENERIC_WRAPPER_BUDGET);
});

for (const values of ['int32', 'float64'] as const) {
  test(`${values}: the warm-up calls change no word of a map in use and answer RETRY / PUT_SLOW`, (t) => {
    const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 100 });
    for (let k = 0; k < 50; k++) map.set(k, k);
    const { words, slotInts, memory } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
    const before = words.slice();
    // What warmUpWasm passes (shared-flat-map.ts): slot 0 at word 0, capacity 2, generation -1.
    const read = (map as unknown as { wasm: WasmReadPath }).wasm;
    const write = instantiateWritePath(memory.memory, slotInts, false, 0);
    if (values === 'int32') {
      t.is(read.getI32(0, 0, 0, 2, -1), READ_RETRY);
      t.is(write.putI32(0, 0, 0, 0, 0, -1, 0), PUT_SLOW);
    } else {
      t.is(read.getF64(0, 0, 0, 2, -1), STATUS_RETRY);
      t.is(write.putF64(0, 0, 0, 0, 0, -1, 0), PUT_SLOW);
    }
    // Attaching in this thread runs the same warm-up against the same memory.
    const attached = SharedFlatMap.attach<number, number>(map.handle);
    t.deepEqual(words.slice(), before, 'no word changed');
    for (let k = 0; k < 50; k++) if (attached.get(k) !== k) t.fail(`key ${k}`);
    attached.set(7, 70);
    t.is(map.get(7), 70);
  });
}
