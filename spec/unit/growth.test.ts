/**
 * Growth policy of online resize (migration.ts, GROWTH_FACTOR): a table full
 * of live entries grows to capacityFor(2 x live), about twice its slots (any
 * number of slots since layout 5), a table full of tombstones is rehashed at
 * its own size.
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { DEFAULT_CAPACITY, MIN_CAPACITY, capacityFor, insertBudget, tableRegionInts, FIXED_INTS } from '../../lib/layout.js';
import { GROWTH_FACTOR } from '../../lib/migration.js';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';

function capacityOf(map: SharedFlatMap<number, number>): number {
  return SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).table.capacity;
}

test('inserting live entries grows the table to room for twice the live entries at each resize: at most double', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  let capacity = capacityOf(map);
  t.is(capacity, MIN_CAPACITY);
  const seen = [capacity];
  for (let key = 0; key < 200_000; key++) {
    map.set(key, key);
    const now = capacityOf(map);
    if (now !== capacity) {
      t.is(now, capacityFor(GROWTH_FACTOR * key), `after ${key + 1} entries the table went from ${capacity} to ${now} slots`);
      t.true(now <= 2 * capacity && now >= 2 * capacity - 2, `${capacity} -> ${now}: about double`);
      t.is(key, insertBudget(capacity), 'the resize happens when the insert budget is used up');
      capacity = now;
      seen.push(now);
    }
  }
  t.log(`capacities: ${seen.join(' -> ')}`);
  t.true(seen.length > 10);
});

test('a table whose used slots are mostly tombstones is rehashed at the same size', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 1000 });
  const capacity = capacityOf(map);
  // Churn: insert fresh keys and delete them, so tombstones use up the budget.
  for (let key = 0; key < insertBudget(capacity) * 3; key++) {
    map.set(key, key);
    map.delete(key);
  }
  t.is(map.size, 0);
  t.is(capacityOf(map), capacity);
});

test('a default-capacity int32 -> int32 map keeps up to 1,024 entries (four resizes) in its first 64 KiB page', (t) => {
  // layout.ts MAX_WRITERS: the fixed part (header, writer records, arena heads)
  // and the tables of 80 .. 1,280 slots (capacityFor(64) = 80, then room for
  // twice the live entries) fit in one page; the next resize (2,560 slots) is
  // the first that needs the memory to grow. Layout 4 (powers of two) fitted
  // 128 .. 2,048 slots, 1,638 entries: its tables were up to twice as large.
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  t.is(map.byteLength, WASM_PAGE_BYTES);
  const tables = [capacityFor(DEFAULT_CAPACITY)];
  for (let i = 0; i < 4; i++) tables.push(capacityFor(GROWTH_FACTOR * insertBudget(tables[i] as number)));
  t.deepEqual(tables, [80, 160, 320, 640, 1280]);
  const regions = tables.reduce((sum, c) => sum + tableRegionInts(c, 3), 0);
  t.true((FIXED_INTS + regions) * 4 <= WASM_PAGE_BYTES, 'the fixed part and the five tables fit in one page');
  const lastInOnePage = insertBudget(1280);
  t.is(lastInOnePage, 1024);
  const seen = [capacityOf(map)];
  for (let key = 0; key < lastInOnePage; key++) {
    map.set(key * 7919, key);
    if (capacityOf(map) !== seen.at(-1)) seen.push(capacityOf(map));
  }
  t.deepEqual(seen, tables);
  t.is(map.byteLength, WASM_PAGE_BYTES, `after ${map.size} entries the memory is still one page`);
  map.set(-1, -1);
  t.is(capacityOf(map), 2560);
  t.true(map.byteLength > WASM_PAGE_BYTES, 'the fifth resize grows the memory');
  for (let key = 0; key < lastInOnePage; key++) t.is(map.get(key * 7919), key);
});
