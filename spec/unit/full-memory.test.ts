/**
 * A map whose memory has grown to the whole 4 GiB a wasm32 memory can address
 * (65,536 pages; maxBytes may be 2^32). The wasm string-key paths over buckets
 * (read-bucket.wat findStr / getStrI32 / getStrF64, write-bucket.wat
 * putStrI32 / putStrF64 / deleteStr) check the KEY_REF column of a lane whose
 * HASH matches against the end of the memory before they compare the key
 * block; computed in bytes that end is 65,536 << 16 = 2^32, which wraps to 0
 * in an i32, and every string probe, put and delete would then answer RETRY /
 * SLOW and run the JS path instead (right answers, at about 1.5 times the
 * cost). They count words (memory.size << 14). This test proves, for each
 * wasm string path, that in a full 4 GiB memory it answers every call itself
 * (hit, miss, overwrite, insert with NEED_BLOCK then STORED_BLOCK, delete)
 * with the expected status, and the map's answers stay right. The memory is
 * grown directly (reserving address space commits no memory).
 */
import test, { type ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { WASM_PAGE_BYTES } from '../../lib/memory.js';
import { FIND_MISS, READ_MISS, STATUS_HIT, STATUS_MISS, type WasmBucketReadPath } from '../../lib/wasm/bucket-read-path.js';
import {
  DEL_DELETED,
  PUT_NEED_BLOCK,
  PUT_OVERWROTE,
  PUT_STORED_BLOCK,
  type WasmBucketWritePath,
} from '../../lib/wasm/bucket-write-path.js';

const FULL_MEMORY_BYTES = 2 ** 32;

type Values = 'int32' | 'float64' | 'string';

/** A string-key map with 100 entries whose memory is grown to the full 4 GiB, and the wasm answers recorded from then on. */
function fullMemoryMap<V>(t: ExecutionContext, values: Values, valueOf: (i: number) => V) {
  const map = new SharedFlatMap<string, V>({ keys: 'string', values, maxBytes: FULL_MEMORY_BYTES });
  for (let i = 0; i < 100; i++) map.set(`key-${i}`, valueOf(i));
  const { memory } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  memory.memory.grow(FULL_MEMORY_BYTES / WASM_PAGE_BYTES - memory.memory.buffer.byteLength / WASM_PAGE_BYTES);
  t.is(memory.memory.buffer.byteLength, FULL_MEMORY_BYTES);

  // Record what the wasm functions answer (the map reads them from these fields on every call).
  const answers = { get: [] as number[], put: [] as number[], del: [] as number[] };
  const fields = map as unknown as { wasm: WasmBucketReadPath; wput: WasmBucketWritePath };
  const read = fields.wasm;
  fields.wasm = {
    ...read,
    findStr: (...args) => record(answers.get, read.findStr(...args)),
    getStrI32: (...args) => record(answers.get, read.getStrI32(...args)),
    getStrF64: (...args) => record(answers.get, read.getStrF64(...args)),
  };
  const write = fields.wput;
  fields.wput = {
    ...write,
    putStrI32: (...args) => record(answers.put, write.putStrI32(...args)),
    putStrF64: (...args) => record(answers.put, write.putStrF64(...args)),
    deleteStr: (...args) => record(answers.del, write.deleteStr(...args)),
  };
  return { map, answers };
}

/** The same operations on every map: two reads, an overwrite, an insert, a delete, three reads. */
function exercise<V>(t: ExecutionContext, map: SharedFlatMap<string, V>, valueOf: (i: number) => V): void {
  t.is(map.get('key-5'), valueOf(5));
  t.is(map.get('absent'), undefined);
  map.set('key-7', valueOf(77)); // overwrite
  map.set('new-key', valueOf(1)); // insert: NEED_BLOCK, then the block is stored
  t.true(map.delete('key-8'));
  t.is(map.get('key-7'), valueOf(77));
  t.is(map.get('new-key'), valueOf(1));
  t.is(map.get('key-8'), undefined);
  t.is(map.size, 100);
}

test('string -> int32 in a memory of the full 4 GiB: getStrI32, putStrI32 and deleteStr answer instead of handing every call back', (t) => {
  const valueOf = (i: number): number => i;
  const { map, answers } = fullMemoryMap(t, 'int32', valueOf);
  exercise(t, map, valueOf);
  t.deepEqual(answers, {
    get: [5, READ_MISS, 77, 1, READ_MISS],
    put: [PUT_OVERWROTE, PUT_NEED_BLOCK, PUT_STORED_BLOCK],
    del: [DEL_DELETED],
  });
});

test('string -> float64 in a memory of the full 4 GiB: getStrF64, putStrF64 and deleteStr answer instead of handing every call back', (t) => {
  const valueOf = (i: number): number => i + 0.25;
  const { map, answers } = fullMemoryMap(t, 'float64', valueOf);
  exercise(t, map, valueOf);
  t.deepEqual(answers, {
    get: [STATUS_HIT, STATUS_MISS, STATUS_HIT, STATUS_HIT, STATUS_MISS],
    put: [PUT_OVERWROTE, PUT_NEED_BLOCK, PUT_STORED_BLOCK],
    del: [DEL_DELETED],
  });
});

test('string -> string in a memory of the full 4 GiB: findStr and deleteStr answer instead of handing every call back', (t) => {
  const valueOf = (i: number): string => `value-${i}`;
  const { map, answers } = fullMemoryMap(t, 'string', valueOf);
  exercise(t, map, valueOf);
  // findStr answers a hit with the bucket's SEQ word index (> 0), a validated miss with FIND_MISS; string values are put in JS.
  t.is(answers.get.length, 5, JSON.stringify(answers));
  const [hit5, absent, hit7, hitNew, deleted] = answers.get;
  t.true(hit5! > 0 && hit7! > 0 && hitNew! > 0, `hits ${JSON.stringify(answers.get)}`);
  t.is(absent, FIND_MISS);
  t.is(deleted, FIND_MISS);
  t.deepEqual(answers.put, []);
  t.deepEqual(answers.del, [DEL_DELETED]);
});

function record(into: number[], answer: number): number {
  into.push(answer);
  return answer;
}
