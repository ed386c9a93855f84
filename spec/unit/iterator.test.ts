/**
 * Weak consistency of iteration (lib/iterator.ts), single-threaded and
 * white-box: the test drives the generator one `next()` at a time and, between
 * steps, forces migrations (resizes, same-size rehashes, clears).
 *
 * Contract checked: every key present for the whole iteration is yielded
 * exactly once; no key is yielded twice; every yielded value is one the key
 * really had. Also the cluster that wraps from the last slot to slot 0.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { S_KEY } from '../../lib/layout.js';
import { FULL, STATE_MASK } from '../../lib/seqlock.js';
import { SeededPrng } from '../helpers/prng.js';

type NumMap = SharedFlatMap<number, number>;

const genOf = (map: NumMap): number => SharedFlatMap.unsafeExposeInternals(map).gen;
const hashOf = (k: number): number => hashers.default.hashInt(k) >>> 0;

/** Insert keys from `nextKey` until a migration has happened (the table grows); returns the keys inserted. */
function forceMigration(map: NumMap, nextKey: () => number, record: (k: number, v: number) => void): number[] {
  const before = genOf(map);
  const added: number[] = [];
  while (genOf(map) === before) {
    const k = nextKey();
    map.set(k, k & 0xffff);
    record(k, k & 0xffff);
    added.push(k);
  }
  return added;
}

/**
 * Insert and immediately delete keys from `nextKey` until a migration has
 * happened. The live count stays the same, so the table is rehashed at the
 * same size once it is large enough for the live entries (tombstones dropped).
 */
function churnMigration(map: NumMap, nextKey: () => number, record: (k: number, v: number) => void): void {
  const before = genOf(map);
  while (genOf(map) === before) {
    const k = nextKey();
    map.set(k, 1);
    record(k, 1);
    map.delete(k);
  }
}

/** Value history of every key ever written. */
class History {
  private readonly values = new Map<number, number[]>();
  record(k: number, v: number): void {
    const list = this.values.get(k);
    if (list) list.push(v);
    else this.values.set(k, [v]);
  }
  had(k: number, v: number): boolean {
    return this.values.get(k)?.includes(v) ?? false;
  }
}

/** Assert exactly-once for `stayers`, at-most-once for everything, and plausible values. */
function checkYields(
  t: ExecutionContext,
  yielded: readonly [number, number][],
  stayers: ReadonlySet<number>,
  history: History,
  label: string,
): void {
  const count = new Map<number, number>();
  for (const [k] of yielded) count.set(k, (count.get(k) ?? 0) + 1);
  const twice = [...count].filter(([, c]) => c > 1).map(([k]) => k);
  t.deepEqual(twice, [], `${label}: keys yielded more than once`);
  const missed = [...stayers].filter((k) => !count.has(k));
  t.deepEqual(missed, [], `${label}: keys present the whole time but never yielded`);
  const bogus = yielded.filter(([k, v]) => !history.had(k, v));
  t.deepEqual(bogus, [], `${label}: yielded values the key never had`);
}

// ---------------------------------------------------------------- random churn

/** Bounds that keep one churn run small (the iteration also yields the keys added during it). */
const MAX_FILLERS = 1500;
const MAX_FORCED = 12;

function churnDuringIteration(t: ExecutionContext, seed: number): void {
  const prng = new SeededPrng(seed);
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  const history = new History();
  const set = (k: number, v: number): void => {
    map.set(k, v);
    history.record(k, v);
  };
  const used = new Set<number>();
  const freshKey = (): number => {
    for (;;) {
      const k = prng.next() | 0;
      if (!used.has(k)) {
        used.add(k);
        return k;
      }
    }
  };

  const initial: number[] = [];
  for (let i = 0; i < 200; i++) {
    const k = freshKey();
    set(k, prng.int(0, 1000));
    initial.push(k);
  }
  // Fillers: some present before the iteration, all may be deleted during it.
  const fillers: number[] = [];
  for (let i = 0; i < 100; i++) {
    const k = freshKey();
    set(k, prng.int(0, 1000));
    fillers.push(k);
  }
  const deletedDuring = new Set<number>();
  const presentAtStart = [...initial, ...fillers];

  const genAtStart = genOf(map);
  let forced = 0;
  const yielded: [number, number][] = [];
  const it = map.entries();
  for (let step = 0; ; step++) {
    const r = it.next();
    if (r.done === true) break;
    yielded.push(r.value);
    if (prng.chance(0.3) && fillers.length < MAX_FILLERS) {
      const n = prng.int(1, 40);
      for (let i = 0; i < n; i++) {
        const k = freshKey();
        set(k, prng.int(0, 1000));
        fillers.push(k);
      }
    }
    if (prng.chance(0.25) && fillers.length > 0) {
      for (let i = prng.int(1, 10); i > 0 && fillers.length > 0; i--) {
        const k = fillers.splice(prng.int(0, fillers.length), 1)[0] as number;
        map.delete(k);
        deletedDuring.add(k);
      }
    }
    if (prng.chance(0.2)) {
      set(prng.pick(initial), prng.int(1000, 2000)); // update a stayer: still present
    }
    if (prng.chance(0.08) && forced < MAX_FORCED) {
      forced++;
      if (fillers.length < MAX_FILLERS && prng.chance(0.5)) {
        for (const k of forceMigration(map, freshKey, (k, v) => history.record(k, v))) fillers.push(k);
      } else {
        churnMigration(map, freshKey, (k, v) => history.record(k, v));
      }
    }
    if (prng.chance(0.05) && fillers.length > 0) {
      const k = prng.pick(fillers); // delete and revive: not present the whole time
      map.delete(k);
      deletedDuring.add(k);
      set(k, prng.int(0, 1000));
    }
    if (step > 100_000) {
      t.fail('iteration does not terminate');
      return;
    }
  }
  const migrations = genOf(map) - genAtStart;
  const stayers = new Set(presentAtStart.filter((k) => !deletedDuring.has(k)));
  t.log(`seed ${seed}: ${yielded.length} yielded, ${stayers.size} stayers, ${migrations} migrations during the iteration`);
  t.true(migrations >= 3, `seed ${seed}: only ${migrations} migrations happened during the iteration`);
  checkYields(t, yielded, stayers, history, `seed ${seed}`);
  t.true(stayers.size >= 200);
}

const FIXED_SEEDS = [1, 2, 3, 0xdeadbeef, 20240607];

test('every key present for the whole iteration is yielded exactly once across resizes, rehashes and churn', (t) => {
  const fresh = SeededPrng.seedFromEnv();
  t.log(`fresh seed ${fresh} (replay: FLATSHARE_SEED=${fresh})`);
  for (const seed of [...FIXED_SEEDS, fresh]) churnDuringIteration(t, seed);
});

test('clear + refill with different keys mid-iteration: nothing twice, refilled keys beyond the cursor are yielded', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 100 });
  const history = new History();
  const set = (k: number, v: number): void => {
    map.set(k, v);
    history.record(k, v);
  };
  for (let k = 0; k < 60; k++) set(k, k);

  // White-box precondition: the first cluster (from slot 0 to the first EMPTY slot)
  // ends in the low half of the table, so after the first next() the cursor is < 2^31.
  const { words, table, slotInts } = SharedFlatMap.unsafeExposeInternals(map);
  let firstEmpty = 0;
  while ((Atomics.load(words, table.slots + firstEmpty * slotInts) & STATE_MASK) !== 0) firstEmpty++;
  t.true(firstEmpty + 1 <= table.capacity / 2, `first cluster ends at slot ${firstEmpty} of ${table.capacity}`);

  const yielded: [number, number][] = [];
  const it = map.entries();
  const first = it.next();
  if (first.done === true) return t.fail('empty iteration');
  yielded.push(first.value);
  const genBefore = genOf(map);

  map.clear();
  // Refill: new keys, and half of the old keys again (with new values).
  const refilled: number[] = [];
  for (let k = 1000; k < 1200; k++) {
    set(k, -k);
    refilled.push(k);
  }
  for (let k = 0; k < 60; k += 2) {
    set(k, 500 + k);
    refilled.push(k);
  }
  t.true(genOf(map) > genBefore, 'clear migrated');
  for (let r = it.next(); r.done !== true; r = it.next()) yielded.push(r.value);

  // Keys present from the refill to the end whose hash lies in the upper half of
  // the hash space are beyond the cursor: they must be yielded exactly once.
  const beyond = new Set(refilled.filter((k) => hashOf(k) >= 2 ** 31));
  t.true(beyond.size > 50);
  checkYields(t, yielded, beyond, history, 'clear + refill');
  // Nothing from the old table that was not refilled can appear after the clear except what was yielded first.
  const oldOnly = yielded.filter(([k]) => k < 60 && k % 2 === 1);
  t.true(oldOnly.length <= 1, `old keys yielded after the clear: ${JSON.stringify(oldOnly)}`);
});

test('iteration of an empty, a cleared and a single-entry map', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  t.deepEqual([...map], []);
  map.set(-1, 2);
  t.deepEqual([...map], [[-1, 2]]);
  map.clear();
  t.deepEqual([...map.keys()], []);
});

// ---------------------------------------------------------------- wrap-around

/** `count` keys whose hash's top `bits` bits are all equal to `top` (home slot `top` in a 2^bits table). */
function keysWithTopBits(bits: number, top: number, count: number, skip: ReadonlySet<number> = new Set()): number[] {
  const found: number[] = [];
  for (let k = 1; found.length < count; k++) {
    if (!skip.has(k) && hashOf(k) >>> (32 - bits) === top) found.push(k);
  }
  return found;
}

/** Keys in each slot of the current table (undefined for non-FULL slots), and each key's home. */
function slotKeys(map: NumMap): { keys: (number | undefined)[]; capacity: number } {
  const { words, table, slotInts } = SharedFlatMap.unsafeExposeInternals(map);
  const keys: (number | undefined)[] = [];
  for (let s = 0; s < table.capacity; s++) {
    const at = table.slots + s * slotInts;
    keys.push((Atomics.load(words, at) & STATE_MASK) === FULL ? Atomics.load(words, at + S_KEY) : undefined);
  }
  return { keys, capacity: table.capacity };
}

/**
 * A 16-slot table whose last cluster wraps: 4 keys with home slot 15 (their
 * hashes start with 0xFF, so their home is the last slot in every table up to
 * 256 slots) fill slots 15, 0, 1, 2; 2 keys with home 0 are pushed to 3, 4.
 */
function wrappedMap(t: ExecutionContext): { map: NumMap; lastHome: number[]; zeroHome: number[]; middle: number[] } {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 12 });
  const lastHome = keysWithTopBits(8, 0xff, 4);
  const zeroHome = keysWithTopBits(8, 0x00, 2);
  const middle = keysWithTopBits(1, 1, 3, new Set(lastHome)).filter((k) => hashOf(k) >>> 28 < 15 && hashOf(k) >>> 28 > 4);
  for (const k of [...lastHome, ...zeroHome, ...middle]) map.set(k, k % 1000);
  const { keys, capacity } = slotKeys(map);
  t.is(capacity, 16, 'no resize while building the wrapped table');
  t.deepEqual(keys.slice(0, 3), lastHome.slice(1), 'slots 0-2 hold keys whose home is slot 15: the cluster wraps');
  t.is(keys[15], lastHome[0]);
  t.deepEqual(keys.slice(3, 5), zeroHome, 'home-0 keys pushed behind the wrapped ones');
  return { map, lastHome, zeroHome, middle };
}

test('a cluster wrapping from the last slot to slot 0 is yielded exactly once', (t) => {
  const { map, lastHome, zeroHome, middle } = wrappedMap(t);
  const all = [...lastHome, ...zeroHome, ...middle];
  const history = new History();
  for (const k of all) history.record(k, k % 1000);
  checkYields(t, [...map.entries()], new Set(all), history, 'wrapped');
  t.is([...map.keys()].length, all.length);

  // A tombstone inside the wrapped part must not cut the cluster.
  const gone = lastHome[1] as number; // sits in slot 0
  map.delete(gone);
  const rest = all.filter((k) => k !== gone);
  checkYields(t, [...map.entries()], new Set(rest), history, 'wrapped with a tombstone in slot 0');
  t.is([...map].length, rest.length);
  t.is(SharedFlatMap.unsafeExposeInternals(map).table.capacity, 16);
});

test('wrapped cluster: a migration (rehash) after every next() still yields each original key exactly once', (t) => {
  const { map, lastHome, zeroHome, middle } = wrappedMap(t);
  const all = [...lastHome, ...zeroHome, ...middle];
  const history = new History();
  for (const k of all) history.record(k, k % 1000);
  let filler = 1 << 24;
  const yielded: [number, number][] = [];
  const it = map.entries();
  let migrations = 0;
  for (let r = it.next(); r.done !== true; r = it.next()) {
    yielded.push(r.value);
    churnMigration(map, () => filler++, (k, v) => history.record(k, v));
    migrations++;
  }
  t.true(migrations >= all.length);
  checkYields(t, yielded, new Set(all), history, 'wrapped + migrations');
});

test('wrapped cluster: migrating while the iterator is inside the final wrapped cluster', (t) => {
  const { map, lastHome, zeroHome, middle } = wrappedMap(t);
  const all = [...lastHome, ...zeroHome, ...middle];
  const history = new History();
  for (const k of all) history.record(k, k % 1000);
  const yielded: [number, number][] = [];
  const it = map.entries();
  let filler = 1 << 24;
  let migratedAtWrap = false;
  for (let r = it.next(); r.done !== true; r = it.next()) {
    yielded.push(r.value);
    // The first wrapped key yielded means the final cluster was read; now grow the table twice.
    if (!migratedAtWrap && lastHome.includes(r.value[0])) {
      migratedAtWrap = true;
      forceMigration(map, () => filler++, (k, v) => history.record(k, v));
      forceMigration(map, () => filler++, (k, v) => history.record(k, v));
      t.true(SharedFlatMap.unsafeExposeInternals(map).table.capacity >= 32);
    }
  }
  t.true(migratedAtWrap);
  checkYields(t, yielded, new Set(all), history, 'migrated inside the wrapped cluster');
  // The wrapped keys are the last ones yielded (they sit at the end of the hash space).
  const lastYielded = yielded.slice(-lastHome.length).map(([k]) => k);
  t.deepEqual([...lastYielded].sort(), [...lastHome].sort());
});

test('wrapped cluster survives a same-size rehash (tombstones dropped) mid-iteration', (t) => {
  const { map, lastHome, zeroHome, middle } = wrappedMap(t);
  const all = [...lastHome, ...zeroHome, ...middle];
  const history = new History();
  for (const k of all) history.record(k, k % 1000);
  let filler = 1 << 24;
  const nextFiller = (): number => filler++;
  const record = (k: number, v: number): void => history.record(k, v);
  // 9 live entries want room for twice the live count, a power of two when the table grows
  // online: 32 slots; one churn migration gets there. Hashes starting with 0xFF have the last slot as home.
  churnMigration(map, nextFiller, record);
  const grown = slotKeys(map);
  t.is(grown.capacity, 32);
  const last = grown.capacity - 1;
  // Copying re-inserts in old-slot order, so home-0 keys may interleave, but the cluster still wraps.
  t.true(lastHome.includes(grown.keys[last] as number), 'the last slot holds a key whose home is the last slot');
  t.true(lastHome.includes(grown.keys[0] as number), 'slot 0 holds a key whose home is the last slot: the cluster wraps');

  const yielded: [number, number][] = [];
  const it = map.entries();
  const first = it.next();
  if (first.done === true) return t.fail('empty');
  yielded.push(first.value);
  const gen = genOf(map);
  churnMigration(map, nextFiller, record);
  t.is(genOf(map), gen + 1);
  t.is(SharedFlatMap.unsafeExposeInternals(map).table.capacity, grown.capacity, 'same-size rehash');
  for (let r = it.next(); r.done !== true; r = it.next()) {
    yielded.push(r.value);
    churnMigration(map, nextFiller, record);
  }
  t.is(SharedFlatMap.unsafeExposeInternals(map).table.capacity, grown.capacity);
  checkYields(t, yielded, new Set(all), history, 'same-size rehash');
});
