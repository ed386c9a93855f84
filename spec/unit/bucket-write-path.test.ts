/**
 * Layout 6, the int32-key write paths over buckets in WebAssembly
 * (lib/wasm/write-bucket.wat, bucket-write-path.ts):
 *
 * - the committed bytes are what scripts/build-wasm.mjs assembles, and the
 *   layout constants written into the .wat are lib/'s;
 * - it writes exactly what the JS protocol writes: the same random sets,
 *   deletes and adds on crowded, wrapping chains leave two tables (one
 *   written by the wasm path, one by lib/bucket-write.ts) equal word for
 *   word (SEQ versions, META, lanes, SIZE, REMAINING), for int32 and float64
 *   values, with no SLOW answer;
 * - every SLOW answer changed nothing and left the writer idle: a locked
 *   bucket on the key's chain, another generation, no writer record, a spent
 *   insert budget, an add that overflows int32 (told from a real INT32_MIN
 *   result by handedBack()).
 */
import test from 'ava';
import { B_LANES, B_META, BUCKET_INTS, OVERFLOW, TOMBSTONE_SHIFT } from '../../lib/bucket.js';
import { LANE_INFO_STATE_SHIFT, P_LANE_INFO, P_LANE_WORDS } from '../../lib/bucket-write.js';
import { LANE_EMPTY, LANE_FULL, LANE_TOMBSTONE } from '../../lib/bucket.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import {
  H_EPOCH,
  INTENT_COPY,
  INTENT_DELETE,
  INTENT_PUT,
  INTENT_SIZED,
  INT_BYTES,
  T_REMAINING,
  T_SIZE,
  W_ACTIVE_GEN,
  W_INTENT,
  W_INTENT_PAYLOAD,
  W_INTENT_TABLE,
  W_LOCK_AT,
  W_LOCK_SEQ,
} from '../../lib/layout.js';
import { OWNER_TAG_SHIFT, VERSION_MASK, VERSION_ONE, lockWord } from '../../lib/seqlock.js';
import { slotStart } from '../../lib/table.js';
import { fmix32 } from '../../lib/hashers/murmur3.js';
import {
  ADD_SLOW_RESULT,
  DEL_ABSENT,
  DEL_DELETED,
  DEL_SLOW,
  PUT_INSERTED,
  PUT_NEED_BLOCK,
  PUT_STORED_BLOCK,
  PUT_OVERWROTE,
  PUT_SLOW,
} from '../../lib/wasm/bucket-write-path.js';
import { WASM_BASE64 } from '../../lib/wasm/write-bucket.wasm.js';
import { BucketHarness, createValueTables, harnessRegionInts } from '../helpers/bucket-harness.js';
import { SeededPrng } from '../helpers/prng.js';
import { assertAssembledFromWat, declaredConstants, readWat } from '../helpers/wasm.js';

const wat = readWat('write-bucket');

test('the committed wasm bytes are exactly what scripts/build-wasm.mjs assembles from write-bucket.wat', (t) =>
  assertAssembledFromWat(t, 'write-bucket', WASM_BASE64));

test('the layout constants the .wat was written for are the ones lib/ defines', (t) => {
  t.deepEqual(declaredConstants(wat), {
    EPOCH_BYTES: H_EPOCH * INT_BYTES,
    GEN_SHIFT,
    BUCKET_SHIFT: Math.log2(BUCKET_INTS * INT_BYTES),
    META_BYTES: B_META * INT_BYTES,
    KEYS_BYTES: B_LANES * INT_BYTES,
    TOMBSTONE_SHIFT,
    OVERFLOW,
    OWNER_TAG_SHIFT,
    VERSION_MASK,
    VERSION_ONE,
    W_ACTIVE_GEN_BYTES: W_ACTIVE_GEN * INT_BYTES,
    W_LOCK_AT_BYTES: W_LOCK_AT * INT_BYTES,
    W_LOCK_SEQ_BYTES: W_LOCK_SEQ * INT_BYTES,
    W_INTENT_BYTES: W_INTENT * INT_BYTES,
    W_INTENT_TABLE_BYTES: W_INTENT_TABLE * INT_BYTES,
    P_LANE_INFO_BYTES: (W_INTENT_PAYLOAD + P_LANE_INFO) * INT_BYTES,
    P_KEY_BYTES: (W_INTENT_PAYLOAD + P_LANE_WORDS) * INT_BYTES,
    P_LOW_BYTES: (W_INTENT_PAYLOAD + P_LANE_WORDS + 1) * INT_BYTES,
    P_HIGH_BYTES: (W_INTENT_PAYLOAD + P_LANE_WORDS + 2) * INT_BYTES,
    LANE_INFO_STATE_SHIFT,
    LANE_EMPTY,
    LANE_FULL,
    LANE_TOMBSTONE,
    T_SIZE_BYTES: T_SIZE * INT_BYTES,
    T_REMAINING_BYTES: T_REMAINING * INT_BYTES,
    INTENT_PUT,
    INTENT_DELETE,
    INTENT_SIZED,
    PUT_SLOW,
    PUT_INSERTED,
    PUT_OVERWROTE,
    DEL_SLOW,
    DEL_DELETED,
    DEL_ABSENT,
    ADD_SLOW_RESULT,
    INTENT_COPY,
    PUT_NEED_BLOCK,
    PUT_STORED_BLOCK,
    FMIX_C1: 0x85ebca6b,
    FMIX_C2: 0xc2b2ae35,
  });
  // copyRange's inline fmix32 is murmur3's: the same hash for every key tried.
  for (const k of [0, 1, -1, 0x7fffffff, 123456789]) t.is(fmix32(k), fmix32Reference(k));
});

/** murmur3's fmix32 written out with the constants declared in the .wat, for the check above. */
function fmix32Reference(h: number): number {
  const c = declaredConstants(wat);
  h ^= h >>> 16;
  h = Math.imul(h, c.FMIX_C1 as number);
  h ^= h >>> 13;
  h = Math.imul(h, c.FMIX_C2 as number);
  h ^= h >>> 16;
  return h | 0;
}

const BUCKETS = 37;

for (const values of ['int32', 'float64'] as const) {
  test(`${values}: the wasm path writes word for word what the JS protocol writes`, (t) => {
    const prng = new SeededPrng(values === 'int32' ? 0xd1ff : 0xd1f6);
    t.log(`seed ${prng.seed}`);
    const [ga, gb] = createValueTables(values, BUCKETS, BUCKETS);
    const homes = [0, 11, BUCKETS - 1].map((b) => slotStart(b, BUCKETS) | 0);
    const hash = (k: number): number => ((k & 1) === 0 ? (homes[(k >>> 1) % homes.length] as number) : Math.imul(k, 0x9e3779b1));
    const js = new BucketHarness(ga!, 0, hash);
    const wasm = new BucketHarness(gb!, 1, hash, true);
    const pool = Array.from({ length: values === 'int32' ? 150 : 90 }, (_, i) => (i === 0 ? 0 : prng.next() | 0));
    const region = (h: BucketHarness): number[] => Array.from(h.words.subarray(h.table.base, h.table.base + harnessRegionInts(BUCKETS)));
    for (let op = 0; op < 6000; op++) {
      const k = pool[prng.next() % pool.length] as number;
      const r = prng.next() % 10;
      if (r < 3) t.is(wasm.delete(k), js.delete(k), `delete ${k}`);
      else if (r < 5 && values === 'int32') {
        const delta = (prng.next() % 2001) - 1000;
        t.is(wasm.add(k, delta), js.add(k, delta), `add ${k}`);
      } else {
        const v = values === 'int32' ? prng.next() | 0 : (prng.next() | 0) / 7;
        t.is(wasm.set(k, v), js.set(k, v), `set ${k}`);
      }
      if (op % 250 === 0) t.deepEqual(region(wasm), region(js), `tables differ after op ${op}`);
    }
    t.deepEqual(region(wasm), region(js));
    t.is(wasm.slow, 0, 'one thread: never SLOW');
    t.deepEqual(wasm.audit().problems, []);
    t.is(Atomics.load(wasm.words, wasm.rec + W_ACTIVE_GEN), 0, 'idle');
  });
}

test('every SLOW answer changes nothing and leaves the writer idle', (t) => {
  const [geometry] = createValueTables('int32', 4);
  const h = new BucketHarness(geometry!, 0, () => 0, true); // every key homed at bucket 0
  const w = h.write!;
  const { first, buckets, base } = h.table;
  for (let k = 1; k <= 9; k++) h.set(k, k); // bucket 0 full, 1 holds 2
  const snapshot = (): number[] => Array.from(h.words.subarray(base, base + harnessRegionInts(buckets)));
  const idle = (): void => {
    t.is(Atomics.load(h.words, h.rec + W_ACTIVE_GEN), 0, 'idle');
  };
  const before = snapshot();
  // A locked bucket holding the key, and one open to an insert.
  const at1 = first + BUCKET_INTS;
  const seq1 = Atomics.load(h.words, at1);
  Atomics.store(h.words, at1, lockWord(9, seq1));
  t.is(w.putI32(8, 0, 80, first, buckets, 0, base), PUT_SLOW, 'the key\'s bucket is locked');
  t.is(w.putI32(100, 0, 1, first, buckets, 0, base), PUT_SLOW, 'the insert\'s bucket is locked');
  t.is(w.deleteI32(8, 0, first, buckets, 0, base), DEL_SLOW);
  idle();
  Atomics.store(h.words, at1, seq1);
  t.deepEqual(snapshot(), before, 'nothing changed');
  Atomics.store(h.words, at1, lockWord(9, seq1));
  t.is(w.putI32(3, 0, 33, first, buckets, 0, base), PUT_OVERWROTE, 'a key before the locked bucket is still written');
  Atomics.store(h.words, at1, seq1);
  t.is(h.get(3), 33);
  // Another generation.
  t.is(w.putI32(8, 0, 80, first, buckets, 1, base), PUT_SLOW);
  t.is(w.deleteI32(8, 0, first, buckets, 1, base), DEL_SLOW);
  Atomics.store(h.words, H_EPOCH, 1 << GEN_SHIFT);
  t.is(w.putI32(8, 0, 80, first, buckets, 0, base), PUT_SLOW, 'the epoch moved on');
  Atomics.store(h.words, H_EPOCH, 0);
  idle();
  // No writer record.
  w.setWriter(0, 0);
  t.is(w.putI32(8, 0, 80, first, buckets, 0, base), PUT_SLOW);
  t.is(w.deleteI32(8, 0, first, buckets, 0, base), DEL_SLOW);
  w.setWriter(h.rec, h.tag);
  // The insert budget spent.
  const remaining = Atomics.load(h.words, base + T_REMAINING);
  Atomics.store(h.words, base + T_REMAINING, 0);
  t.is(w.putI32(100, 0, 1, first, buckets, 0, base), PUT_SLOW);
  t.is(Atomics.load(h.words, base + T_REMAINING), 0, 'the unit given back');
  t.is(w.putI32(8, 0, 88, first, buckets, 0, base), PUT_OVERWROTE, 'an overwrite needs no budget');
  h.set(8, 8);
  Atomics.store(h.words, base + T_REMAINING, remaining);
  // add: an int32 overflow hands back; a real INT32_MIN does not.
  h.set(5, -0x7fffffff);
  const sized = snapshot();
  t.is(w.addI32(5, 0, -2, first, buckets, 0, base), ADD_SLOW_RESULT);
  t.is(w.handedBack(), 1);
  t.deepEqual(snapshot(), sized, 'nothing changed');
  t.is(w.addI32(5, 0, -1, first, buckets, 0, base), -0x80000000);
  t.is(w.handedBack(), 0, 'a real result');
  idle();
  t.is(Atomics.load(h.words, h.rec + W_INTENT), 0);
  t.is(Atomics.load(h.words, h.rec + W_LOCK_AT), 0);
  t.is(w.deleteI32(424242, 0, first, buckets, 0, base), DEL_ABSENT);
  t.deepEqual(h.audit().problems, []);
});
