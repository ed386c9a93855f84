/**
 * The WebAssembly write paths (lib/wasm/write-int32.wat, write-path.ts):
 *
 * - The committed bytes (write-int32.wasm.ts) are what scripts/build-wasm.mjs
 *   assembles from the committed .wat, and the layout constants the .wat was
 *   written for are the ones lib/ defines.
 * - putI32 / putF64 insert, overwrite and revive exactly like the JS path:
 *   slot word, SIZE, REMAINING, and a writer record left clear and idle.
 * - Every case that needs waiting (a locked slot, a migration, a stale
 *   generation, no insert budget, no writer record) answers PUT_SLOW with
 *   every word of the memory unchanged.
 * - SharedFlatMap.set takes the wasm path for int32 keys (so the tests across
 *   threads exercise it) and the JS path for what wasm hands back.
 * - copyRange lays a table out word for word as the JS copySlot does, for
 *   int32 and string keys, stops at a locked slot, and does not copy an entry
 *   twice.
 * Each case runs with plain stores (strict 0, what x86 runs) and with atomic
 * stores (strict 1, every other CPU).
 */
import test from 'ava';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { GEN_SHIFT, PHASE_COPYING } from '../../lib/epoch.js';
import {
  H_EPOCH,
  H_MAP_ID,
  INTENT_COPY,
  INTENT_DELETE,
  INTENT_PUT,
  INTENT_SIZED,
  INT_BYTES,
  MAP_ID_INTS,
  BLOCK_HEADER_INTS,
  BLOCK_TAG_BITS,
  NULL_BLOCK,
  S_HASH,
  S_KEY,
  S_KEY_REF,
  TAG_LATIN1,
  T_REMAINING,
  T_SIZE,
  W_ACTIVE_GEN,
  W_INTENT,
  W_INTENT_PAYLOAD,
  W_INTENT_TABLE,
  W_LOCK_AT,
  W_LOCK_SEQ,
  slotInts,
  valueOffset,
} from '../../lib/layout.js';
import { EMPTY, FULL, LOCKED, OWNER_TAG_SHIFT, STATE_MASK, TOMBSTONE, VERSION_MASK, VERSION_ONE, lockWord, released } from '../../lib/seqlock.js';
import { copySlot, type MigrationHost } from '../../lib/migration.js';
import { homeSlot, type TableInfo } from '../../lib/table.js';
import { recordTag } from '../../lib/writers.js';
import { FMIX_C1, FMIX_C2, fmix32, murmur3StringPacked } from '../../lib/hashers/murmur3.js';
import { PackedKey } from '../../lib/strings.js';
import { allocateBlock, type ArenaHost } from '../../lib/arena.js';
import { writeBlockPacked } from '../../lib/blocks.js';
import {
  ADD_SLOW_RESULT,
  DEL_ABSENT,
  DEL_DELETED,
  DEL_SLOW,
  HASH_MURMUR3_INT,
  HASH_STORED,
  PUT_INSERTED,
  PUT_NEED_BLOCK,
  PUT_OVERWROTE,
  PUT_SLOW,
  PUT_STORED_BLOCK,
  instantiateWritePath,
  writePathModule,
  type WasmWritePath,
} from '../../lib/wasm/write-path.js';
import { WASM_BASE64 } from '../../lib/wasm/write-int32.wasm.js';
import { MEMORY_IMPORT, assertAssembledFromWat, declaredConstants, int32SlotOf, moduleInterface, readWat, watCode } from '../helpers/wasm.js';

const wat = readWat('write-int32');

test('the committed wasm bytes are exactly what scripts/build-wasm.mjs assembles from write-int32.wat', (t) =>
  assertAssembledFromWat(t, 'write-int32', WASM_BASE64));

test('the layout constants the .wat was written for are the ones lib/ defines', (t) => {
  const expected: Record<string, number> = {
    EPOCH_BYTES: H_EPOCH * INT_BYTES,
    PAGE_WORDS_SHIFT: Math.log2(WASM_PAGE_BYTES / INT_BYTES),
    GEN_SHIFT,
    LOCKED,
    STATE_MASK,
    EMPTY,
    FULL,
    OWNER_TAG_SHIFT,
    VERSION_MASK: VERSION_MASK >>> 0,
    VERSION_ONE,
    KEY_BYTES: S_KEY * INT_BYTES,
    VALUE_BYTES: valueOffset('int32') * INT_BYTES,
    W_ACTIVE_GEN_BYTES: W_ACTIVE_GEN * INT_BYTES,
    W_LOCK_AT_BYTES: W_LOCK_AT * INT_BYTES,
    W_LOCK_SEQ_BYTES: W_LOCK_SEQ * INT_BYTES,
    W_INTENT_BYTES: W_INTENT * INT_BYTES,
    W_INTENT_TABLE_BYTES: W_INTENT_TABLE * INT_BYTES,
    W_INTENT_PAYLOAD_BYTES: W_INTENT_PAYLOAD * INT_BYTES,
    T_SIZE_BYTES: T_SIZE * INT_BYTES,
    T_REMAINING_BYTES: T_REMAINING * INT_BYTES,
    INTENT_PUT,
    INTENT_DELETE,
    INTENT_COPY,
    INTENT_SIZED,
    PUT_SLOW,
    PUT_INSERTED,
    PUT_OVERWROTE,
    TOMBSTONE,
    DEL_SLOW,
    DEL_DELETED,
    DEL_ABSENT,
    ADD_SLOW_RESULT,
    HASH_BYTES: S_HASH * INT_BYTES,
    KEY_REF_BYTES: S_KEY_REF * INT_BYTES,
    STR_VALUE_BYTES: valueOffset('string') * INT_BYTES,
    STR_F64_SLOT_INTS: slotInts('string', 'float64'),
    BLOCK_TAG_BITS,
    PAYLOAD_BYTES: BLOCK_HEADER_INTS * INT_BYTES,
    PUT_NEED_BLOCK,
    PUT_STORED_BLOCK,
    FMIX_C1,
    FMIX_C2,
  };
  t.deepEqual(declaredConstants(wat), expected);
  // copyRange rehashes int32 keys with fmix32 written out: the same multipliers as lib/hashers/murmur3.ts.
  for (const c of [FMIX_C1, FMIX_C2]) t.regex(watCode(wat), new RegExp(`\\(i32\\.mul \\(local\\.get \\$h\\) \\(i32\\.const 0x${c.toString(16)}\\)\\)`));
  t.is(TAG_LATIN1, 0, 'the packed key header has no tag bits');
  // The code uses them where the protocol says (offsets are byte offsets from the record / slot / table).
  const code = watCode(wat);
  t.regex(code, new RegExp(`i32\\.atomic\\.load \\(i32\\.const ${H_EPOCH * INT_BYTES}\\)`));
  t.regex(code, new RegExp(`i32\\.atomic\\.store offset=${W_ACTIVE_GEN * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.store offset=${W_LOCK_AT * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.store offset=${W_LOCK_SEQ * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.store offset=${W_INTENT_TABLE * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.store offset=${W_INTENT_PAYLOAD * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.atomic\\.rmw\\.sub offset=${T_REMAINING * INT_BYTES} `));
  t.regex(wat, new RegExp(`\\(i32\\.const ${released(EMPTY, FULL)}\\)\\) ;; released\\(EMPTY, FULL\\)`));
  t.is(W_INTENT_PAYLOAD - 1 + S_KEY, W_INTENT_PAYLOAD, 'the staged key is the first payload word');
});

test('the module imports only the memory and exports the write path', (t) => {
  const { imports, exports } = moduleInterface(writePathModule());
  t.deepEqual(imports, MEMORY_IMPORT);
  t.deepEqual(exports.sort(), ['addI32', 'configure', 'copyRange', 'deleteI32', 'deleteStr', 'handedBack', 'lastOld', 'putF64', 'putI32', 'putStrF64', 'putStrI32', 'setWriter', 'stoppedAt']);
});

type NumMap = SharedFlatMap<number, number>;
type AnyMap = SharedFlatMap<unknown, unknown>;
const internals = (map: AnyMap) => SharedFlatMap.unsafeExposeInternals(map);

/** The seq word index of int32 `key`'s slot, or of the EMPTY slot where it would go. */
const slotOf = int32SlotOf;

interface Rig {
  map: NumMap;
  words: Int32Array;
  table: TableInfo;
  gen: number;
  rec: number;
  w: WasmWritePath;
  put(key: number, value: number, gen?: number): number;
  del(key: number, gen?: number): number;
  add(key: number, delta: number, gen?: number): number;
}

/** A map with a claimed writer record and a separate write-path instance over its memory. */
function rig(values: 'int32' | 'float64', strict: boolean): Rig {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 1000 });
  for (let k = 0; k < 300; k++) map.set(k, k * 2); // the first set claims the writer record
  const i = internals(map as AnyMap);
  const w = instantiateWritePath(i.memory.memory, i.slotInts, strict, 0);
  w.setWriter(i.writerRecord, recordTag(i.writerRecord));
  const { table, gen } = i;
  const put = (key: number, value: number, g = gen): number => {
    const args = [key, hashers.default.hashInt(key), value, table.slots, table.capacity, g, table.base] as const;
    return values === 'int32' ? w.putI32(...args) : w.putF64(...args);
  };
  const del = (key: number, g = gen): number =>
    w.deleteI32(key, hashers.default.hashInt(key), 0, table.slots, table.capacity, g, table.base);
  const add = (key: number, delta: number, g = gen): number =>
    w.addI32(key, hashers.default.hashInt(key), delta, table.slots, table.capacity, g, table.base);
  return { map, words: i.words, table, gen, rec: i.writerRecord, w, put, del, add };
}

/** Indices at which `a` and `b` differ, ignoring the indices in `skip`. */
function changedWords(a: Int32Array, b: Int32Array, skip: number | readonly number[] = []): number {
  const ignored = new Set(typeof skip === 'number' ? [skip] : skip);
  let diffs = 0;
  for (let i = 0; i < a.length; i++) if (!ignored.has(i) && a[i] !== b[i]) diffs++;
  return diffs;
}

/** The two words of a map's random MAP_ID: the only header words in which two maps made alike differ. */
const MAP_ID_WORDS: readonly number[] = Array.from({ length: MAP_ID_INTS }, (_, j) => H_MAP_ID + j);

/** Wrap the JS path `method` of `map` (setSlow, deleteSlow, addSlow) with a call counter. */
function spyOnSlowPath(map: NumMap, method: 'setSlow' | 'deleteSlow' | 'addSlow'): { readonly calls: number } {
  const target = map as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = (target[method] as (...args: unknown[]) => unknown).bind(map);
  const spy = { calls: 0 };
  target[method] = (...args: unknown[]) => {
    spy.calls++;
    return original(...args);
  };
  return spy;
}

/** The record is as an idle writer leaves it: no lock, no intent, no generation announced. */
function assertIdle(t: { is(a: unknown, b: unknown, m?: string): void }, r: Rig): void {
  t.is(r.words[r.rec + W_LOCK_AT], 0, 'LOCK_AT cleared');
  t.is(r.words[r.rec + W_INTENT], 0, 'INTENT cleared');
  t.is(r.words[r.rec + W_ACTIVE_GEN], 0, 'idle');
}

for (const strict of [false, true]) {
  for (const values of ['int32', 'float64'] as const) {
    const label = `${values}, strict ${strict ? 1 : 0}`;
    const value = (k: number): number => (values === 'float64' ? k / 8 - 1000.25 : k * 7 - 5);

    test(`put (${label}): insert, overwrite and revive match the JS write path`, (t) => {
      const r = rig(values, strict);
      const { words, table } = r;
      const size0 = words[table.base + T_SIZE] as number;
      const remaining0 = words[table.base + T_REMAINING] as number;

      const at = slotOf(r.map, 5000);
      t.is(words[at], EMPTY);
      t.is(r.put(5000, value(5000)), PUT_INSERTED);
      t.is(words[at], released(EMPTY, FULL), 'released FULL with a new version');
      t.is(words[at + S_KEY], 5000);
      t.is(r.map.get(5000), value(5000));
      t.is(words[table.base + T_SIZE], size0 + 1, 'SIZE + 1');
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'one unit of insert budget');
      assertIdle(t, r);

      t.is(r.put(5000, value(6000)), PUT_OVERWROTE);
      t.is(words[at], released(released(EMPTY, FULL), FULL));
      t.is(r.map.get(5000), value(6000));
      t.is(words[table.base + T_SIZE], size0 + 1, 'an overwrite does not count');
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'nor take budget');
      assertIdle(t, r);

      t.true(r.map.delete(5000));
      t.is((words[at] as number) & STATE_MASK, TOMBSTONE);
      t.is(r.put(5000, value(7000)), PUT_INSERTED, 'reviving a tombstone is an insert');
      t.is(r.map.get(5000), value(7000));
      t.is(words[table.base + T_SIZE], size0 + 1);
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'a tombstone takes no budget');
      t.is(r.map.size, 301);
      if (values === 'float64') {
        for (const v of [-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, 2 ** 53 + 2]) {
          r.put(9, v);
          t.true(Object.is(r.map.get(9), v), `float64 ${v}`);
        }
      } else {
        for (const v of [-(2 ** 31), 2 ** 31 - 1, -1, 0]) {
          r.put(9, v);
          t.is(r.map.get(9), v);
        }
      }
    });

    test(`put (${label}): every case that must wait answers PUT_SLOW and changes no word`, (t) => {
      const r = rig(values, strict);
      const { words, table, gen } = r;
      const slow = (what: string, key: number, g = gen): void => {
        const before = words.slice();
        t.is(r.put(key, value(key) + 1, g), PUT_SLOW, what);
        t.is(changedWords(before, words), 0, `${what}: no word changed`);
      };
      // A slot another writer holds: the key's own, and one on the probe path of an absent key.
      const at = slotOf(r.map, 42);
      const seq = words[at] as number;
      words[at] = lockWord(7, seq);
      slow('locked slot of the key', 42);
      words[at] = seq;
      const emptyAt = slotOf(r.map, 777_777);
      words[emptyAt] = lockWord(7, EMPTY);
      slow('locked EMPTY slot where the key would go', 777_777);
      words[emptyAt] = EMPTY;
      // The epoch: a migration in progress, a generation the caller has not seen, a stale one.
      const epoch = words[H_EPOCH] as number;
      words[H_EPOCH] = epoch | PHASE_COPYING;
      slow('migration in progress (overwrite)', 42);
      slow('migration in progress (insert)', 777_777);
      words[H_EPOCH] = epoch;
      slow('a newer generation than the cached table', 42, gen - 1);
      slow('a generation that is not current', 42, gen + 1);
      t.is(epoch >>> GEN_SHIFT, gen);
      // No insert budget left: an insert hands back (the JS path starts the migration) ...
      const remaining = words[table.base + T_REMAINING] as number;
      words[table.base + T_REMAINING] = 0;
      slow('no insert budget', 777_777);
      // ... an overwrite needs none.
      t.is(r.put(42, value(1)), PUT_OVERWROTE, 'an overwrite with no budget left');
      words[table.base + T_REMAINING] = remaining;
      // No writer record claimed in this instance.
      r.w.setWriter(0, 0);
      slow('no writer record', 42);
      t.is(r.map.get(42), value(1));
      t.is(r.map.get(777_777), undefined);
    });
  }
}

for (const strict of [false, true]) {
  for (const values of ['int32', 'float64'] as const) {
    const label = `${values}, strict ${strict ? 1 : 0}`;

    test(`deleteI32 (${label}): delete, tombstone and absent key match the JS path; waits hand back unchanged`, (t) => {
      const r = rig(values, strict);
      const { words, table, gen } = r;
      const size0 = words[table.base + T_SIZE] as number;
      const remaining0 = words[table.base + T_REMAINING] as number;
      const unchanged = (what: string, run: () => number, expected: number): void => {
        const before = words.slice();
        t.is(run(), expected, what);
        t.is(changedWords(before, words), 0, `${what}: no word changed`);
      };
      const at = slotOf(r.map, 42);
      const seq = words[at] as number;
      t.is(r.del(42), DEL_DELETED);
      t.is(words[at], released(seq, TOMBSTONE), 'released as a TOMBSTONE with a new version');
      t.is(words[at + S_KEY], 42, 'the key stays');
      t.is(words[table.base + T_SIZE], size0 - 1, 'SIZE - 1');
      t.is(words[table.base + T_REMAINING], remaining0, 'budget untouched');
      assertIdle(t, r);
      t.is(r.map.get(42), undefined);
      t.is(r.map.size, 299);
      unchanged('a tombstone of the key', () => r.del(42), DEL_ABSENT);
      unchanged('an absent key (EMPTY ends the probe)', () => r.del(777_777), DEL_ABSENT);
      // Waits hand back.
      const at43 = slotOf(r.map, 43);
      const seq43 = words[at43] as number;
      words[at43] = lockWord(7, seq43);
      unchanged('the key locked by another writer', () => r.del(43), DEL_SLOW);
      words[at43] = seq43;
      const emptyAt = slotOf(r.map, 777_777);
      words[emptyAt] = lockWord(7, EMPTY);
      unchanged('a locked slot on an absent key\'s probe path', () => r.del(777_777), DEL_SLOW);
      words[emptyAt] = EMPTY;
      const epoch = words[H_EPOCH] as number;
      words[H_EPOCH] = epoch | PHASE_COPYING;
      unchanged('a migration in progress', () => r.del(43), DEL_SLOW);
      words[H_EPOCH] = epoch;
      unchanged('a stale generation', () => r.del(43, gen - 1), DEL_SLOW);
      r.w.setWriter(0, 0);
      unchanged('no writer record', () => r.del(43), DEL_SLOW);
      t.is(r.map.get(43), 86);
    });
  }
}

for (const strict of [false, true]) {
  const label = `int32, strict ${strict ? 1 : 0}`;

  test(`addI32 (${label}): add to a present key, an absent key and a tombstone leaves the words set would`, (t) => {
    const r = rig('int32', strict);
    const { words, table } = r;
    const size0 = words[table.base + T_SIZE] as number;
    const remaining0 = words[table.base + T_REMAINING] as number;
    const at = slotOf(r.map, 42);
    const seq = words[at] as number;
    t.is(r.add(42, 5), 89, '84 + 5');
    t.is(r.w.handedBack(), 0);
    t.is(words[at], released(seq, FULL), 'released FULL with a new version, as an overwrite');
    t.is(words[table.base + T_SIZE], size0, 'a present key does not count');
    t.is(words[table.base + T_REMAINING], remaining0, 'nor take budget');
    assertIdle(t, r);
    t.is(r.add(42, -100), -11);
    t.is(r.map.get(42), -11);
    // Absent: the delta is the new value, an insert.
    const emptyAt = slotOf(r.map, 5000);
    t.is(words[emptyAt], EMPTY);
    t.is(r.add(5000, -7), -7);
    t.is(words[emptyAt], released(EMPTY, FULL));
    t.is(words[emptyAt + S_KEY], 5000);
    t.is(words[table.base + T_SIZE], size0 + 1, 'SIZE + 1');
    t.is(words[table.base + T_REMAINING], remaining0 - 1, 'one unit of insert budget');
    // A tombstone of the key counts as absent (0).
    t.true(r.map.delete(5000));
    t.is(r.add(5000, 3), 3, 'revived with the delta, not -7 + 3');
    t.is(words[table.base + T_SIZE], size0 + 1);
    t.is(r.map.get(5000), 3);
    assertIdle(t, r);
    // The same words as the JS path's add on an identical map.
    const twin = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 1000 });
    for (let k = 0; k < 300; k++) twin.set(k, k * 2);
    const ti = internals(twin as AnyMap);
    const slow = twin as unknown as { addSlow: (k: number, d: number, h: number | undefined) => number };
    slow.addSlow(42, 5, undefined);
    slow.addSlow(42, -100, undefined);
    slow.addSlow(5000, -7, undefined);
    twin.delete(5000);
    slow.addSlow(5000, 3, undefined);
    const slots = (w: Int32Array, tb: TableInfo) => Array.from(w.subarray(tb.slots, tb.slots + tb.capacity * 3));
    t.deepEqual(slots(words, table), slots(ti.words, ti.table), 'every slot word as after the JS add');
  });

  test(`addI32 (${label}): overflow and every wait hand back with no word changed; INT32_MIN is a real result`, (t) => {
    const r = rig('int32', strict);
    const { words, gen } = r;
    // After a lock it undoes, LOCK_SEQ keeps the seq it announced, as after the
    // JS path's abortLocked: a scratch word, meaningless while LOCK_AT is 0.
    const scratch = r.rec + W_LOCK_SEQ;
    const unchanged = (what: string, run: () => number): void => {
      const before = words.slice();
      t.is(run(), ADD_SLOW_RESULT, what);
      t.is(r.w.handedBack(), 1, `${what}: handed back`);
      t.is(changedWords(before, words, scratch), 0, `${what}: no word changed (but LOCK_SEQ)`);
      t.is(words[r.rec + W_LOCK_AT], 0, `${what}: no lock announced`);
    };
    r.put(7, 2 ** 31 - 2);
    unchanged('int32 overflow upwards', () => r.add(7, 2));
    r.put(8, -(2 ** 31) + 1);
    unchanged('int32 overflow downwards', () => r.add(8, -2));
    t.is(r.add(8, -1), -(2 ** 31), 'INT32_MIN itself');
    t.is(r.w.handedBack(), 0, 'a stored INT32_MIN is not a hand-back');
    t.is(r.map.get(8), -(2 ** 31));
    t.is(r.add(7, 1), 2 ** 31 - 1, 'INT32_MAX itself');
    const at = slotOf(r.map, 42);
    const seq = words[at] as number;
    words[at] = lockWord(7, seq);
    unchanged('the key locked by another writer', () => r.add(42, 1));
    words[at] = seq;
    const epoch = words[H_EPOCH] as number;
    words[H_EPOCH] = epoch | PHASE_COPYING;
    unchanged('a migration in progress', () => r.add(42, 1));
    words[H_EPOCH] = epoch;
    unchanged('a stale generation', () => r.add(42, 1, gen - 1));
    r.w.setWriter(0, 0);
    unchanged('no writer record', () => r.add(42, 1));
    t.is(r.map.get(42), 84);
  });
}

test('add uses the wasm path for int32 values, the JS path for what it hands back and for float64', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 64 });
  const slow = spyOnSlowPath(map, 'addSlow');
  t.is(map.add(1, 1), 1); // claims the writer record on the JS path
  t.is(slow.calls, 1);
  for (let i = 0; i < 100; i++) map.add(i % 10, 2);
  t.is(slow.calls, 1, 'all through wasm');
  t.is(map.get(1), 21);
  t.is(map.get(9), 20);
  map.set(2, 2 ** 31 - 1);
  t.throws(() => map.add(2, 1), { code: 'ERR_FLATSHARE_VALUE' });
  t.is(slow.calls, 2, 'the overflow is reported by the JS path');
  t.is(map.get(2), 2 ** 31 - 1, 'unchanged');
  t.throws(() => map.add(3, 0.5), { code: 'ERR_FLATSHARE_VALUE' });
  t.is(slow.calls, 3);
  const floats = new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64' });
  t.is(floats.add(1, 0.25), 0.25);
  t.is(floats.add(1, 0.5), 0.75);
});

test('delete uses the wasm path for int32 keys, the JS path for what it hands back', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64', capacity: 64 });
  for (let k = 0; k < 40; k++) map.set(k, k / 2);
  const slow = spyOnSlowPath(map, 'deleteSlow');
  for (let k = 0; k < 40; k += 2) t.true(map.delete(k));
  for (let k = 0; k < 40; k += 2) t.false(map.delete(k), 'a tombstone');
  t.false(map.delete(1000), 'absent');
  t.is(slow.calls, 0, 'all through wasm');
  t.is(map.size, 20);
  for (let k = 0; k < 40; k++) t.is(map.get(k), k % 2 === 0 ? undefined : k / 2);
  t.throws(() => map.delete(0.5), { code: 'ERR_FLATSHARE_KEY' });
  t.is(slow.calls, 1, 'a bad key goes to the JS path, which throws');
  // A fresh instance of the map in this thread has no writer record in its wasm yet: JS, then wasm.
  const attached = SharedFlatMap.attach<number, number>(map.handle);
  t.true(attached.delete(1));
  t.false(map.has(1));
});

test('set uses the wasm path for int32 keys and values, the JS path for what it hands back', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 64 });
  const slow = spyOnSlowPath(map, 'setSlow');
  map.set(1, 1);
  t.is(slow.calls, 1, 'the first write claims the writer record in JS');
  for (let k = 2; k <= 40; k++) map.set(k, k);
  t.is(slow.calls, 1, 'inserts with budget left: wasm only');
  for (let k = 1; k <= 40; k++) map.set(k, -k);
  t.is(slow.calls, 1, 'overwrites: wasm only');
  for (let k = 41; k <= 200; k++) map.set(k, k);
  t.true(slow.calls >= 2, 'an insert with no budget left goes to JS, which migrates');
  t.true(slow.calls < 20, `and only that insert does (JS calls: ${slow.calls})`);
  for (let k = 1; k <= 200; k++) t.is(map.get(k), k <= 40 ? -k : k);
  t.is(map.size, 200);
  t.throws(() => map.set(1.5, 1), { code: 'ERR_FLATSHARE_KEY' });
  t.throws(() => map.set(1, 1.5), { code: 'ERR_FLATSHARE_VALUE' });
  t.throws(() => map.set(1, 2 ** 31), { code: 'ERR_FLATSHARE_VALUE' });
  t.is(map.get(1), -1, 'unchanged by the rejected writes');
});

test('set with another hasher uses it on the wasm path too, one hasher call per set', (t) => {
  const base = hashers.fnv1a({ seed: 9 });
  let calls = 0;
  const hasher = {
    id: base.id,
    seed: base.seed,
    hashInt: (k: number) => {
      calls++;
      return base.hashInt(k);
    },
    hashString: (k: string) => base.hashString(k),
  };
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64', hasher });
  const ref = new Map<number, number>();
  for (let k = -3000; k < 3000; k += 3) {
    map.set(k, k / 3);
    ref.set(k, k / 3);
  }
  for (const [k, v] of ref) if (map.get(k) !== v) t.fail(`key ${k}`);
  calls = 0;
  for (const [k, v] of ref) map.set(k, v + 1); // overwrites: no migration copies keys meanwhile
  t.is(calls, ref.size, 'one hashInt call per set');
  for (const [k, v] of ref) if (map.get(k) !== v + 1) t.fail(`key ${k} after the overwrite`);
  const attached = SharedFlatMap.attach<number, number>(map.handle, { hasher });
  t.is(attached.get(-2997), -999 + 1);
  calls = 0;
  attached.set(-2997, 5); // a new instance: no writer record in its wasm yet, so the JS path runs, with the same hash
  t.is(calls, 1, 'the JS path after PUT_SLOW reuses the hash');
  t.is(map.get(-2997), 5);
  t.is(map.size, ref.size);
});

// ---------------------------------------------------------------- copyRange

type CopyKind = 'int32' | 'string';

/** A map with entries (and tombstones), plus two zeroed scratch tables of twice its capacity past its last word. */
function copyRig(keys: CopyKind, strict: boolean) {
  const map =
    keys === 'int32'
      ? (new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64', capacity: 400 }) as AnyMap)
      : (new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 400 }) as AnyMap);
  const key = (i: number): unknown => (keys === 'int32' ? i * 7919 : `key-${i}-${'x'.repeat(i % 9)}`);
  for (let i = 0; i < 300; i++) map.set(key(i), i);
  for (let i = 0; i < 300; i += 10) map.delete(key(i));
  const i0 = internals(map);
  const old = i0.table;
  const stride = i0.slotInts;
  const capacity = old.capacity * 2;
  const regionInts = 32 + capacity * stride;
  const memory = i0.memory.memory;
  const firstFree = i0.memory.byteLength / INT_BYTES;
  memory.grow(Math.ceil((2 * regionInts * INT_BYTES) / 65536) + 1);
  const words = new Int32Array(memory.buffer);
  const table = (n: number): TableInfo => {
    const base = firstFree + n * regionInts;
    return { base, slots: base + 32, capacity };
  };
  const w = instantiateWritePath(memory, stride, strict, 0);
  w.setWriter(i0.writerRecord, recordTag(i0.writerRecord));
  const host = {
    slotInts: stride,
    writerRecord: i0.writerRecord,
    recordTag: recordTag(i0.writerRecord),
    pause: () => {
      throw new Error('the JS copy waited');
    },
    hashAt: keys === 'string' ? (ws: Int32Array, at: number) => ws[at + 1] as number : (ws: Int32Array, at: number) => fmix32(ws[at + 1] as number),
  } as unknown as MigrationHost;
  const mode = keys === 'string' ? HASH_STORED : HASH_MURMUR3_INT;
  const copy = (next: TableInfo, first: number, end: number): number =>
    w.copyRange(old.slots, first, end, next.slots, next.capacity, next.base, mode);
  const region = (t: TableInfo): Int32Array => words.slice(t.base, t.base + regionInts);
  return { map, words, old, stride, table, w, host, copy, region, rec: i0.writerRecord, size: map.size };
}

for (const strict of [false, true]) {
  for (const keys of ['int32', 'string'] as const) {
    const label = `${keys} keys, strict ${strict ? 1 : 0}`;

    test(`copyRange (${label}): the same table, word for word, as the JS copySlot`, (t) => {
      const c = copyRig(keys, strict);
      const js = c.table(0);
      const wasm = c.table(1);
      let jsCopied = 0;
      for (let i = 0; i < c.old.capacity; i++) jsCopied += copySlot(c.host, c.words, c.old, js, i);
      const copied = c.copy(wasm, 0, c.old.capacity);
      t.is(c.w.stoppedAt(), c.old.capacity, 'handled the whole range');
      t.is(copied, c.size, 'entries found = live entries (tombstones dropped)');
      t.is(jsCopied, c.size);
      t.is(changedWords(c.region(js), c.region(wasm)), 0, 'identical regions');
      let full = 0;
      for (let s = 0; s < wasm.capacity; s++) {
        const seq = c.words[wasm.slots + s * c.stride] as number;
        if (seq === released(EMPTY, FULL)) full++;
        else t.is(seq, EMPTY);
      }
      t.is(full, c.size);
      t.is(c.words[c.rec + W_LOCK_AT], 0);
      t.is(c.words[c.rec + W_INTENT], 0);
    });

    test(`copyRange (${label}): stops at a locked slot, and a redo copies nothing twice`, (t) => {
      const c = copyRig(keys, strict);
      const next = c.table(0);
      // Lock the old slot holding the 40th entry.
      let lockedAt = -1;
      let seen = 0;
      for (let s = 0; s < c.old.capacity && lockedAt < 0; s++) {
        if (((c.words[c.old.slots + s * c.stride] as number) & STATE_MASK) === FULL && ++seen === 40) lockedAt = s;
      }
      const seqAt = c.old.slots + lockedAt * c.stride;
      const seq = c.words[seqAt] as number;
      c.words[seqAt] = lockWord(9, seq);
      t.is(c.copy(next, 0, c.old.capacity), 39, 'the entries before the locked slot');
      t.is(c.w.stoppedAt(), lockedAt, 'stopped at the locked slot');
      c.words[seqAt] = seq;
      const redo = c.copy(next, 0, c.old.capacity);
      t.is(redo, c.size, 'a redo from the start finds every entry');
      t.is(c.w.stoppedAt(), c.old.capacity);
      let full = 0;
      for (let s = 0; s < next.capacity; s++) if (((c.words[next.slots + s * c.stride] as number) & STATE_MASK) === FULL) full++;
      t.is(full, c.size, 'and copied none twice');
      // A locked slot in the new table (another copier's) stops the copy too.
      const other = c.table(1);
      const firstFull = [...Array(c.old.capacity).keys()].find(
        (s) => ((c.words[c.old.slots + s * c.stride] as number) & STATE_MASK) === FULL,
      ) as number;
      const hash = c.host.hashAt(c.words, c.old.slots + firstFull * c.stride);
      c.words[other.slots + homeSlot(hash, other.capacity) * c.stride] = lockWord(9, EMPTY);
      t.is(c.copy(other, firstFull, c.old.capacity), 0);
      t.is(c.w.stoppedAt(), firstFull);
      t.is(c.words[c.rec + W_LOCK_AT], 0, 'no lock intent left behind');
    });
  }
}

test('a map with string keys and one with int32 keys migrate through copyRange and keep every entry', (t) => {
  const strMap = new SharedFlatMap<string, string>({ keys: 'string', values: 'string' });
  const intMap = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  let wasmCopies = 0;
  for (const m of [strMap, intMap] as AnyMap[]) {
    const host = (m as unknown as { migrationHost: MigrationHost }).migrationHost;
    const copyRange = host.copyRange as NonNullable<MigrationHost['copyRange']>;
    t.not(copyRange, undefined);
    (host as { copyRange: MigrationHost['copyRange'] }).copyRange = (...args) => {
      wasmCopies++;
      return copyRange(...args);
    };
  }
  for (let i = 0; i < 20_000; i++) {
    strMap.set(`s${i}`, `v${i}`);
    intMap.set(i * 3, i);
  }
  t.true(wasmCopies > 10, `migrations copied through wasm (${wasmCopies} runs)`);
  for (let i = 0; i < 20_000; i++) {
    if (strMap.get(`s${i}`) !== `v${i}` || intMap.get(i * 3) !== i) t.fail(`entry ${i}`);
  }
  t.is(strMap.size, 20_000);
  t.is(intMap.size, 20_000);
  // A JS hasher (not the built-in murmur3) keeps the JS copy.
  const fnv = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: hashers.fnv1a() });
  t.is((fnv as unknown as { migrationHost: MigrationHost }).migrationHost.copyRange, undefined);
});


// ---------------------------------------------------------------- string keys (putStrI32 / putStrF64)

type StrMap = SharedFlatMap<string, number>;

interface StrRig {
  map: StrMap;
  words: Int32Array;
  table: TableInfo;
  gen: number;
  rec: number;
  w: WasmWritePath;
  /** The key packed as SharedFlatMap packs it, with its murmur3 hash and key block header. */
  pack(key: string): { packed: PackedKey; hash: number; header: number };
  put(key: string, value: number, keyRef?: number, gen?: number): number;
  del(key: string, gen?: number): number;
  /** A key block holding `key`, allocated and written as `set` does before its second call. */
  block(key: string): number;
  /** Seq word index of the FULL or TOMBSTONE slot whose HASH is `key`'s (the test keys' hashes are distinct). */
  slotOfStr(key: string): number;
}

function strRig(values: 'int32' | 'float64', strict: boolean): StrRig {
  const map = new SharedFlatMap<string, number>({ keys: 'string', values, capacity: 1000 });
  for (let k = 0; k < 300; k++) map.set(`key-${k}`, k * 2); // the first set claims the writer record
  const i = internals(map as AnyMap);
  const w = instantiateWritePath(i.memory.memory, i.slotInts, strict, 0);
  w.setWriter(i.writerRecord, recordTag(i.writerRecord));
  const { table, gen, words } = i;
  const pack = (key: string) => {
    const packed = new PackedKey();
    const hash = murmur3StringPacked(key, 0, packed);
    return { packed, hash, header: (key.length << BLOCK_TAG_BITS) | TAG_LATIN1 };
  };
  const put = (key: string, value: number, keyRef = NULL_BLOCK, g = gen): number => {
    const { packed, hash, header } = pack(key);
    const p = packed.words;
    const args = [hash, header, p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, value, table.slots, table.capacity, g, table.base, keyRef] as const;
    return values === 'int32' ? w.putStrI32(...args) : w.putStrF64(...args);
  };
  const del = (key: string, g = gen): number => {
    const { packed, hash, header } = pack(key);
    const p = packed.words;
    return w.deleteStr(hash, header, p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, 0, table.slots, table.capacity, g, table.base, NULL_BLOCK);
  };
  const host = (map as unknown as { arenaHost: ArenaHost }).arenaHost;
  const block = (key: string): number => {
    const b = allocateBlock(host, key.length, TAG_LATIN1);
    writeBlockPacked(words, b, pack(key).packed, key.length);
    return b;
  };
  const slotOfStr = (key: string): number => {
    const { hash } = pack(key);
    for (let s = 0; s < table.capacity; s++) {
      const at = table.slots + s * i.slotInts;
      if (((words[at] as number) & STATE_MASK) !== EMPTY && words[at + S_HASH] === hash) return at;
    }
    return -1;
  };
  return { map, words, table, gen, rec: i.writerRecord, w, pack, put, del, block, slotOfStr };
}

for (const strict of [false, true]) {
  for (const values of ['int32', 'float64'] as const) {
    const label = `string keys, ${values}, strict ${strict ? 1 : 0}`;
    const value = (k: number): number => (values === 'float64' ? k / 8 - 1000.25 : k * 7 - 5);

    test(`putStr (${label}): a new key is NEED_BLOCK with no word changed, then STORED_BLOCK; overwrite and revive keep the slot's block`, (t) => {
      const r = strRig(values, strict);
      const { words, table } = r;
      const size0 = words[table.base + T_SIZE] as number;
      const remaining0 = words[table.base + T_REMAINING] as number;
      const key = 'fresh:0123456789';

      const before = words.slice();
      t.is(r.put(key, value(1)), PUT_NEED_BLOCK);
      t.is(changedWords(before, words), 0, 'NEED_BLOCK: no word changed');
      const block = r.block(key);
      t.is(r.put(key, value(1), block), PUT_STORED_BLOCK);
      const at = r.slotOfStr(key);
      t.true(at > 0);
      t.is(words[at], released(EMPTY, FULL), 'released FULL with a new version');
      t.is(words[at + S_HASH], r.pack(key).hash);
      t.is(words[at + S_KEY_REF], block, 'the slot references the block passed');
      t.is(r.map.get(key), value(1));
      t.is(words[table.base + T_SIZE], size0 + 1, 'SIZE + 1');
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'one unit of insert budget');
      assertIdle(t, r as unknown as Rig);

      t.is(r.put(key, value(2)), PUT_OVERWROTE, 'present: one call, no block');
      const spare = r.block(key);
      t.is(r.put(key, value(3), spare), PUT_OVERWROTE, 'present: a block passed is not used');
      t.is(words[at + S_KEY_REF], block, 'an overwrite keeps the key block');
      t.is(r.map.get(key), value(3));
      t.is(words[table.base + T_SIZE], size0 + 1, 'an overwrite does not count');
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'nor take budget');
      assertIdle(t, r as unknown as Rig);

      t.true(r.map.delete(key));
      t.is((words[at] as number) & STATE_MASK, TOMBSTONE);
      t.is(r.put(key, value(4), spare), PUT_INSERTED, 'reviving a tombstone is an insert, with its own block');
      t.is(words[at + S_KEY_REF], block);
      t.is(r.map.get(key), value(4));
      t.is(words[table.base + T_SIZE], size0 + 1);
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'a tombstone takes no budget');
      t.is(r.map.size, 301);
    });

    test(`putStr (${label}): keys of 0 to 32 units are found again, also in a reused block with stale padding`, (t) => {
      const r = strRig(values, strict);
      const { words } = r;
      const keys = Array.from({ length: 33 }, (_, n) => 'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, n).replace(/./g, (c, j) => String.fromCharCode(c.charCodeAt(0) + (j % 3))));
      for (const [n, key] of keys.entries()) {
        const block = r.block(key);
        // Garbage in the bytes of the last payload word past the key (a reused block keeps them).
        const units = key.length;
        if (units % 4 !== 0) words[block + BLOCK_HEADER_INTS + (units >>> 2)] = (words[block + BLOCK_HEADER_INTS + (units >>> 2)] as number) | (-1 << ((units % 4) * 8));
        t.is(r.put(key, value(n), NULL_BLOCK), PUT_NEED_BLOCK, `${units} units: absent`);
        t.is(r.put(key, value(n), block), PUT_STORED_BLOCK, `${units} units: stored`);
      }
      const size = r.map.size;
      for (const [n, key] of keys.entries()) {
        t.is(r.put(key, value(n + 100)), PUT_OVERWROTE, `${key.length} units: found by its block`);
        t.is(r.map.get(key), value(n + 100));
      }
      t.is(r.map.size, size, 'no key was inserted twice');
    });

    test(`deleteStr (${label}): delete, absent (EMPTY), absent (tombstone) as the JS path; every wait hands back with no word changed`, (t) => {
      const r = strRig(values, strict);
      const { words, table, gen } = r;
      const size0 = words[table.base + T_SIZE] as number;
      const at = r.slotOfStr('key-42');
      const seq = words[at] as number;
      const valueWord = words[at + valueOffset('string')] as number;
      t.is(r.del('key-42'), DEL_DELETED);
      t.is(words[at], released(seq, TOMBSTONE), 'released TOMBSTONE with a new version');
      t.is(r.w.lastOld(), valueWord, 'lastOld: the value word read under the lock');
      t.is(words[table.base + T_SIZE], size0 - 1, 'SIZE - 1');
      t.is(r.map.get('key-42'), undefined);
      assertIdle(t, r as unknown as Rig);
      t.is(r.del('key-42'), DEL_ABSENT, 'a tombstone of the key');
      t.is(r.del('never-there-0001'), DEL_ABSENT, 'an EMPTY slot');
      t.is(words[table.base + T_SIZE], size0 - 1);
      assertIdle(t, r as unknown as Rig);
      const slow = (what: string, key: string, g = gen): void => {
        const before = words.slice();
        t.is(r.del(key, g), DEL_SLOW, what);
        t.is(changedWords(before, words), 0, `${what}: no word changed`);
      };
      const at7 = r.slotOfStr('key-7');
      const seq7 = words[at7] as number;
      words[at7] = lockWord(7, seq7);
      slow('locked slot of the key', 'key-7');
      words[at7] = seq7;
      const epoch = words[H_EPOCH] as number;
      words[H_EPOCH] = epoch | PHASE_COPYING;
      slow('migration in progress', 'key-7');
      slow('migration in progress (absent key)', 'never-there-0001');
      words[H_EPOCH] = epoch;
      slow('a generation that is not current', 'key-7', gen + 1);
      const ref = words[at7 + S_KEY_REF] as number;
      words[at7 + S_KEY_REF] = words.length + 16;
      slow('a key block past the end of the memory', 'key-7');
      words[at7 + S_KEY_REF] = ref;
      r.w.setWriter(0, 0);
      slow('no writer record', 'key-7');
      t.is(r.map.get('key-7'), 14, 'every hand-back left the entry as it was');
    });

    test(`putStr (${label}): every case that must wait answers PUT_SLOW and changes no word`, (t) => {
      const r = strRig(values, strict);
      const { words, table, gen } = r;
      const block = r.block('absent-key-00001');
      const slow = (what: string, key: string, keyRef = NULL_BLOCK, g = gen): void => {
        const before = words.slice();
        t.is(r.put(key, value(9), keyRef, g), PUT_SLOW, what);
        t.is(changedWords(before, words), 0, `${what}: no word changed`);
      };
      const at = r.slotOfStr('key-42');
      const seq = words[at] as number;
      words[at] = lockWord(7, seq);
      slow('locked slot of the key', 'key-42');
      words[at] = seq;
      const epoch = words[H_EPOCH] as number;
      words[H_EPOCH] = epoch | PHASE_COPYING;
      slow('migration in progress (overwrite)', 'key-42');
      slow('migration in progress (insert)', 'absent-key-00001', block);
      words[H_EPOCH] = epoch;
      slow('a newer generation than the cached table', 'key-42', NULL_BLOCK, gen - 1);
      slow('a generation that is not current', 'key-42', NULL_BLOCK, gen + 1);
      const remaining = words[table.base + T_REMAINING] as number;
      words[table.base + T_REMAINING] = 0;
      slow('no insert budget', 'absent-key-00001', block);
      slow('no insert budget: no NEED_BLOCK either (no block for a full table)', 'absent-key-00001');
      t.is(r.put('key-42', value(1)), PUT_OVERWROTE, 'an overwrite with no budget left');
      words[table.base + T_REMAINING] = remaining;
      // A KEY_REF outside the memory (not a word of this table): hand back, never trap.
      const ref = words[at + S_KEY_REF] as number;
      words[at + S_KEY_REF] = words.length + 16;
      slow('a key block past the end of the memory', 'key-42');
      words[at + S_KEY_REF] = NULL_BLOCK;
      slow('a NULL key block', 'key-42');
      words[at + S_KEY_REF] = ref;
      r.w.setWriter(0, 0);
      slow('no writer record', 'key-42');
      t.is(r.map.get('key-42'), value(1));
      t.is(r.map.get('absent-key-00001'), undefined);
    });
  }
}

test('set uses the wasm put for short one-byte string keys and the JS path for the rest; both leave the same words', (t) => {
  const fast = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 100 });
  const slowMap = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 100 });
  (slowMap as unknown as { fastPutStr: boolean; fastDelStr: boolean }).fastPutStr = false;
  (slowMap as unknown as { fastPutStr: boolean; fastDelStr: boolean }).fastDelStr = false;
  const spy = spyOnSlowPath(fast as unknown as NumMap, 'setSlow');
  const delSpy = spyOnSlowPath(fast as unknown as NumMap, 'deleteSlow');
  const ops: Array<[string, number]> = [];
  for (let i = 0; i < 400; i++) ops.push([`k${i}:${'x'.repeat(i % 27)}`, i]); // 3 to 31 units, resizes included
  for (let i = 0; i < 400; i += 3) ops.push([`k${i}:${'x'.repeat(i % 27)}`, -i]); // overwrites
  for (const [k, v] of ops) {
    fast.set(k, v);
    slowMap.set(k, v);
  }
  for (let i = 0; i < 400; i += 7) {
    fast.delete(`k${i}:${'x'.repeat(i % 27)}`);
    slowMap.delete(`k${i}:${'x'.repeat(i % 27)}`);
  }
  for (let i = 0; i < 400; i += 14) {
    fast.set(`k${i}:${'x'.repeat(i % 27)}`, 7); // revive tombstones
    slowMap.set(`k${i}:${'x'.repeat(i % 27)}`, 7);
  }
  // The JS path ran for the first set (it claims the writer record) and once per resize
  // (an insert with no budget left hands back; the JS path starts the migration).
  const resizes = internals(fast as AnyMap).gen;
  t.true(resizes >= 2);
  t.is(spy.calls, 1 + resizes, `setSlow ran ${spy.calls} times in ${ops.length + 29} sets over ${resizes} resizes`);
  const a = internals(fast as AnyMap).words;
  const b = internals(slowMap as AnyMap).words;
  t.is(a.length, b.length);
  t.is(changedWords(a, b, MAP_ID_WORDS), 0, 'the wasm put and the JS path leave every word but the map id alike');
  for (const [k] of ops) t.is(fast.get(k), slowMap.get(k));

  t.is(delSpy.calls, 0, 'every delete ran in wasm');
  const before = spy.calls;
  fast.set('a'.repeat(33), 1); // longer than KEY_MAX_UNITS
  fast.set('\u0100bc', 2); // a unit above 0xFF
  t.throws(() => fast.set('key', 1.5), { code: 'ERR_FLATSHARE_VALUE' });
  t.is(spy.calls - before, 3, 'what the wasm put does not take runs the JS path');
  t.is(fast.get('a'.repeat(33)), 1);
  t.is(fast.get('\u0100bc'), 2);
  t.is(fast.get('key'), undefined, 'a rejected value changes nothing');
  t.true(fast.delete('a'.repeat(33)));
  t.true(fast.delete('\u0100bc'));
  t.is(delSpy.calls, 2, 'deletes of keys the wasm delete does not take run the JS path');
});

test('string keys with string values: the wasm delete frees the value block as the JS path does, word for word', (t) => {
  const fast = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 100 });
  const slowMap = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 100 });
  (slowMap as unknown as { fastDelStr: boolean }).fastDelStr = false;
  const delSpy = spyOnSlowPath(fast as unknown as NumMap, 'deleteSlow');
  const key = (i: number): string => `s${i}:${'y'.repeat(i % 25)}`;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 300; i++) {
      const v = `v${round}:${'z'.repeat((i * 7 + round) % 90)}`; // blocks of several size classes
      fast.set(key(i), v);
      slowMap.set(key(i), v);
    }
    for (let i = round; i < 300; i += 3) {
      t.is(fast.delete(key(i)), slowMap.delete(key(i)));
      t.is(fast.delete(key(i)), false, 'a second delete finds the tombstone');
      slowMap.delete(key(i));
    }
  }
  t.is(delSpy.calls, 0, 'every delete ran in wasm');
  t.is(fast.size, slowMap.size);
  const a = internals(fast as AnyMap).words;
  const b = internals(slowMap as AnyMap).words;
  t.is(a.length, b.length);
  // The JS path locks and unlocks a tombstone it finds (deleteSlow), which leaves that
  // slot's seq in the record's LOCK_SEQ; the wasm delete only reads it (as deleteI32 does).
  const lockSeq = internals(fast as AnyMap).writerRecord + W_LOCK_SEQ;
  t.is(changedWords(a, b, [...MAP_ID_WORDS, lockSeq]), 0, 'same slots, same free lists, same blocks reused');
  for (let i = 0; i < 300; i++) t.is(fast.get(key(i)), slowMap.get(key(i)));
});
