/**
 * Layout 6, the JS read walk over buckets and the lane matchers
 * (lib/bucket-read.ts), on hand-built tables (spec/helpers/bucket-table.ts):
 *
 * - int32 keys: readLane answers like the oracle and like the wasm probe;
 *   tombstones are misses; a locked bucket and a moved generation answer
 *   RETRY (misses), or fail laneStillValid (hits);
 * - string keys (4 lanes: HASH, KEY_REF, value), with real key blocks and
 *   HASH collisions crowded onto few buckets: the packed and the unit-by-unit
 *   matcher both answer like the oracle, also for UTF-16 keys; a reclaimed
 *   tombstone (KEY_REF = NULL_BLOCK) matches nothing; a key block past the
 *   caller's view answers RETRY, not a miss; the wasm string probe
 *   (read-bucket.wat getStrI32 / findStr, both builds) answers the same, and
 *   RETRY for a FULL lane whose KEY_REF is NULL_BLOCK or outside the memory.
 */
import test from 'ava';
import { BUCKET_INTS, bucketGeometry, laneWordOffset } from '../../lib/bucket.js';
import { LANE_READ_MISS, LANE_READ_RETRY, Int32LaneMatcher, StringLaneMatcher, laneStillValid, readLane, type LaneHit } from '../../lib/bucket-read.js';
import type { BucketTable } from '../../lib/bucket-write.js';
import { blockHeader, blockIntsFor } from '../../lib/arena.js';
import { makeViews, writeBlockString } from '../../lib/blocks.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { BLOCK_TAG_BITS, H_EPOCH, INT_BYTES, NULL_BLOCK, TABLE_HEADER_INTS, TAG_LATIN1 } from '../../lib/layout.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../../lib/memory.js';
import { lockWord } from '../../lib/seqlock.js';
import { LATIN1_MAX_UNIT, PackedKey, packLatin1, stringBytes, stringTag } from '../../lib/strings.js';
import { instantiateBucketReadPath, type WasmBucketReadPath } from '../../lib/wasm/bucket-read-path.js';
import { READ_MISS, READ_RETRY, STATUS_HIT, STATUS_MISS } from '../../lib/wasm/bucket-read-path.js';
import { KEY_MAX_UNITS } from '../../lib/wasm/bucket-read-path.js';
import { BucketTableWriter } from '../helpers/bucket-table.js';
import { SeededPrng } from '../helpers/prng.js';

const GEN = 2;
const FIRST_BASE = 16 * BUCKET_INTS;

function memoryFor(ints: number): { memory: ReturnType<typeof createSharedMemory>; words: Int32Array } {
  const bytes = Math.ceil((ints * INT_BYTES) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
  const memory = createSharedMemory(bytes, bytes);
  const words = new Int32Array(memory.buffer);
  Atomics.store(words, H_EPOCH, GEN << GEN_SHIFT);
  return { memory, words };
}

test('int32 keys: readLane answers like the oracle and the wasm probe; RETRY on a lock and a moved generation', (t) => {
  const prng = new SeededPrng(0x4ead);
  t.log(`seed ${prng.seed}`);
  const buckets = 90;
  const g = bucketGeometry('int32', 'int32');
  const { memory, words } = memoryFor(FIRST_BASE + TABLE_HEADER_INTS + buckets * BUCKET_INTS);
  const table: BucketTable = { base: FIRST_BASE, first: FIRST_BASE + TABLE_HEADER_INTS, buckets };
  const writer = new BucketTableWriter(words, table.first, buckets, g);
  const hashOf = (k: number): number => Math.imul(k, 0x9e3779b1) & 0xf0000fff; // crowded: 16 home regions
  const deleted: number[] = [];
  for (let i = 0; i < 450; i++) {
    const k = prng.next() | 0;
    writer.put(k, hashOf(k), [i]);
    if (i % 6 === 0 && writer.remove(k, hashOf(k))) deleted.push(k);
  }
  const probe = instantiateBucketReadPath(memory.memory).getI32;
  const m = new Int32LaneMatcher(g);
  const out: LaneHit = { at: 0, lane: 0, seq: 0 };
  const read = (k: number, gen = GEN): number | 'miss' | 'retry' => {
    m.key = k;
    const r = readLane(words, table, g, gen, hashOf(k), m.match, out);
    if (r === LANE_READ_MISS) return 'miss';
    if (r === LANE_READ_RETRY) return 'retry';
    const v = words[out.at + laneWordOffset(g, 1, out.lane)] as number;
    return laneStillValid(words, out.at, out.seq, gen) ? v : 'retry';
  };
  for (const [k, [v]] of writer.oracle) {
    if (read(k) !== v) t.fail(`key ${k}: ${read(k)}, oracle ${v}`);
    if (probe(k, hashOf(k), table.first, buckets, GEN) !== v) t.fail(`key ${k}: the wasm probe disagrees`);
  }
  for (const k of deleted) t.is(read(k), 'miss');
  for (let i = 0; i < 500; i++) {
    const k = prng.next() | 0;
    if (writer.oracle.has(k)) continue;
    t.is(read(k), 'miss');
    t.is(probe(k, hashOf(k), table.first, buckets, GEN), READ_MISS);
  }
  const [someKey] = writer.oracle.keys() as IterableIterator<number>;
  t.is(read(someKey!, GEN + 1), 'retry', 'a hit in another generation fails validation');
  t.is(read(deleted[0]!, GEN + 1), 'retry', 'a miss too');
  const found = writer.find(someKey!, hashOf(someKey!))!;
  const at = writer.at(found.b);
  const seq = Atomics.load(words, at);
  Atomics.store(words, at, lockWord(4, seq));
  t.is(read(someKey!), 'retry', 'a locked bucket');
  Atomics.store(words, at, seq);
  t.is(read(someKey!), writer.oracle.get(someKey!)![0] as number);
});

const ALPHABET = 'abcdefghij€üß';

test('string keys: both matchers answer like the oracle with HASH collisions and UTF-16 keys; a reclaimed tombstone matches nothing; a block past the view is RETRY', (t) => {
  const prng = new SeededPrng(0x57a1);
  t.log(`seed ${prng.seed}`);
  const buckets = 40;
  const g = bucketGeometry('string', 'int32');
  const tableEnd = FIRST_BASE + TABLE_HEADER_INTS + buckets * BUCKET_INTS;
  const blockArea = 20_000;
  const { words, memory } = memoryFor(tableEnd + blockArea);
  const views = makeViews(memory.buffer as SharedArrayBuffer);
  const table: BucketTable = { base: FIRST_BASE, first: FIRST_BASE + TABLE_HEADER_INTS, buckets };
  const writer = new BucketTableWriter(words, table.first, buckets, g);
  // Hashes of 5 bits: most keys share theirs with others, crowded onto 32 hash values.
  const hashOf = (s: string): number => {
    let h = 7;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return ((h >>> 27) << 27) | 0;
  };
  let nextBlock = tableEnd;
  const blockOf = new Map<string, number>();
  const oracle = new Map<string, number>();
  const deleted: string[] = [];
  for (let i = 0; oracle.size + deleted.length < 110; i++) {
    const n = 1 + (prng.next() % 20);
    let s = '';
    for (let j = 0; j < n; j++) s += ALPHABET[prng.next() % (j % 5 === 4 ? ALPHABET.length : 10)];
    if (blockOf.has(s)) continue;
    const tag = stringTag(s);
    const block = nextBlock;
    const bytes = stringBytes(s, tag);
    nextBlock += blockIntsFor(bytes);
    words[block] = blockHeader(bytes, tag); // what allocateBlock writes
    writeBlockString(views, block, s, tag);
    blockOf.set(s, block);
    writer.put(hashOf(s), hashOf(s), [i], [block]);
    if (i % 7 === 3) {
      writer.remove(hashOf(s), hashOf(s), [block]);
      deleted.push(s);
    } else oracle.set(s, i);
  }
  const hashes = new Set([...oracle.keys()].map(hashOf));
  t.true(hashes.size < oracle.size / 2, `${oracle.size} keys on ${hashes.size} hashes: collisions are exercised`);
  const m = new StringLaneMatcher(g, views);
  const packed = new PackedKey();
  const out: LaneHit = { at: 0, lane: 0, seq: 0 };
  const read = (s: string, usePacked: boolean, w = words): number | 'miss' | 'retry' => {
    m.hash = hashOf(s);
    m.text = s;
    packLatin1(s, packed);
    m.packed = usePacked && packed.unitsOr <= LATIN1_MAX_UNIT ? packed : undefined;
    const r = readLane(w, table, g, GEN, m.hash, m.match, out);
    if (r === LANE_READ_MISS) return 'miss';
    if (r === LANE_READ_RETRY) return 'retry';
    const v = w[out.at + laneWordOffset(g, 2, out.lane)] as number;
    return laneStillValid(w, out.at, out.seq, GEN) ? v : 'retry';
  };
  for (const usePacked of [true, false]) {
    for (const [s, v] of oracle) if (read(s, usePacked) !== v) t.fail(`${JSON.stringify(s)} (${usePacked ? 'packed' : 'units'}): ${read(s, usePacked)}, oracle ${v}`);
    for (const s of deleted) t.is(read(s, usePacked), 'miss', `deleted ${JSON.stringify(s)}`);
    t.is(read('absent-key', usePacked), 'miss');
  }
  t.true([...oracle.keys()].some((s) => stringTag(s) !== 0), 'some keys are UTF-16');
  // The wasm string probe (read-bucket.wat getStrI32 / findStr), both builds, on the same table.
  const short = [...oracle].filter(([k]) => k.length <= KEY_MAX_UNITS && stringTag(k) === 0);
  t.true(short.length > 20);
  const wasmRead = (path: WasmBucketReadPath, s: string, gen = GEN): number | 'miss' | 'retry' => {
    packLatin1(s, packed);
    const w = packed.words;
    const r = path.getStrI32(hashOf(s), (s.length << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, table.first, buckets, gen);
    return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
  };
  for (const build of ['tso', 'strict'] as const) {
    const path = instantiateBucketReadPath(memory.memory, build);
    for (const [k, v] of short) if (wasmRead(path, k) !== v) t.fail(`${build}: ${JSON.stringify(k)}: ${wasmRead(path, k)}, oracle ${v}`);
    for (const k of deleted.filter((d) => d.length <= KEY_MAX_UNITS && stringTag(d) === 0)) t.is(wasmRead(path, k), 'miss', `${build}: deleted ${k}`);
    t.is(wasmRead(path, 'absent-key'), 'miss');
    t.is(wasmRead(path, short[0]![0], GEN + 1), 'retry', `${build}: another generation`);
    // findStr names the lane readLane finds.
    const [k0] = short[0]!;
    packLatin1(k0, packed);
    const w = packed.words;
    const at = path.findStr(hashOf(k0), (k0.length << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, table.first, buckets, g.lanes, GEN);
    t.is(read(k0, true), short[0]![1]);
    t.deepEqual([at, path.lastLane(), path.lastSeq()], [out.at, out.lane, out.seq], `${build}: findStr and readLane agree`);
    // A FULL lane whose KEY_REF lies past the memory (a stale table's garbage): RETRY, no trap.
    const lane = out.lane;
    const refAt = out.at + laneWordOffset(g, 1, lane);
    const ref = words[refAt] as number;
    words[refAt] = words.length + 5;
    t.is(wasmRead(path, k0), 'retry', `${build}: a key block outside the memory`);
    words[refAt] = 0;
    t.is(wasmRead(path, k0), 'retry', `${build}: NULL_BLOCK in a FULL lane`);
    words[refAt] = ref;
    const seq = Atomics.load(words, out.at);
    Atomics.store(words, out.at, lockWord(3, seq));
    t.is(wasmRead(path, k0), 'retry', `${build}: a locked bucket`);
    Atomics.store(words, out.at, seq);
    t.is(wasmRead(path, k0), short[0]![1]);
  }

  // A reclaimed tombstone: KEY_REF NULL_BLOCK matches no key.
  const gone = deleted[0]!;
  const where = writer.find(hashOf(gone), hashOf(gone), [blockOf.get(gone)!])!;
  words[writer.at(where.b) + laneWordOffset(g, 1, where.lane)] = NULL_BLOCK;
  t.is(read(gone, true), 'miss');
  if (gone.length <= KEY_MAX_UNITS && stringTag(gone) === 0) for (const build of ['tso', 'strict'] as const) t.is(wasmRead(instantiateBucketReadPath(memory.memory, build), gone), 'miss');
  // A key block past the view (allocated after this thread's view was made): RETRY, not a miss.
  const [late] = [...oracle.keys()].filter((s) => stringTag(s) === 0).slice(-1);
  const shortView = new Int32Array(memory.buffer as SharedArrayBuffer, 0, blockOf.get(late!)! + 1);
  t.is(read(late!, true, shortView), 'retry');
});

test('string -> float64 (3 lanes, the value in two columns): the wasm probe answers like the oracle, both builds', (t) => {
  const buckets = 12;
  const g = bucketGeometry('string', 'float64');
  t.is(g.lanes, 3);
  const tableEnd = FIRST_BASE + TABLE_HEADER_INTS + buckets * BUCKET_INTS;
  const { words, memory } = memoryFor(tableEnd + 2000);
  const views = makeViews(memory.buffer as SharedArrayBuffer);
  const table: BucketTable = { base: FIRST_BASE, first: FIRST_BASE + TABLE_HEADER_INTS, buckets };
  const writer = new BucketTableWriter(words, table.first, buckets, g);
  const f64 = new Float64Array(1);
  const halves = new Int32Array(f64.buffer);
  const hashOf = (s: string): number => (s.length % 3) << 30; // 3 hash values: collisions in every bucket chain
  let nextBlock = tableEnd;
  const oracle = new Map<string, number>();
  for (let i = 0; i < 25; i++) {
    const s = `key-${i}`;
    const block = nextBlock;
    nextBlock += blockIntsFor(s.length);
    words[block] = blockHeader(s.length, TAG_LATIN1);
    writeBlockString(views, block, s, TAG_LATIN1);
    f64[0] = i * 1.25 - 3;
    writer.put(hashOf(s), hashOf(s), [halves[0]!, halves[1]!], [block]);
    oracle.set(s, f64[0]);
  }
  const packed = new PackedKey();
  for (const build of ['tso', 'strict'] as const) {
    const path = instantiateBucketReadPath(memory.memory, build);
    for (const [s, v] of oracle) {
      packLatin1(s, packed);
      const w = packed.words;
      const status = path.getStrF64(hashOf(s), (s.length << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, table.first, buckets, GEN);
      t.is(status, STATUS_HIT, `${build}: ${s}`);
      t.is(path.lastF64(), v, `${build}: ${s}`);
    }
    packLatin1('key-99', packed);
    const w = packed.words;
    t.is(path.getStrF64(hashOf('key-99'), (6 << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, table.first, buckets, GEN), STATUS_MISS);
  }
});
