/**
 * Resizes of a map at its maxBytes (migration.ts, fittingCapacity). When the
 * table a resize wants (room for twice the live entries, a power of two) does
 * not fit, the resize takes the largest table that does, if that leaves room
 * for minFitHeadroom(live) inserts; else the insert is ERR_FLATSHARE_FULL and
 * the map is unchanged. Before, such a map took no new key at all once its
 * insert budget was used up, even after deleting half of its entries.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { insertBudget } from '../../lib/layout.js';
import { FIT_HEADROOM_DIVISOR, IN_FLIGHT_INSERTS_MAX, minFitHeadroom } from '../../lib/migration.js';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';
import { SeededPrng } from '../helpers/prng.js';
import { testSeed } from '../stress/support.js';

type Kind = 'int32' | 'string';
const KINDS: readonly Kind[] = ['int32', 'string'];
/** 16 pages: maxBytes a multiple of the page, so byteLength (whole pages) cannot pass it. */
const MAX_BYTES = 16 * WASM_PAGE_BYTES;
/** Churn rounds (delete one live key, insert one new key) per entry the map held when it first was full. */
const CHURN_ROUNDS_PER_ENTRY = 4;
/** 16-character string keys, as in the benchmarks. */
const STRING_KEY_DIGITS = 12;

function keyOf(kind: Kind, i: number): number | string {
  return kind === 'int32' ? i : `key-${String(i).padStart(STRING_KEY_DIGITS, '0')}`;
}

function capacityOf(map: SharedFlatMap<unknown, number>): number {
  return SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).table.capacity;
}

/** Insert keys 0, 1, ... until the map answers 'full'; returns how many it took. */
function fillUntilFull(map: SharedFlatMap<unknown, number>, kind: Kind, model: Map<unknown, number>): number {
  for (let i = 0; ; i++) {
    if (map.trySet(keyOf(kind, i), i) === 'full') return i;
    model.set(keyOf(kind, i), i);
  }
}

function assertSameAsModel(t: ExecutionContext, map: SharedFlatMap<unknown, number>, model: Map<unknown, number>, what: string): void {
  t.is(map.size, model.size, `${what}: size`);
  let wrong = 0;
  for (const [key, value] of model) if (map.get(key) !== value) wrong++;
  t.is(wrong, 0, `${what}: entries with a wrong or missing value`);
  let extra = 0;
  for (const [key, value] of map) if (model.get(key) !== value) extra++;
  t.is(extra, 0, `${what}: iterated entries the model does not have`);
}

/** Delete `count` random live keys from both. */
function deleteRandom(t: ExecutionContext, map: SharedFlatMap<unknown, number>, model: Map<unknown, number>, prng: SeededPrng, count: number): void {
  const live = [...model.keys()];
  for (let d = 0; d < count; d++) {
    const j = prng.int(d, live.length);
    const victim = live[j];
    live[j] = live[d];
    model.delete(victim);
    if (!map.delete(victim)) t.fail(`delete of live key ${String(victim)} answered false`);
  }
}

for (const kind of KINDS) {
  test(`${kind} keys: a map at its maxBytes keeps taking new keys after deletes (the resize takes a table that fits)`, (t) => {
    const prng = new SeededPrng(testSeed(t));
    const map = new SharedFlatMap<unknown, number>({ keys: kind, values: 'int32', maxBytes: MAX_BYTES });
    const model = new Map<unknown, number>();
    const filled = fillUntilFull(map, kind, model);
    const fullCapacity = capacityOf(map);
    deleteRandom(t, map, model, prng, filled >> 1);
    const live = [...model.keys()];
    const capacities = new Set<number>([fullCapacity]);
    let next = filled;
    for (let r = 0; r < CHURN_ROUNDS_PER_ENTRY * filled; r++) {
      const j = prng.int(0, live.length);
      model.delete(live[j]);
      if (!map.delete(live[j])) t.fail(`delete of live key ${String(live[j])} answered false`);
      const key = keyOf(kind, next);
      const status = map.trySet(key, next);
      if (status !== 'ok') {
        t.fail(`churn round ${r}: trySet answered ${status} with ${map.size} of ${filled} entries`);
        return;
      }
      model.set(key, next++);
      live[j] = key;
      capacities.add(capacityOf(map));
    }
    t.log(`${kind}: full at ${filled} entries (${fullCapacity} slots); churn at ${model.size} live went through ${[...capacities].join(', ')} slots`);
    t.true([...capacities].some((c) => c !== fullCapacity), 'the churn resized the table');
    t.true(map.byteLength <= MAX_BYTES);
    assertSameAsModel(t, map, model, 'after the churn');
  });
}

test('int32 keys: a map with room for less than twice its table grows into the largest table that fits', (t) => {
  // 40 pages (2.5 MiB): the tables of 128 .. 65,536 slots take ~1.5 MiB, so the
  // next power of two (131,072 slots, 1.5 MiB more) does not fit, and the first
  // resize past insertBudget(65,536) entries used to answer FULL there. Now it
  // takes what is left at the top; the resize after it fits 131,072 slots in the
  // retired regions below (merged: 128 .. 65,536 slots, and the one in between).
  const maxBytes = 40 * WASM_PAGE_BYTES;
  const lastPowerOfTwo = 65_536;
  const map = new SharedFlatMap<unknown, number>({ keys: 'int32', values: 'int32', maxBytes });
  const model = new Map<unknown, number>();
  const capacities: number[] = [];
  for (let i = 0; ; i++) {
    const capacity = capacityOf(map);
    if (capacities.at(-1) !== capacity) capacities.push(capacity);
    if (map.trySet(i, i) === 'full') break;
    model.set(i, i);
  }
  t.log(`full at ${model.size} entries; capacities ${capacities.join(' -> ')}; ${map.byteLength} bytes`);
  t.true(model.size > insertBudget(2 * lastPowerOfTwo) - IN_FLIGHT_INSERTS_MAX, `only ${model.size} entries fit`);
  t.true(
    capacities.some((c) => c > lastPowerOfTwo && c < 2 * lastPowerOfTwo),
    'a table between 65,536 slots and its double, sized to the room left',
  );
  t.true(map.byteLength <= maxBytes);
  assertSameAsModel(t, map, model, 'when full');
});

test('at the limit, a table that would leave less than minFitHeadroom(live) inserts is refused: FULL, map unchanged', (t) => {
  const prng = new SeededPrng(testSeed(t));
  const map = new SharedFlatMap<unknown, number>({ keys: 'int32', values: 'int32', maxBytes: MAX_BYTES });
  const model = new Map<unknown, number>();
  const filled = fillUntilFull(map, 'int32', model);
  // A few deletes: the table that fits holds the live entries, but with too little room.
  const few = IN_FLIGHT_INSERTS_MAX >> 2;
  deleteRandom(t, map, model, prng, few);
  t.true(
    insertBudget(capacityOf(map)) - model.size < Math.ceil(model.size / FIT_HEADROOM_DIVISOR),
    'precondition: a table of this size would leave less than live / FIT_HEADROOM_DIVISOR inserts',
  );
  const generation = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
  let inserted = 0;
  while (map.trySet(filled + inserted, 0) === 'ok') {
    model.set(filled + inserted, 0);
    inserted++;
    if (inserted > few) break;
  }
  t.true(inserted <= few, `${inserted} new keys went in after ${few} deletes`);
  t.is(SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen, generation, 'no resize happened');
  assertSameAsModel(t, map, model, 'after the refused resize');
  t.throws(() => map.set(-1, -1), { code: 'ERR_FLATSHARE_FULL' });
  assertSameAsModel(t, map, model, 'after set threw');

  // Deleting a FIT_HEADROOM_DIVISOR-th of the entries and a little more gives the resize its headroom.
  deleteRandom(t, map, model, prng, Math.ceil(model.size / FIT_HEADROOM_DIVISOR) + IN_FLIGHT_INSERTS_MAX);
  for (let i = 0; i < IN_FLIGHT_INSERTS_MAX; i++) {
    t.is(map.trySet(-1 - i, i), 'ok', `insert ${i} after the deletes`);
    model.set(-1 - i, i);
  }
  t.true(SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen > generation, 'the inserts resized the table');
  assertSameAsModel(t, map, model, 'after the deletes and inserts');
});

test('minFitHeadroom: at least IN_FLIGHT_INSERTS_MAX, else live / FIT_HEADROOM_DIVISOR rounded up', (t) => {
  t.is(minFitHeadroom(0), IN_FLIGHT_INSERTS_MAX);
  t.is(minFitHeadroom(IN_FLIGHT_INSERTS_MAX * FIT_HEADROOM_DIVISOR), IN_FLIGHT_INSERTS_MAX);
  t.is(minFitHeadroom(IN_FLIGHT_INSERTS_MAX * FIT_HEADROOM_DIVISOR + 1), IN_FLIGHT_INSERTS_MAX + 1);
  t.is(minFitHeadroom(1_000_000), Math.ceil(1_000_000 / FIT_HEADROOM_DIVISOR));
});
