/**
 * Growth policy of online resize (migration.ts, GROWTH_FACTOR): a table full
 * of live entries doubles, a table full of tombstones is rehashed at its own
 * size. Inserting 1..N keys must never skip a power of two.
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { MIN_CAPACITY, insertBudget } from '../../lib/layout.js';

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
