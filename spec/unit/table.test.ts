/**
 * lib/table.ts: the home bucket (homeSlot) of a hash in a table of any number
 * of buckets, the hash interval each covers, the descriptors, and what
 * tables of any size buy (memory).
 */
import test from 'ava';
import fc from 'fast-check';
import { SharedFlatMap } from '../../lib/index.js';
import { MAX_BUCKETS, MIN_BUCKETS, bucketsFor, insertBudget, tableRegionInts } from '../../lib/layout.js';
import { lanesFor } from '../../lib/bucket.js';
import { HASH_SPACE, homeSlot, readTableInfo, slotStart, tableRegionOf, viewCovers } from '../../lib/table.js';

/** floor(hash * capacity / 2^32) in exact integer arithmetic. */
function exactHome(hash: number, capacity: number): number {
  return Number((BigInt(hash >>> 0) * BigInt(capacity)) >> 32n);
}

const anyHash = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const anyCapacity = fc.integer({ min: MIN_BUCKETS, max: MAX_BUCKETS });

test('homeSlot is floor(hash * capacity / 2^32) exactly, for every int32 hash and capacity', (t) => {
  fc.assert(
    fc.property(anyHash, anyCapacity, (hash, capacity) => homeSlot(hash, capacity) === exactHome(hash, capacity)),
    { numRuns: 20_000 },
  );
  // The products a double cannot hold exactly (> 2^53): the largest hashes and capacities.
  for (const capacity of [MAX_BUCKETS, MAX_BUCKETS - 1, 100_000_007, 3 * 2 ** 25 + 1]) {
    for (const hash of [-1, -2, 2 ** 31 - 1, -(2 ** 31), 0x7fff_ffff ^ 0xffff, 0x5555_5555, -0x5555_5556]) {
      t.is(homeSlot(hash, capacity), exactHome(hash, capacity), `hash ${hash}, capacity ${capacity}`);
    }
  }
  t.is(homeSlot(-1, MAX_BUCKETS), MAX_BUCKETS - 1, 'the largest hash lands in the last bucket');
  t.is(homeSlot(0, MAX_BUCKETS), 0);
});

test('homeSlot of a power-of-two capacity 2^b is the top b bits of the hash (the layout 4 home slot)', (t) => {
  fc.assert(
    fc.property(anyHash, fc.integer({ min: 4, max: 27 }), (hash, bits) => homeSlot(hash, 2 ** bits) === hash >>> (32 - bits)),
    { numRuns: 20_000 },
  );
  t.pass();
});

test('homeSlot never decreases as the unsigned hash grows, and stays below the capacity', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 2 }), anyCapacity, (h, capacity) => {
      const a = homeSlot(h | 0, capacity);
      const b = homeSlot((h + 1) | 0, capacity);
      return a <= b && b <= a + 1 && b < capacity;
    }),
    { numRuns: 20_000 },
  );
  t.pass();
});

test('slotStart(i) is the first unsigned hash whose home slot is i (slot i covers [slotStart(i), slotStart(i + 1)))', (t) => {
  fc.assert(
    fc.property(anyCapacity, fc.double({ min: 0, max: 1, noNaN: true }), (capacity, at) => {
      const slot = Math.min(capacity - 1, Math.floor(at * capacity));
      const start = slotStart(slot, capacity);
      return (
        homeSlot(start | 0, capacity) === slot &&
        (slot === 0 ? start === 0 : homeSlot((start - 1) | 0, capacity) === slot - 1)
      );
    }),
    { numRuns: 20_000 },
  );
  t.is(slotStart(0, 1000), 0);
  t.is(slotStart(1000, 1000), HASH_SPACE, 'past the last slot: the end of the hash space');
  t.is(slotStart(1001, 1000), HASH_SPACE);
  t.is(slotStart(1, 2 ** 20), 2 ** 12, 'power of two: slot i starts at i * 2^(32 - b)');
});

const INT32_LANES = lanesFor(2); // int32 -> int32: 7 lanes of 2 words

test('a presized map of 100,000 int32 -> int32 entries takes at most 16 shared bytes per entry, without a resize', (t) => {
  const entries = 100_000;
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: entries });
  const { table, words } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  t.is(table.buckets, 17_858, 'entries / 0.8 / 7 lanes, not a power of two');
  t.is(table.buckets, bucketsFor(entries, INT32_LANES));
  t.true(insertBudget(table.buckets, INT32_LANES) >= entries);
  t.true(viewCovers(words, table));
  t.deepEqual(readTableInfo(words, 0), table);
  t.deepEqual(tableRegionOf(words, 0), { base: table.base, ints: tableRegionInts(table.buckets) });
  for (let k = 0; k < entries; k++) map.set(k * 7 - 350_000, k);
  t.is(map.size, entries);
  const after = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).table;
  t.is(after.base, table.base, 'the first table held every entry: no migration');
  t.true(map.byteLength / entries <= 16, `${map.byteLength / entries} bytes per entry`);
  for (let k = 0; k < entries; k++) if (map.get(k * 7 - 350_000) !== k) t.fail(`key ${k * 7 - 350_000}`);
  t.is(map.get(1), undefined);
});

test('viewCovers: false for a view that ends before the last bucket, or an empty table', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 1_000 });
  const { table, words } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const end = table.first + table.buckets * 16;
  t.true(viewCovers(words.subarray(0, end), table));
  t.false(viewCovers(words.subarray(0, end - 1), table));
  t.false(viewCovers(words, { ...table, buckets: 0 }));
});

test('a map presized for 1,000,000 int32 -> int32 entries allocates at most 16 shared bytes per entry up front', (t) => {
  const entries = 1_000_000;
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: entries });
  t.is(SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).table.buckets, 178_572);
  t.true(map.byteLength / entries <= 16, `${map.byteLength / entries} bytes per entry (layout 4: 25.2)`);
});
