/**
 * Growth policy of online resize (migration.ts, GROWTH_FACTOR): a table full
 * of live entries doubles (grownCapacityFor: room for twice the live entries,
 * a power of two), a table full of tombstones is rehashed at its own size.
 * Inserting 1..N keys must never skip a power of two. Presized tables have
 * any size (capacityFor); the tables they grow into are powers of two.
 */
import test from 'ava';
import { ErrorCode, FlatshareTimeoutError, SharedFlatMap } from '../../lib/index.js';
import { H_MIG_OWNER, MAX_WRITERS, MIN_CAPACITY, W_ACTIVE_GEN, insertBudget } from '../../lib/layout.js';
import { writerRecordAt } from '../../lib/writers.js';
import { freeRegions, writersAnnouncing } from '../../lib/memory.js';
import { tableRegionOf } from '../../lib/table.js';
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

// ---------------------------------------------------------------- clean-up after a flip that throws

/** Make the map's next releaseRetired (the clean-up after a flip: arena locks, with a timeout) throw. */
function failNextRelease(map: SharedFlatMap<string, string>): () => number {
  const inner = map as unknown as { releaseRetired: (...args: unknown[]) => void };
  const real = inner.releaseRetired.bind(map);
  let failures = 0;
  inner.releaseRetired = (...args: unknown[]) => {
    inner.releaseRetired = real;
    failures++;
    throw new FlatshareTimeoutError(50, 'an arena free-list lock (simulated)');
  };
  return () => failures;
}

/** True when a free-list record overlaps the current table's region. */
function currentTableListed(map: SharedFlatMap<string, string>): boolean {
  const { words, gen, slotInts } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const table = tableRegionOf(words, slotInts, gen);
  return freeRegions(words).some((r) => r.ints > 0 && r.base < table.base + table.ints && table.base < r.base + r.ints);
}

test('clear() whose clean-up after the flip throws: the clear stands, the new table is not put back on the free list', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 64 });
  for (let i = 0; i < 500; i++) map.set(`key-${i}`, `value-${i}`);
  const { words } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const gen = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
  const failures = failNextRelease(map);
  t.throws(() => map.clear(), { code: ErrorCode.TIMEOUT });
  t.is(failures(), 1);
  t.is(SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen, gen + 1, 'the flip is not rolled back');
  t.is(map.size, 0);
  t.is(Atomics.load(words, H_MIG_OWNER), 0, 'the migration control is free');
  t.false(currentTableListed(map), 'the current table is not on the free list');
  for (let i = 0; i < 3000; i++) map.set(`new-${i}`, `v${i}`);
  for (let i = 0; i < 3000; i++) t.is(map.get(`new-${i}`), `v${i}`);
  t.is(map.get('key-1'), undefined);
  t.is(map.size, 3000);
});

test('a resize whose clean-up after the flip throws releases the migration control: later resizes run', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 64 });
  const model = new Map<string, string>();
  for (let i = 0; i < 60; i++) model.set(`key-${i}`, `value-${i}`);
  for (const [k, v] of model) map.set(k, v);
  for (let i = 0; i < 20; i++) {
    t.true(map.delete(`key-${i}`)); // tombstones: the flip then frees their key blocks (releaseRetired)
    model.delete(`key-${i}`);
  }
  const internals = () => SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const gen = internals().gen;
  const failures = failNextRelease(map);
  let thrown = 0;
  for (let i = 0; internals().gen === gen; i++) {
    try {
      map.set(`more-${i}`, `m${i}`);
      model.set(`more-${i}`, `m${i}`);
    } catch (error) {
      t.is((error as { code?: string }).code, ErrorCode.TIMEOUT);
      thrown++;
    }
  }
  t.is(failures(), 1);
  t.is(thrown, 1, 'the insert that ran the flip reports the clean-up\'s error');
  t.is(Atomics.load(internals().words, H_MIG_OWNER), 0, 'the migration control is free (it stayed taken before)');
  for (let i = 0; i < 2000; i++) {
    map.set(`later-${i}`, `l${i}`);
    model.set(`later-${i}`, `l${i}`);
  }
  t.true(internals().gen > gen + 1, 'later resizes ran');
  t.is(map.size, model.size);
  for (const [k, v] of model) if (map.get(k) !== v) t.fail(`${k} holds ${map.get(k)}`);
});
