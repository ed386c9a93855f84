/**
 * Layout 6, the string-key write paths over buckets in WebAssembly
 * (write-bucket.wat putStrI32 / putStrF64 / deleteStr) against the JS
 * protocol (bucket-write.ts findLane + putLane / deleteLane with
 * bucket-read.ts's StringLaneMatcher): the same random sets and deletes of
 * short one-byte keys, many sharing a HASH, leave two tables equal word for
 * word, for int32 (4 lanes) and float64 values (3 lanes); a new key costs
 * two calls (NEED_BLOCK with nothing changed, then STORED_BLOCK with the
 * block JS wrote); NEED_BLOCK becomes SLOW when the insert budget is spent;
 * deleteStr hands back the value word.
 */
import test from 'ava';
import { blockHeader, blockIntsFor } from '../../lib/arena.js';
import { BUCKET_INTS, bucketGeometry } from '../../lib/bucket.js';
import { StringLaneMatcher } from '../../lib/bucket-read.js';
import { LANE_ABSENT, LANE_LOCKED, abortLane, deleteLane, findLane, putLane, type BucketTable, type BucketWriteHost, type LaneLock } from '../../lib/bucket-write.js';
import { makeViews, writeBlockString } from '../../lib/blocks.js';
import { backoff } from '../../lib/backoff.js';
import { BLOCK_TAG_BITS, FIXED_INTS, INT_BYTES, TABLE_HEADER_INTS, TAG_LATIN1, T_REMAINING, insertBudget } from '../../lib/layout.js';
import { LANE_FULL } from '../../lib/bucket.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../../lib/memory.js';
import { PackedKey, packLatin1 } from '../../lib/strings.js';
import { recordTag, writerRecordAt } from '../../lib/writers.js';
import {
  DEL_ABSENT,
  DEL_DELETED,
  PUT_INSERTED,
  PUT_NEED_BLOCK,
  PUT_OVERWROTE,
  PUT_SLOW,
  PUT_STORED_BLOCK,
  instantiateBucketWritePath,
} from '../../lib/wasm/bucket-write-path.js';
import { SeededPrng } from '../helpers/prng.js';

const BUCKETS = 30;
const POOL = 70;

for (const values of ['int32', 'float64'] as const) {
  test(`string keys, ${values} values: the wasm puts and deletes write word for word what the JS protocol writes`, (t) => {
    const prng = new SeededPrng(values === 'int32' ? 0x57e1 : 0x57e2);
    t.log(`seed ${prng.seed}`);
    const g = bucketGeometry('string', values);
    const region = TABLE_HEADER_INTS + BUCKETS * BUCKET_INTS;
    const blocksAt = FIXED_INTS + 2 * region;
    const ints = blocksAt + POOL * blockIntsFor(32);
    const bytes = Math.ceil((ints * INT_BYTES) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
    const memory = createSharedMemory(bytes, bytes);
    const words = new Int32Array(memory.buffer);
    const views = makeViews(memory.buffer as SharedArrayBuffer);
    const tables: BucketTable[] = [0, 1].map((i) => ({ base: FIXED_INTS + i * region, first: FIXED_INTS + i * region + TABLE_HEADER_INTS, buckets: BUCKETS }));
    for (const tb of tables) words[tb.base + T_REMAINING] = insertBudget(BUCKETS, g.lanes);
    const [jsTable, wasmTable] = tables as [BucketTable, BucketTable];
    // The key pool: one key block each (shared by both tables), hashes of 4 bits (collisions).
    const keys: string[] = [];
    const blockOf = new Map<string, number>();
    let next = blocksAt;
    while (keys.length < POOL) {
      const n = 1 + (prng.next() % 32);
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + (prng.next() % 0xdf));
      if (blockOf.has(s)) continue;
      words[next] = blockHeader(n, TAG_LATIN1);
      writeBlockString(views, next, s, TAG_LATIN1);
      blockOf.set(s, next);
      next += blockIntsFor(n);
      keys.push(s);
    }
    const hashOf = (s: string): number => (s.charCodeAt(0) & 0xf) << 28;
    const rec = writerRecordAt(0);
    const host: BucketWriteHost = { words, g, rec, tag: recordTag(rec), pause: (a) => backoff(a), budgetExhausted: () => t.fail('budget spent') };
    const matcher = new StringLaneMatcher(g, views);
    const packed = new PackedKey();
    const lock: LaneLock = { at: 0, lane: 0, seq: 0, state: 0 };
    const f64 = new Float64Array(1);
    const halves = new Int32Array(f64.buffer);
    const valueWords = (v: number): number[] => {
      if (values === 'int32') return [v];
      f64[0] = v;
      return [halves[0]!, halves[1]!];
    };
    const jsSet = (s: string, v: number): string => {
      matcher.hash = hashOf(s);
      matcher.text = s;
      packLatin1(s, packed);
      matcher.packed = packed;
      if (findLane(host, jsTable, 0, hashOf(s), matcher.match, true, lock) !== LANE_LOCKED) throw new Error('no lane');
      const was = lock.state;
      putLane(host, jsTable, lock, [hashOf(s), blockOf.get(s)!], valueWords(v), false);
      return was === 0 ? 'stored' : was === LANE_FULL ? 'overwrote' : 'inserted';
    };
    const jsDelete = (s: string): boolean => {
      matcher.hash = hashOf(s);
      matcher.text = s;
      packLatin1(s, packed);
      matcher.packed = packed;
      const r = findLane(host, jsTable, 0, hashOf(s), matcher.match, false, lock);
      if (r === LANE_ABSENT) return false;
      if (lock.state !== LANE_FULL) {
        abortLane(host, jsTable, lock);
        return false;
      }
      deleteLane(host, jsTable, lock);
      return true;
    };
    const wasm = instantiateBucketWritePath(memory.memory);
    wasm.configure(values === 'float64' ? 1 : 0, 0);
    wasm.setWriter(rec, recordTag(rec));
    const put = values === 'int32' ? wasm.putStrI32 : wasm.putStrF64;
    const snapshot = (tb: BucketTable): number[] => Array.from(words.subarray(tb.base, tb.base + region));
    const wasmSet = (s: string, v: number): string => {
      packLatin1(s, packed);
      const w = packed.words;
      const header = (s.length << BLOCK_TAG_BITS) | TAG_LATIN1;
      const before = snapshot(wasmTable);
      let r = put(hashOf(s), header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, wasmTable.first, BUCKETS, 0, wasmTable.base, 0);
      if (r === PUT_NEED_BLOCK) {
        const after = snapshot(wasmTable);
        // Nothing changed but OVERFLOW bits of buckets walked past (which the insert sets anyway).
        if (after.some((x, i) => x !== before[i] && (x & ~(1 << 16)) !== (before[i]! & ~(1 << 16)))) t.fail('NEED_BLOCK changed a word');
        r = put(hashOf(s), header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, wasmTable.first, BUCKETS, 0, wasmTable.base, blockOf.get(s)!);
        if (r !== PUT_STORED_BLOCK) throw new Error(`second call: ${r}`);
        return 'stored';
      }
      if (r === PUT_SLOW) throw new Error('SLOW in one thread');
      return r === PUT_OVERWROTE ? 'overwrote' : r === PUT_INSERTED ? 'inserted' : `?${r}`;
    };
    const wasmDelete = (s: string): boolean => {
      packLatin1(s, packed);
      const w = packed.words;
      const r = wasm.deleteStr(hashOf(s), (s.length << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, g.lanes, wasmTable.first, BUCKETS, 0, wasmTable.base);
      if (r === DEL_DELETED && values === 'int32' && wasm.lastOld() !== lastValue.get(s)) t.fail(`lastOld ${wasm.lastOld()} for ${s}`);
      if (r !== DEL_DELETED && r !== DEL_ABSENT) throw new Error('SLOW in one thread');
      return r === DEL_DELETED;
    };
    const lastValue = new Map<string, number>();
    for (let op = 0; op < 3000; op++) {
      const s = keys[prng.next() % keys.length]!;
      if (prng.next() % 3 === 0) t.is(wasmDelete(s), jsDelete(s), `delete ${JSON.stringify(s)}`);
      else {
        const v = values === 'int32' ? prng.next() | 0 : (prng.next() | 0) / 3;
        t.is(wasmSet(s, v), jsSet(s, v), `set ${JSON.stringify(s)}`);
        lastValue.set(s, v);
      }
      if (op % 200 === 0) t.deepEqual(snapshot(wasmTable), snapshot(jsTable), `tables differ after op ${op}`);
    }
    t.deepEqual(snapshot(wasmTable), snapshot(jsTable));
    // A spent insert budget: a new key answers SLOW at the first call (no block asked for).
    words[wasmTable.base + T_REMAINING] = 0;
    packLatin1('zz-new', packed);
    const w = packed.words;
    t.is(put(0, (6 << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, 1, wasmTable.first, BUCKETS, 0, wasmTable.base, 0), PUT_SLOW);
  });
}
