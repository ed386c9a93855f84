/**
 * The WebAssembly int32 read path (lib/wasm/read-int32.wat, read-path.ts):
 *
 * - The committed bytes (read-int32.wasm.ts) are what scripts/build-wasm.mjs
 *   assembles from the committed .wat, so the two cannot drift; the same for
 *   the x86 build (read-int32-tso.wasm.ts), whose only difference is plain
 *   key and value loads, and each process reads with the build its CPU allows.
 * - Both builds answer every probe below alike (both run on this CPU).
 * - The layout constants written into the .wat are the ones lib/ defines.
 * - The module never writes the shared memory: no store, read-modify-write,
 *   notify or grow instruction in its source; it imports only the memory.
 * - The probe answers READ_RETRY / STATUS_RETRY, never a value or a miss, when
 *   a writer holds the slot or when the generation moved, and answers hits,
 *   misses and tombstones like the map does.
 */
import test from 'ava';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { H_EPOCH, INT_BYTES, S_KEY, slotInts as slotIntsOf, valueOffset } from '../../lib/layout.js';
import { EMPTY, FULL, LOCKED, ORDERED_PLAIN_LOADS, STATE_MASK, TOMBSTONE, lockWord } from '../../lib/seqlock.js';
import {
  F64_SLOT_INTS,
  I32_SLOT_INTS,
  READ_MISS,
  READ_PATH_BUILD,
  READ_RETRY,
  STATUS_HIT,
  STATUS_MISS,
  STATUS_RETRY,
  instantiateReadPath,
  readPathModule,
  type WasmReadPath,
} from '../../lib/wasm/read-path.js';
import { WASM_BASE64 } from '../../lib/wasm/read-int32.wasm.js';
import { WASM_BASE64 as TSO_WASM_BASE64 } from '../../lib/wasm/read-int32-tso.wasm.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../../lib/memory.js';
import { MEMORY_IMPORT, assertAssembledFromWat, declaredConstants, int32SlotOf, moduleInterface, readWat, watCode } from '../helpers/wasm.js';
import { homeSlot, slotStart } from '../../lib/table.js';

const wat = readWat('read-int32');

test('the committed wasm bytes are exactly what scripts/build-wasm.mjs assembles from read-int32.wat', (t) =>
  assertAssembledFromWat(t, 'read-int32', WASM_BASE64));

test('the x86 build is read-int32.wat with exactly its key and value loads plain; seq and epoch loads stay atomic', async (t) => {
  const tso = await assertAssembledFromWat(t, 'read-int32-tso', TSO_WASM_BASE64);
  const count = (text: string, re: RegExp): number => (watCode(text).match(re) ?? []).length;
  // getI32: key, value; getF64: key, low and high value words.
  t.is(count(tso, /\bi32\.load offset=/g), 5);
  t.is(count(tso, /i32\.atomic\.load offset=/g), 0);
  t.is(count(wat, /i32\.atomic\.load offset=/g), 5);
  // What stays atomic: the first seq load, the epoch and the validating seq reload (twice each: hit and EMPTY).
  t.is(count(tso, /i32\.atomic\.load \(/g), count(wat, /i32\.atomic\.load \(/g));
  t.is(count(tso, /i32\.atomic\.load \(local\.get \$at\)\)/g), 3 * 2);
  t.is(count(tso, new RegExp(`i32\\.atomic\\.load \\(i32\\.const ${H_EPOCH * INT_BYTES}\\)`, 'g')), 2 * 2);
});

test('a process reads with the x86 build exactly when plain loads are ordered on its CPU', (t) => {
  t.is(READ_PATH_BUILD, ORDERED_PLAIN_LOADS ? 'tso' : 'strict');
  t.is(readPathModule(), readPathModule(READ_PATH_BUILD));
  t.not(readPathModule('tso'), readPathModule('strict'));
});

test('the layout constants the .wat was written for are the ones lib/ defines', (t) => {
  const expected: Record<string, number> = {
    EPOCH_BYTES: H_EPOCH * INT_BYTES,
    GEN_SHIFT,
    LOCKED,
    STATE_MASK,
    EMPTY,
    TOMBSTONE,
    KEY_BYTES: S_KEY * INT_BYTES,
    VALUE_BYTES: valueOffset('int32') * INT_BYTES,
    I32_SLOT_BYTES: slotIntsOf('int32', 'int32') * INT_BYTES,
    F64_SLOT_BYTES: slotIntsOf('int32', 'float64') * INT_BYTES,
    MISS: READ_MISS,
    RETRY: READ_RETRY,
    STATUS_MISS,
    STATUS_HIT,
    STATUS_RETRY,
  };
  t.deepEqual(declaredConstants(wat), expected);
  // And the code uses them: each literal appears as an i32/f64 constant or an offset.
  t.regex(wat, new RegExp(`i32\\.atomic\\.load \\(i32\\.const ${H_EPOCH * INT_BYTES}\\)`));
  t.regex(wat, new RegExp(`i32\\.const ${GEN_SHIFT}\\)`));
  t.regex(wat, new RegExp(`offset=${S_KEY * INT_BYTES} `));
  t.regex(wat, new RegExp(`offset=${valueOffset('int32') * INT_BYTES} `));
  t.regex(wat, new RegExp(`f64\\.const ${READ_MISS}\\)`));
  // getI32 steps I32_SLOT_BYTES, getF64 F64_SLOT_BYTES (twice each: the home slot and the next one).
  const [getI32Code, getF64Code] = watCode(wat).split('(func (export "getF64")');
  const steps = (code: string | undefined, bytes: number): number =>
    (code ?? '').split(`(i32.const ${bytes})`).length - 1;
  t.is(steps(getI32Code, slotIntsOf('int32', 'int32') * INT_BYTES), 2);
  t.is(steps(getF64Code, slotIntsOf('int32', 'float64') * INT_BYTES), 2);
  t.is(I32_SLOT_INTS, slotIntsOf('int32', 'int32'));
  t.is(F64_SLOT_INTS, slotIntsOf('int32', 'float64'));
  t.regex(wat, new RegExp(`f64\\.const ${READ_RETRY}\\)`));
});

test('the module only reads the shared memory: no store, rmw, notify or grow; imports only the memory', (t) => {
  t.notRegex(watCode(wat), /store|\.rmw|notify|memory\.grow|memory\.fill|memory\.copy|memory\.init/);
  const { imports, exports } = moduleInterface(readPathModule());
  t.deepEqual(imports, MEMORY_IMPORT);
  t.deepEqual(exports, ['getI32', 'getF64', 'lastF64']);
});

type NumMap = SharedFlatMap<number, number>;
const internals = (map: NumMap) => SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
const wasmOf = (map: NumMap): WasmReadPath => (map as unknown as { wasm: WasmReadPath }).wasm;

/** The seq word index of `key`'s slot (the map must hold it). */
const slotOf = int32SlotOf;

const BUILDS = ['map', 'tso', 'strict'] as const;

for (const values of ['int32', 'float64'] as const) for (const build of BUILDS) {
  test(`${values}, ${build === 'map' ? "the map's own" : build} build: hit, miss, tombstone; RETRY on a locked slot and on a moved generation`, (t) => {
    const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 1000 });
    const value = (k: number): number => (values === 'float64' ? k / 4 : k * 3);
    for (let k = 0; k < 500; k++) map.set(k, value(k));
    map.delete(7);
    const wasm = build === 'map' ? wasmOf(map) : instantiateReadPath(internals(map).memory.memory, build);
    // Taken once: unsafeExposeInternals refreshes the cached table, which must
    // not happen while the test fakes the epoch word below.
    const { table, slotInts, gen: currentGen } = internals(map);
    t.is(slotInts, values === 'int32' ? I32_SLOT_INTS : F64_SLOT_INTS, 'the slot size the probe assumes');
    const probe = (key: number, gen = currentGen): number | 'miss' | 'retry' => {
      const args = [key, hashers.default.hashInt(key), table.slots, table.capacity, gen] as const;
      if (values === 'int32') {
        const r = wasm.getI32(...args);
        return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
      }
      const status = wasm.getF64(...args);
      return status === STATUS_MISS ? 'miss' : status === STATUS_RETRY ? 'retry' : wasm.lastF64();
    };
    for (let k = 0; k < 500; k++) if (k !== 7 && probe(k) !== value(k)) t.fail(`hit ${k}: ${probe(k)}`);
    t.is(probe(7), 'miss', 'a tombstone is a miss');
    t.is(probe(100_000), 'miss');
    t.is(probe(42, currentGen + 1), 'retry', 'another generation: retry');

    const { words } = internals(map);
    const at = slotOf(map, 42);
    const seq = Atomics.load(words, at);
    Atomics.store(words, at, lockWord(3, seq));
    t.is(probe(42), 'retry', 'a locked slot: retry, not its value');
    Atomics.store(words, at, seq);
    t.is(probe(42), value(42));
    // A held epoch word in another generation while the table is unchanged (a flip happened).
    const epoch = Atomics.load(words, H_EPOCH);
    Atomics.store(words, H_EPOCH, epoch + (1 << GEN_SHIFT));
    t.is(probe(42), 'retry', 'the generation moved: retry');
    t.is(probe(100_000), 'retry', 'also for a miss');
    Atomics.store(words, H_EPOCH, epoch);
    t.is(probe(42), value(42));
  });
}

/**
 * A hand-built 5-slot table (not a power of two) in a memory of its own: the
 * probe starts at the home slot floor(hash * 5 / 2^32), walks from the last
 * slot to slot 0, and a table without an EMPTY slot (possible only for a
 * stale geometry: a live table always keeps one) answers RETRY once it has seen
 * every slot, instead of probing forever.
 */
for (const values of ['int32', 'float64'] as const) for (const build of ['tso', 'strict'] as const) {
  test(`${values}, ${build} build: the probe wraps from the last slot to slot 0, and stops with RETRY in a table with no EMPTY slot`, (t) => {
    const memory = createSharedMemory(WASM_PAGE_BYTES, WASM_PAGE_BYTES);
    const wasm = instantiateReadPath(memory.memory, build);
    const words = new Int32Array(memory.buffer);
    const gen = 5;
    const stride = values === 'int32' ? I32_SLOT_INTS : F64_SLOT_INTS;
    const base = 64; // word index of slot 0, past the epoch word
    const capacity = 5;
    const last = capacity - 1;
    const lastSlotHash = slotStart(last, capacity) | 0; // the smallest hash whose home is slot 4
    t.is(homeSlot(lastSlotHash, capacity), last);
    Atomics.store(words, H_EPOCH, gen << GEN_SHIFT);
    const fill = (slot: number, state: number, key: number, value: number): void => {
      const at = base + slot * stride;
      words[at] = state;
      words[at + S_KEY] = key;
      if (values === 'int32') words[at + valueOffset('int32')] = value;
      else new Float64Array(memory.buffer, (at + valueOffset('int32')) * INT_BYTES, 1)[0] = value + 0.5;
    };
    const probe = (key: number): number | 'miss' | 'retry' => {
      const args = [key, lastSlotHash, base, capacity, gen] as const;
      if (values === 'int32') {
        const r = wasm.getI32(...args);
        return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
      }
      const status = wasm.getF64(...args);
      return status === STATUS_MISS ? 'miss' : status === STATUS_RETRY ? 'retry' : wasm.lastF64();
    };
    const expect = (v: number): number => (values === 'int32' ? v : v + 0.5);
    fill(last, FULL, 100, 1);
    fill(0, FULL, 200, 77);
    // slots 1 to 3 EMPTY
    t.is(probe(100), expect(1), 'the home slot (the last one)');
    t.is(probe(200), expect(77), 'found after wrapping to slot 0');
    t.is(probe(300), 'miss', 'absent: the EMPTY slot 1 after the wrap ends the probe');
    fill(1, FULL, 201, 78);
    fill(2, FULL, 202, 79);
    fill(3, FULL, 203, 80);
    t.is(probe(202), expect(79), 'every slot FULL: a present key is still found');
    t.is(probe(300), 'retry', 'every slot FULL and the key absent: RETRY after one lap, not an endless probe');
    fill(2, TOMBSTONE, 202, 79);
    t.is(probe(202), 'miss', 'a tombstone of the key');
    t.is(probe(300), 'retry', 'no EMPTY slot (a tombstone does not end a probe)');
  });
}
