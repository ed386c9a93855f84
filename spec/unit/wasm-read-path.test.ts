/**
 * The WebAssembly bucket probes (lib/wasm/read-bucket.wat through
 * bucket-read-path.ts) over the tables a real SharedFlatMap writes, end to
 * end. (The modules themselves, on hand-built bucket tables, are tested in
 * spec/unit/bucket-read-path.test.ts and bucket-read.test.ts: bytes, the x86
 * build, layout constants, no stores, oracle tables, OVERFLOW chains that
 * wrap, a torn-read test.)
 *
 * - int32 keys, int32 (7 lanes) and float64 (4 lanes) values, with the map's
 *   own instance and with both builds: getI32 / getF64 answer the map's
 *   hits, misses and tombstones at the map's first bucket and bucket count,
 *   and RETRY, never a value or a miss, when the key's bucket is locked, when
 *   the caller's generation is not the current one, and when the epoch word
 *   moved on under an unchanged table (a flip).
 * - string keys (int32, float64 and string values): for keys of 0 to
 *   KEY_MAX_UNITS one-byte units, getStrI32 / getStrF64 / findStr answer
 *   what the map's JS read answers: hits (findStr: the key's bucket, the
 *   lane whose HASH is the key's, and the SEQ it read), misses for keys that
 *   differ in the last unit or by one more unit and for tombstones (findStr
 *   too: it answers FULL lanes only); a key whose
 *   block has garbage in the padding bytes past its last unit (a reused
 *   block) is still found. A tombstone whose key block was reclaimed
 *   (KEY_REF = NULL_BLOCK) is stepped past by the probes (a miss, not RETRY)
 *   and by the map's JS paths (get, delete, set of a key past it, also a key
 *   too long for wasm); set then gives the key a new lane and leaves the
 *   reclaimed lane alone. RETRY, never a value, a miss or a trap: a locked
 *   bucket, another generation or a moved epoch (findStr leaves a hit's
 *   validation to its caller and answers the lane), and a FULL lane whose
 *   KEY_REF is null or outside the memory.
 * - get takes the wasm string probe for short one-byte keys with the built-in
 *   murmur3, and the JS loop for longer keys, two-byte keys and other hashers.
 */
import test from 'ava';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { LANE_TOMBSTONE, laneWordOffset } from '../../lib/bucket.js';
import { BLOCK_HEADER_INTS, C_KEY_REF, H_EPOCH, INT_BYTES, NULL_BLOCK } from '../../lib/layout.js';
import { lockWord } from '../../lib/seqlock.js';
import {
  F64_BUCKET_LANES,
  FIND_MISS,
  FIND_RETRY,
  I32_BUCKET_LANES,
  KEY_MAX_UNITS,
  READ_MISS,
  READ_RETRY,
  STATUS_MISS,
  STATUS_RETRY,
  instantiateBucketReadPath,
  type WasmBucketReadPath,
} from '../../lib/wasm/bucket-read-path.js';
import { int32LaneOf, lanesWith, packedKeyArgs } from '../helpers/wasm.js';

type AnyMap = SharedFlatMap<unknown, unknown>;
const internals = (map: AnyMap) => SharedFlatMap.unsafeExposeInternals(map);
const wasmOf = (map: AnyMap): WasmBucketReadPath => (map as unknown as { wasm: WasmBucketReadPath }).wasm;

const BUILDS = ['map', 'tso', 'strict'] as const;

for (const values of ['int32', 'float64'] as const) for (const build of BUILDS) {
  test(`int32 keys, ${values}, ${build === 'map' ? "the map's own" : build} build: hit, miss, tombstone; RETRY on a locked bucket, another generation and a moved epoch`, (t) => {
    const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 1000 });
    const value = (k: number): number => (values === 'float64' ? k / 4 : k * 3);
    for (let k = 0; k < 500; k++) map.set(k, value(k));
    map.delete(7);
    const any = map as unknown as AnyMap;
    const wasm = build === 'map' ? wasmOf(any) : instantiateBucketReadPath(internals(any).memory.memory, build);
    // Taken once: unsafeExposeInternals refreshes the cached table, which must
    // not happen while the test fakes the epoch word below.
    const { table, g, gen: currentGen, words } = internals(any);
    t.is(g.lanes, values === 'int32' ? I32_BUCKET_LANES : F64_BUCKET_LANES, 'the lanes a bucket the probe assumes');
    const probe = (key: number, gen = currentGen): number | 'miss' | 'retry' => {
      const args = [key, hashers.default.hashInt(key), table.first, table.buckets, gen] as const;
      if (values === 'int32') {
        const r = wasm.getI32(...args);
        return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
      }
      const status = wasm.getF64(...args);
      return status === STATUS_MISS ? 'miss' : status === STATUS_RETRY ? 'retry' : wasm.lastF64();
    };
    for (let k = 0; k < 500; k++) if (k !== 7 && probe(k) !== value(k)) t.fail(`hit ${k}: ${probe(k)}`);
    t.is(probe(7), 'miss', 'a tombstone is a miss');
    t.is(probe(100_000), 'miss');
    t.is(probe(-1), 'miss');
    t.is(probe(42, currentGen + 1), 'retry', 'another generation: retry');
    t.is(probe(100_000, currentGen + 1), 'retry', 'also for a miss');

    const { at, lane } = int32LaneOf(map, 42);
    t.true(lane >= 0);
    const seq = Atomics.load(words, at);
    Atomics.store(words, at, lockWord(3, seq));
    t.is(probe(42), 'retry', 'a locked bucket: retry, not its value');
    Atomics.store(words, at, seq);
    t.is(probe(42), value(42));
    // The epoch word in another generation while the table is unchanged (a flip happened).
    const epoch = Atomics.load(words, H_EPOCH);
    Atomics.store(words, H_EPOCH, epoch + (1 << GEN_SHIFT));
    t.is(probe(42), 'retry', 'the generation moved: retry');
    t.is(probe(100_000), 'retry', 'also for a miss');
    Atomics.store(words, H_EPOCH, epoch);
    t.is(probe(42), value(42));
  });
}

/** Every one-byte key shape the compare must get right, at every length up to KEY_MAX_UNITS + 1. */
function keysUpTo(max: number): string[] {
  const keys: string[] = [];
  for (let n = 0; n <= max; n++) {
    let k = '';
    for (let i = 0; i < n; i++) k += String.fromCharCode((i * 37 + n * 11) % 256);
    keys.push(k);
  }
  return keys;
}

for (const values of ['int32', 'float64', 'string'] as const) {
  test(`string keys, ${values} values: the probe answers like the map's JS read, steps past reclaimed tombstones, and RETRY when it cannot know`, (t) => {
    const map = new SharedFlatMap<string, unknown>({ keys: 'string', values, capacity: 200 }) as AnyMap;
    const value = (i: number): unknown => (values === 'int32' ? i * 3 - 7 : values === 'float64' ? i / 3 : `v${i}`);
    const keys = keysUpTo(KEY_MAX_UNITS + 1);
    keys.forEach((k, i) => map.set(k, value(i)));
    // Neighbours that differ only in the last unit, or by one more unit: absent.
    const absent = keys.flatMap((k) => (k.length === 0 ? ['\0'] : [k.slice(0, -1) + String.fromCharCode(k.charCodeAt(k.length - 1) ^ 0x40), k + 'x']));
    const ws = wasmOf(map);
    const { table, g, gen, words } = internals(map);
    const keyRefAt = (l: { at: number; lane: number }): number => l.at + laneWordOffset(g, C_KEY_REF, l.lane);
    const probe = (key: string, gen_ = gen): unknown => {
      const args = [...packedKeyArgs(key), table.first, table.buckets] as const;
      if (values === 'int32') {
        const r = ws.getStrI32(...args, gen_);
        return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
      }
      if (values === 'float64') {
        const s = ws.getStrF64(...args, gen_);
        return s === STATUS_MISS ? 'miss' : s === STATUS_RETRY ? 'retry' : ws.lastF64();
      }
      const at = ws.findStr(...args, g.lanes, gen_);
      return at === FIND_MISS ? 'miss' : at === FIND_RETRY ? 'retry' : { at, lane: ws.lastLane(), seq: ws.lastSeq() };
    };
    const hashOf = (key: string): number => packedKeyArgs(key)[0];
    /** The one FULL or TOMBSTONE lane whose HASH is `key`'s (the test keys' hashes are distinct). */
    const laneOf = (key: string) => {
      const found = lanesWith(map, hashOf(key));
      if (found.length !== 1) throw new Error(`${found.length} lanes hold the HASH of ${JSON.stringify(key)}`);
      return found[0]!;
    };
    const expectHits = (what: string): void => {
      for (let i = 0; i <= KEY_MAX_UNITS; i++) {
        const k = keys[i] as string;
        const got = probe(k);
        if (values === 'string') {
          const l = laneOf(k);
          t.deepEqual(got, { ...l, seq: Atomics.load(words, l.at) }, `${what}, key of ${i} units: its bucket, lane and SEQ`);
        } else if (got !== value(i)) t.fail(`${what}, key of ${i} units: ${String(got)}`);
        t.deepEqual(map.get(k), value(i), `${what}, key of ${i} units: the map's get`);
      }
    };
    expectHits('fresh');
    for (const k of absent) if (k.length <= KEY_MAX_UNITS && probe(k) !== 'miss') t.fail(`absent ${JSON.stringify(k)}: ${String(probe(k))}`);
    // Garbage in the padding bytes past the last unit of every key block (as a reused block keeps them).
    for (const k of keys.slice(0, KEY_MAX_UNITS + 1)) {
      if (k.length % 4 === 0) continue;
      const padded = (words[keyRefAt(laneOf(k))] as number) + BLOCK_HEADER_INTS + (k.length >>> 2);
      words[padded] = (words[padded] as number) | (-1 << ((k.length % 4) * 8));
    }
    expectHits('garbage padding');

    // A tombstone is a miss (findStr too: it answers FULL lanes only).
    t.true(map.delete(keys[5]));
    const tomb5 = laneOf(keys[5] as string);
    t.deepEqual(lanesWith(map, hashOf(keys[5] as string), (s) => s === LANE_TOMBSTONE), [tomb5]);
    t.is(probe(keys[5] as string), 'miss');
    t.is(map.get(keys[5]), undefined);
    // A tombstone whose key block was reclaimed (KEY_REF = NULL_BLOCK, reclaimTombstoneKeys) holds no
    // key: the wasm probes step past it (a miss, not RETRY), and so do the JS paths (also for the
    // 33-unit key). set gives the key a new lane; delete finds nothing to delete.
    words[keyRefAt(tomb5)] = NULL_BLOCK;
    t.is(probe(keys[5] as string), 'miss', 'a reclaimed tombstone of the key: miss, not retry');
    t.is(map.get(keys[5]), undefined);
    t.false(map.delete(keys[5]));
    map.set(keys[5], value(5));
    t.deepEqual(map.get(keys[5]), value(5), 'set again: a new lane');
    const lanes5 = lanesWith(map, hashOf(keys[5] as string));
    t.is(lanes5.length, 2, 'the reclaimed tombstone and the new lane');
    t.is(words[keyRefAt(tomb5)], NULL_BLOCK, 'the reclaimed tombstone stays as it was');
    t.not(words[keyRefAt(lanes5.find((l) => l.at !== tomb5.at || l.lane !== tomb5.lane)!)], NULL_BLOCK);
    const long = keys[KEY_MAX_UNITS + 1] as string;
    t.true(map.delete(long));
    for (const l of lanesWith(map, hashOf(long), (s) => s === LANE_TOMBSTONE)) words[keyRefAt(l)] = NULL_BLOCK;
    t.is(map.get(long), undefined, 'a long key (the JS loop) past its reclaimed tombstone');
    t.false(map.delete(long));
    map.set(long, value(KEY_MAX_UNITS + 1));
    t.deepEqual(map.get(long), value(KEY_MAX_UNITS + 1));
    t.is(map.size, keys.length);

    // RETRY cases, never a value or a miss.
    const nine = keys[9] as string;
    const l9 = laneOf(nine);
    const seq = Atomics.load(words, l9.at);
    Atomics.store(words, l9.at, lockWord(3, seq));
    t.is(probe(nine), 'retry', 'a locked bucket');
    Atomics.store(words, l9.at, seq);
    const epoch = Atomics.load(words, H_EPOCH);
    if (values === 'string') {
      // findStr leaves a hit's validation (epoch, SEQ) to its caller, which reads the value block first.
      t.deepEqual(probe(nine, gen + 1), { ...l9, seq }, 'a hit in another generation: the lane, for the caller to validate');
    } else {
      t.is(probe(nine, gen + 1), 'retry', 'another generation');
      Atomics.store(words, H_EPOCH, epoch + (1 << GEN_SHIFT));
      t.is(probe(nine), 'retry', 'the epoch moved');
    }
    Atomics.store(words, H_EPOCH, epoch + (1 << GEN_SHIFT));
    t.is(probe('not there at all'), 'retry', 'a miss is validated: the epoch moved');
    Atomics.store(words, H_EPOCH, epoch);
    const ref = words[keyRefAt(l9)] as number;
    for (const garbage of [NULL_BLOCK, 0x3fff_ffff, -1, internals(map).memory.byteLength / INT_BYTES - 1]) {
      words[keyRefAt(l9)] = garbage;
      t.is(probe(nine), 'retry', `a key reference ${garbage} outside the memory or null: retry, no trap`);
    }
    words[keyRefAt(l9)] = ref;
    t.deepEqual(map.get(nine), value(9));
    t.deepEqual(map.get(long), value(KEY_MAX_UNITS + 1), 'a longer key: the JS loop');
  });
}

test('get takes the wasm probe for short one-byte keys with murmur3, the JS loop otherwise', (t) => {
  /** Count the calls `map` makes to its getStrI32. */
  const spy = (map: SharedFlatMap<string, number>): { calls: number } => {
    const counter = { calls: 0 };
    const fields = map as unknown as { wasm: WasmBucketReadPath };
    const ws = fields.wasm;
    fields.wasm = {
      ...ws,
      getStrI32: (...args) => {
        counter.calls++;
        return ws.getStrI32(...args);
      },
    };
    return counter;
  };
  const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32' });
  const calls = spy(map);
  map.set('short', 1);
  map.set('x'.repeat(KEY_MAX_UNITS + 1), 2);
  map.set('\u0416two-byte', 3);
  calls.calls = 0;
  t.is(map.get('short'), 1);
  t.is(calls.calls, 1);
  t.is(map.get('x'.repeat(KEY_MAX_UNITS + 1)), 2);
  t.is(map.get('\u0416two-byte'), 3);
  t.is(calls.calls, 1, 'long and two-byte keys: JS only');
  const fnv = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', hasher: hashers.fnv1a() });
  const fnvCalls = spy(fnv);
  fnv.set('short', 4);
  t.is(fnv.get('short'), 4);
  t.is(fnvCalls.calls, 0, 'another hasher: no wasm probe');
});
