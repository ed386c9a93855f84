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
 *   caller's view answers RETRY, not a miss.
 */
import test from 'ava';
import { BUCKET_INTS, bucketGeometry, laneWordOffset } from '../../lib/bucket.js';
import { LANE_READ_MISS, LANE_READ_RETRY, Int32LaneMatcher, StringLaneMatcher, laneStillValid, readLane, type LaneHit } from '../../lib/bucket-read.js';
import type { BucketTable } from '../../lib/bucket-write.js';
import { blockHeader, blockIntsFor } from '../../lib/arena.js';
import { makeViews, writeBlockString } from '../../lib/blocks.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { H_EPOCH, INT_BYTES, NULL_BLOCK, TABLE_HEADER_INTS } from '../../lib/layout.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../../lib/memory.js';
import { lockWord } from '../../lib/seqlock.js';
import { LATIN1_MAX_UNIT, PackedKey, packLatin1, stringBytes, stringTag } from '../../lib/strings.js';
import { instantiateBucketReadPath } from '../../lib/wasm/bucket-read-path.js';
import { READ_MISS } from '../../lib/wasm/read-path.js';
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
  // A reclaimed tombstone: KEY_REF NULL_BLOCK matches no key.
  const gone = deleted[0]!;
  const where = writer.find(hashOf(gone), hashOf(gone), [blockOf.get(gone)!])!;
  words[writer.at(where.b) + laneWordOffset(g, 1, where.lane)] = NULL_BLOCK;
  t.is(read(gone, true), 'miss');
  // A key block past the view (allocated after this thread's view was made): RETRY, not a miss.
  const [late] = [...oracle.keys()].filter((s) => stringTag(s) === 0).slice(-1);
  const short = new Int32Array(memory.buffer as SharedArrayBuffer, 0, blockOf.get(late!)! + 1);
  t.is(read(late!, true, short), 'retry');
});
