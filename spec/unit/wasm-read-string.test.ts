/**
 * The WebAssembly string-key read path (lib/wasm/read-string.wat, read-string-path.ts):
 *
 * - The committed bytes are what scripts/build-wasm.mjs assembles from the
 *   .wat, and the layout constants the .wat was written for are lib/'s.
 * - The module only reads the shared memory (no store, rmw, notify or grow).
 * - For keys of 0 .. KEY_MAX_UNITS one-byte units it answers what the JS loop
 *   answers: hits, misses, tombstones, keys that differ in one unit or in
 *   length, and keys whose block was reused with stale padding.
 * - It answers RETRY, never a value, a miss or a trap, when a writer holds the
 *   slot, when the generation moved, and when a slot's key reference points
 *   outside the memory (a stale table's garbage).
 */
import test from 'ava';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { GEN_SHIFT } from '../../lib/epoch.js';
import { BLOCK_HEADER_INTS, BLOCK_TAG_BITS, H_EPOCH, INT_BYTES, NULL_BLOCK, S_HASH, S_KEY_REF, TAG_LATIN1, valueOffset } from '../../lib/layout.js';
import { EMPTY, LOCKED, STATE_MASK, TOMBSTONE, lockWord } from '../../lib/seqlock.js';
import { murmur3StringPacked } from '../../lib/hashers/murmur3.js';
import { PackedKey } from '../../lib/strings.js';
import { READ_MISS, READ_RETRY, STATUS_HIT, STATUS_MISS, STATUS_RETRY } from '../../lib/wasm/read-path.js';
import {
  FIND_MISS,
  FIND_RETRY,
  KEY_MAX_UNITS,
  stringReadPathModule,
  type WasmStringReadPath,
} from '../../lib/wasm/read-string-path.js';
import { WASM_BASE64 } from '../../lib/wasm/read-string.wasm.js';
import { MEMORY_IMPORT, assertAssembledFromWat, declaredConstants, moduleInterface, readWat, watCode } from '../helpers/wasm.js';

const wat = readWat('read-string');

test('the committed wasm bytes are exactly what scripts/build-wasm.mjs assembles from read-string.wat', (t) =>
  assertAssembledFromWat(t, 'read-string', WASM_BASE64));

test('the layout constants the .wat was written for are the ones lib/ defines', (t) => {
  t.deepEqual(declaredConstants(wat), {
    EPOCH_BYTES: H_EPOCH * INT_BYTES,
    PAGE_WORDS_SHIFT: Math.log2(WASM_PAGE_BYTES / INT_BYTES),
    GEN_SHIFT,
    LOCKED,
    STATE_MASK,
    EMPTY,
    TOMBSTONE,
    HASH_BYTES: S_HASH * INT_BYTES,
    KEY_REF_BYTES: S_KEY_REF * INT_BYTES,
    VALUE_BYTES: valueOffset('string') * INT_BYTES,
    BLOCK_TAG_BITS,
    PAYLOAD_BYTES: BLOCK_HEADER_INTS * INT_BYTES,
    KEY_MAX_UNITS,
    MISS: READ_MISS,
    RETRY: READ_RETRY,
    STATUS_MISS,
    STATUS_HIT,
    STATUS_RETRY,
    FIND_MISS,
    FIND_RETRY,
  });
  const code = watCode(wat);
  t.regex(code, new RegExp(`i32\\.atomic\\.load offset=${S_HASH * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.atomic\\.load offset=${S_KEY_REF * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.atomic\\.load offset=${valueOffset('string') * INT_BYTES} `));
  t.regex(code, new RegExp(`i32\\.atomic\\.load \\(i32\\.const ${H_EPOCH * INT_BYTES}\\)`));
  // One unrolled compare per packed word: payload offsets 4, 8, ..., 4 * KEY_MAX_UNITS / 4.
  for (let j = 0; j < KEY_MAX_UNITS / 4; j++) t.regex(code, new RegExp(`offset=${BLOCK_HEADER_INTS * INT_BYTES + 4 * j} \\(local\\.get \\$b\\)`));
  t.is(TAG_LATIN1, 0, 'the header passed in is n << BLOCK_TAG_BITS | TAG_LATIN1');
});

test('the module only reads the shared memory and imports only the memory', (t) => {
  t.notRegex(watCode(wat), /store|\.rmw|notify|memory\.grow|memory\.fill|memory\.copy|memory\.init/);
  const { imports, exports } = moduleInterface(stringReadPathModule());
  t.deepEqual(imports, MEMORY_IMPORT);
  t.deepEqual(exports.sort(), ['findStr', 'getStrF64', 'getStrI32', 'lastF64', 'lastSeq']);
});

type AnyMap = SharedFlatMap<unknown, unknown>;
const internals = (map: AnyMap) => SharedFlatMap.unsafeExposeInternals(map);
const wasmOf = (map: AnyMap): WasmStringReadPath => (map as unknown as { wstr: WasmStringReadPath }).wstr;

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
  test(`${values} values: the probe answers like the JS loop, and RETRY when it cannot know`, (t) => {
    const map = new SharedFlatMap<string, unknown>({ keys: 'string', values, capacity: 200 }) as AnyMap;
    const value = (i: number): unknown => (values === 'int32' ? i * 3 - 7 : values === 'float64' ? i / 3 : `v${i}`);
    const keys = keysUpTo(KEY_MAX_UNITS + 1);
    keys.forEach((k, i) => map.set(k, value(i)));
    // Neighbours that differ only in the last unit, or by one more unit: absent.
    const absent = keys.flatMap((k) => (k.length === 0 ? ['\0'] : [k.slice(0, -1) + String.fromCharCode(k.charCodeAt(k.length - 1) ^ 0x40), k + 'x']));
    const ws = wasmOf(map);
    const { table, slotInts, gen, words } = internals(map);
    const packed = new PackedKey();
    const probe = (key: string, g = gen): unknown => {
      const hash = murmur3StringPacked(key, 0, packed);
      const w = packed.words;
      const args = [hash, (key.length << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!,
        table.slots, table.capacity, slotInts, g] as const;
      if (values === 'int32') {
        const r = ws.getStrI32(...args);
        return r === READ_MISS ? 'miss' : r === READ_RETRY ? 'retry' : r;
      }
      if (values === 'float64') {
        const s = ws.getStrF64(...args);
        return s === STATUS_MISS ? 'miss' : s === STATUS_RETRY ? 'retry' : ws.lastF64();
      }
      const at = ws.findStr(...args);
      return at === FIND_MISS ? 'miss' : at === FIND_RETRY ? 'retry' : { at, seq: ws.lastSeq() };
    };
    /** Seq word index of the first slot whose state passes `accept` and whose HASH is `key`'s; -1 if none. */
    const slotWithHashOf = (key: string, accept: (state: number) => boolean): number => {
      const hash = murmur3StringPacked(key, 0, packed);
      for (let s = 0; s < table.capacity; s++) {
        const a = table.slots + s * slotInts;
        if (accept((words[a] as number) & STATE_MASK) && words[a + S_HASH] === hash) return a;
      }
      return -1;
    };
    const slotOf = (key: string): number => {
      const r = probe(key) as { at: number };
      return r.at;
    };
    for (let i = 0; i <= KEY_MAX_UNITS; i++) {
      const got = probe(keys[i] as string);
      if (values === 'string') {
        const { at, seq } = got as { at: number; seq: number };
        t.is(seq, words[at] as number, `key of ${i} units: its slot and s1`);
        t.is(words[at + S_HASH], murmur3StringPacked(keys[i] as string, 0, packed));
      } else if (got !== value(i)) t.fail(`key of ${i} units: ${String(got)}`);
      t.is(map.get(keys[i]), value(i));
    }
    for (const k of absent) if (k.length <= KEY_MAX_UNITS && probe(k) !== 'miss') t.fail(`absent ${JSON.stringify(k)}: ${String(probe(k))}`);
    // A tombstone is a miss (findStr finds the slot; its state says TOMBSTONE).
    map.delete(keys[5]);
    if (values === 'string') t.is(((probe(keys[5] as string) as { seq: number }).seq & STATE_MASK), TOMBSTONE);
    else t.is(probe(keys[5] as string), 'miss');
    t.is(map.get(keys[5]), undefined);
    // A tombstone whose key block was reclaimed (KEY_REF = NULL_BLOCK, reclaimTombstoneKeys) holds no
    // key: the wasm probes step past it (a miss here, not RETRY), and so do the JS paths (the
    // 33-unit key). set takes an EMPTY slot for the key again; delete finds nothing to delete.
    const tomb5 = slotWithHashOf(keys[5] as string, (state) => state === TOMBSTONE);
    t.true(tomb5 > 0, 'the tombstone of the deleted key');
    words[tomb5 + S_KEY_REF] = NULL_BLOCK;
    t.is(probe(keys[5] as string), 'miss', 'a reclaimed tombstone of the key: miss, not retry');
    t.is(map.get(keys[5]), undefined);
    t.false(map.delete(keys[5]));
    map.set(keys[5], value(5));
    t.is(map.get(keys[5]), value(5), 'set again: a new slot');
    t.is(words[tomb5 + S_KEY_REF], NULL_BLOCK, 'the reclaimed tombstone stays as it was');
    const long = keys[KEY_MAX_UNITS + 1] as string;
    t.true(map.delete(long));
    for (let s = 0; s < table.capacity; s++) {
      const a = table.slots + s * slotInts;
      if (((words[a] as number) & STATE_MASK) === TOMBSTONE && a !== tomb5) words[a + S_KEY_REF] = NULL_BLOCK;
    }
    t.is(map.get(long), undefined, 'a long key (the JS loop) past its reclaimed tombstone');
    t.false(map.delete(long));
    map.set(long, value(KEY_MAX_UNITS + 1));
    t.is(map.get(long), value(KEY_MAX_UNITS + 1));
    t.is(map.size, keys.length);
    // A reused key block with stale padding: delete a 7-unit key, insert another 7-unit key (same size class).
    map.delete(keys[7]);
    const reused = 'zzzzzzz';
    map.set(reused, value(99));
    t.is(map.get(reused), value(99));
    // RETRY cases, never a value or a miss.
    const at = values === 'string' ? slotOf(keys[9] as string) : slotWithHashOf(keys[9] as string, (state) => state !== EMPTY);
    const seq = words[at] as number;
    words[at] = lockWord(3, seq);
    t.is(probe(keys[9] as string), 'retry', 'a locked slot');
    words[at] = seq;
    const epoch = words[H_EPOCH] as number;
    if (values === 'string') {
      // findStr leaves a hit's validation (epoch, s2) to its caller, which reads the value block first.
      t.deepEqual(probe(keys[9] as string, gen + 1), { at, seq }, 'a hit in another generation: the slot, for the caller to validate');
    } else {
      t.is(probe(keys[9] as string, gen + 1), 'retry', 'another generation');
      words[H_EPOCH] = epoch + (1 << GEN_SHIFT);
      t.is(probe(keys[9] as string), 'retry', 'the epoch moved');
    }
    words[H_EPOCH] = epoch + (1 << GEN_SHIFT);
    t.is(probe('not there at all'), 'retry', 'a miss is validated: the epoch moved');
    words[H_EPOCH] = epoch;
    const ref = words[at + S_KEY_REF] as number;
    for (const garbage of [0, 0x3fff_ffff, -1, internals(map).memory.byteLength / INT_BYTES - 1]) {
      words[at + S_KEY_REF] = garbage;
      t.is(probe(keys[9] as string), 'retry', `a key reference ${garbage} outside the memory or null: retry, no trap`);
    }
    words[at + S_KEY_REF] = ref;
    t.is(map.get(keys[9]), value(9));
    t.is(map.get(keys[KEY_MAX_UNITS + 1]), value(KEY_MAX_UNITS + 1), 'a longer key: the JS loop');
  });
}

test('get takes the wasm probe for short one-byte keys with murmur3, the JS loop otherwise', (t) => {
  const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32' });
  let calls = 0;
  const ws = wasmOf(map as AnyMap);
  const original = ws.getStrI32;
  (map as unknown as { wstr: WasmStringReadPath }).wstr = {
    ...ws,
    getStrI32: (...args) => {
      calls++;
      return original(...args);
    },
  };
  map.set('short', 1);
  map.set('x'.repeat(KEY_MAX_UNITS + 1), 2);
  map.set('\u0416two-byte', 3);
  t.is(map.get('short'), 1);
  t.is(calls, 1);
  t.is(map.get('x'.repeat(KEY_MAX_UNITS + 1)), 2);
  t.is(map.get('\u0416two-byte'), 3);
  t.is(calls, 1, 'long and two-byte keys: JS only');
  const fnv = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', hasher: hashers.fnv1a() });
  t.is((fnv as unknown as { wstr: unknown }).wstr, undefined, 'another hasher: no wasm probe');
  fnv.set('short', 4);
  t.is(fnv.get('short'), 4);
});
