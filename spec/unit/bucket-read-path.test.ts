/**
 * The layout-6 int32 read path over buckets (lib/wasm/read-bucket.wat,
 * bucket-read-path.ts), on hand-built bucket tables (spec/helpers/bucket-table.ts):
 *
 * - The committed bytes are what scripts/build-wasm.mjs assembles from the
 *   .wat; the x86 build differs only in plain META / value loads and no
 *   fences, and the other build fences before every validation.
 * - The layout constants written into the .wat are the ones lib/ defines.
 * - The module never writes the shared memory; it imports only the memory.
 * - Both builds answer like the oracle Map on random tables with deletes and
 *   revivals, along OVERFLOW chains that wrap from the last bucket to bucket
 *   0, for key 0 beside EMPTY lanes (whose key words are 0), and answer RETRY,
 *   never a value or a miss, on a locked bucket and a moved generation; a table
 *   whose every bucket has OVERFLOW (only a stale geometry can look so) ends
 *   in RETRY after one wrap instead of walking forever.
 */
import test from 'ava';
import { Worker } from 'node:worker_threads';
import {
  B_LANES,
  B_META,
  BUCKET_INTS,
  OVERFLOW,
  TOMBSTONE_SHIFT,
  bucketGeometry,
  homeBucket,
  laneMask,
  laneWordOffset,
  lanesFor,
} from '../../lib/bucket.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { BLOCK_TAG_BITS, H_EPOCH, INT_BYTES } from '../../lib/layout.js';
import { FIND_MISS, FIND_RETRY } from '../../lib/wasm/bucket-read-path.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../../lib/memory.js';
import { lockWord, ORDERED_PLAIN_LOADS } from '../../lib/seqlock.js';
import { slotStart } from '../../lib/table.js';
import {
  BUCKET_READ_BUILD,
  F64_BUCKET_LANES,
  I32_BUCKET_LANES,
  bucketReadModule,
  instantiateBucketReadPath,
} from '../../lib/wasm/bucket-read-path.js';
import type { SharedWasmMemory } from '../../lib/wasm/api.js';
import { READ_MISS, READ_RETRY, STATUS_HIT, STATUS_MISS, STATUS_RETRY } from '../../lib/wasm/bucket-read-path.js';
import { WASM_BASE64 } from '../../lib/wasm/read-bucket.wasm.js';
import { WASM_BASE64 as TSO_WASM_BASE64 } from '../../lib/wasm/read-bucket-tso.wasm.js';
import { BucketTableWriter } from '../helpers/bucket-table.js';
import { SeededPrng } from '../helpers/prng.js';
import { MEMORY_IMPORT, assertAssembledFromWat, declaredConstants, moduleInterface, readWat, watCode } from '../helpers/wasm.js';

const wat = readWat('read-bucket');
const count = (text: string, re: RegExp): number => (watCode(text).match(re) ?? []).length;

test('the committed wasm bytes are exactly what scripts/build-wasm.mjs assembles from read-bucket.wat', (t) =>
  assertAssembledFromWat(t, 'read-bucket', WASM_BASE64));

test('the x86 build is read-bucket.wat with its META and value loads plain and no fences; SEQ and epoch loads stay atomic', async (t) => {
  const tso = await assertAssembledFromWat(t, 'read-bucket-tso', TSO_WASM_BASE64);
  // Payload loads (with an offset): META, value words, KEY_REF, key block payload words.
  const payloadLoads = count(wat, /i32\.atomic\.load offset=/g);
  t.true(payloadLoads >= 5 + 1 + 8 + 1 + 3);
  t.is(count(tso, /i32\.atomic\.load offset=/g), 0);
  t.is(count(tso, /\bi32\.load offset=/g), payloadLoads);
  t.is(count(tso, /atomic\.fence/g), 0);
  // What stays atomic: SEQ loads and reloads (getI32, getF64: first, hit, miss; findStr: first,
  // tombstone, miss; getStrI32 / getStrF64: the validating reload), the key block header, the epoch.
  t.is(count(tso, /i32\.atomic\.load \(local\.get \$at\)\)/g), 3 * 2 + 3 + 1);
  t.is(count(tso, /i32\.atomic\.load \(i32\.shl \(local\.get \$w\)/g), 1, 'getStrF64 reloads SEQ at the bucket, not the lane');
  t.is(count(tso, /i32\.atomic\.load \(local\.get \$b\)\)/g), 1, 'the key block header');
  t.is(count(tso, new RegExp(`i32\\.atomic\\.load \\(i32\\.const ${H_EPOCH * INT_BYTES}\\)`, 'g')), 2 * 2 + 2 + 2);
  // The weak-CPU build: one fence right before each validation (epoch load, then SEQ).
  const validations = count(wat, new RegExp(`\\(i32\\.atomic\\.load \\(i32\\.const ${H_EPOCH * INT_BYTES}\\)\\)`, 'g'));
  t.is(count(wat, /\(atomic\.fence\)\s*\((?:br_if \$retry|if) \(i32\.ne \(i32\.shr_u \(i32\.atomic\.load \(i32\.const 128\)\)/g), validations);
  t.is(count(wat, /atomic\.fence/g), validations);
});

test('a process reads buckets with the x86 build exactly when plain loads are ordered on its CPU', (t) => {
  t.is(BUCKET_READ_BUILD, ORDERED_PLAIN_LOADS ? 'tso' : 'strict');
  t.is(bucketReadModule(), bucketReadModule(BUCKET_READ_BUILD));
  t.not(bucketReadModule('tso'), bucketReadModule('strict'));
});

test('the layout constants the .wat was written for are the ones lib/ defines', (t) => {
  const i32 = bucketGeometry('int32', 'int32');
  const f64 = bucketGeometry('int32', 'float64');
  t.is(i32.lanes, I32_BUCKET_LANES);
  t.is(f64.lanes, F64_BUCKET_LANES);
  t.deepEqual(declaredConstants(wat), {
    EPOCH_BYTES: H_EPOCH * INT_BYTES,
    GEN_SHIFT,
    BUCKET_SHIFT: Math.log2(BUCKET_INTS * INT_BYTES),
    META_BYTES: B_META * INT_BYTES,
    KEYS_BYTES: B_LANES * INT_BYTES,
    I32_LANES: lanesFor(2),
    I32_VALUES_BYTES: (B_LANES + I32_BUCKET_LANES) * INT_BYTES,
    F64_LANES: lanesFor(3),
    F64_LOW_BYTES: (B_LANES + F64_BUCKET_LANES) * INT_BYTES,
    F64_HIGH_BYTES: (B_LANES + 2 * F64_BUCKET_LANES) * INT_BYTES,
    I32_LANE_MASK: laneMask(I32_BUCKET_LANES),
    F64_LANE_MASK: laneMask(F64_BUCKET_LANES),
    TOMBSTONE_SHIFT,
    OVERFLOW,
    PAGE_WORDS_SHIFT: Math.log2(WASM_PAGE_BYTES / INT_BYTES),
    BLOCK_TAG_BITS,
    STR_LANES: bucketGeometry('string', 'int32').lanes,
    STR_VALUES_BYTES: (B_LANES + 2 * bucketGeometry('string', 'int32').lanes) * INT_BYTES,
    STR_F64_LANES: bucketGeometry('string', 'float64').lanes,
    STR_F64_LOW_BYTES: (B_LANES + 2 * bucketGeometry('string', 'float64').lanes) * INT_BYTES,
    STR_F64_HIGH_BYTES: (B_LANES + 3 * bucketGeometry('string', 'float64').lanes) * INT_BYTES,
    FIND_MISS,
    FIND_RETRY,
  });
  const code = watCode(wat);
  for (const offset of [B_META * INT_BYTES, B_LANES * INT_BYTES, (B_LANES + I32_BUCKET_LANES) * INT_BYTES, (B_LANES + F64_BUCKET_LANES) * INT_BYTES, (B_LANES + 2 * F64_BUCKET_LANES) * INT_BYTES]) {
    t.regex(code, new RegExp(`offset=${offset} `));
  }
  t.regex(code, new RegExp(`\\(i32\\.const ${laneMask(I32_BUCKET_LANES)}\\)`));
  t.regex(code, new RegExp(`\\(i32\\.const ${laneMask(F64_BUCKET_LANES)}\\)`));
  t.regex(code, new RegExp(`\\(i32\\.const ${OVERFLOW}\\)`));
  t.regex(code, new RegExp(`\\(i32\\.const ${TOMBSTONE_SHIFT}\\)`));
  t.is(count(code, new RegExp(`\\(i32\\.const ${BUCKET_INTS * INT_BYTES}\\)`, 'g')), 3, 'each probe (getI32, getF64, findStr) steps one bucket');
  t.regex(code, new RegExp(`f64\\.const ${READ_MISS}\\)`));
  t.regex(code, new RegExp(`f64\\.const ${READ_RETRY}\\)`));
});

test('the module only reads the shared memory: no store, rmw, notify or grow; imports only the memory', (t) => {
  t.notRegex(watCode(wat), /store|\.rmw|notify|memory\.grow|memory\.fill|memory\.copy|memory\.init/);
  const { imports, exports } = moduleInterface(bucketReadModule());
  t.deepEqual(imports, MEMORY_IMPORT);
  t.deepEqual(exports, ['getI32', 'getF64', 'findStr', 'lastSeq', 'lastLane', 'getStrI32', 'getStrF64', 'lastF64']);
});

const GEN = 3;
/** How long the torn-read test reads while the worker writes. */
const TORN_READ_MS = 400;
/** Word index of bucket 0 in the test memory: line-aligned, past the epoch word. */
const FIRST = 4 * BUCKET_INTS;
const f64Scratch = new Float64Array(1);
const f64Words = new Int32Array(f64Scratch.buffer);
const f64Value = (x: number): number[] => {
  f64Scratch[0] = x;
  return [f64Words[0] as number, f64Words[1] as number];
};

type Answer = number | 'miss' | 'retry';
interface Fixture {
  memory: SharedWasmMemory;
  words: Int32Array;
  writer: BucketTableWriter;
  probe(key: number, hash: number, gen?: number): Answer;
  /** The value words of `x` for this map's value kind, and the value the probe answers for them. */
  value(x: number): { words: number[]; read: number };
  /** The value the probe answers for these value words. */
  decode(words: readonly number[]): number;
}

function fixture(values: 'int32' | 'float64', build: 'tso' | 'strict', buckets: number): Fixture {
  const bytes = (FIRST + buckets * BUCKET_INTS) * INT_BYTES;
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  const memory = createSharedMemory(pages * WASM_PAGE_BYTES, pages * WASM_PAGE_BYTES);
  const words = new Int32Array(memory.buffer);
  Atomics.store(words, H_EPOCH, GEN << GEN_SHIFT);
  const wasm = instantiateBucketReadPath(memory.memory, build);
  const writer = new BucketTableWriter(words, FIRST, buckets, bucketGeometry('int32', values));
  return {
    memory: memory.memory,
    words,
    writer,
    probe(key, hash, gen = GEN) {
      if (values === 'int32') {
        const r = wasm.getI32(key, hash, FIRST, buckets, gen);
        return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
      }
      const status = wasm.getF64(key, hash, FIRST, buckets, gen);
      if (status !== STATUS_HIT && status !== STATUS_MISS && status !== STATUS_RETRY) throw new Error(`status ${status}`);
      return status === STATUS_MISS ? 'miss' : status === STATUS_RETRY ? 'retry' : wasm.lastF64();
    },
    value(x) {
      return values === 'int32' ? { words: [x | 0], read: x | 0 } : { words: f64Value(x / 8), read: x / 8 };
    },
    decode(words) {
      if (values === 'int32') return words[0] as number;
      f64Words[0] = words[0] as number;
      f64Words[1] = words[1] as number;
      return f64Scratch[0] as number;
    },
  };
}

for (const values of ['int32', 'float64'] as const) for (const build of ['tso', 'strict'] as const) {
  test(`${values}, ${build} build: a random table with deletes and revivals answers like the oracle`, (t) => {
    const prng = new SeededPrng(0x6b0c + (values === 'int32' ? 0 : 1));
    t.log(`seed ${prng.seed}`);
    const lanes = bucketGeometry('int32', values).lanes;
    const buckets = 701; // not a power of two
    const f = fixture(values, build, buckets);
    const hashOf = new Map<number, number>();
    const hash = (k: number): number => {
      let h = hashOf.get(k);
      if (h === undefined) hashOf.set(k, (h = prng.next() | 0));
      return h;
    };
    const budget = Math.floor(buckets * lanes * 0.8);
    const keys: number[] = [];
    for (let i = 0; keys.length < budget - 200; i++) {
      const k = i === 0 ? 0 : prng.next() | 0; // key 0 among them, beside EMPTY lanes whose words are 0
      if (hashOf.has(k)) continue;
      keys.push(k);
      f.writer.put(k, hash(k), f.value(i).words);
    }
    // Deletes, then some revivals with new values, then fresh inserts into what is left.
    const deleted = new Set<number>();
    for (let i = 0; i < keys.length; i += 5) if (f.writer.remove(keys[i] as number, hash(keys[i] as number))) deleted.add(keys[i] as number);
    let revived = 0;
    for (let i = 0; i < keys.length; i += 15) {
      const k = keys[i] as number;
      if (f.writer.put(k, hash(k), f.value(-i).words) === 'revived') revived++;
      deleted.delete(k);
    }
    t.true(revived > 0);
    let overflowed = 0;
    for (let b = 0; b < buckets; b++) if ((f.words[f.writer.at(b) + B_META] as number) & OVERFLOW) overflowed++;
    t.true(overflowed > buckets / 10, `${overflowed} buckets overflowed: chains are exercised`);
    for (const [k, v] of f.writer.oracle) {
      const want = f.decode(v);
      const got = f.probe(k, hash(k));
      if (got !== want) t.fail(`key ${k}: ${got}, oracle ${want}`);
    }
    for (const k of deleted) if (f.probe(k, hash(k)) !== 'miss') t.fail(`deleted key ${k}: ${f.probe(k, hash(k))}`);
    for (let i = 0; i < 2000; i++) {
      const k = prng.next() | 0;
      if (hashOf.has(k)) continue;
      const got = f.probe(k, prng.next() | 0);
      if (got !== 'miss') t.fail(`absent key ${k}: ${got}`);
    }
    t.pass();
  });

  test(`${values}, ${build} build: OVERFLOW chains wrap from the last bucket to bucket 0; RETRY on a lock, a moved generation, and after one wrap`, (t) => {
    const lanes = bucketGeometry('int32', values).lanes;
    const buckets = 5;
    const f = fixture(values, build, buckets);
    const last = buckets - 1;
    const lastHash = slotStart(last, buckets) | 0; // the smallest hash homed at the last bucket
    t.is(homeBucket(lastHash, buckets), last);
    // lanes + 2 keys homed at the last bucket: it fills, the rest go to bucket 0 past the wrap.
    const chain = Array.from({ length: lanes + 2 }, (_, i) => 1000 + i);
    chain.forEach((k, i) => f.writer.put(k, lastHash, f.value(i + 1).words));
    t.true(((f.words[f.writer.at(last) + B_META] as number) & OVERFLOW) !== 0);
    t.is((f.words[f.writer.at(0) + B_META] as number) & OVERFLOW, 0);
    chain.forEach((k, i) => t.is(f.probe(k, lastHash), f.value(i + 1).read, `key ${k}`));
    t.is(f.probe(0, lastHash), 'miss', 'key 0 does not match EMPTY lanes');
    t.is(f.probe(7, lastHash), 'miss', 'absent: bucket 0 has no OVERFLOW');
    f.writer.remove(chain[lanes] as number, lastHash); // the first key past the wrap
    t.is(f.probe(chain[lanes] as number, lastHash), 'miss', 'a tombstone is a miss');
    t.is(f.probe(chain[0] as number, lastHash, GEN + 1), 'retry', 'another generation: retry on a hit');
    t.is(f.probe(7, lastHash, GEN + 1), 'retry', 'and on a miss');

    // A locked bucket: retry, whether it holds the key or is only walked through.
    const at0 = f.writer.at(0);
    const seq = Atomics.load(f.words, at0);
    Atomics.store(f.words, at0, lockWord(5, seq));
    t.is(f.probe(chain[lanes + 1] as number, lastHash), 'retry', 'the key\'s bucket is locked');
    t.is(f.probe(chain[0] as number, lastHash), f.value(1).read, 'a key before the locked bucket is still read');
    const homeSeq = Atomics.load(f.words, f.writer.at(last));
    Atomics.store(f.words, f.writer.at(last), lockWord(6, homeSeq));
    t.is(f.probe(chain[0] as number, lastHash), 'retry', 'the home bucket is locked');
    Atomics.store(f.words, f.writer.at(last), homeSeq);
    Atomics.store(f.words, at0, seq);
    t.is(f.probe(chain[lanes + 1] as number, lastHash), f.value(lanes + 2).read, 'unlocked again');

    // Every bucket full and OVERFLOWing: no live table looks so; a stale geometry may.
    for (let b = 0; b < buckets; b++) Atomics.or(f.words, f.writer.at(b) + B_META, OVERFLOW | laneMask(lanes));
    t.is(f.probe(424242, lastHash), 'retry', 'one wrap, then retry');
  });
}

/**
 * The validation is what keeps a read whole: a worker rewrites one float64
 * value, low word then high word, under the bucket's seqlock, alternating
 * between two values that differ in both words, while this thread reads it
 * with both builds. Every answer must be one of the two values or RETRY.
 * (Without the validating SEQ reload, a read that overlaps a write returns
 * one value's low word with the other's high; checked by deleting the reload
 * from getF64.)
 */
test('float64, both builds: a value rewritten by another thread is never read torn', async (t) => {
  const f = fixture('float64', 'tso', 8);
  const strict = instantiateBucketReadPath(f.memory, 'strict');
  const strictProbe = (k: number, h: number): Answer => {
    const status = strict.getF64(k, h, FIRST, 8, GEN);
    return status === STATUS_MISS ? 'miss' : status === STATUS_RETRY ? 'retry' : strict.lastF64();
  };
  const key = 77;
  const hash = 0x12345678;
  const a = f.value(3).words as [number, number];
  const b = f64Value(-1.2345e300) as [number, number];
  f.writer.put(key, hash, a);
  const found = f.writer.find(key, hash);
  if (found === undefined) throw new Error('not inserted');
  const g = bucketGeometry('int32', 'float64');
  const at = f.writer.at(found.b);
  const stopAt = FIRST - 1;
  const worker = new Worker(new URL('./workers/bucket-flipper.worker.js', import.meta.url), {
    workerData: { memory: f.memory, seqAt: at, lowAt: at + laneWordOffset(g, 1, found.lane), highAt: at + laneWordOffset(g, 2, found.lane), stopAt, a, b },
  });
  const writes = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const allowed = new Set([f.decode(a), f.decode(b)]);
  const seen = new Map<string, number>();
  const deadline = Date.now() + TORN_READ_MS;
  let reads = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 1000; i++, reads++) {
      const got = i % 2 === 0 ? f.probe(key, hash) : strictProbe(key, hash);
      const label = typeof got === 'number' ? (allowed.has(got) ? String(got) : `TORN ${got}`) : got;
      seen.set(label, (seen.get(label) ?? 0) + 1);
    }
  }
  Atomics.store(f.words, stopAt, 1);
  const written = await writes;
  t.log(`${reads} reads against ${written} writes: ${JSON.stringify(Object.fromEntries(seen))}`);
  t.false([...seen.keys()].some((k) => k.startsWith('TORN')), 'a torn value was returned');
  t.true(written > 1000, 'the writer ran');
  t.true((seen.get('retry') ?? 0) > 0, 'reads overlapped writes');
});
