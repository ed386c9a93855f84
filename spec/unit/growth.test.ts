/**
 * Growth policy of online resize (migration.ts, GROWTH_FACTOR): a table full
 * of live entries doubles (grownCapacityFor: room for twice the live entries,
 * a power of two), a table full of tombstones is rehashed at its own size.
 * Inserting 1..N keys must never skip a power of two. Presized tables have
 * any size (capacityFor); the tables they grow into are powers of two.
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { MAX_WRITERS, MIN_CAPACITY, W_ACTIVE_GEN, insertBudget } from '../../lib/layout.js';
import { writerRecordAt } from '../../lib/writers.js';
import { writersAnnouncing } from '../../lib/memory.js';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';

function capacityOf(map: SharedFlatMap<number, number>): number {
  return SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).table.capacity;
}

test('inserting live entries doubles the table at each resize, never more', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  let capacity = capacityOf(map);
  t.is(capacity, MIN_CAPACITY);
  const seen = [capacity];
  for (let key = 0; key < 200_000; key++) {
    map.set(key, key);
    const now = capacityOf(map);
    if (now !== capacity) {
      t.is(now, capacity * 2, `after ${key + 1} entries the table went from ${capacity} to ${now} slots`);
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

test('a default-capacity int32 -> int32 map keeps up to 1,638 entries (four resizes) in its first 64 KiB page', (t) => {
  // layout.ts MAX_WRITERS: the fixed part (header, writer records, arena heads)
  // and the tables of 128 .. 2,048 slots fit in one page; the next resize
  // (4,096 slots) is the first that needs the memory to grow.
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  t.is(capacityOf(map), 128, 'the default first table is a power of two, like the tables it grows into');
  t.is(map.byteLength, WASM_PAGE_BYTES);
  const lastInOnePage = insertBudget(2048);
  t.is(lastInOnePage, 1638);
  for (let key = 0; key < lastInOnePage; key++) map.set(key * 7919, key);
  t.is(capacityOf(map), 2048);
  t.is(map.byteLength, WASM_PAGE_BYTES, `after ${map.size} entries the memory is still one page`);
  map.set(-1, -1);
  t.is(capacityOf(map), 4096);
  t.true(map.byteLength > WASM_PAGE_BYTES, 'the fifth resize grows the memory');
  for (let key = 0; key < lastInOnePage; key++) t.is(map.get(key * 7919), key);
});

test('a presized table has exactly capacity / 0.8 slots; the table it grows into is a power of two', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 1000 });
  t.is(capacityOf(map), 1250);
  for (let key = 0; key <= 1000; key++) map.set(key, key);
  t.is(capacityOf(map), 4096, 'room for twice the 1,000 live entries (2,500 slots), rounded up to a power of two');
  for (let key = 0; key <= 1000; key++) if (map.get(key) !== key) t.fail(`key ${key}`);
});

test('a resize makes room for every writer that may still insert into the old table (writersAnnouncing)', (t) => {
  // A small table mostly full of tombstones, 5 live entries: room for twice the
  // live entries is 16 slots (12 inserts). With 20 writers announcing the
  // table's generation (each may hold a lock and finish an insert after the
  // migrator read SIZE), the new table must take 5 + 20 entries, or the copy
  // would find no EMPTY slot. The announcements are written into unused writer
  // records; they do not pin the regions this resize can use (retired earlier).
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  const { gen } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  for (let key = 0; key < 5; key++) map.set(key, key);
  const words = new Int32Array(map.handle.memory.buffer);
  const announcing = 20;
  const records = Array.from({ length: announcing }, (_, i) => writerRecordAt(MAX_WRITERS - 1 - i) + W_ACTIVE_GEN);
  for (const at of records) {
    t.is(Atomics.load(words, at), 0, 'an unused record');
    Atomics.store(words, at, gen + 1);
  }
  t.is(writersAnnouncing(words, gen), announcing, 'the fake ones (this thread is idle between operations)');
  // Churn until the budget is gone: the resize then sees the announcements.
  for (let key = 100; SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen === gen; key++) {
    map.set(key, key);
    map.delete(key);
  }
  for (const at of records) Atomics.store(words, at, 0);
  const capacity = capacityOf(map);
  // At the resize this thread announces too (it is inside the insert that ran out of budget).
  t.log(`after the resize: ${capacity} slots for 5 live entries and ${announcing + 1} announcing writers`);
  t.true(insertBudget(capacity) >= 5 + announcing + 1, `${capacity} slots`);
  for (let key = 0; key < 5; key++) t.is(map.get(key), key);
  t.is(map.size, 5);
});
