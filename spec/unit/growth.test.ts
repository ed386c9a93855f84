/**
 * Growth policy of online resize (migration.ts grownBuckets, GROWTH_FACTOR):
 * the new table is the fewest buckets whose insert budget (0.8 of its lanes)
 * holds twice the live entries (layout.ts bucketsFor: any bucket count, not a
 * power of two), and never fewer than the initial table's. So a table full
 * of live entries doubles its buckets exactly (never more), a table whose
 * OCCUPIED lanes are mostly tombstones is rehashed at its own size, a
 * presized table starts at the fewest buckets for its capacity, and a resize
 * also makes room for one insert per writer announcing the old generation.
 * Then: the clean-up after a flip (releaseRetired) that throws leaves the flip
 * standing and the migration control free.
 */
import test from 'ava';
import { ErrorCode, FlatshareTimeoutError, SharedFlatMap } from '../../lib/index.js';
import {
  DEFAULT_CAPACITY,
  FIXED_INTS,
  H_MIG_OWNER,
  MAX_WRITERS,
  MIN_BUCKETS,
  W_ACTIVE_GEN,
  bucketsFor,
  insertBudget,
  tableRegionInts,
} from '../../lib/layout.js';
import { writerRecordAt } from '../../lib/writers.js';
import { freeRegions, writersAnnouncing } from '../../lib/memory.js';
import { tableRegionOf } from '../../lib/table.js';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';
import { grownBuckets } from '../../lib/migration.js';

function internalsOf(map: SharedFlatMap<unknown, unknown>) {
  return SharedFlatMap.unsafeExposeInternals(map);
}

function bucketsOf(map: SharedFlatMap<number, number>): number {
  return internalsOf(map as SharedFlatMap<unknown, unknown>).table.buckets;
}

function lanesOf(map: SharedFlatMap<number, number>): number {
  return internalsOf(map as SharedFlatMap<unknown, unknown>).g.lanes;
}

test('inserting live entries doubles the buckets at each resize, never more, when the insert budget is used up', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  const lanes = lanesOf(map);
  t.is(lanes, 7);
  let buckets = bucketsOf(map);
  t.is(buckets, MIN_BUCKETS);
  const seen = [buckets];
  for (let key = 0; key < 200_000; key++) {
    map.set(key, key);
    const now = bucketsOf(map);
    if (now !== buckets) {
      t.is(now, buckets * 2, `after ${key + 1} entries the table went from ${buckets} to ${now} buckets`);
      t.is(key, insertBudget(buckets, lanes), 'the resize happens when the insert budget is used up');
      t.is(now, grownBuckets(key, 1, lanes, MIN_BUCKETS), 'grownBuckets: room for twice the live entries');
      buckets = now;
      seen.push(now);
    }
  }
  t.log(`buckets: ${seen.join(' -> ')}`);
  t.true(seen.length > 10);
  for (let key = 0; key < 200_000; key++) if (map.get(key) !== key) t.fail(`key ${key}`);
});

test('a default map of each lane count doubles its buckets at each resize', (t) => {
  // int32 -> float64 has 4 lanes a bucket, string -> float64 3: the budget of
  // 2B buckets (floor(1.6 B L)) holds twice floor(0.8 B L) for every lane count.
  for (const [keys, values, lanes] of [
    ['int32', 'float64', 4],
    ['string', 'int32', 4],
    ['string', 'float64', 3],
  ] as const) {
    const map = new SharedFlatMap<number | string, number>({ keys, values });
    const valueOf = (i: number): number => (values === 'float64' ? i + 0.5 : i);
    const internals = () => internalsOf(map as SharedFlatMap<unknown, unknown>);
    t.is(internals().g.lanes, lanes);
    let buckets = internals().table.buckets;
    t.is(buckets, bucketsFor(DEFAULT_CAPACITY, lanes));
    const seen = [buckets];
    for (let i = 0; i < 20_000; i++) {
      map.set(keys === 'int32' ? i : `k${i}`, valueOf(i));
      const now = internals().table.buckets;
      if (now !== buckets) {
        t.is(now, 2 * buckets, `${keys} -> ${values}: after ${i + 1} entries ${buckets} -> ${now} buckets`);
        t.is(i, insertBudget(buckets, lanes), `${keys} -> ${values}: the resize comes when the budget is used up`);
        buckets = now;
        seen.push(now);
      }
    }
    t.log(`${keys} -> ${values} (${lanes} lanes): ${seen.join(' -> ')}`);
    t.true(seen.length >= 6);
    for (let i = 0; i < 20_000; i++) if (map.get(keys === 'int32' ? i : `k${i}`) !== valueOf(i)) t.fail(`${keys} -> ${values}: entry ${i}`);
  }
});

test('a table whose OCCUPIED lanes are mostly tombstones is rehashed at the same size', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 1000 });
  const buckets = bucketsOf(map);
  const gen = internalsOf(map as SharedFlatMap<unknown, unknown>).gen;
  // Churn: insert fresh keys and delete them, so tombstones use up the budget.
  for (let key = 0; key < insertBudget(buckets, lanesOf(map)) * 3; key++) {
    map.set(key, key);
    map.delete(key);
  }
  t.true(internalsOf(map as SharedFlatMap<unknown, unknown>).gen >= gen + 2, 'the churn migrated the table (twice or more)');
  t.is(map.size, 0);
  t.is(bucketsOf(map), buckets);
});

test('a default-capacity int32 -> int32 map keeps up to 2,150 entries (five resizes) in its first 64 KiB page', (t) => {
  // layout.ts MAX_WRITERS: the fixed part (header, writer records, arena heads)
  // and the tables of 12 .. 384 buckets (none reuses a retired region: each is
  // larger than all earlier ones together) fit in one page; the next resize
  // (768 buckets) is the first that needs the memory to grow.
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  const lanes = lanesOf(map);
  t.is(bucketsOf(map), bucketsFor(DEFAULT_CAPACITY, lanes));
  t.is(bucketsOf(map), 12, 'the default first table: the fewest buckets for 64 entries, 12 x 7 lanes');
  t.is(map.byteLength, WASM_PAGE_BYTES);
  const tables = [12, 24, 48, 96, 192, 384];
  const pageInts = WASM_PAGE_BYTES / Int32Array.BYTES_PER_ELEMENT;
  const usedInts = FIXED_INTS + tables.reduce((sum, b) => sum + tableRegionInts(b), 0);
  t.true(usedInts <= pageInts, `the fixed part and six tables take ${usedInts} of ${pageInts} words`);
  t.true(usedInts + tableRegionInts(768) > pageInts, 'a seventh table (768 buckets) does not fit the page');
  const lastInOnePage = insertBudget(384, lanes);
  t.is(lastInOnePage, 2150);
  for (let key = 0; key < lastInOnePage; key++) map.set(key * 7919, key);
  t.is(bucketsOf(map), 384);
  t.is(map.byteLength, WASM_PAGE_BYTES, `after ${map.size} entries the memory is still one page`);
  map.set(-1, -1);
  t.is(bucketsOf(map), 768);
  t.true(map.byteLength > WASM_PAGE_BYTES, 'the sixth resize grows the memory');
  for (let key = 0; key < lastInOnePage; key++) t.is(map.get(key * 7919), key);
});

test('a presized table has the fewest buckets whose budget holds capacity; it grows into the exact size for twice the live entries', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 1000 });
  const lanes = lanesOf(map);
  const presized = bucketsOf(map);
  t.is(presized, 179, 'ceil(1000 / 0.8 / 7 lanes)');
  t.true(insertBudget(presized, lanes) >= 1000 && insertBudget(presized - 1, lanes) < 1000, 'the fewest buckets that hold 1,000 entries');
  const budget = insertBudget(presized, lanes);
  for (let key = 0; key < budget; key++) map.set(key, key);
  t.is(bucketsOf(map), presized, `${budget} entries fit without a resize`);
  map.set(budget, budget);
  const grown = bucketsOf(map);
  t.is(grown, bucketsFor(2 * budget, lanes), `room for twice the ${budget} live entries`);
  t.is(grown, 358);
  t.not(grown & (grown - 1), 0, 'not rounded up to a power of two');
  for (let key = 0; key <= budget; key++) if (map.get(key) !== key) t.fail(`key ${key}`);
});

test('a resize makes room for every writer that may still insert into the old table (writersAnnouncing)', (t) => {
  // A table of MIN_BUCKETS buckets mostly full of tombstones, 5 live entries:
  // room for twice the live entries is MIN_BUCKETS buckets (22 inserts). With
  // 20 writers announcing the table's generation (each may hold a lock and
  // finish an insert after the migrator read SIZE), and this thread, the new
  // table must take 5 + 21 entries (5 buckets), or the copy would find no
  // EMPTY lane. The announcements are written into unused writer records; they
  // do not pin the regions this resize can use (retired earlier).
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  const lanes = lanesOf(map);
  const { gen } = internalsOf(map as SharedFlatMap<unknown, unknown>);
  for (let key = 0; key < 5; key++) map.set(key, key);
  const words = new Int32Array(map.handle.memory.buffer);
  const announcing = 20;
  t.true(insertBudget(grownBuckets(5, 0, lanes, MIN_BUCKETS), lanes) < 5 + announcing + 1, 'precondition: a table for 2 x 5 entries alone is too small');
  const records = Array.from({ length: announcing }, (_, i) => writerRecordAt(MAX_WRITERS - 1 - i) + W_ACTIVE_GEN);
  for (const at of records) {
    t.is(Atomics.load(words, at), 0, 'an unused record');
    Atomics.store(words, at, gen + 1);
  }
  t.is(writersAnnouncing(words, gen), announcing, 'the fake ones (this thread is idle between operations)');
  // Churn until the budget is gone: the resize then sees the announcements.
  for (let key = 100; internalsOf(map as SharedFlatMap<unknown, unknown>).gen === gen; key++) {
    map.set(key, key);
    map.delete(key);
  }
  for (const at of records) Atomics.store(words, at, 0);
  const buckets = bucketsOf(map);
  // At the resize this thread announces too (it is inside the insert that ran out of budget).
  t.log(`after the resize: ${buckets} buckets for 5 live entries and ${announcing + 1} announcing writers`);
  t.true(insertBudget(buckets, lanes) >= 5 + announcing + 1, `${buckets} buckets`);
  t.is(buckets, grownBuckets(5, announcing + 1, lanes, MIN_BUCKETS));
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
  const { words, gen } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const table = tableRegionOf(words, gen);
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
