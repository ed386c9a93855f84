/**
 * Layout 6, the migration copy (lib/bucket-copy.ts) and iteration
 * (lib/bucket-iterator.ts) over buckets, on standalone tables
 * (spec/helpers/bucket-harness.ts):
 *
 * - every FULL lane of a table with tombstones and long OVERFLOW chains,
 *   copied bucket by bucket into a larger and into a smaller table, is in
 *   the new table exactly once (TOMBSTONEs are dropped), the new table's
 *   invariants hold, and redoing buckets (a helper that died mid-chunk)
 *   copies nothing twice;
 * - the wasm copy (write-bucket.wat copyBuckets) writes word for word what
 *   copyBucket writes, for int32 and string-key lanes, also when it stops at
 *   a locked bucket and copyBucket finishes;
 * - a copier stopped after its CAS, before or after it wrote the lane, is
 *   rolled forward by recovery, and the redo of its bucket then adds nothing;
 * - iteration yields each FULL entry exactly once, also when the table is
 *   migrated into a table of another size in the middle of the walk.
 */
import test from 'ava';
import { BUCKET_INTS, LANE_EMPTY, bucketGeometry, laneWordOffset, type BucketGeometry } from '../../lib/bucket.js';
import { copyBucket, type BucketCopyHost } from '../../lib/bucket-copy.js';
import { iterateBucketEntries, type BucketIterationHost } from '../../lib/bucket-iterator.js';
import {
  LANE_LOCKED,
  NO_MATCH,
  P_LANE_INFO,
  P_LANE_WORDS,
  finishBucketLock,
  findLane,
  laneInfo,
  payloadAt,
  writeLane,
  type BucketTable,
  type LaneLock,
} from '../../lib/bucket-write.js';
import { backoff } from '../../lib/backoff.js';
import { commitIntent } from '../../lib/recovery.js';
import { H_EPOCH, INTENT_COPY, TABLE_HEADER_INTS, T_REMAINING, T_SIZE, W_LOCK_AT, W_LOCK_SEQ } from '../../lib/layout.js';
import { fmix32 } from '../../lib/hashers/murmur3.js';
import { recordTag, writerRecordAt } from '../../lib/writers.js';
import { COPY_HASH_MURMUR3_INT, COPY_HASH_STORED, instantiateBucketWritePath } from '../../lib/wasm/bucket-write-path.js';
import { BucketTableWriter } from '../helpers/bucket-table.js';
import { lockWord } from '../../lib/seqlock.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { slotStart } from '../../lib/table.js';
import { BucketHarness, createBucketTables, createValueTables, harnessRegionInts } from '../helpers/bucket-harness.js';
import { SeededPrng } from '../helpers/prng.js';

const hashOf = (k: number): number => Math.imul(k ^ 0x5bd1e995, 0x9e3779b1);

function copyHost(h: BucketHarness): BucketCopyHost {
  return {
    g: h.g,
    rec: h.rec,
    tag: h.tag,
    hashAt: (words, at, lane) => h.hash(words[at + laneWordOffset(h.g, 0, lane)] as number),
    pause: (attempt) => backoff(attempt),
  };
}

/** Fill `h` with `keys` random keys, then delete every fourth: returns what it holds. */
function filled(prng: SeededPrng, h: BucketHarness, keys: number): Map<number, number> {
  const oracle = new Map<number, number>();
  for (let i = 0; i < keys; i++) {
    const k = prng.next() | 0;
    h.set(k, i);
    oracle.set(k, i);
  }
  for (const k of [...oracle.keys()].filter((_, i) => i % 4 === 0)) {
    h.delete(k);
    oracle.delete(k);
  }
  return oracle;
}

function copyAll(host: BucketCopyHost, words: Int32Array, from: BucketTable, to: BucketTable): number {
  let entries = 0;
  for (let b = 0; b < from.buckets; b++) entries += copyBucket(host, words, from, to, b, false);
  return entries;
}

for (const [label, oldBuckets, newBuckets] of [['larger', 60, 137], ['smaller', 60, 45]] as const) {
  test(`copy into a ${label} table: each FULL lane exactly once, tombstones dropped, redone buckets copy nothing twice`, (t) => {
    const prng = new SeededPrng(0xc0b1 + newBuckets);
    t.log(`seed ${prng.seed}`);
    const [og, ng] = createBucketTables(oldBuckets, newBuckets);
    const crowd = [0, 17, oldBuckets - 1].map((b) => slotStart(b, oldBuckets) | 0);
    // Crowded: a third of the keys homed at three buckets, so the copy walks long chains.
    const hash = (k: number): number => ((k & 3) === 0 ? (crowd[(k >>> 2) % crowd.length] as number) : hashOf(k));
    const from = new BucketHarness(og!, 0, hash);
    const to = new BucketHarness(ng!, 0, hash);
    const oracle = filled(prng, from, 250);
    const host = copyHost(from);
    const entries = copyAll(host, from.words, from.table, to.table);
    t.is(entries, oracle.size);
    Atomics.store(to.words, to.table.base + T_SIZE, entries); // what the flip writes from the chunk counts
    const { problems, entries: copied } = to.audit();
    t.deepEqual(problems, []);
    t.deepEqual([...copied].sort((a, b) => a[0] - b[0]), [...oracle].sort((a, b) => a[0] - b[0]));
    // A helper that died mid-chunk: its buckets are copied again by the next one.
    for (let b = 0; b < oldBuckets; b += 3) copyBucket(host, from.words, from.table, to.table, b, false);
    t.deepEqual(to.audit().problems, [], 'no key copied twice');
    for (const [k, v] of oracle) if (to.get(k) !== v) t.fail(`key ${k}: ${to.get(k)} after the copy, ${v} before`);
    t.pass();
  });
}

for (const written of [false, true]) {
  test(`a copier stopped after its CAS (lane ${written ? '' : 'not '}written) is rolled forward, and the redo adds nothing`, (t) => {
    const [og, ng] = createBucketTables(8, 12);
    const from = new BucketHarness(og!, 0, hashOf);
    const to = new BucketHarness(ng!, 1, hashOf);
    for (let k = 1; k <= 30; k++) from.set(k, k * 7);
    const host = copyHost(from);
    // The dead copier: the first FULL lane of key 5, staged, committed, CAS done.
    const lock: LaneLock = { at: 0, lane: 0, seq: 0, state: 0 };
    const match = (words: Int32Array, at: number, lane: number): number => (words[at + laneWordOffset(from.g, 0, lane)] === 5 ? 1 : NO_MATCH);
    t.is(findLane(from, from.table, 0, hashOf(5), match, false, lock), LANE_LOCKED);
    from.words[lock.at] = lock.seq; // only needed it to locate the lane: unlock the old bucket again
    const target = findEmptyTarget(to, hashOf(5));
    const rec = from.rec;
    const words = from.words;
    words[rec + W_LOCK_AT] = target.at;
    words[rec + W_LOCK_SEQ] = target.seq;
    words[payloadAt(rec, P_LANE_INFO)] = laneInfo(target.lane, LANE_EMPTY);
    for (let c = 0; c < from.g.laneInts; c++) words[payloadAt(rec, P_LANE_WORDS + c)] = words[lock.at + laneWordOffset(from.g, c, lock.lane)] as number;
    commitIntent(words, rec, INTENT_COPY, to.table.base);
    Atomics.store(words, target.at, lockWord(from.tag, target.seq));
    if (written) writeLane(words, rec, target.at, from.g, false);
    t.true(finishBucketLock(words, from.g, rec, target.at), 'rolled forward');
    t.is(to.get(5), 35);
    t.is(Atomics.load(words, to.table.base + T_SIZE), 0, 'a copy counts no SIZE (the flip does)');
    const entries = copyAll(host, words, from.table, to.table);
    t.is(entries, 30);
    Atomics.store(words, to.table.base + T_SIZE, entries);
    t.deepEqual(to.audit().problems, []);
  });
}

/** Where an insert of a key with `hash` would go in `h`'s table (no lock taken). */
function findEmptyTarget(h: BucketHarness, hash: number): { at: number; lane: number; seq: number } {
  const lock: LaneLock = { at: 0, lane: 0, seq: 0, state: 0 };
  if (findLane(h, h.table, 0, hash, () => NO_MATCH, true, lock) !== LANE_LOCKED) throw new Error('no lane');
  // findLane locked it and took a unit of budget: undo both, keep the place.
  Atomics.store(h.words, lock.at, lock.seq);
  Atomics.add(h.words, h.table.base + T_REMAINING, 1);
  h.words[h.rec + W_LOCK_AT] = 0;
  return { at: lock.at, lane: lock.lane, seq: lock.seq };
}

function iterationHost(g: BucketGeometry, words: Int32Array, current: () => { gen: number; table: BucketTable }, hash: (k: number) => number): BucketIterationHost {
  return {
    g,
    snapshot: () => ({ words, ...current() }),
    hashAt: (w, at, lane) => hash(w[at + laneWordOffset(g, 0, lane)] as number),
    readKey: (w, at, lane) => w[at + laneWordOffset(g, 0, lane)],
    readValue: (w, at, lane) => w[at + laneWordOffset(g, 1, lane)],
    finishValue: (raw) => raw,
  };
}

test('iteration yields each FULL entry once, also across a migration into a table of another size half-way', (t) => {
  const prng = new SeededPrng(0x17e2);
  t.log(`seed ${prng.seed}`);
  const [og, ng] = createBucketTables(50, 83);
  const crowd = [0, 24, 49].map((b) => slotStart(b, 50) | 0);
  const hash = (k: number): number => ((k & 3) === 0 ? (crowd[(k >>> 2) % crowd.length] as number) : hashOf(k));
  const from = new BucketHarness(og!, 0, hash);
  const to = new BucketHarness(ng!, 0, hash);
  const oracle = filled(prng, from, 240);
  const words = from.words;
  let state = { gen: 0, table: from.table };
  const host = iterationHost(from.g, words, () => state, hash);
  const plain = new Map<unknown, unknown>();
  for (const [k, v] of iterateBucketEntries(host)) {
    t.false(plain.has(k), `key ${k} yielded twice`);
    plain.set(k, v);
  }
  t.deepEqual([...plain].sort((a, b) => (a[0] as number) - (b[0] as number)), [...oracle].sort((a, b) => a[0] - b[0]));

  // Half-way, the table is migrated (copied, generation + 1): each entry still exactly once.
  const seen = new Map<unknown, unknown>();
  let n = 0;
  for (const [k, v] of iterateBucketEntries(host)) {
    t.false(seen.has(k), `key ${k} yielded twice across the migration`);
    seen.set(k, v);
    if (++n === Math.floor(oracle.size / 2)) {
      copyAll(copyHost(from), words, from.table, to.table);
      Atomics.store(words, H_EPOCH, 1 << GEN_SHIFT);
      state = { gen: 1, table: to.table };
    }
  }
  t.is(seen.size, oracle.size);
  for (const [k, v] of oracle) t.is(seen.get(k), v);
});

/** The new table's region words, for word-for-word comparisons. */
const regionOf = (words: Int32Array, table: BucketTable): number[] =>
  Array.from(words.subarray(table.base, table.base + harnessRegionInts(table.buckets)));

/**
 * The wasm copy (write-bucket.wat copyBuckets) against copyBucket: the same
 * old table copied by each into a table of its own leaves the two equal word
 * for word, for int32 keys hashed by murmur3 in wasm and for string-key lanes
 * (HASH and KEY_REF columns, 4 lanes); and a copy that stops at a locked old
 * bucket or a locked new one, finished by copyBucket from stoppedAt(),
 * leaves the same table and counts every entry once.
 */
const SEED = 0x2545f491;
for (const keys of ['int32', 'string'] as const) {
  test(`${keys} keys: the wasm copy writes word for word what copyBucket writes, also when it stops and the JS copy finishes`, (t) => {
    const prng = new SeededPrng(keys === 'int32' ? 0xc0c1 : 0xc0c2);
    t.log(`seed ${prng.seed}`);
    const oldBuckets = 50;
    const newBuckets = 71;
    const [og, n1, n2, n3] = createValueTables('int32', oldBuckets, newBuckets, newBuckets, newBuckets);
    const words = new Int32Array(og!.memory.buffer);
    const g = bucketGeometry(keys, 'int32');
    const tableOf = (h: { base: number; buckets: number }): BucketTable => ({ base: h.base, first: h.base + TABLE_HEADER_INTS, buckets: h.buckets });
    const old = tableOf(og!);
    const writer = new BucketTableWriter(words, old.first, oldBuckets, g);
    const hash = (k: number): number => fmix32(k ^ SEED);
    let live = 0;
    let lastHash = 0;
    // 75 % of the old table's lanes (a tombstone keeps its lane).
    const fill = Math.floor(0.75 * g.lanes * oldBuckets);
    for (let i = 0; i < fill; i++) {
      const k = prng.next() | 0;
      // String lanes: column 0 is the hash (here a free word), column 1 the key block (any word).
      // Every fourth string lane shares its HASH with the one before (a collision: only KEY_REF tells them apart).
      const h = keys === 'int32' ? hash(k) : i % 4 === 3 ? lastHash : k;
      const extra = keys === 'string' ? [prng.next() | 0] : [];
      lastHash = h;
      const column0 = keys === 'int32' ? k : h; // the key, or the HASH column
      writer.put(column0, h, [i], extra);
      if (i % 5 === 0) writer.remove(column0, h, extra);
      else live++;
    }
    const rec = writerRecordAt(3);
    const host: BucketCopyHost = {
      g,
      rec,
      tag: recordTag(rec),
      hashAt: (w, at, lane) => (keys === 'int32' ? hash(w[at + laneWordOffset(g, 0, lane)] as number) : (w[at + laneWordOffset(g, 0, lane)] as number)),
      pause: (attempt) => backoff(attempt),
    };
    const js = tableOf(n1!);
    let jsEntries = 0;
    for (let b = 0; b < oldBuckets; b++) jsEntries += copyBucket(host, words, old, js, b, false);
    t.is(jsEntries, live);
    const wasm = instantiateBucketWritePath(og!.memory);
    wasm.configure(0, 0);
    wasm.setWriter(rec, recordTag(rec));
    wasm.configureCopy(g.lanes, g.laneInts, g.keyInts, SEED);
    const mode = keys === 'int32' ? COPY_HASH_MURMUR3_INT : COPY_HASH_STORED;
    const w2 = tableOf(n2!);
    t.is(wasm.copyBuckets(old.first, 0, oldBuckets, w2.first, newBuckets, w2.base, mode), live);
    t.is(wasm.stoppedAt(), oldBuckets);
    t.deepEqual(regionOf(words, w2), regionOf(words, js), 'the wasm copy and the JS copy differ');

    // Stops: at a locked old bucket, then at a locked new bucket; copyBucket finishes each.
    const w3 = tableOf(n3!);
    const lockedOld = 20;
    const oldAt = old.first + lockedOld * BUCKET_INTS;
    const oldSeq = Atomics.load(words, oldAt);
    Atomics.store(words, oldAt, lockWord(9, oldSeq));
    let entries = wasm.copyBuckets(old.first, 0, oldBuckets, w3.first, newBuckets, w3.base, mode);
    t.is(wasm.stoppedAt(), lockedOld, 'stopped at the locked old bucket');
    Atomics.store(words, oldAt, oldSeq);
    // The first new bucket the rest would write into, locked.
    const victim = w3.first + BUCKET_INTS * 35;
    const victimSeq = Atomics.load(words, victim);
    Atomics.store(words, victim, lockWord(9, victimSeq));
    entries += wasm.copyBuckets(old.first, lockedOld, oldBuckets, w3.first, newBuckets, w3.base, mode);
    const stoppedAt = wasm.stoppedAt();
    t.true(stoppedAt < oldBuckets, 'stopped at the locked new bucket');
    Atomics.store(words, victim, victimSeq);
    for (let b = stoppedAt; b < oldBuckets; b++) entries += copyBucket(host, words, old, w3, b, false);
    t.is(entries, live, 'every entry counted once');
    t.deepEqual(regionOf(words, w3), regionOf(words, js));
    t.is(Atomics.load(words, rec + W_LOCK_AT), 0);
  });
}
