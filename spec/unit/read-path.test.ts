/**
 * The int32-key read path of SharedFlatMap.get (lib/shared-flat-map.ts and its
 * WebAssembly bucket probe, lib/wasm/read-bucket.wat getI32 / getF64 through
 * bucket-read-path.ts), white-box and single-threaded:
 *
 * - The read path keeps its own copies of the table descriptor (first bucket,
 *   bucket count). A reader instance that has not read for a long time still
 *   holds the copies of an old generation; its generation check must send it
 *   to the current table even when the old table's region has been REUSED by
 *   a later table of another bucket count. Without that check such a reader
 *   walks the reused region with the old geometry (other home buckets, other
 *   chain ends): it finds stale lanes of the old table in the part the new
 *   table did not overwrite, or misses keys the new table holds. (This is why
 *   a read cannot skip the epoch check, see docs/design.md "Why a read still
 *   loads the epoch".)
 * - Hits, misses, tombstones and every float64 value read back through the
 *   map's wasm probe.
 * - The default murmur3 hasher is inlined (fmix32 called directly); any other
 *   hasher, including a subclass of Murmur3Hasher, is still called.
 * - The cheap int32 key check rejects exactly what checkInt32Key rejects and
 *   never converts a key (no valueOf call).
 *
 * The cross-thread tests in spec/stress exercise the probe under load.
 */
import test from 'ava';
import { SharedFlatMap, hashers, type Hasher } from '../../lib/index.js';
import { Murmur3Hasher, fmix32, isBuiltInMurmur3 } from '../../lib/hashers/murmur3.js';
import { ErrorCode } from '../../lib/errors.js';
import { BUCKET_INTS } from '../../lib/bucket.js';
import { READ_RETRY, type WasmBucketReadPath } from '../../lib/wasm/bucket-read-path.js';

type NumMap = SharedFlatMap<number, number>;

const internals = (map: NumMap) => SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);

/** The per-thread wasm read path of a map instance (lib/wasm/bucket-read-path.ts). */
const wasmOf = (map: NumMap): WasmBucketReadPath => (map as unknown as { wasm: WasmBucketReadPath }).wasm;

test('a stale reader whose old table region was reused by a table of another bucket count reads the current table', (t) => {
  const writer = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 0 });
  let k = 1;
  while (internals(writer).table.buckets < 40) writer.set(k, k++);
  const stale = internals(writer).table;
  const staleGen = internals(writer).gen;
  const staleEnd = stale.first + stale.buckets * BUCKET_INTS;
  // The reader caches this table (generation g) and is not used again until the end.
  const reader = SharedFlatMap.attach<number, number>(writer.handle);
  t.is(reader.get(1), 1);

  // Grow far, clear, rehash the small table once (shifts later regions), then
  // insert until the current table overlaps the stale one with another geometry.
  while (k <= 3000) writer.set(k, k++);
  writer.clear();
  const cleared = internals(writer).gen;
  for (let churn = 1_000_000; internals(writer).gen === cleared; churn++) writer.set(churn, 0).delete(churn);
  const present = new Set<number>();
  let overlaps = false;
  for (let j = 1; j <= 3000 && !overlaps; j++) {
    writer.set(j, -j);
    present.add(j);
    const cur = internals(writer).table;
    overlaps =
      cur.base < staleEnd &&
      cur.first + cur.buckets * BUCKET_INTS > stale.base &&
      (cur.base !== stale.base || cur.buckets !== stale.buckets);
  }
  t.true(overlaps, 'the scenario needs the stale region to be reused by a table of another geometry');
  t.log(`stale table: base ${stale.base}, ${stale.buckets} buckets; current: ${JSON.stringify(internals(writer).table)}`);

  // The wasm probe itself, handed the stale geometry and generation, never
  // returns a value or a miss from the reused region: only READ_RETRY.
  const wasm = wasmOf(reader);
  for (let key = 1; key <= 3000; key++) {
    const r = wasm.getI32(key, hashers.default.hashInt(key), stale.first, stale.buckets, staleGen);
    if (r !== READ_RETRY) t.fail(`key ${key}: the stale probe returned ${r}, not READ_RETRY`);
  }
  // And get, which retries after refreshing its table, reads the current table.
  for (let key = 1; key <= 3000; key++) {
    const expected = present.has(key) ? -key : undefined;
    const got = reader.get(key);
    if (got !== expected) t.fail(`key ${key}: got ${got}, expected ${expected}`);
  }
  t.is(reader.get(1), -1);
  t.is(reader.get(2999), undefined);
});

test('hits, misses, tombstones and float64 values (incl. -0, NaN, ±Infinity, subnormals) through the wasm read path', (t) => {
  for (const values of ['int32', 'float64'] as const) {
    const map = new SharedFlatMap<number, number>({ keys: 'int32', values });
    const v = (k: number): number => (values === 'float64' ? k + 0.5 : -k);
    for (let k = -300; k < 300; k++) map.set(k * 7919, v(k));
    for (let k = -300; k < 0; k++) map.delete(k * 7919);
    for (let k = -300; k < 300; k++) {
      const got = map.get(k * 7919);
      if (got !== (k < 0 ? undefined : v(k))) t.fail(`${values} key ${k * 7919}: ${got}`);
      if (map.has(k * 7919) !== k >= 0) t.fail(`${values} has(${k * 7919})`);
    }
    t.is(map.get(1), undefined);
    t.false(map.has(1));
  }
  const int32 = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  for (const value of [0, -1, 2 ** 31 - 1, -(2 ** 31)]) {
    int32.set(7, value);
    t.is(int32.get(7), value, `int32 value ${value}`);
  }
  const float = new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64' });
  for (const value of [-0, 0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, 4294967296, 8589934592]) {
    float.set(7, value);
    t.true(Object.is(float.get(7), value), `float64 value ${Object.is(value, -0) ? '-0' : value}`);
  }
});

test('the built-in murmur3 is recognised for inlining; subclasses and other hashers are not', (t) => {
  t.true(isBuiltInMurmur3(hashers.default));
  t.true(isBuiltInMurmur3(hashers.murmur3({ seed: 42 })));
  class Tweaked extends Murmur3Hasher {
    override hashInt(key: number): number {
      return super.hashInt(key) ^ 1;
    }
  }
  t.false(isBuiltInMurmur3(new Tweaked(0)));
  const own = new Murmur3Hasher(0);
  (own as unknown as { hashInt: (k: number) => number }).hashInt = (k) => k;
  t.false(isBuiltInMurmur3(own));
  t.false(isBuiltInMurmur3({ ...hashers.default, hashInt: hashers.default.hashInt }));
  // What the inlined path computes is what the hasher computes.
  const seeded = hashers.murmur3({ seed: -12345 });
  for (const k of [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 123456789]) t.is(fmix32(k ^ seeded.seed), seeded.hashInt(k));
});

test('get calls a custom hasher (and a Murmur3Hasher subclass) instead of the inlined murmur3', (t) => {
  let calls = 0;
  const custom: Hasher = {
    id: 'test-low-bits:seed=0',
    seed: 0,
    hashInt: (k) => {
      calls++;
      return Math.imul(k, 0x9e3779b1) | 0;
    },
    hashString: () => 0,
  };
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: custom });
  for (let k = 0; k < 100; k++) map.set(k, k + 1);
  calls = 0;
  for (let k = 0; k < 100; k++) t.is(map.get(k), k + 1);
  t.is(calls, 100, 'one hashInt call per get');

  class Counting extends Murmur3Hasher {
    count = 0;
    override hashInt(key: number): number {
      this.count++;
      return super.hashInt(key);
    }
  }
  const counting = new Counting(3);
  const other = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: counting });
  other.set(5, 6);
  counting.count = 0;
  t.is(other.get(5), 6);
  t.is(counting.count, 1);
});

test('seeded murmur3 maps read back through the inlined hash, also after attach', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: hashers.murmur3({ seed: 99 }) });
  for (let k = 0; k < 1000; k++) map.set(k * 31, k);
  const attached = SharedFlatMap.attach<number, number>(map.handle);
  for (let k = 0; k < 1000; k++) {
    if (map.get(k * 31) !== k || attached.get(k * 31) !== k) t.fail(`key ${k * 31}`);
  }
  t.pass();
});

test('the int32 key check of get rejects what checkInt32Key rejects, without converting the key', (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  map.set(0, 10).set(5, 50);
  t.is(map.get(-0), 10, '-0 is the key 0, as in Map');
  let converted = 0;
  const tricky = { valueOf: () => (converted++, 5) };
  for (const bad of [tricky, '5', 5n, true, null, undefined, 1.5, NaN, 2 ** 31, -(2 ** 31) - 1, Infinity]) {
    const error = t.throws(() => map.get(bad as unknown as number));
    t.is((error as { code?: string } | undefined)?.code, ErrorCode.KEY, String(bad));
  }
  t.is(converted, 0, 'valueOf is never called');
  t.is(map.get(2 ** 31 - 1), undefined);
  t.is(map.get(-(2 ** 31)), undefined);
});
