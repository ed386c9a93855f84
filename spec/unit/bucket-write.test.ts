/**
 * The layout-6 write protocol (lib/bucket-write.ts) on a standalone
 * int32 -> int32 bucket table (spec/helpers/bucket-harness.ts), one thread:
 *
 * - random sets and deletes, with a hash that crowds keys into few home
 *   buckets (long OVERFLOW chains, wrapping), answer like a Map after every
 *   operation, through the wasm probe; the table's invariants hold (each key
 *   in one lane, SIZE = FULL lanes, OVERFLOW along every displaced key's chain);
 * - the insert budget: exactly insertBudget(lanes) inserts, then 'full' with
 *   the table unchanged; overwrites, deletes and revivals need no budget;
 * - recovery: a writer stopped after any step of a put (into an EMPTY lane,
 *   over a FULL one, reviving a TOMBSTONE) or of a delete is rolled back
 *   before its commit and forward after it, and the key then holds its old
 *   or its new value, never anything else, with SIZE exact.
 */
import test from 'ava';
import { B_META, laneWordOffset, LANE_EMPTY, LANE_FULL, LANE_TOMBSTONE, laneState } from '../../lib/bucket.js';
import {
  LANE_LOCKED,
  MATCH,
  NO_MATCH,
  changeMeta,
  countSize,
  finishBucketLock,
  findLane,
  laneInfo,
  payloadAt,
  P_LANE_INFO,
  releaseBucket,
  stagePut,
  writeLane,
  type LaneLock,
} from '../../lib/bucket-write.js';
import { INTENT_DELETE, INTENT_PUT, T_REMAINING, insertBudget } from '../../lib/layout.js';
import { lockOwnerTag } from '../../lib/seqlock.js';
import { clearLock, commitIntent } from '../../lib/recovery.js';
import { slotStart } from '../../lib/table.js';
import { BucketHarness, createBucketTable } from '../helpers/bucket-harness.js';
import { SeededPrng } from '../helpers/prng.js';

/** A hash that sends every key to one of the buckets `homes` (of `buckets`): long chains, wrapping past the last bucket. */
function crowdedHash(homes: readonly number[], buckets: number): (k: number) => number {
  const starts = homes.map((b) => slotStart(b, buckets) | 0);
  return (k: number) => starts[(Math.imul(k, 0x9e3779b1) >>> 0) % starts.length] as number;
}

test('random sets and deletes on crowded chains answer like a Map; the invariants hold', (t) => {
  const prng = new SeededPrng(0x5e7d);
  t.log(`seed ${prng.seed}`);
  const buckets = 40;
  const h = new BucketHarness(createBucketTable(buckets), 0, crowdedHash([0, 9, 21, 30, buckets - 1], buckets));
  const oracle = new Map<number, number>();
  const pool = Array.from({ length: 180 }, (_, i) => (i === 0 ? 0 : prng.next() | 0));
  for (let op = 0; op < 20_000; op++) {
    const k = pool[prng.next() % pool.length] as number;
    if (prng.next() % 3 === 0) {
      t.is(h.delete(k), oracle.delete(k), `delete ${k}`);
    } else {
      const v = prng.next() | 0;
      const r = h.set(k, v);
      if (r === 'full') t.fail('the budget ran out: the pool is smaller than it');
      t.is(r, oracle.has(k) ? 'overwrote' : 'inserted');
      oracle.set(k, v);
    }
    if (op % 97 === 0) for (const q of pool) if (h.get(q) !== oracle.get(q)) t.fail(`after op ${op}: key ${q} reads ${h.get(q)}, Map ${oracle.get(q)}`);
  }
  for (const q of pool) t.is(h.get(q), oracle.get(q));
  const { problems, entries } = h.audit();
  t.true(h.waits === 0, 'one thread never waits');
  t.deepEqual(problems, []);
  t.deepEqual([...entries].sort((a, b) => a[0] - b[0]), [...oracle].sort((a, b) => a[0] - b[0]));
  t.is(h.size(), oracle.size);
});

test('the insert budget: insertBudget(lanes) inserts, then full with nothing changed; overwrites, deletes and revivals still work', (t) => {
  const buckets = 10;
  const h = new BucketHarness(createBucketTable(buckets), 0, (k) => Math.imul(k, 0x9e3779b1));
  const budget = insertBudget(buckets, h.g.lanes);
  for (let k = 1; k <= budget; k++) t.is(h.set(k, k * 10), 'inserted');
  const before = h.audit();
  t.is(h.set(budget + 1, 1), 'full');
  t.is(h.budgetSpent, 1, 'the host was asked to resize');
  t.is(Atomics.load(h.words, h.table.base + T_REMAINING), 0, 'the unit taken for the failed insert was given back');
  t.deepEqual(h.audit(), before, 'nothing changed');
  t.is(h.get(budget + 1), undefined);
  t.is(h.set(5, -5), 'overwrote');
  t.true(h.delete(6));
  t.is(h.set(6, 66), 'inserted', 'a revival takes no budget');
  t.is(h.get(6), 66);
  t.is(h.get(5), -5);
  t.deepEqual(h.audit().problems, []);
  t.is(h.size(), budget);
});

type Kind = 'insert' | 'overwrite' | 'revive' | 'delete';
/** The steps of a put (or a delete, without writeLane), in order; recovery is run after each prefix. */
const STEPS = ['locked', 'staged', 'committed', 'lane written', 'META changed', 'SIZE counted', 'released'] as const;

for (const kind of ['insert', 'overwrite', 'revive', 'delete'] as Kind[]) {
  test(`recovery of a writer stopped after each step of a ${kind}: back before the commit, forward after it`, (t) => {
    for (let stop = 0; stop < STEPS.length; stop++) {
      const h = new BucketHarness(createBucketTable(4), 0, () => 0x40000000); // every key homed at bucket 1
      for (let k = 1; k <= 9; k++) h.set(k, k); // bucket 1 full, bucket 2 holds 2 (OVERFLOW chain)
      const key = kind === 'insert' ? 42 : 8; // 8 lives in bucket 2
      if (kind === 'revive') h.delete(key);
      const old = h.get(key);
      const sizeBefore = h.size();
      const lock: LaneLock = { at: 0, lane: 0, seq: 0, state: 0 };
      const match = (words: Int32Array, at: number, lane: number): number => (words[at + laneWordOffset(h.g, 0, lane)] === key ? MATCH : NO_MATCH);
      t.is(findLane(h, h.table, 0, h.hash(key), match, kind === 'insert', lock), LANE_LOCKED);
      t.is(lock.state, kind === 'insert' ? LANE_EMPTY : kind === 'revive' ? LANE_TOMBSTONE : LANE_FULL);
      const op = kind === 'delete' ? INTENT_DELETE : INTENT_PUT;
      const steps: (() => void)[] = [
        () => (kind === 'delete' ? (h.words[payloadAt(h.rec, P_LANE_INFO)] = laneInfo(lock.lane, lock.state)) : stagePut(h.words, h.rec, h.g, lock, [key], [777])),
        () => commitIntent(h.words, h.rec, op, h.table.base),
        () => kind !== 'delete' && writeLane(h.words, h.rec, lock.at, h.g, false),
        () => changeMeta(h.words, h.rec, lock.at),
        () => countSize(h.words, h.rec),
        () => releaseBucket(h.words, h.rec, lock.at),
      ];
      for (let s = 0; s < stop; s++) (steps[s] as () => void)();
      const locked = lockOwnerTag(Atomics.load(h.words, lock.at)) === h.tag;
      t.is(locked, stop < STEPS.length - 1, `${STEPS[stop]}: the bucket is still held`);
      // What recovery does for a dead owner (recovery.ts repairRecord): only a bucket locked with its tag.
      if (locked) t.is(finishBucketLock(h.words, h.g, h.rec, lock.at), stop >= 2, `${STEPS[stop]}: rolled ${stop >= 2 ? 'forward' : 'back'}`);
      const forward = stop >= 2;
      const want = !forward ? old : kind === 'delete' ? undefined : 777;
      t.is(h.get(key), want, `${kind} stopped after "${STEPS[stop]}"`);
      const delta = !forward ? 0 : kind === 'delete' ? -1 : kind === 'overwrite' ? 0 : 1;
      t.is(h.size(), sizeBefore + delta, `SIZE after "${STEPS[stop]}"`);
      const state = laneState(Atomics.load(h.words, lock.at + B_META), lock.lane);
      if (forward) t.is(state, kind === 'delete' ? LANE_TOMBSTONE : LANE_FULL);
      t.deepEqual(h.audit().problems, [], `invariants after "${STEPS[stop]}"`);
    }
  });
}

/**
 * The version step of every release is what makes a writer's CAS fail when
 * the bucket changed after it read SEQ (the ABA case): writer A reads a
 * bucket, and while it compares the bucket's keys (the matcher is the hook)
 * writer B inserts the same key into that bucket and releases it. A's CAS
 * from the SEQ it read must fail, and A must then find B's lane and
 * overwrite it, not insert the key a second time. (A release back to the
 * old SEQ made A insert a duplicate; checked.)
 */
test('a writer whose bucket changed after it read SEQ loses its CAS and finds the key another writer inserted meanwhile', (t) => {
  const geometry = createBucketTable(4);
  const hash = (): number => 0; // every key homed at bucket 0
  const a = new BucketHarness(geometry, 0, hash);
  const b = new BucketHarness(geometry, 1, hash);
  t.is(a.set(1, 10), 'inserted'); // bucket 0 has an OCCUPIED lane, so A's scan calls the matcher
  const key = 2;
  let interleaved = false;
  const lock: LaneLock = { at: 0, lane: 0, seq: 0, state: 0 };
  const match = (words: Int32Array, at: number, lane: number): number => {
    if (!interleaved) {
      interleaved = true;
      t.is(b.set(key, 20), 'inserted'); // B's whole insert, between A's read of SEQ and A's CAS
    }
    return words[at + laneWordOffset(a.g, 0, lane)] === key ? MATCH : NO_MATCH;
  };
  t.is(findLane(a, a.table, 0, hash(), match, true, lock), LANE_LOCKED);
  t.is(lock.state, LANE_FULL, "A locked B's lane of the key, not a new one");
  stagePut(a.words, a.rec, a.g, lock, [key], [30]);
  commitIntent(a.words, a.rec, INTENT_PUT, a.table.base);
  writeLane(a.words, a.rec, lock.at, a.g, false);
  changeMeta(a.words, a.rec, lock.at);
  countSize(a.words, a.rec);
  releaseBucket(a.words, a.rec, lock.at);
  clearLock(a.words, a.rec);
  t.is(a.get(key), 30);
  t.deepEqual(a.audit().problems, []);
  t.is(a.size(), 2);
});
