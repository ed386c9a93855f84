/**
 * The WebAssembly bucket write paths (lib/wasm/write-bucket.wat through
 * bucket-write-path.ts) behind SharedFlatMap, over the tables a real map
 * writes. What the module does on standalone tables is tested elsewhere and
 * not repeated here: bytes and layout constants, and putI32 / putF64 /
 * addI32 / deleteI32 word for word equal to the JS protocol with the SLOW
 * cases locked bucket, other generation, no writer record, spent budget and
 * add overflow (spec/unit/bucket-write-path.test.ts); putStrI32 / putStrF64
 * / deleteStr word for word equal to the JS protocol (bucket-write-strings
 * .test.ts); copyBuckets word for word equal to copyBucket, also after a stop
 * (bucket-copy.test.ts); the module's imports and exports (wasm-modules
 * .test.ts). This file proves:
 *
 * - SharedFlatMap's int32-key set / delete / add (wasm) and its string-key
 *   set / delete (wasm for short one-byte keys) leave every word of the
 *   memory but the map id as the JS paths alone do, through resizes, with
 *   plain stores (strict 0, what x86 runs) and with atomic stores (strict 1,
 *   every other CPU).
 * - Every case that must wait answers SLOW with every word of the memory
 *   unchanged (after a lock it undid, as for add and a spent budget, all but
 *   the writer record's LOCK_SEQ, a scratch word while LOCK_AT is 0), in particular a
 *   migration in progress (the epoch's phase, same generation); for the
 *   string put and delete also a locked bucket, another generation, a spent
 *   insert budget (SLOW, not NEED_BLOCK), a key block past the memory or null
 *   in a FULL lane, no writer record.
 * - The string put: a new key is NEED_BLOCK with no word changed, then
 *   STORED_BLOCK with the lane referencing the block passed; an overwrite and
 *   a revival keep the lane's own key block and ignore a block passed (the
 *   caller frees it); keys of 0 to KEY_MAX_UNITS units are found again by
 *   their blocks, also with garbage in the padding bytes of the block.
 * - A redo of copyBuckets over buckets it copied already leaves the new table
 *   word for word as a redo by copyBucket does, and counts the same entries.
 * - set, delete and add take the wasm path and run the JS path only for what
 *   it hands back (the first write of an instance, which claims the writer
 *   record; an insert with no budget left, which migrates; a bad key or
 *   value; an int32 overflow); another hasher is called once per operation
 *   on the wasm path too; migrations of maps with string and with int32 keys
 *   copy through copyBuckets and keep every entry, and a map with a JS hasher
 *   keeps the JS copy.
 */
import test from 'ava';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { BUCKET_INTS, LANE_EMPTY, LANE_FULL, LANE_TOMBSTONE, laneWordOffset } from '../../lib/bucket.js';
import { copyBucket, type BucketCopyHost } from '../../lib/bucket-copy.js';
import type { BucketTable } from '../../lib/bucket-write.js';
import { PHASE_COPYING } from '../../lib/epoch.js';
import { backoff } from '../../lib/backoff.js';
import {
  BLOCK_HEADER_INTS,
  C_KEY_REF,
  H_EPOCH,
  H_MAP_ID,
  MAP_ID_INTS,
  NULL_BLOCK,
  TABLE_HEADER_INTS,
  TAG_LATIN1,
  T_REMAINING,
  T_SIZE,
  W_ACTIVE_GEN,
  W_INTENT,
  W_LOCK_AT,
  W_LOCK_SEQ,
} from '../../lib/layout.js';
import { lockWord } from '../../lib/seqlock.js';
import type { TableInfo } from '../../lib/table.js';
import { fmix32, murmur3StringPacked } from '../../lib/hashers/murmur3.js';
import { PackedKey } from '../../lib/strings.js';
import { allocateBlock, type ArenaHost } from '../../lib/arena.js';
import { writeBlockPacked } from '../../lib/blocks.js';
import type { MigrationHost } from '../../lib/migration.js';
import { recordTag, writerRecordAt } from '../../lib/writers.js';
import {
  ADD_SLOW_RESULT,
  COPY_HASH_MURMUR3_INT,
  DEL_ABSENT,
  DEL_DELETED,
  DEL_SLOW,
  PUT_INSERTED,
  PUT_NEED_BLOCK,
  PUT_OVERWROTE,
  PUT_SLOW,
  PUT_STORED_BLOCK,
  instantiateBucketWritePath,
  type WasmBucketWritePath,
} from '../../lib/wasm/bucket-write-path.js';
import { KEY_MAX_UNITS } from '../../lib/wasm/bucket-read-path.js';
import { BucketTableWriter } from '../helpers/bucket-table.js';
import { createValueTables } from '../helpers/bucket-harness.js';
import { SeededPrng } from '../helpers/prng.js';
import { int32LaneOf, lanesWith, packedKeyArgs } from '../helpers/wasm.js';

type NumMap = SharedFlatMap<number, number>;
type AnyMap = SharedFlatMap<unknown, unknown>;
const internals = (map: AnyMap) => SharedFlatMap.unsafeExposeInternals(map);

/** Indices at which `a` and `b` differ, ignoring the indices in `skip`. */
function changedWords(a: Int32Array, b: Int32Array, skip: readonly number[] = []): number[] {
  const ignored = new Set(skip);
  const diffs: number[] = [];
  for (let i = 0; i < a.length; i++) if (!ignored.has(i) && a[i] !== b[i]) diffs.push(i);
  return diffs;
}

/** The two words of a map's random MAP_ID: the only header words in which two maps made alike differ. */
const MAP_ID_WORDS: readonly number[] = Array.from({ length: MAP_ID_INTS }, (_, j) => H_MAP_ID + j);

/** Wrap the JS path `method` of `map` (setSlow, deleteSlow, addSlow) with a call counter. */
function spyOnSlowPath(map: unknown, method: 'setSlow' | 'deleteSlow' | 'addSlow'): { readonly calls: number } {
  const target = map as Record<string, (...args: unknown[]) => unknown>;
  const original = (target[method] as (...args: unknown[]) => unknown).bind(map);
  const spy = { calls: 0 };
  target[method] = (...args: unknown[]) => {
    spy.calls++;
    return original(...args);
  };
  return spy;
}

/** The map's own wasm write path, reconfigured for `strict` stores. */
function useStrict(map: AnyMap, strict: boolean): void {
  const m = map as unknown as { wput: WasmBucketWritePath; isFloat: boolean };
  m.wput.configure(m.isFloat ? 1 : 0, strict ? 1 : 0);
}

/** Turn off the wasm writes of `map`: every set, delete and add runs the JS path. */
function jsWritesOnly(map: AnyMap): void {
  Object.assign(map as object, { fastPut: false, fastPutStr: false, fastDelStr: false });
}

// ---------------------------------------------------------------- the map's writes, wasm against JS

for (const strict of [false, true]) {
  for (const values of ['int32', 'float64'] as const) {
    test(`int32 keys, ${values} values, strict ${strict ? 1 : 0}: set, delete and add through wasm leave every word as the JS paths do`, (t) => {
      const prng = new SeededPrng(values === 'int32' ? 0x3a11 : 0x3a12);
      t.log(`seed ${prng.seed}`);
      const fast = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 64 });
      const slow = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 64 });
      useStrict(fast as unknown as AnyMap, strict);
      jsWritesOnly(slow as unknown as AnyMap);
      const spies = (['setSlow', 'deleteSlow', 'addSlow'] as const).map((m) => spyOnSlowPath(fast, m));
      const pool = Array.from({ length: 600 }, (_, i) => (i === 0 ? 0 : prng.next() | 0));
      let ops = 0;
      for (let op = 0; op < 6000; op++, ops++) {
        const k = pool[prng.next() % Math.min(pool.length, 100 + (op >>> 3))] as number; // the pool widens: resizes
        const r = prng.next() % 10;
        if (r < 2) t.is(fast.delete(k), slow.delete(k), `delete ${k}`);
        else if (r < 4 && values === 'int32') {
          const delta = (prng.next() % 2001) - 1000;
          t.is(fast.add(k, delta), slow.add(k, delta), `add ${k}`);
        } else {
          const v = values === 'int32' ? prng.next() | 0 : (prng.next() | 0) / 7;
          fast.set(k, v);
          slow.set(k, v);
        }
      }
      const a = internals(fast as unknown as AnyMap);
      const b = internals(slow as unknown as AnyMap);
      t.true(a.gen >= 3, `resizes happened (generation ${a.gen})`);
      t.is(a.words.length, b.words.length);
      t.deepEqual(changedWords(a.words, b.words, MAP_ID_WORDS), [], 'every word but the map id alike');
      const jsCalls = spies.reduce((sum, s) => sum + s.calls, 0);
      t.true(jsCalls <= 1 + a.gen, `the JS path ran ${jsCalls} times in ${ops} writes (the first write, and once per resize)`);
      for (const k of pool) t.is(fast.get(k), slow.get(k));
    });
  }

  test(`string keys, strict ${strict ? 1 : 0}: set and delete through the wasm put and delete leave every word as the JS paths do`, (t) => {
    const fast = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 100 });
    const slowMap = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 100 });
    useStrict(fast as unknown as AnyMap, strict);
    jsWritesOnly(slowMap as unknown as AnyMap);
    const spy = spyOnSlowPath(fast, 'setSlow');
    const delSpy = spyOnSlowPath(fast, 'deleteSlow');
    const key = (i: number): string => `k${i}:${'x'.repeat(i % 27)}`; // 3 to 31 units
    const ops: Array<[string, number]> = [];
    for (let i = 0; i < 400; i++) ops.push([key(i), i]); // resizes included
    for (let i = 0; i < 400; i += 3) ops.push([key(i), -i]); // overwrites
    for (const [k, v] of ops) {
      fast.set(k, v);
      slowMap.set(k, v);
    }
    for (let i = 0; i < 400; i += 7) t.is(fast.delete(key(i)), slowMap.delete(key(i)));
    for (let i = 0; i < 400; i += 14) {
      fast.set(key(i), 7); // revive tombstones
      slowMap.set(key(i), 7);
    }
    // The JS path ran for the first set (it claims the writer record) and once per resize
    // (an insert with no budget left hands back; the JS path starts the migration).
    const resizes = internals(fast as unknown as AnyMap).gen;
    t.true(resizes >= 2);
    t.is(spy.calls, 1 + resizes, `setSlow ran ${spy.calls} times in ${ops.length + 29} sets over ${resizes} resizes`);
    const a = internals(fast as unknown as AnyMap).words;
    const b = internals(slowMap as unknown as AnyMap).words;
    t.is(a.length, b.length);
    t.deepEqual(changedWords(a, b, MAP_ID_WORDS), [], 'the wasm put and delete and the JS paths leave every word but the map id alike');
    for (const [k] of ops) t.is(fast.get(k), slowMap.get(k));
    t.is(delSpy.calls, 0, 'every delete ran in wasm');
  });
}

test('string keys: what the wasm put and delete do not take runs the JS path', (t) => {
  const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 100 });
  map.set('claims the record', 0);
  const spy = spyOnSlowPath(map, 'setSlow');
  const delSpy = spyOnSlowPath(map, 'deleteSlow');
  map.set('a'.repeat(KEY_MAX_UNITS), 0);
  t.is(spy.calls, 0, 'KEY_MAX_UNITS one-byte units: wasm');
  map.set('a'.repeat(KEY_MAX_UNITS + 1), 1); // longer than KEY_MAX_UNITS
  map.set('\u0100bc', 2); // a unit above 0xFF
  t.throws(() => map.set('key', 1.5), { code: 'ERR_FLATSHARE_VALUE' });
  t.is(spy.calls, 3, 'what the wasm put does not take runs the JS path');
  t.is(map.get('a'.repeat(KEY_MAX_UNITS + 1)), 1);
  t.is(map.get('\u0100bc'), 2);
  t.is(map.get('key'), undefined, 'a rejected value changes nothing');
  t.true(map.delete('a'.repeat(KEY_MAX_UNITS)));
  t.is(delSpy.calls, 0);
  t.true(map.delete('a'.repeat(KEY_MAX_UNITS + 1)));
  t.true(map.delete('\u0100bc'));
  t.is(delSpy.calls, 2, 'deletes of keys the wasm delete does not take run the JS path');
});

test('string keys with string values: the wasm delete frees the value block as the JS path does, word for word', (t) => {
  const fast = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 100 });
  const slowMap = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 100 });
  Object.assign(slowMap, { fastDelStr: false });
  const delSpy = spyOnSlowPath(fast, 'deleteSlow');
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
  const a = internals(fast as unknown as AnyMap).words;
  const b = internals(slowMap as unknown as AnyMap).words;
  t.is(a.length, b.length);
  // The JS path locks and unlocks a tombstone it finds (deleteSlow), which leaves that
  // bucket's SEQ in the record's LOCK_SEQ; the wasm delete only reads it.
  const lockSeq = internals(fast as unknown as AnyMap).writerRecord + W_LOCK_SEQ;
  t.deepEqual(changedWords(a, b, [...MAP_ID_WORDS, lockSeq]), [], 'same lanes, same free lists, same blocks reused');
  for (let i = 0; i < 300; i++) t.is(fast.get(key(i)), slowMap.get(key(i)));
});

// ---------------------------------------------------------------- SLOW answers over a real map

interface Rig {
  map: AnyMap;
  words: Int32Array;
  table: TableInfo;
  gen: number;
  rec: number;
  w: WasmBucketWritePath;
}

/** A map with 300 entries and a claimed writer record, and a write-path instance of its own over the map's memory. */
function rig(keys: 'int32' | 'string', values: 'int32' | 'float64', strict: boolean): Rig {
  const map = new SharedFlatMap<unknown, unknown>({ keys, values, capacity: 1000 });
  for (let k = 0; k < 300; k++) map.set(keys === 'int32' ? k : `key-${k}`, k * 2); // the first set claims the writer record
  const i = internals(map);
  const w = instantiateBucketWritePath(i.memory.memory);
  w.configure(values === 'float64' ? 1 : 0, strict ? 1 : 0);
  w.setWriter(i.writerRecord, recordTag(i.writerRecord));
  return { map, words: i.words, table: i.table, gen: i.gen, rec: i.writerRecord, w };
}

/** The record is as an idle writer leaves it: no lock, no intent, no generation announced. */
function assertIdle(t: { is(a: unknown, b: unknown, m?: string): void }, r: Rig): void {
  t.is(r.words[r.rec + W_LOCK_AT], 0, 'LOCK_AT cleared');
  t.is(r.words[r.rec + W_INTENT], 0, 'INTENT cleared');
  t.is(r.words[r.rec + W_ACTIVE_GEN], 0, 'idle');
}

for (const strict of [false, true]) {
  for (const values of ['int32', 'float64'] as const) {
    const label = `int32 keys, ${values}, strict ${strict ? 1 : 0}`;
    test(`${label}: a migration in progress, and every other wait, hand back with no word of the memory changed`, (t) => {
      const r = rig('int32', values, strict);
      const { words, table, gen, w } = r;
      const hash = (k: number): number => hashers.default.hashInt(k);
      const put = (k: number, g = gen): number =>
        (values === 'int32' ? w.putI32 : w.putF64)(k, hash(k), 5, table.first, table.buckets, g, table.base);
      const del = (k: number, g = gen): number => w.deleteI32(k, hash(k), table.first, table.buckets, g, table.base);
      const add = (k: number, g = gen): number => w.addI32(k, hash(k), 1, table.first, table.buckets, g, table.base);
      // After a lock it undoes, addI32 leaves LOCK_SEQ with the seq it announced, as after
      // the JS path's abortLocked: a scratch word, meaningless while LOCK_AT is 0.
      const slow = (what: string, run: () => number, expected: number, scratch: readonly number[] = []): void => {
        const before = words.slice();
        t.is(run(), expected, what);
        if (expected === ADD_SLOW_RESULT) t.is(w.handedBack(), 1, `${what}: handed back`);
        t.deepEqual(changedWords(before, words, scratch), [], `${what}: no word changed`);
        assertIdle(t, r);
      };
      const ops = (what: string, k: number, g = gen): void => {
        slow(`${what}: put`, () => put(k, g), PUT_SLOW);
        slow(`${what}: delete`, () => del(k, g), DEL_SLOW);
        if (values === 'int32') slow(`${what}: add`, () => add(k, g), ADD_SLOW_RESULT, [r.rec + W_LOCK_SEQ]);
      };
      const epoch = words[H_EPOCH] as number;
      words[H_EPOCH] = epoch | PHASE_COPYING;
      ops('migration in progress, a present key', 42);
      ops('migration in progress, an absent key', 777_777);
      words[H_EPOCH] = epoch;
      // A bucket another writer holds: the key's own, and the one where an absent key's chain ends.
      const { at } = int32LaneOf(r.map as unknown as NumMap, 42);
      const seq = words[at] as number;
      words[at] = lockWord(7, seq);
      ops('the key\'s bucket locked', 42);
      words[at] = seq;
      const end = int32LaneOf(r.map as unknown as NumMap, 777_777);
      t.is(end.lane, -1);
      const endSeq = words[end.at] as number;
      words[end.at] = lockWord(7, endSeq);
      slow('the bucket an insert would take locked', () => put(777_777), PUT_SLOW);
      words[end.at] = endSeq;
      ops('a newer generation than the cached table', 42, gen - 1);
      ops('a generation that is not current', 42, gen + 1);
      const remaining = words[table.base + T_REMAINING] as number;
      words[table.base + T_REMAINING] = 0;
      // A spent budget is found after the lock (the unit is taken, then given back), so LOCK_SEQ keeps the scratch too.
      slow('no insert budget', () => put(777_777), PUT_SLOW, [r.rec + W_LOCK_SEQ]);
      if (values === 'int32') slow('no insert budget (add)', () => add(777_777), ADD_SLOW_RESULT, [r.rec + W_LOCK_SEQ]);
      t.is(put(42), PUT_OVERWROTE, 'an overwrite needs no budget');
      words[table.base + T_REMAINING] = remaining;
      w.setWriter(0, 0);
      ops('no writer record', 42);
      t.is(r.map.get(42), 5);
      t.is(r.map.get(777_777), undefined);
    });
  }
}

// ---------------------------------------------------------------- the string put and delete over a real map

interface StrRig extends Rig {
  put(key: string, value: number, keyRef?: number, gen?: number): number;
  del(key: string, gen?: number): number;
  /** A key block holding `key`, allocated and written as `set` does before its second call. */
  block(key: string): number;
  /** The one FULL or TOMBSTONE lane whose HASH is `key`'s (the test keys' hashes are distinct). */
  laneOf(key: string): { at: number; lane: number; keyRefAt: number };
}

function strRig(values: 'int32' | 'float64', strict: boolean): StrRig {
  const r = rig('string', values, strict);
  const { words, table, gen, w } = r;
  const g = internals(r.map).g;
  const put = (key: string, value: number, keyRef = NULL_BLOCK, g_ = gen): number =>
    (values === 'int32' ? w.putStrI32 : w.putStrF64)(...packedKeyArgs(key), value, table.first, table.buckets, g_, table.base, keyRef);
  const del = (key: string, g_ = gen): number => w.deleteStr(...packedKeyArgs(key), g.lanes, table.first, table.buckets, g_, table.base);
  const host = (r.map as unknown as { arenaHost: ArenaHost }).arenaHost;
  const block = (key: string): number => {
    const b = allocateBlock(host, key.length, TAG_LATIN1);
    const packed = new PackedKey();
    murmur3StringPacked(key, 0, packed);
    writeBlockPacked(words, b, packed, key.length);
    return b;
  };
  const laneOf = (key: string) => {
    const found = lanesWith(r.map, packedKeyArgs(key)[0]);
    if (found.length !== 1) throw new Error(`${found.length} lanes hold the HASH of ${JSON.stringify(key)}`);
    const l = found[0]!;
    return { ...l, keyRefAt: l.at + laneWordOffset(g, C_KEY_REF, l.lane) };
  };
  return { ...r, put, del, block, laneOf };
}

const laneStateOf = (words: Int32Array, at: number, lane: number): number => {
  const meta = words[at + 1] as number;
  return ((meta >>> lane) & 1) === 0 ? LANE_EMPTY : ((meta >>> (8 + lane)) & 1) === 0 ? LANE_FULL : LANE_TOMBSTONE;
};

for (const strict of [false, true]) {
  for (const values of ['int32', 'float64'] as const) {
    const label = `string keys, ${values}, strict ${strict ? 1 : 0}`;
    const value = (k: number): number => (values === 'float64' ? k / 8 - 1000.25 : k * 7 - 5);

    test(`putStr (${label}): NEED_BLOCK changes nothing, then STORED_BLOCK; an overwrite and a revival keep the lane's block and ignore one passed`, (t) => {
      const r = strRig(values, strict);
      const { words, table } = r;
      const size0 = words[table.base + T_SIZE] as number;
      const remaining0 = words[table.base + T_REMAINING] as number;
      const key = 'fresh:0123456789';
      const before = words.slice();
      t.is(r.put(key, value(1)), PUT_NEED_BLOCK);
      t.deepEqual(changedWords(before, words), [], 'NEED_BLOCK: no word changed');
      const block = r.block(key);
      t.is(r.put(key, value(1), block), PUT_STORED_BLOCK);
      const l = r.laneOf(key);
      t.is(laneStateOf(words, l.at, l.lane), LANE_FULL);
      t.is(words[l.keyRefAt], block, 'the lane references the block passed');
      t.is(r.map.get(key), value(1));
      t.is(words[table.base + T_SIZE], size0 + 1, 'SIZE + 1');
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'one unit of insert budget');
      assertIdle(t, r);

      t.is(r.put(key, value(2)), PUT_OVERWROTE, 'present: one call, no block');
      const spare = r.block(key);
      t.is(r.put(key, value(3), spare), PUT_OVERWROTE, 'present: a block passed (another thread inserted the key meanwhile) is not used');
      t.is(words[l.keyRefAt], block, 'an overwrite keeps the key block');
      t.is(r.map.get(key), value(3));
      t.is(words[table.base + T_SIZE], size0 + 1, 'an overwrite does not count');
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'nor take budget');
      assertIdle(t, r);

      t.true(r.map.delete(key));
      t.is(laneStateOf(words, l.at, l.lane), LANE_TOMBSTONE);
      t.is(r.put(key, value(4), spare), PUT_INSERTED, 'reviving a tombstone is an insert, with its own block');
      t.is(words[l.keyRefAt], block);
      t.is(laneStateOf(words, l.at, l.lane), LANE_FULL);
      t.is(r.map.get(key), value(4));
      t.is(words[table.base + T_SIZE], size0 + 1);
      t.is(words[table.base + T_REMAINING], remaining0 - 1, 'a tombstone takes no budget');
      t.is(r.map.size, 301);
      assertIdle(t, r);
    });

    test(`putStr (${label}): keys of 0 to KEY_MAX_UNITS units are found again by their blocks, also with garbage padding`, (t) => {
      const r = strRig(values, strict);
      const { words } = r;
      const keys = Array.from({ length: KEY_MAX_UNITS + 1 }, (_, n) =>
        'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, n).replace(/./g, (c, j) => String.fromCharCode(c.charCodeAt(0) + (j % 3))),
      );
      for (const [n, key] of keys.entries()) {
        const block = r.block(key);
        // Garbage in the bytes of the last payload word past the key (a reused block keeps them).
        const units = key.length;
        const last = block + BLOCK_HEADER_INTS + (units >>> 2);
        if (units % 4 !== 0) words[last] = (words[last] as number) | (-1 << ((units % 4) * 8));
        t.is(r.put(key, value(n)), PUT_NEED_BLOCK, `${units} units: absent`);
        t.is(r.put(key, value(n), block), PUT_STORED_BLOCK, `${units} units: stored`);
      }
      const size = r.map.size;
      for (const [n, key] of keys.entries()) {
        t.is(r.put(key, value(n + 100)), PUT_OVERWROTE, `${key.length} units: found by its block`);
        t.is(r.map.get(key), value(n + 100));
      }
      t.is(r.map.size, size, 'no key was inserted twice');
    });

    test(`putStr and deleteStr (${label}): every case that must wait answers SLOW and changes no word`, (t) => {
      const r = strRig(values, strict);
      const { words, table, gen } = r;
      const block = r.block('absent-key-00001');
      const unchanged = (what: string, run: () => number, expected: number, scratch: readonly number[] = []): void => {
        const before = words.slice();
        t.is(run(), expected, what);
        t.deepEqual(changedWords(before, words, scratch), [], `${what}: no word changed`);
        assertIdle(t, r);
      };
      const both = (what: string, key: string, keyRef = NULL_BLOCK, g = gen): void => {
        unchanged(`${what}: put`, () => r.put(key, value(9), keyRef, g), PUT_SLOW);
        unchanged(`${what}: delete`, () => r.del(key, g), DEL_SLOW);
      };
      const l = r.laneOf('key-42');
      const seq = words[l.at] as number;
      words[l.at] = lockWord(7, seq);
      both("the key's bucket locked", 'key-42');
      words[l.at] = seq;
      const epoch = words[H_EPOCH] as number;
      words[H_EPOCH] = epoch | PHASE_COPYING;
      both('migration in progress, a present key', 'key-42');
      both('migration in progress, an absent key', 'absent-key-00001', block);
      words[H_EPOCH] = epoch;
      both('a newer generation than the cached table', 'key-42', NULL_BLOCK, gen - 1);
      both('a generation that is not current', 'key-42', NULL_BLOCK, gen + 1);
      const remaining = words[table.base + T_REMAINING] as number;
      words[table.base + T_REMAINING] = 0;
      // A spent budget is found after the lock (the unit is taken, then given back): LOCK_SEQ keeps its scratch.
      const scratch = [r.rec + W_LOCK_SEQ];
      unchanged('no insert budget', () => r.put('absent-key-00001', value(9), block), PUT_SLOW, scratch);
      unchanged('no insert budget: no NEED_BLOCK either (no block for a full table)', () => r.put('absent-key-00001', value(9)), PUT_SLOW, scratch);
      t.is(r.put('key-42', value(1)), PUT_OVERWROTE, 'an overwrite with no budget left');
      words[table.base + T_REMAINING] = remaining;
      // A KEY_REF outside the memory (a stale table's garbage): hand back, never trap.
      const ref = words[l.keyRefAt] as number;
      words[l.keyRefAt] = words.length + 16;
      both('a key block past the end of the memory', 'key-42');
      words[l.keyRefAt] = NULL_BLOCK;
      unchanged('a NULL key block in a FULL lane: put', () => r.put('key-42', value(9)), PUT_SLOW);
      words[l.keyRefAt] = ref;
      r.w.setWriter(0, 0);
      both('no writer record', 'key-42');
      t.is(r.map.get('key-42'), value(1), 'every hand-back left the entry as it was');
      t.is(r.map.get('absent-key-00001'), undefined);
      r.w.setWriter(r.rec, recordTag(r.rec));
      t.is(r.del('key-42'), DEL_DELETED);
      t.is(r.del('key-42'), DEL_ABSENT);
    });
  }
}

// ---------------------------------------------------------------- copyBuckets: a redo

test('a redo of copyBuckets over buckets it copied leaves the new table as a redo by copyBucket does', (t) => {
  const prng = new SeededPrng(0xc0de);
  t.log(`seed ${prng.seed}`);
  const SEED = 0x1234567;
  const oldBuckets = 40;
  const newBuckets = 57;
  const [og, n1, n2] = createValueTables('int32', oldBuckets, newBuckets, newBuckets);
  const words = new Int32Array(og!.memory.buffer);
  const tableOf = (h: { base: number; buckets: number }): BucketTable => ({ base: h.base, first: h.base + TABLE_HEADER_INTS, buckets: h.buckets });
  const old = tableOf(og!);
  const g = internals(new SharedFlatMap({ keys: 'int32', values: 'int32' }) as AnyMap).g;
  const writer = new BucketTableWriter(words, old.first, oldBuckets, g);
  const hash = (k: number): number => fmix32(k ^ SEED);
  let live = 0;
  for (let i = 0; i < Math.floor(0.75 * g.lanes * oldBuckets); i++) {
    const k = prng.next() | 0;
    writer.put(k, hash(k), [i]);
    if (i % 5 === 0) writer.remove(k, hash(k));
    else live++;
  }
  const rec = writerRecordAt(2);
  const host: BucketCopyHost = {
    g,
    rec,
    tag: recordTag(rec),
    hashAt: (w, at, lane) => hash(w[at + laneWordOffset(g, 0, lane)] as number),
    pause: (attempt) => backoff(attempt),
  };
  const wasm = instantiateBucketWritePath(og!.memory);
  wasm.configure(0, 0);
  wasm.setWriter(rec, recordTag(rec));
  wasm.configureCopy(g.lanes, g.laneInts, g.keyInts, SEED);
  const js = tableOf(n1!);
  const w2 = tableOf(n2!);
  const region = (tb: BucketTable): number[] => Array.from(words.subarray(tb.base, tb.first + tb.buckets * BUCKET_INTS));
  let jsEntries = 0;
  for (let b = 0; b < oldBuckets; b++) jsEntries += copyBucket(host, words, old, js, b, false);
  t.is(wasm.copyBuckets(old.first, 0, oldBuckets, w2.first, newBuckets, w2.base, COPY_HASH_MURMUR3_INT), live);
  t.is(jsEntries, live);
  t.deepEqual(region(w2), region(js));
  // A helper that died mid-chunk: its buckets are copied again, by each copy into its own table.
  let jsRedo = 0;
  for (let b = 10; b < 30; b++) jsRedo += copyBucket(host, words, old, js, b, false);
  const wasmRedo = wasm.copyBuckets(old.first, 10, 30, w2.first, newBuckets, w2.base, COPY_HASH_MURMUR3_INT);
  t.is(wasm.stoppedAt(), 30);
  t.is(wasmRedo, jsRedo, 'the redo counts what copyBucket counts');
  t.deepEqual(region(w2), region(js), 'and leaves the same table: nothing copied twice');
  t.is(words[rec + W_LOCK_AT], 0, 'no lock intent left behind');
});

// ---------------------------------------------------------------- which path SharedFlatMap takes

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
  map.set(3, -(2 ** 31) + 1);
  t.is(map.add(3, -1), -(2 ** 31), 'INT32_MIN is a result, not a hand-back');
  t.is(slow.calls, 2);
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
  const resizes = internals(map as unknown as AnyMap).gen;
  t.true(resizes >= 1);
  t.is(slow.calls, 1 + resizes, `only the inserts that found no budget left run the JS path, which migrates (${resizes} resizes)`);
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
  const slow = spyOnSlowPath(map, 'setSlow');
  calls = 0;
  for (const [k, v] of ref) map.set(k, v + 1); // overwrites: no migration copies keys meanwhile
  t.is(calls, ref.size, 'one hashInt call per set');
  t.is(slow.calls, 0, 'all through wasm');
  for (const [k, v] of ref) if (map.get(k) !== v + 1) t.fail(`key ${k} after the overwrite`);
  const attached = SharedFlatMap.attach<number, number>(map.handle, { hasher });
  t.is(attached.get(-2997), -999 + 1);
  calls = 0;
  attached.set(-2997, 5); // a new instance: no writer record in its wasm yet, so the JS path runs, with the same hash
  t.is(calls, 1, 'the JS path after PUT_SLOW reuses the hash');
  t.is(map.get(-2997), 5);
  t.is(map.size, ref.size);
});

test('a map with string keys and one with int32 keys migrate through copyBuckets and keep every entry; a JS hasher keeps the JS copy', (t) => {
  const strMap = new SharedFlatMap<string, string>({ keys: 'string', values: 'string' });
  const intMap = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: hashers.murmur3({ seed: 77 }) });
  let wasmCopies = 0;
  for (const m of [strMap, intMap] as unknown as AnyMap[]) {
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
  const fnv = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: hashers.fnv1a() });
  t.is((fnv as unknown as { migrationHost: MigrationHost }).migrationHost.copyRange, undefined);
});
