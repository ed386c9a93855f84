/**
 * lib/bucket.ts, the layout-6 bucket: every kind's lanes fit one cache line
 * without overlapping, the lane bits of META cannot collide with each other
 * or with OVERFLOW, each META change is the one bit operation the protocol
 * says (idempotent, so recovery may redo it, and blind to the other lanes'
 * bits and to OVERFLOW), and the home bucket is table.ts's homeSlot.
 */
import test from 'ava';
import {
  BUCKET_INTS,
  B_LANES,
  B_META,
  B_SEQ,
  LANE_AREA_INTS,
  LANE_EMPTY,
  LANE_FULL,
  LANE_TOMBSTONE,
  MAX_LANES,
  OCCUPIED_SHIFT,
  OVERFLOW,
  TOMBSTONE_SHIFT,
  bucketGeometry,
  firstEmptyLane,
  fullLanes,
  homeBucket,
  laneState,
  laneWordOffset,
  lanesFor,
  markOccupied,
  markOverflow,
  markRevived,
  markTombstone,
  occupiedLanes,
  overflows,
  tombstoneLanes,
} from '../../lib/bucket.js';
import { CACHE_LINE_INTS, KeyKindCode, ValueKindCode, type KeyKind, type ValueKind } from '../../lib/layout.js';
import { homeSlot } from '../../lib/table.js';
import { SeededPrng } from '../helpers/prng.js';

const KEY_KINDS = Object.keys(KeyKindCode) as KeyKind[];
const VALUE_KINDS = Object.keys(ValueKindCode) as ValueKind[];

test('a bucket is one cache line: SEQ, META, then the lane words', (t) => {
  t.is(BUCKET_INTS, CACHE_LINE_INTS);
  t.deepEqual([B_SEQ, B_META, B_LANES], [0, 1, 2]);
  t.is(B_LANES + LANE_AREA_INTS, BUCKET_INTS);
});

test('lanes per bucket for every key and value kind, as docs/layout6.md tabulates them', (t) => {
  const lanes = Object.fromEntries(KEY_KINDS.flatMap((k) => VALUE_KINDS.map((v) => [`${k}->${v}`, bucketGeometry(k, v).lanes])));
  t.deepEqual(lanes, {
    'int32->int32': 7,
    'int32->float64': 4,
    'int32->string': 7,
    'int32->bytes': 7,
    'int32->json': 7,
    'string->int32': 4,
    'string->float64': 3,
    'string->string': 4,
    'string->bytes': 4,
    'string->json': 4,
  });
  t.throws(() => lanesFor(0), { instanceOf: RangeError });
  t.throws(() => lanesFor(LANE_AREA_INTS + 1), { instanceOf: RangeError });
  t.is(lanesFor(1), MAX_LANES, 'capped so lane bits never reach the TOMBSTONE bits');
});

test('every lane word of every kind lies inside its bucket, after META, and no two share a word', (t) => {
  for (const k of KEY_KINDS) for (const v of VALUE_KINDS) {
    const g = bucketGeometry(k, v);
    const seen = new Set<number>();
    for (let column = 0; column < g.laneInts; column++) for (let lane = 0; lane < g.lanes; lane++) {
      const w = laneWordOffset(g, column, lane);
      t.true(w >= B_LANES && w < BUCKET_INTS, `${k}->${v} column ${column} lane ${lane}: word ${w}`);
      t.false(seen.has(w), `${k}->${v}: word ${w} used twice`);
      seen.add(w);
    }
    // Column 0 (key or hash) is contiguous: one SIMD load covers up to 4 lanes of it.
    for (let lane = 1; lane < g.lanes; lane++) t.is(laneWordOffset(g, 0, lane), laneWordOffset(g, 0, lane - 1) + 1);
  }
});

test('META bit fields: lane bits of OCCUPIED, TOMBSTONE and OVERFLOW never overlap', (t) => {
  const occupied = ((1 << MAX_LANES) - 1) << OCCUPIED_SHIFT;
  const tomb = ((1 << MAX_LANES) - 1) << TOMBSTONE_SHIFT;
  t.is(occupied & tomb, 0);
  t.is((occupied | tomb) & OVERFLOW, 0);
});

test('lane states through the META changes: insert, delete, revive; each idempotent and blind to other lanes and OVERFLOW', (t) => {
  const lanes = 7;
  const words = new Int32Array(new SharedArrayBuffer(BUCKET_INTS * 4));
  const meta = (): number => Atomics.load(words, B_META);
  t.is(firstEmptyLane(meta(), lanes), 0);
  markOccupied(words, 0, 3);
  markOccupied(words, 0, 3); // redone by recovery: no change
  t.is(laneState(meta(), 3), LANE_FULL);
  t.is(laneState(meta(), 2), LANE_EMPTY);
  t.is(firstEmptyLane(meta(), lanes), 0);
  markOverflow(words, 0, meta());
  t.true(overflows(meta()));
  markOccupied(words, 0, 0);
  t.is(firstEmptyLane(meta(), lanes), 1);
  markTombstone(words, 0, 3);
  markTombstone(words, 0, 3);
  t.is(laneState(meta(), 3), LANE_TOMBSTONE);
  t.is(laneState(meta(), 0), LANE_FULL, 'the other lane is untouched');
  t.true(overflows(meta()), 'OVERFLOW survives lane changes');
  t.is(fullLanes(meta(), lanes), 0b0000001);
  t.is(tombstoneLanes(meta(), lanes), 0b0001000);
  t.is(occupiedLanes(meta(), lanes), 0b0001001);
  markRevived(words, 0, 3);
  markRevived(words, 0, 3);
  t.is(laneState(meta(), 3), LANE_FULL);
  t.true(overflows(meta()));
  markRevived(words, 0, 0); // a FULL lane stays FULL
  t.is(laneState(meta(), 0), LANE_FULL);
  for (let lane = 0; lane < lanes; lane++) markOccupied(words, 0, lane);
  t.is(firstEmptyLane(meta(), lanes), -1, 'a full bucket has no EMPTY lane');
  t.is(firstEmptyLane(0b1111, 4), -1, 'only the kind\'s lanes count');
  t.is(firstEmptyLane(0b0111, 4), 3);
});

test('markOverflow stores nothing when the META it was given already has OVERFLOW', (t) => {
  const words = new Int32Array(new SharedArrayBuffer(BUCKET_INTS * 4));
  markOverflow(words, 0, OVERFLOW); // stale META claims OVERFLOW: no write
  t.is(Atomics.load(words, B_META), 0);
  markOverflow(words, 0, 0);
  t.is(Atomics.load(words, B_META), OVERFLOW);
});

test('the home bucket is homeSlot over the bucket count: never decreasing in the hash, inside the table', (t) => {
  const prng = new SeededPrng(0xb0c4e7);
  t.log(`seed ${prng.seed}`);
  for (const buckets of [1, 2, 7, 1000, 14_286, 1 << 20]) {
    const hashes = Array.from({ length: 2000 }, () => prng.next()).sort((a, b) => a - b);
    let last = -1;
    for (const h of hashes) {
      const b = homeBucket(h | 0, buckets);
      t.is(b, homeSlot(h | 0, buckets));
      if (b < last || b >= buckets) t.fail(`hash ${h}: bucket ${b} after ${last} of ${buckets}`);
      last = b;
    }
  }
});
