/**
 * Recovery of each state a dead thread can leave (lib/recovery.ts), single
 * thread, exhaustively: the write protocol is a list of step functions (the
 * same functions the write path calls, in the same order); for every i we run
 * steps 0..i-1 as a fake thread (its own writer record, owner id FAKE_THREAD),
 * "kill" it there, run `map.recover(FAKE_THREAD)` and check that the key holds
 * its old or its new value (new exactly when the intent was committed), that
 * the lock is released, `size` is exact, nothing else changed, and the record
 * is free. Then the migration states: a dead allocator, a dead owner between
 * its two CASes, a dead flipper, a dead helper with a claimed chunk and a
 * half-done copy (every step of the copy protocol).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap, ErrorCode, hashers, type Hasher } from '../../lib/index.js';
import {
  CHUNK_CLAIMED,
  CHUNK_DONE,
  C_HASH,
  C_KEY,
  C_KEY_REF,
  FREE_REGION_SIZE,
  H_ALLOC_TOP,
  H_EPOCH,
  H_MIG_OWNER,
  INTENT_COPY,
  INTENT_DELETE,
  INTENT_PUT,
  MAX_WRITERS,
  NULL_BLOCK,
  T_REMAINING,
  T_SIZE,
  W_OWNER,
  chunkCount,
  chunkStatesAt,
} from '../../lib/layout.js';
import { LOCKED, lockWord } from '../../lib/seqlock.js';
import {
  B_META,
  LANE_EMPTY,
  LANE_TOMBSTONE,
  type BucketGeometry,
  bucketAt,
  firstEmptyLane,
  fullLanes,
  laneState,
  laneWordOffset,
  tombstoneLanes,
} from '../../lib/bucket.js';
import {
  P_LANE_INFO,
  P_LANE_WORDS,
  changeMeta,
  countSize,
  laneInfo,
  payloadAt,
  releaseBucket,
  stagePut,
  writeLane,
  type LaneLock,
} from '../../lib/bucket-write.js';
import {
  PHASE_ALLOCATING,
  PHASE_COPYING,
  PHASE_STABLE,
  genOf,
  makeEpoch,
  phaseOf,
} from '../../lib/epoch.js';
import { announceLock, clearLock, commitIntent } from '../../lib/recovery.js';
import { readTableInfo, tableRegionOf, type TableInfo } from '../../lib/table.js';
import { int32KeyLane, type LaneAt } from '../helpers/slots.js';
import { recordTag, writerRecordAt } from '../../lib/writers.js';
import { announceAllocation, announcedAllocation, bumpAllocate, freeRecordAt, freeRegions, takeFreeRegion } from '../../lib/memory.js';

/** The "dead" thread: an id no real thread of this process has. */
const FAKE_THREAD = 1_000_000;
const FAKE_REC = writerRecordAt(MAX_WRITERS - 1);
const FAKE_TAG = recordTag(FAKE_REC);

type Map32 = SharedFlatMap<number, number>;

function internals(map: Map32) {
  return SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
}

/** Claim the fake thread's writer record, as its first write would. */
function fakeRecord(words: Int32Array): void {
  Atomics.store(words, FAKE_REC + W_OWNER, FAKE_THREAD + 1);
}

/** The bucket and lane of `key` in `table`, or (lane -1) the bucket where its chain ends. */
function laneOf(words: Int32Array, table: TableInfo, g: BucketGeometry, hasher: Hasher, key: number): LaneAt {
  return int32KeyLane(words, table, g, hasher.hashInt(key), key);
}

/** A float64 as its two lane words (low, high), or an int32 as one. */
function valueWords(values: 'int32' | 'float64', value: number): Int32Array {
  if (values === 'int32') return Int32Array.of(value);
  return new Int32Array(Float64Array.of(value).buffer);
}

function snapshot(map: Map32): Map<number, number> {
  return new Map([...map]);
}

function sorted(entries: Map<number, number>): Array<[number, number]> {
  return [...entries].sort((a, b) => a[0] - b[0]);
}

function assertRecordFree(t: ExecutionContext, words: Int32Array): void {
  t.is(Atomics.load(words, FAKE_REC + W_OWNER), 0, 'the dead thread\'s record is free');
}

interface WriteCase {
  name: string;
  /** State of the key before the write. */
  before: 'absent' | 'tombstone' | 'full';
  op: 'put' | 'delete';
}

const CASES: WriteCase[] = [
  { name: 'put into an EMPTY lane', before: 'absent', op: 'put' },
  { name: 'put into a TOMBSTONE lane', before: 'tombstone', op: 'put' },
  { name: 'put over a FULL lane', before: 'full', op: 'put' },
  { name: 'delete of a FULL lane', before: 'full', op: 'delete' },
];

for (const values of ['int32', 'float64'] as const) {
  for (const c of CASES) {
    test(`${values}: ${c.name}: killed after every step, recovery leaves the old or the new value`, (t) => {
      const KEY = 42;
      const OLD = 7.5;
      const NEW = values === 'int32' ? 1234 : -0.125;
      const oldValue = values === 'int32' ? 7 : OLD;
      let steps = 0;
      for (let stop = 0; ; stop++) {
        const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 64, waitTimeoutMs: 20 });
        for (let k = 0; k < 20; k++) map.set(1000 + k, k);
        if (c.before !== 'absent') map.set(KEY, oldValue);
        if (c.before === 'tombstone') map.delete(KEY);
        const before = snapshot(map);
        const { words, table, g } = internals(map);
        fakeRecord(words);
        const found = laneOf(words, table, g, map.hasher, KEY);
        const at = found.at;
        const seq = Atomics.load(words, at);
        const meta = Atomics.load(words, at + B_META);
        const lane = found.lane >= 0 ? found.lane : firstEmptyLane(meta, g.lanes);
        t.true(lane >= 0, 'the chain of the absent key ends in a bucket with an EMPTY lane');
        const lock: LaneLock = { at, lane, seq, state: found.lane >= 0 ? laneState(meta, lane) : LANE_EMPTY };
        t.is(lock.state, c.before === 'absent' ? LANE_EMPTY : c.before === 'tombstone' ? LANE_TOMBSTONE : 1);
        const opCode = c.op === 'put' ? INTENT_PUT : INTENT_DELETE;
        // tryLockBucket's steps, then putLane's or deleteLane's (bucket-write.ts, "A put, step by step").
        const list: Array<() => void> = [
          () => announceLock(words, FAKE_REC, at, seq),
          () => t.is(Atomics.compareExchange(words, at, seq, lockWord(FAKE_TAG, seq)), seq),
        ];
        if (lock.state === LANE_EMPTY) list.push(() => void Atomics.sub(words, table.base + T_REMAINING, 1));
        if (c.op === 'put') list.push(() => stagePut(words, FAKE_REC, g, lock, [KEY], valueWords(values, NEW)));
        else list.push(() => (words[payloadAt(FAKE_REC, P_LANE_INFO)] = laneInfo(lane, lock.state)));
        const commitStep = list.length;
        list.push(() => commitIntent(words, FAKE_REC, opCode, table.base));
        if (c.op === 'put') list.push(() => writeLane(words, FAKE_REC, at, g, true));
        list.push(() => changeMeta(words, FAKE_REC, at));
        list.push(() => countSize(words, FAKE_REC));
        list.push(() => releaseBucket(words, FAKE_REC, at));
        list.push(() => clearLock(words, FAKE_REC));
        steps = list.length;
        if (stop > steps) break;
        for (let i = 0; i < stop; i++) list[i]!();
        const committed = stop > commitStep;
        const lockedNow = stop >= 2 && stop < steps - 1;
        if (lockedNow) {
          // Before recovery a reader of the key waits, bounded: it times out instead of hanging.
          const error = t.throws(() => map.get(KEY));
          t.is((error as { code?: string }).code, ErrorCode.TIMEOUT);
        }
        const report = map.recover(FAKE_THREAD);
        t.is(report.rolledForward + report.rolledBack, lockedNow ? 1 : 0, `stop ${stop}`);
        if (lockedNow) t.is(report.rolledForward, committed ? 1 : 0, `stop ${stop}: forward iff committed`);
        t.is(Atomics.load(words, at) & LOCKED, 0, `stop ${stop}: unlocked`);
        if (stop > 0 && !committed) t.is(Atomics.load(words, at), seq, `stop ${stop}: rolled back to the old SEQ`);
        const expected = new Map(before);
        if (committed) {
          if (c.op === 'put') expected.set(KEY, NEW);
          else expected.delete(KEY);
        }
        t.deepEqual(sorted(snapshot(map)), sorted(expected), `stop ${stop}: entries`);
        t.is(map.size, expected.size, `stop ${stop}: size`);
        t.is(Atomics.load(words, table.base + T_SIZE), expected.size);
        assertRecordFree(t, words);
        // The key is writable again, and recovery is idempotent.
        map.set(KEY, 3);
        t.is(map.get(KEY), 3);
        t.is(map.recover(FAKE_THREAD).records, 0);
      }
      t.true(steps >= 7);
    });
  }
}

/** A hasher that can be told to throw on its n-th call from now. */
function failingHasher(): Hasher & { failAfter(n: number): void } {
  const base = hashers.default;
  let countdown = -1;
  return {
    id: base.id,
    seed: base.seed,
    hashInt(key: number): number {
      if (countdown >= 0 && countdown-- === 0) throw new Error('hasher failure (test)');
      return base.hashInt(key);
    },
    hashString: (key: string) => base.hashString(key),
    failAfter(n: number) {
      countdown = n;
    },
  };
}

/** A map whose next fresh insert starts a migration; returns it and the keys in it. */
function fullMap(hasher: Hasher): { map: Map32; keys: number[] } {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 8, hasher, waitTimeoutMs: 50 });
  const keys: number[] = [];
  const gen = internals(map).gen;
  for (let k = 0; internals(map).gen === gen; k++) {
    map.set(k, k * 10);
    keys.push(k);
  }
  // That insert migrated; fill the new table up to its last budget unit.
  const g = internals(map).gen;
  const remaining = () => Atomics.load(internals(map).words, internals(map).table.base + T_REMAINING);
  for (let k = keys.length; remaining() > 0; k++) {
    map.set(k, k * 10);
    keys.push(k);
  }
  if (internals(map).gen !== g) throw new Error('fullMap: unexpected migration');
  return { map, keys };
}

function assertAll(t: ExecutionContext, map: Map32, keys: number[], note: string): void {
  const seen = snapshot(map);
  t.is(seen.size, keys.length, `${note}: entries`);
  t.is([...map].length, keys.length, `${note}: each key once`);
  for (const k of keys) if (seen.get(k) !== k * 10) t.fail(`${note}: key ${k} holds ${seen.get(k)}`);
  t.is(map.size, keys.length, `${note}: size`);
}

/** Start a migration with a hasher that throws on its first call: leaves COPYING(g) with nothing claimed. */
function stuckInCopying(t: ExecutionContext): { map: Map32; keys: number[]; hasher: ReturnType<typeof failingHasher> } {
  const hasher = failingHasher();
  const { map, keys } = fullMap(hasher);
  const gen = internals(map).gen;
  hasher.failAfter(1); // the insert's own hash is call 0; the first copied key is call 1
  t.throws(() => map.set(10_000, 1), { message: 'hasher failure (test)' });
  const words = internals(map).words;
  t.is(Atomics.load(words, H_EPOCH), makeEpoch(gen, PHASE_COPYING), 'the migration is left in COPYING');
  t.is(Atomics.load(words, H_MIG_OWNER), 0);
  const old = readTableInfo(words, gen);
  const states = chunkStatesAt(old.base, old.buckets);
  for (let c = 0; c < chunkCount(old.buckets); c++) t.is(Atomics.load(words, states + c), 0, 'the failed chunk was given back');
  return { map, keys, hasher };
}

test('a hasher that throws in the middle of a resize: map consistent, no lock held, later ops finish the resize', (t) => {
  const { map, keys } = stuckInCopying(t);
  const words = internals(map).words;
  const gen = genOf(Atomics.load(words, H_EPOCH));
  assertAll(t, map, keys, 'reads during the stuck migration');
  map.set(10_000, 1);
  keys.push(10_000);
  t.is(genOf(Atomics.load(words, H_EPOCH)), gen + 1);
  t.is(phaseOf(Atomics.load(words, H_EPOCH)), PHASE_STABLE);
  const seen = snapshot(map);
  t.is(seen.get(10_000), 1);
  seen.delete(10_000);
  keys.pop();
  t.is(seen.size, keys.length);
  for (const k of keys) t.is(seen.get(k), k * 10);
  t.is(map.size, keys.length + 1);
});

test('dead allocator (ALLOCATING): rolled back to STABLE, free list kept, the next insert migrates', (t) => {
  const { map, keys } = fullMap(hashers.default);
  const words = internals(map).words;
  const listBefore = freeRegions(words);
  t.is(listBefore.length, 1, 'the first table\'s region, retired by the first resize');
  fakeRecord(words);
  const epoch = Atomics.load(words, H_EPOCH);
  t.is(Atomics.compareExchange(words, H_MIG_OWNER, 0, FAKE_TAG), 0);
  t.is(Atomics.compareExchange(words, H_EPOCH, epoch, makeEpoch(genOf(epoch), PHASE_ALLOCATING)), epoch);
  t.throws(() => map.set(10_000, 1), { code: ErrorCode.TIMEOUT }, 'a writer waits, bounded');
  const report = map.recover(FAKE_THREAD);
  t.is(report.allocationsRolledBack, 1);
  t.is(Atomics.load(words, H_EPOCH), epoch);
  t.is(Atomics.load(words, H_MIG_OWNER), 0);
  t.deepEqual(freeRegions(words), listBefore, 'the free list as it was (it used to be forgotten)');
  assertRecordFree(t, words);
  map.set(10_000, 10_000 * 10);
  keys.push(10_000);
  t.is(genOf(Atomics.load(words, H_EPOCH)), genOf(epoch) + 1);
  assertAll(t, map, keys, 'after the migration');
});

/** Become the fake allocator of table g+1 (control, ALLOCATING) and return g's epoch. */
function fakeAllocating(t: ExecutionContext, words: Int32Array): number {
  fakeRecord(words);
  const epoch = Atomics.load(words, H_EPOCH);
  t.is(Atomics.compareExchange(words, H_MIG_OWNER, 0, FAKE_TAG), 0);
  t.is(Atomics.compareExchange(words, H_EPOCH, epoch, makeEpoch(genOf(epoch), PHASE_ALLOCATING)), epoch);
  return epoch;
}

test('dead allocator that had taken a retired region off the free list: recovery puts it back', (t) => {
  const { map, keys } = fullMap(hashers.default);
  const words = internals(map).words;
  const [region] = freeRegions(words);
  if (region === undefined) return t.fail('no retired region');
  const epoch = fakeAllocating(t, words);
  // allocateRegion's steps for table g+1, then the thread is gone.
  const announce = (base: number, ints: number, retiredAt: number): void => announceAllocation(words, genOf(epoch) + 1, base, ints, retiredAt);
  t.is(takeFreeRegion(words, region.ints, announce), region.base);
  t.deepEqual(freeRegions(words), [], 'taken');
  t.is(map.recover(FAKE_THREAD).allocationsRolledBack, 1);
  t.deepEqual(freeRegions(words), [region], 'given back, retired as it was');
  t.is(announcedAllocation(words, genOf(epoch) + 1), undefined, 'the announcement is cleared');
  map.set(10_000, 10_000 * 10);
  keys.push(10_000);
  assertAll(t, map, keys, 'after the migration');
});

test('dead allocator that had taken the head of a region, stopped between its two stores: the whole region is back', (t) => {
  const { map } = fullMap(hashers.default);
  const words = internals(map).words;
  const [region] = freeRegions(words);
  if (region === undefined) return t.fail('no retired region');
  const epoch = fakeAllocating(t, words);
  const part = region.ints / 2;
  // takeFreeRegion's steps for a table of `part` words: the announcement (of the whole
  // record), the first store (SIZE), not the second (BASE).
  announceAllocation(words, genOf(epoch) + 1, region.base, region.ints, region.retiredAtGen);
  Atomics.store(words, freeRecordAt(0) + FREE_REGION_SIZE, region.ints - part);
  map.recover(FAKE_THREAD);
  t.deepEqual(freeRegions(words), [region]);
});

test('dead allocator that had bump-allocated its table: recovery lists those words as free', (t) => {
  const { map } = fullMap(hashers.default);
  const words = internals(map).words;
  const [region] = freeRegions(words);
  const epoch = fakeAllocating(t, words);
  const top = Atomics.load(words, H_ALLOC_TOP);
  const ints = 4 * 1024;
  const base = bumpAllocate(words, internals(map).memory, ints, 16);
  announceAllocation(words, genOf(epoch) + 1, base, ints, 0);
  map.recover(FAKE_THREAD);
  t.true(base >= top);
  t.deepEqual(freeRegions(words), [region, { base, ints, retiredAtGen: 0 }]);
});

test('an announcement of an earlier generation is not given back', (t) => {
  // An announcement left from an allocation that was published (its migration moved on) names
  // a table in use; here words above ALLOC_TOP stand for it, which are not table g's (recovery
  // excludes table g anyway), so only the generation check keeps them off the list.
  const { map } = fullMap(hashers.default);
  const words = internals(map).words;
  const listBefore = freeRegions(words);
  const top = Atomics.load(words, H_ALLOC_TOP);
  announceAllocation(words, internals(map).gen, top, 64, 0); // for table g, which is published
  fakeAllocating(t, words);
  map.recover(FAKE_THREAD);
  t.deepEqual(freeRegions(words), listBefore, 'nothing added');
});

test('dead owner between taking the control and the epoch CAS: control released', (t) => {
  const { map, keys } = fullMap(hashers.default);
  const words = internals(map).words;
  fakeRecord(words);
  t.is(Atomics.compareExchange(words, H_MIG_OWNER, 0, FAKE_TAG), 0);
  t.throws(() => map.set(10_000, 1), { code: ErrorCode.TIMEOUT });
  t.is(map.recover(FAKE_THREAD).migrationOwnershipReleased, 1);
  map.set(10_000, 10_000 * 10);
  keys.push(10_000);
  assertAll(t, map, keys, 'after the migration');
});

test('dead flipper (every chunk copied, control taken): recovery flips with the exact size', (t) => {
  const { map, keys } = stuckInCopying(t);
  const words = internals(map).words;
  const epoch = Atomics.load(words, H_EPOCH);
  fakeRecord(words);
  // The fake thread took the control to flip; a live helper then copies every chunk but cannot flip.
  t.is(Atomics.compareExchange(words, H_MIG_OWNER, 0, FAKE_TAG), 0);
  t.throws(() => map.set(10_000, 1), { code: ErrorCode.TIMEOUT });
  t.is(Atomics.load(words, H_EPOCH), epoch, 'still COPYING: only the owner may flip');
  const oldTable = tableRegionOf(words, genOf(epoch));
  const report = map.recover(FAKE_THREAD);
  t.is(report.flipsFinished, 1);
  t.is(Atomics.load(words, H_EPOCH), makeEpoch(genOf(epoch) + 1, PHASE_STABLE));
  // The old table's region is retired (it used to be leaked): listed, gated at generation g+1.
  const listed = freeRegions(words).find((r) => r.base <= oldTable.base && oldTable.base + oldTable.ints <= r.base + r.ints);
  t.truthy(listed, 'the old table is on the free list');
  t.true((listed?.retiredAtGen ?? 0) >= genOf(epoch) + 1);
  assertAll(t, map, keys, 'after the recovered flip');
  map.set(10_000, 10_000 * 10);
  keys.push(10_000);
  assertAll(t, map, keys, 'after one more insert');
});

test('dead helper with a claimed chunk, killed after every step of one copy: the chunk is redone, each key once', (t) => {
  let steps = 0;
  for (let stop = 0; ; stop++) {
    const { map, keys } = stuckInCopying(t);
    const { words, g } = internals(map);
    const gen = genOf(Atomics.load(words, H_EPOCH));
    const old = readTableInfo(words, gen);
    const next = readTableInfo(words, gen + 1);
    const states = chunkStatesAt(old.base, old.buckets);
    fakeRecord(words);
    t.is(Atomics.compareExchange(words, states, 0, CHUNK_CLAIMED | FAKE_TAG), 0);
    // The fake helper copies the first FULL old lanes completely, then dies inside the next copy.
    const full: LaneAt[] = [];
    for (let b = 0; b < old.buckets; b++) {
      const at = bucketAt(old.first, b);
      const lanes = fullLanes(Atomics.load(words, at + B_META), g.lanes);
      for (let lane = 0; lane < g.lanes; lane++) if (((lanes >>> lane) & 1) !== 0) full.push({ at, lane });
    }
    // bucket-copy.ts copyLane's steps, into the bucket where the key's chain in table g+1 ends.
    const copyOne = (from: LaneAt, upTo: number): number => {
      const key = words[from.at + laneWordOffset(g, C_KEY, from.lane)]!;
      const target = laneOf(words, next, g, map.hasher, key);
      t.is(target.lane, -1, 'not copied yet');
      const at = target.at;
      const seq = Atomics.load(words, at);
      const free = firstEmptyLane(Atomics.load(words, at + B_META), g.lanes);
      t.true(free >= 0);
      const list: Array<() => void> = [
        () => announceLock(words, FAKE_REC, at, seq),
        () => {
          words[payloadAt(FAKE_REC, P_LANE_INFO)] = laneInfo(free, LANE_EMPTY);
          for (let c = 0; c < g.laneInts; c++) words[payloadAt(FAKE_REC, P_LANE_WORDS + c)] = words[from.at + laneWordOffset(g, c, from.lane)]!;
        },
        () => commitIntent(words, FAKE_REC, INTENT_COPY, next.base),
        () => t.is(Atomics.compareExchange(words, at, seq, lockWord(FAKE_TAG, seq)), seq),
        () => writeLane(words, FAKE_REC, at, g, true),
        () => changeMeta(words, FAKE_REC, at),
        () => releaseBucket(words, FAKE_REC, at),
        () => clearLock(words, FAKE_REC),
      ];
      for (let i = 0; i < Math.min(upTo, list.length); i++) list[i]!();
      return list.length;
    };
    copyOne(full[0]!, Infinity);
    copyOne(full[1]!, Infinity);
    steps = copyOne(full[2]!, stop);
    if (stop > steps) break;
    const report = map.recover(FAKE_THREAD);
    t.is(report.chunksReleased, 1, `stop ${stop}`);
    t.is(report.rolledForward, stop >= 4 && stop < steps - 1 ? 1 : 0, `stop ${stop}: a locked copy is rolled forward`);
    t.is(phaseOf(Atomics.load(words, H_EPOCH)), PHASE_STABLE, `stop ${stop}: recovery helped the migration to its end`);
    t.is(genOf(Atomics.load(words, H_EPOCH)), gen + 1);
    assertAll(t, map, keys, `stop ${stop}`);
    assertRecordFree(t, words);
    t.true((Atomics.load(words, states) & CHUNK_DONE) !== 0);
  }
  t.is(steps, 8);
});

test('a thread that dies while it reclaims a tombstone\'s key block: rolled back to the old seq; the lane keeps NULL_BLOCK and matches no key', (t) => {
  // reclaimTombstoneKeys' steps with the fake record, stopped after the NULL_BLOCK store:
  // announceLock, the lock CAS, KEY_REF = NULL_BLOCK, then "death" (no release, no free).
  const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', waitTimeoutMs: 50 });
  const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
  keys.forEach((k, i) => map.set(k, i));
  t.true(map.delete('key-7'));
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  let at = -1;
  let lane = -1;
  for (let b = 0; b < table.buckets && at < 0; b++) {
    const a = bucketAt(table.first, b);
    const tombs = tombstoneLanes(Atomics.load(words, a + B_META), g.lanes);
    if (tombs !== 0) {
      at = a;
      lane = 31 - Math.clz32(tombs);
    }
  }
  t.true(at > 0, 'the tombstone of key-7');
  const keyRefAt = at + laneWordOffset(g, C_KEY_REF, lane);
  const hashAt = at + laneWordOffset(g, C_HASH, lane);
  t.not(words[keyRefAt], NULL_BLOCK, 'the tombstone still holds its key block');
  const hash = words[hashAt] as number;
  fakeRecord(words);
  const seq = Atomics.load(words, at);
  announceLock(words, FAKE_REC, at, seq);
  t.is(Atomics.compareExchange(words, at, seq, lockWord(FAKE_TAG, seq)), seq);
  Atomics.store(words, keyRefAt, NULL_BLOCK);
  t.throws(() => map.get('key-7'), { code: ErrorCode.TIMEOUT }, 'a reader of the key waits for the lock, bounded');
  const report = map.recover(FAKE_THREAD);
  t.is(report.rolledBack, 1);
  t.is(Atomics.load(words, at), seq, 'the old seq, unlocked');
  t.is(words[keyRefAt], NULL_BLOCK, 'KEY_REF stays NULL_BLOCK: a tombstone that holds no key');
  t.is(words[hashAt], hash);
  assertRecordFree(t, words);
  t.is(map.get('key-7'), undefined);
  t.false(map.delete('key-7'));
  map.set('key-7', 77);
  t.is(map.get('key-7'), 77, 'set again: an EMPTY lane, not the tombstone');
  t.is(laneState(Atomics.load(words, at + B_META), lane), LANE_TOMBSTONE, 'the reclaimed tombstone was not revived');
  t.is(words[keyRefAt], NULL_BLOCK);
  keys.forEach((k, i) => t.is(map.get(k), k === 'key-7' ? 77 : i, k));
  t.is(map.size, keys.length);
});
