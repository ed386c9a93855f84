/**
 * Weak consistency of iteration over buckets (lib/bucket-iterator.ts, as
 * SharedFlatMap uses it), single-threaded and white-box: the tests drive the
 * generator one `next()` at a time and, between steps, force migrations
 * (resizes, same-size rehashes, clears), or change the table under a
 * standalone walk (spec/helpers/bucket-table.ts) from inside the host's reads.
 *
 * Contract checked:
 * - every key present for the whole iteration is yielded exactly once; no key
 *   is yielded twice; every yielded value is one the key really had; across
 *   resizes, same-size rehashes and clears;
 * - the cluster that wraps from the last bucket to bucket 0 (the last
 *   bucket's OVERFLOW chain continues in bucket 0) is yielded once, at the end
 *   of the walk: a key homed at the last bucket that lives in bucket 0 is not
 *   yielded by the first cluster; a TOMBSTONE lane inside the wrapped part
 *   does not cut it;
 * - hash-order positions: a key is yielded before a key with a smaller hash
 *   only when both were in one cluster, i.e. every bucket from the smaller
 *   one's home to the larger one's home - 1 has OVERFLOW (on the small
 *   wrapped map, the exact order of the yields);
 * - a cluster is used only when read whole within one generation, each bucket
 *   between two equal unlocked SEQ loads: a locked bucket, a bucket whose SEQ
 *   moved during the read (a write), a TORN key or value, and a generation
 *   that moved during the read each make the walk read the cluster again,
 *   yielding nothing of it before; a view in which every bucket has OVERFLOW
 *   (a stale view of a reused region) ends after one lap and is read again.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { B_META, B_SEQ, BUCKET_INTS, OVERFLOW, bucketAt, bucketGeometry, fullLanes, homeBucket, laneWordOffset, type BucketGeometry } from '../../lib/bucket.js';
import { iterateBucketEntries, type BucketIterationHost } from '../../lib/bucket-iterator.js';
import type { BucketTable } from '../../lib/bucket-write.js';
import { TORN } from '../../lib/blocks.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { C_KEY, H_EPOCH } from '../../lib/layout.js';
import { VERSION_ONE, lockWord } from '../../lib/seqlock.js';
import { slotStart, type TableInfo } from '../../lib/table.js';
import { BucketTableWriter } from '../helpers/bucket-table.js';
import { SeededPrng } from '../helpers/prng.js';

type NumMap = SharedFlatMap<number, number>;

const genOf = (map: NumMap): number => SharedFlatMap.unsafeExposeInternals(map).gen;
const hashOf = (k: number): number => hashers.default.hashInt(k) >>> 0;
const bucketsOf = (map: NumMap): number => SharedFlatMap.unsafeExposeInternals(map).table.buckets;

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
 * happened. The live count stays the same (each insert into an EMPTY lane
 * spends insert budget, a delete gives none back), so the table is rehashed
 * at the same size once it is large enough for the live entries (tombstones
 * dropped).
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

/** Entries sorted by key, for comparisons that ignore the order. */
const byKey = (entries: Iterable<[number, number]>): [number, number][] => [...entries].sort((a, b) => a[0] - b[0]);

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

/**
 * Hash-order positions: a key yielded after one with a larger hash must have
 * been in the same cluster, so every bucket from its home to the larger
 * one's home - 1 has OVERFLOW (checked against the largest hash yielded
 * before it, which covers every earlier key). Returns how many keys came
 * after a larger hash.
 */
function checkHashOrder(t: ExecutionContext, hashes: readonly number[], buckets: number, overflows: (b: number) => boolean, label: string): number {
  let max = -1;
  let inversions = 0;
  for (const hash of hashes) {
    if (hash >= max) {
      max = hash;
      continue;
    }
    inversions++;
    const to = homeBucket(max, buckets);
    for (let b = homeBucket(hash, buckets); b < to; b++) {
      if (!overflows(b)) {
        t.fail(`${label}: hash ${hash} (home ${homeBucket(hash, buckets)}) yielded after hash ${max} (home ${to}), but bucket ${b} between has no OVERFLOW`);
        return inversions;
      }
    }
  }
  return inversions;
}

// ---------------------------------------------------------------- the map: random churn

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

  // White-box precondition: the first cluster that yields anything (clusters run from the
  // bucket after the last one's end to the first bucket without OVERFLOW) ends in the low
  // half of the table, so after the first next() the cursor is < 2^31.
  const { words, table } = SharedFlatMap.unsafeExposeInternals(map);
  const homes = [...Array(60).keys()].map((k) => homeBucket(hashOf(k), table.buckets));
  let clusterEnd = -1;
  do {
    clusterEnd++;
    while ((Atomics.load(words, bucketAt(table.first, clusterEnd) + B_META) & OVERFLOW) !== 0) clusterEnd++;
  } while (!homes.some((home) => home <= clusterEnd));
  t.true(clusterEnd + 1 <= table.buckets / 2, `first cluster ends at bucket ${clusterEnd} of ${table.buckets}`);
  // What the clusters up to it yield: the keys homed at buckets 0 .. clusterEnd.
  const firstCluster = new Set([...Array(60).keys()].filter((k) => (homes[k] as number) <= clusterEnd));

  const yielded: [number, number][] = [];
  const it = map.entries();
  const first = it.next();
  if (first.done === true) return t.fail('empty iteration');
  yielded.push(first.value);
  t.true(firstCluster.has(first.value[0]), 'the first yield is from the first cluster');
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
  // Of the old keys that were not refilled, only those the first cluster read before the clear can appear.
  const oldOnly = yielded.filter(([k]) => k < 60 && k % 2 === 1 && !firstCluster.has(k));
  t.deepEqual(oldOnly, [], 'old keys yielded from the table after the clear');
});

test('iteration of an empty, a cleared and a single-entry map', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  t.deepEqual([...map], []);
  map.set(-1, 2);
  t.deepEqual([...map], [[-1, 2]]);
  map.clear();
  t.deepEqual([...map.keys()], []);
});

test('hash-order positions: a map\'s keys come in hash order except inside one OVERFLOW cluster', (t) => {
  const prng = new SeededPrng(0x1e7a);
  t.log(`seed ${prng.seed}`);
  // Presized to its maximum load (0.8 of the lanes), so OVERFLOW chains are common.
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 3000 });
  const model = new Map<number, number>();
  while (model.size < 3000) {
    const k = prng.next() | 0;
    map.set(k, model.size);
    model.set(k, model.size);
  }
  for (const k of [...model.keys()].filter((_, i) => i % 7 === 0)) {
    map.delete(k);
    model.delete(k);
  }
  const { words, table, gen } = SharedFlatMap.unsafeExposeInternals(map);
  t.is(gen, 0, 'no resize: the presized table');
  const overflows = (b: number): boolean => (Atomics.load(words, bucketAt(table.first, b) + B_META) & OVERFLOW) !== 0;
  const chained = Array.from({ length: table.buckets }, (_, b) => b).filter(overflows).length;
  t.true(chained > 10, `only ${chained} buckets of ${table.buckets} have OVERFLOW`);
  const yielded = [...map.entries()];
  t.deepEqual(byKey(yielded), byKey(model));
  t.is(yielded.length, model.size, 'nothing twice');
  const inversions = checkHashOrder(t, yielded.map(([k]) => hashOf(k)), table.buckets, overflows, 'map');
  t.log(`${inversions} keys of ${yielded.length} came after a larger hash of their cluster; ${chained} of ${table.buckets} buckets OVERFLOW`);
  t.true(inversions > 0, 'the clusters of several buckets were read in lane order');
});

// ---------------------------------------------------------------- the map: wrap-around

/** `count` keys (from 1 up) that satisfy `want`, skipping `skip`. */
function keysWhere(want: (hash: number) => boolean, count: number, skip: ReadonlySet<number> = new Set()): number[] {
  const found: number[] = [];
  for (let k = 1; found.length < count; k++) {
    if (!skip.has(k) && want(hashOf(k))) found.push(k);
  }
  return found;
}

/** The current table of `map`: each bucket's FULL keys by lane (undefined for other lanes) and its OVERFLOW bit. */
function bucketKeys(map: NumMap): { keys: (number | undefined)[][]; overflow: boolean[]; table: TableInfo } {
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map);
  const keys: (number | undefined)[][] = [];
  const overflow: boolean[] = [];
  for (let b = 0; b < table.buckets; b++) {
    const at = bucketAt(table.first, b);
    const meta = Atomics.load(words, at + B_META);
    const full = fullLanes(meta, g.lanes);
    const lanes: (number | undefined)[] = [];
    for (let lane = 0; lane < g.lanes; lane++) {
      lanes.push(((full >>> lane) & 1) !== 0 ? Atomics.load(words, at + laneWordOffset(g, C_KEY, lane)) : undefined);
    }
    keys.push(lanes);
    overflow.push((meta & OVERFLOW) !== 0);
  }
  return { keys, overflow, table };
}

interface WrappedMap {
  map: NumMap;
  /** Homed at the last bucket (hash >= 0xFF000000: the last bucket of every table up to 256 buckets). */
  lastHome: number[];
  /** Homed at bucket 0 (hash < 0x01000000). */
  zeroHome: number[];
  /** Homed at bucket 1 or 2 of the 4-bucket table. */
  middle: number[];
  all: number[];
  /** The order a plain iteration of the 4-bucket table yields. */
  order: number[];
}

/**
 * A 4-bucket table (7 lanes each) whose last cluster wraps: 10 keys homed at
 * bucket 3 fill it (lanes 0-6, OVERFLOW) and lanes 0-2 of bucket 0; 6 keys
 * homed at bucket 0 fill its lanes 3-6 (OVERFLOW) and lanes 0-1 of bucket 1;
 * 3 keys homed at buckets 1 and 2 after them. 19 entries, insert budget 22.
 */
function wrappedMap(t: ExecutionContext): WrappedMap {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 12 });
  const lastHome = keysWhere((h) => h >>> 24 === 0xff, 10);
  const zeroHome = keysWhere((h) => h >>> 24 === 0x00, 6);
  const middle = keysWhere((h) => h >>> 30 === 1 || h >>> 30 === 2, 3);
  const all = [...lastHome, ...zeroHome, ...middle];
  for (const k of all) map.set(k, k % 1000);
  const { keys, overflow, table } = bucketKeys(map);
  t.is(table.buckets, 4, 'no resize while building the wrapped table');
  t.deepEqual(keys[3], lastHome.slice(0, 7), 'bucket 3 holds the first 7 keys homed there');
  t.deepEqual(keys[0], [...lastHome.slice(7), ...zeroHome.slice(0, 4)], 'bucket 0: 3 keys homed at bucket 3 (the cluster wraps), then 4 homed at 0');
  t.deepEqual(overflow, [true, false, false, true], 'buckets 3 and 0 OVERFLOW, 1 and 2 do not');
  const middleAt = (b: number): number[] => middle.filter((k) => homeBucket(hashOf(k), 4) === b);
  t.deepEqual(keys[1]?.filter((k) => k !== undefined), [...zeroHome.slice(4), ...middleAt(1)], 'bucket 1: home-0 keys pushed on, then its own');
  // Cluster [0, 1] yields the keys homed at 0 and 1 (not bucket 0's keys homed at 3); [2]; then
  // [3, 0, 1] yields the keys homed at 3, in bucket 3 and bucket 0 (not the others it reads again).
  const order = [...zeroHome, ...middleAt(1), ...middleAt(2), ...lastHome];
  return { map, lastHome, zeroHome, middle, all, order };
}

test('a cluster wrapping from the last bucket to bucket 0 is yielded exactly once, at the end, in hash-order positions', (t) => {
  const { map, lastHome, all, order } = wrappedMap(t);
  const history = new History();
  for (const k of all) history.record(k, k % 1000);
  const yielded = [...map.entries()];
  checkYields(t, yielded, new Set(all), history, 'wrapped');
  t.deepEqual(
    yielded.map(([k]) => k),
    order,
    'the first cluster does not yield the wrapped keys; the last cluster yields them, and only them',
  );
  t.is([...map.keys()].length, all.length);

  // A TOMBSTONE lane inside the wrapped part must not cut the cluster.
  const gone = lastHome[8] as number; // bucket 0, lane 1
  map.delete(gone);
  const rest = all.filter((k) => k !== gone);
  const after = [...map.entries()];
  checkYields(t, after, new Set(rest), history, 'wrapped with a tombstone in bucket 0');
  t.deepEqual(
    after.map(([k]) => k),
    order.filter((k) => k !== gone),
  );
  // Revived in its lane: yielded in its place again.
  map.set(gone, 7);
  history.record(gone, 7);
  t.deepEqual(
    [...map.keys()],
    order,
  );
  t.is(bucketsOf(map), 4);
});

test('wrapped cluster: a migration (rehash) after every next() still yields each original key exactly once', (t) => {
  const { map, all } = wrappedMap(t);
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
  const { map, lastHome, all } = wrappedMap(t);
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
      const gen = genOf(map);
      forceMigration(map, () => filler++, (k, v) => history.record(k, v));
      forceMigration(map, () => filler++, (k, v) => history.record(k, v));
      t.is(genOf(map), gen + 2);
      t.true(bucketsOf(map) > 4, `${bucketsOf(map)} buckets after two resizes`);
    }
  }
  t.true(migratedAtWrap);
  checkYields(t, yielded, new Set(all), history, 'migrated inside the wrapped cluster');
  // The wrapped cluster was read whole before the resizes: its keys are the last ones yielded, in lane order.
  t.deepEqual(
    yielded.slice(-lastHome.length).map(([k]) => k),
    lastHome,
  );
});

test('wrapped cluster survives a same-size rehash (tombstones dropped) mid-iteration', (t) => {
  const { map, lastHome, all } = wrappedMap(t);
  const history = new History();
  for (const k of all) history.record(k, k % 1000);
  let filler = 1 << 24;
  const nextFiller = (): number => filler++;
  const record = (k: number, v: number): void => history.record(k, v);
  // 19 live entries want room for twice the live count: bucketsFor(38, 7) = 7 buckets; one
  // churn migration gets there. Hashes starting with 0xFF have the last bucket as home.
  churnMigration(map, nextFiller, record);
  const grown = bucketKeys(map);
  t.is(grown.table.buckets, 7);
  const last = grown.table.buckets - 1;
  // The copy re-inserts in old-bucket order: 10 keys homed at bucket 6 overflow into bucket 0.
  const lastKeys = (grown.keys[last] ?? []).filter((k) => k !== undefined);
  t.is(lastKeys.length, 7);
  t.true(lastKeys.every((k) => lastHome.includes(k)), 'the last bucket holds keys homed there only');
  t.true(grown.overflow[last], 'the last bucket OVERFLOWs');
  t.true(grown.keys[0]?.some((k) => k !== undefined && lastHome.includes(k)), 'bucket 0 holds a key homed at the last bucket: the cluster wraps');

  const yielded: [number, number][] = [];
  const it = map.entries();
  const first = it.next();
  if (first.done === true) return t.fail('empty');
  yielded.push(first.value);
  const gen = genOf(map);
  churnMigration(map, nextFiller, record);
  t.is(genOf(map), gen + 1);
  t.is(bucketsOf(map), grown.table.buckets, 'same-size rehash');
  for (let r = it.next(); r.done !== true; r = it.next()) {
    yielded.push(r.value);
    churnMigration(map, nextFiller, record);
  }
  t.is(bucketsOf(map), grown.table.buckets);
  checkYields(t, yielded, new Set(all), history, 'same-size rehash');
});

// ---------------------------------------------------------------- standalone walks

const G: BucketGeometry = bucketGeometry('int32', 'int32');
/** Word index of bucket 0 of the first standalone table (past H_EPOCH, line-aligned). */
const FIRST = 4 * BUCKET_INTS;

/** Hand-built tables in one plain shared buffer: `counts` buckets each, one after the other. */
function standaloneTables(...counts: number[]): { words: Int32Array; tables: BucketTable[] } {
  const ints = counts.reduce((sum, n) => sum + n * BUCKET_INTS, FIRST);
  const words = new Int32Array(new SharedArrayBuffer(ints * 4));
  let first = FIRST;
  const tables = counts.map((buckets) => {
    const table = { base: first, first, buckets };
    first += buckets * BUCKET_INTS;
    return table;
  });
  return { words, tables };
}

/** Hooks into the host's reads: each may change the table before the walk goes on. */
interface Hooks {
  snapshot?: (call: number) => void;
  hashAt?: (at: number, lane: number) => void;
  readKey?: (at: number, lane: number, key: number) => unknown;
  readValue?: (at: number, lane: number, value: number) => unknown;
}

/** A host over a standalone table: the key is column 0, its hash `hash(key)`, the value column 1. */
class StandaloneHost implements BucketIterationHost {
  readonly g = G;
  snapshots = 0;
  gen = 0;
  constructor(
    readonly words: Int32Array,
    public table: BucketTable,
    readonly hash: (k: number) => number,
    readonly hooks: Hooks = {},
  ) {}

  snapshot(): { words: Int32Array; gen: number; table: BucketTable } {
    this.hooks.snapshot?.(this.snapshots);
    this.snapshots++;
    return { words: this.words, gen: this.gen, table: this.table };
  }

  hashAt(words: Int32Array, at: number, lane: number): number {
    this.hooks.hashAt?.(at, lane);
    return this.hash(Atomics.load(words, at + laneWordOffset(G, 0, lane)));
  }

  readKey(words: Int32Array, at: number, lane: number): unknown {
    const key = Atomics.load(words, at + laneWordOffset(G, 0, lane));
    return this.hooks.readKey !== undefined ? this.hooks.readKey(at, lane, key) : key;
  }

  readValue(words: Int32Array, at: number, lane: number): unknown {
    const value = Atomics.load(words, at + laneWordOffset(G, 1, lane));
    return this.hooks.readValue !== undefined ? this.hooks.readValue(at, lane, value) : value;
  }

  finishValue(raw: unknown): unknown {
    return raw;
  }
}

/** Run a walk to the end; each yield also records `note()` (what the test's state was then). */
function walk<N>(host: StandaloneHost, note: () => N = () => undefined as N): { entries: [number, number][]; notes: N[] } {
  const entries: [number, number][] = [];
  const notes: N[] = [];
  for (const [k, v] of iterateBucketEntries(host)) {
    entries.push([k as number, v as number]);
    notes.push(note());
    if (entries.length > 10_000) throw new Error('the walk does not end');
  }
  return { entries, notes };
}

const STANDALONE_BUCKETS = 12;
/** The smallest hash homed at bucket b of the standalone table, plus `i`. */
const homedAt = (b: number, i: number): number => (slotStart(b, STANDALONE_BUCKETS) + i) | 0;

/**
 * A 12-bucket table with one cluster of interest: 10 keys homed at bucket 4
 * (7 in it, OVERFLOW, 3 in bucket 5), 2 homed at bucket 5, one key in each
 * other bucket. Keys are 100 + i; `hashes` maps a key to its hash.
 */
function clusterTable(): { words: Int32Array; table: BucketTable; writer: BucketTableWriter; hashes: Map<number, number>; cluster: number[] } {
  const { words, tables } = standaloneTables(STANDALONE_BUCKETS);
  const table = tables[0] as BucketTable;
  const writer = new BucketTableWriter(words, table.first, table.buckets, G);
  const hashes = new Map<number, number>();
  const cluster: number[] = [];
  let key = 100;
  const put = (hash: number): number => {
    const k = key++;
    hashes.set(k, hash);
    writer.put(k, hash, [k * 3]);
    return k;
  };
  for (let b = 0; b < STANDALONE_BUCKETS; b++) {
    if (b === 4) for (let i = 0; i < 10; i++) cluster.push(put(homedAt(4, i)));
    else if (b === 5) for (let i = 0; i < 2; i++) cluster.push(put(homedAt(5, i)));
    else put(homedAt(b, 7));
  }
  return { words, table, writer, hashes, cluster };
}

const hashIn = (hashes: Map<number, number>) => (k: number): number => hashes.get(k) as number;

test('standalone: each FULL lane once, in the hash order of clusters; a cluster that wraps is yielded at the end', (t) => {
  const prng = new SeededPrng(0x3a11);
  t.log(`seed ${prng.seed}`);
  const buckets = 37;
  const { words, tables } = standaloneTables(buckets);
  const table = tables[0] as BucketTable;
  const writer = new BucketTableWriter(words, table.first, buckets, G);
  const hashes = new Map<number, number>();
  // A third of the keys crowd onto the last bucket, bucket 0 and bucket 18: long chains, one of them wrapping.
  const crowd = [buckets - 1, 0, 18];
  for (let i = 0; i < Math.floor(0.75 * buckets * G.lanes); i++) {
    const k = prng.next() | 0;
    if (hashes.has(k)) continue;
    const hash = i % 3 === 0 ? (slotStart(crowd[(i / 3) % 3] as number, buckets) + (i % 5)) | 0 : prng.next() | 0;
    hashes.set(k, hash >>> 0);
    writer.put(k, hash, [i]);
    if (i % 6 === 5) writer.remove(k, hash);
  }
  const at = (b: number): number => bucketAt(table.first, b);
  const overflows = (b: number): boolean => (words[at(b) + B_META]! & OVERFLOW) !== 0;
  t.true(overflows(buckets - 1), 'the last bucket OVERFLOWs');
  t.true(
    [0, 1, 2, 3, 4, 5, 6].some((lane) => homeBucket(hashes.get(words[at(0) + laneWordOffset(G, 0, lane)]!) ?? 0, buckets) === buckets - 1),
    'bucket 0 holds a key homed at the last bucket',
  );
  const host = new StandaloneHost(words, table, hashIn(hashes));
  const { entries } = walk(host);
  t.is(entries.length, writer.oracle.size, 'nothing twice');
  t.deepEqual(byKey(entries), byKey([...writer.oracle].map(([k, [v]]) => [k, v as number])));
  const inversions = checkHashOrder(t, entries.map(([k]) => hashes.get(k) as number), buckets, overflows, 'standalone');
  t.true(inversions > 0);
  // The keys homed at the last bucket come last, also those that live in bucket 0 onwards.
  const homedLast = entries.map(([k]) => homeBucket(hashes.get(k) as number, buckets) === buckets - 1);
  const firstLast = homedLast.indexOf(true);
  t.true(firstLast > 0 && homedLast.slice(firstLast).every(Boolean), 'keys homed at the last bucket are the last ones yielded');
});

test('standalone: a locked bucket inside a cluster makes the walk read the whole cluster again once it is unlocked, yielding nothing of it before', (t) => {
  const { words, table, hashes, cluster } = clusterTable();
  const hash = hashIn(hashes);
  // The walk without a lock: its yields, its snapshots, and the snapshot that reads bucket 4's cluster.
  let clusterRead = -1;
  const plain = new StandaloneHost(words, table, hash, {
    hashAt: (at) => {
      if (at === bucketAt(table.first, 4) && clusterRead < 0) clusterRead = plain.snapshots - 1; // the snapshot call of this walk
    },
  });
  const baseline = walk(plain).entries;
  t.true(clusterRead > 0);

  // Bucket 5, the second bucket of the cluster, is locked for three reads of it.
  const locked = bucketAt(table.first, 5);
  const seq = words[locked + B_SEQ] as number;
  Atomics.store(words, locked, lockWord(3, seq));
  const RETRIES = 3;
  let held = true;
  const host = new StandaloneHost(words, table, hash, {
    snapshot: (call) => {
      if (call === clusterRead + RETRIES) {
        Atomics.store(words, locked, seq);
        held = false;
      }
    },
  });
  const { entries, notes } = walk(host, () => held);
  t.deepEqual(entries, baseline, 'the same yields, in the same order');
  t.is(host.snapshots, plain.snapshots + RETRIES, 'the cluster was read again after each failed read');
  const whileHeld = entries.filter((_, i) => notes[i]).map(([k]) => k);
  t.true(whileHeld.length > 0, 'the clusters before it were yielded while the bucket was locked');
  t.deepEqual(whileHeld.filter((k) => cluster.includes(k)), [], 'nothing of the locked cluster was yielded while it was locked');
});

test('standalone: a bucket written while it is read (its SEQ moved) is read again, and the new value is yielded once', (t) => {
  const { words, table, hashes, cluster } = clusterTable();
  const hash = hashIn(hashes);
  const plain = new StandaloneHost(words, table, hash);
  const baseline = walk(plain).entries;
  // The last key of the cluster, in bucket 5; a writer overwrites it between the walk's loads.
  const victim = cluster[cluster.length - 1] as number;
  let written = false;
  const host = new StandaloneHost(words, table, hash, {
    readValue: (at, lane, value) => {
      if (!written && words[at + laneWordOffset(G, 0, lane)] === victim) {
        written = true;
        const seq = words[at + B_SEQ] as number;
        Atomics.store(words, at + B_SEQ, lockWord(3, seq));
        Atomics.store(words, at + laneWordOffset(G, 1, lane), -1);
        Atomics.store(words, at + B_SEQ, (seq + VERSION_ONE) | 0);
      }
      return value; // the value as this read saw it: the old one
    },
  });
  const { entries } = walk(host);
  t.true(written);
  t.deepEqual(
    entries,
    baseline.map(([k, v]) => [k, k === victim ? -1 : v]),
    'the cluster read again: the new value, once, nothing else twice',
  );
  t.is(host.snapshots, plain.snapshots + 1);
});

test('standalone: a TORN key or value (a bounds check failed) makes the walk read the cluster again; TORN is never yielded', (t) => {
  const { words, table, hashes, cluster } = clusterTable();
  const hash = hashIn(hashes);
  const plain = new StandaloneHost(words, table, hash);
  const baseline = walk(plain).entries;
  const tornKey = cluster[0] as number; // bucket 4
  const tornValue = cluster[cluster.length - 1] as number; // bucket 5
  let keyTorn = false;
  let valueTorn = false;
  const host = new StandaloneHost(words, table, hash, {
    readKey: (_at, _lane, key) => {
      if (key !== tornKey || keyTorn) return key;
      keyTorn = true;
      return TORN;
    },
    readValue: (at, lane, value) => {
      if (words[at + laneWordOffset(G, 0, lane)] !== tornValue || valueTorn) return value;
      valueTorn = true;
      return TORN;
    },
  });
  const { entries } = walk(host);
  t.true(keyTorn && valueTorn);
  t.deepEqual(entries, baseline);
  t.is(host.snapshots, plain.snapshots + 2, 'read again once for each');
});

test('standalone: a generation that moves while a cluster is read makes the walk read it again in the new table, from the same point', (t) => {
  const { words, tables } = standaloneTables(STANDALONE_BUCKETS, 29);
  const [old, next] = tables as [BucketTable, BucketTable];
  const prng = new SeededPrng(0x6e11);
  t.log(`seed ${prng.seed}`);
  const hashes = new Map<number, number>();
  const from = new BucketTableWriter(words, old.first, old.buckets, G);
  const to = new BucketTableWriter(words, next.first, next.buckets, G);
  // Crowded onto bucket 4 of the old table, so the cluster read when the generation moves
  // is long (buckets 4 to 8 and on).
  for (let i = 0; i < 60; i++) {
    const k = 1000 + i;
    const hash = i % 2 === 0 ? homedAt(4, i) : prng.next() | 0;
    hashes.set(k, hash >>> 0);
    from.put(k, hash, [i]);
    to.put(k, hash, [i]); // the migration copy, done before the flip
  }
  t.deepEqual(
    [4, 5, 6].map((b) => ((words[bucketAt(old.first, b) + B_META] as number) & OVERFLOW) !== 0),
    [true, true, true],
    'the old cluster from bucket 4 goes on past bucket 6',
  );
  let flipped = false;
  const host: StandaloneHost = new StandaloneHost(words, old, hashIn(hashes), {
    hashAt: (at) => {
      // While the old table's bucket 5 is read: the flip to generation 1, and the old region
      // is already reused ahead of the walk (zeroed from bucket 6 on), so what the walk reads
      // there ends the cluster early: only the generation check tells.
      if (!flipped && at === bucketAt(old.first, 5)) {
        flipped = true;
        Atomics.store(words, H_EPOCH, 1 << GEN_SHIFT);
        host.gen = 1;
        host.table = next;
        words.fill(0, bucketAt(old.first, 6), bucketAt(old.first, old.buckets));
      }
    },
  });
  const yieldedBefore: number[] = [];
  const seen = new Map<number, number>();
  for (const [k, v] of iterateBucketEntries(host)) {
    t.false(seen.has(k as number), `key ${k} yielded twice`);
    seen.set(k as number, v as number);
    if (!flipped) yieldedBefore.push(k as number);
  }
  t.true(flipped);
  t.deepEqual(byKey(seen), byKey([...from.oracle].map(([k, [v]]) => [k, v as number])));
  // Nothing homed at bucket 4 or later in the old table was yielded from it.
  t.deepEqual(yieldedBefore.filter((k) => (hashes.get(k) as number) >= slotStart(4, STANDALONE_BUCKETS)), []);
  t.true(yieldedBefore.length > 0);
});

test('standalone: a view in which every bucket has OVERFLOW ends after one lap and is read again', (t) => {
  const { words, tables } = standaloneTables(STANDALONE_BUCKETS, 9);
  const [real, stale] = tables as [BucketTable, BucketTable];
  const hashes = new Map<number, number>();
  const writer = new BucketTableWriter(words, real.first, real.buckets, G);
  for (let k = 1; k <= 40; k++) {
    const hash = Math.imul(k, 0x9e3779b1);
    hashes.set(k, hash >>> 0);
    writer.put(k, hash, [k * 5]);
  }
  // The stale view: every bucket OVERFLOWs and has one FULL lane of a key no table holds.
  for (let b = 0; b < stale.buckets; b++) {
    const at = bucketAt(stale.first, b);
    words[at + B_META] = OVERFLOW | 1;
    words[at + laneWordOffset(G, 0, 0)] = -1 - b;
    hashes.set(-1 - b, slotStart(b, stale.buckets));
  }
  const plain = new StandaloneHost(words, real, hashIn(hashes));
  const baseline = walk(plain).entries;
  t.is(baseline.length, 40);
  let staleReads = 0;
  const host: StandaloneHost = new StandaloneHost(words, stale, hashIn(hashes), {
    snapshot: (call) => {
      if (call === 2) host.table = real; // two walks of the stale view, then the real table
    },
    hashAt: (at) => {
      if (at >= stale.first) staleReads++;
    },
  });
  const { entries } = walk(host);
  t.deepEqual(entries, baseline, 'nothing of the stale view was yielded');
  t.is(host.snapshots, plain.snapshots + 2);
  t.is(staleReads, 2 * (stale.buckets + 1), 'each walk of the stale view read one lap and one bucket more');
});
